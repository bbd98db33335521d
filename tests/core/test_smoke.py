from django.core.management import call_command

from yikatong.core.scope import Scope


def test_migrations_match_models(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_login_page_renders_in_chinese(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    assert "用户登录" in response.content.decode()


def test_scope_of_township_collector_excludes_other_township(world):
    scope = Scope.for_user(world.users["collector"])
    assert scope.covers_region("500101001001")
    assert not scope.covers_region("500101002001")
    assert not scope.covers_region("500101000000")
