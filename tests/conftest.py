import pytest

from tests.world import build_world


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "files"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.YIKATONG_SMS_SENDER = "console"  # credit SMS sent by tasks go to the captured output


@pytest.fixture
def world(db):
    return build_world()
