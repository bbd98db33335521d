"""Stored files: streaming store with digest and size, safe names, never overwriting, scoped and audited
download."""

import hashlib
import io
import os
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent, StoredFile
from yikatong.core.scope import Scope
from yikatong.core.services import files as file_services
from yikatong.core.services.files import CHUNK_SIZE, file_store, safe_name


def scope_of(world, key) -> Scope:
    return Scope.for_user(world.users[key])


def store(actor, data: bytes = b"hello", name="花名册.csv", region="500101001000", **extra) -> StoredFile:
    return file_store(actor=actor, fileobj=io.BytesIO(data), original_name=name, purpose="roster",
                      region_code=region, **extra)


class ChunkCheckingReader(io.BytesIO):
    """Fails the test if the service asks for more than one chunk at a time."""

    def read(self, size=-1):
        assert 0 < size <= CHUNK_SIZE, f"read({size}) would load the whole file"
        return super().read(size)


def test_sha256_and_size_are_computed_while_streaming(world, settings):
    data = os.urandom(CHUNK_SIZE * 2 + 12345)
    stored = file_store(actor=scope_of(world, "collector"), fileobj=ChunkCheckingReader(data),
                        original_name="roster.xlsx", purpose="roster", region_code="500101001000")
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    path = Path(settings.MEDIA_ROOT) / stored.path
    assert path.read_bytes() == data
    assert stored.uploaded_by_id == world.users["collector"].pk
    assert stored.content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    parts = Path(stored.path).parts
    assert parts[0] == "roster" and len(parts[1]) == 4 and len(parts[2]) == 2
    assert parts[3] == f"{stored.id.hex}_roster.xlsx"


def test_django_uploaded_files_are_accepted(world, settings):
    upload = SimpleUploadedFile("回盘.csv", "批次号,序号\n1,1\n".encode(), content_type="text/csv")
    stored = file_store(actor=scope_of(world, "paying_bank"), fileobj=upload, original_name=upload.name,
                        purpose="bank_result", region_code="500101000000", content_type=upload.content_type)
    assert stored.original_name == "回盘.csv" and stored.content_type == "text/csv"
    assert stored.organization_id == world.orgs["paying_bank"].pk  # a bank stores for its own organization
    assert (Path(settings.MEDIA_ROOT) / stored.path).read_text("utf-8").startswith("批次号")


def test_store_is_audited(world):
    stored = store(scope_of(world, "collector"), b"abc")
    event = AuditEvent.objects.get(action="file.store")
    assert event.object_id == str(stored.pk) and event.region_code == "500101001000"
    assert event.after["sha256"] == hashlib.sha256(b"abc").hexdigest() and event.after["size"] == 3
    assert event.actor_username == "t_collector"


@pytest.mark.parametrize(
    "name",
    ["../../x", "..\\..\\x", "/etc/passwd", "a/../../../b.csv", "....", "..", "", "\x00evil\n.csv", "x" * 400 + ".csv"],
)
def test_hostile_names_stay_inside_media_root(world, settings, name):
    stored = store(scope_of(world, "collector"), b"data", name=name)
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / stored.path).resolve()
    assert path.is_relative_to(root / "roster")
    assert path.read_bytes() == b"data"
    filename = path.name.split("_", 1)[1]
    assert "/" not in filename and "\\" not in filename and not filename.startswith(".")
    assert len(path.name) <= 33 + file_services.MAX_NAME_LENGTH
    assert stored.original_name == file_services.clean_original_name(name)
    assert "\x00" not in stored.original_name and "\n" not in stored.original_name
    # nothing was written outside MEDIA_ROOT
    assert not (root.parent / "x").exists()


def test_original_name_is_kept_except_control_characters():
    assert file_services.clean_original_name(" 2026年 花名册(1).xlsx ") == "2026年 花名册(1).xlsx"
    assert file_services.clean_original_name("\x00evil\n.csv") == "evil.csv"
    assert file_services.clean_original_name("\x00") == "file"


def test_safe_name_keeps_chinese_and_extension():
    assert safe_name("2026年 耕地 补贴.xlsx") == "2026年_耕地_补贴.xlsx"
    assert safe_name("C:\\Users\\张三\\花名册.csv") == "花名册.csv"
    long = safe_name("长" * 300 + ".xlsx")
    assert long.endswith(".xlsx") and len(long) == file_services.MAX_NAME_LENGTH


@pytest.mark.parametrize("purpose", ["../x", "Roster", "", "a/b", "x" * 51])
def test_bad_purpose_is_refused(world, purpose):
    with pytest.raises(DomainError, match="文件用途"):
        file_store(actor=scope_of(world, "collector"), fileobj=io.BytesIO(b"x"), original_name="a",
                   purpose=purpose, region_code="500101001000")
    assert not StoredFile.objects.exists()


def test_same_name_twice_never_overwrites(world, settings):
    actor = scope_of(world, "collector")
    first = store(actor, b"first", name="same.csv")
    second = store(actor, b"second", name="same.csv")
    assert first.path != second.path
    root = Path(settings.MEDIA_ROOT)
    assert (root / first.path).read_bytes() == b"first" and (root / second.path).read_bytes() == b"second"


def test_existing_file_is_not_overwritten_even_on_a_clash(world, settings):
    actor = scope_of(world, "collector")
    first = store(actor, b"first", name="same.csv")
    with mock.patch.object(file_services.uuid, "uuid4", return_value=first.id), pytest.raises(FileExistsError):
        store(actor, b"second", name="same.csv")
    assert (Path(settings.MEDIA_ROOT) / first.path).read_bytes() == b"first"


def test_failed_write_leaves_no_orphan_file(world, settings):
    with mock.patch.object(file_services.audit, "record", side_effect=RuntimeError("db down")), \
            pytest.raises(RuntimeError):
        store(scope_of(world, "collector"), b"x")
    root = Path(settings.MEDIA_ROOT)
    assert not StoredFile.objects.exists()
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_store_outside_region_or_for_another_bank_is_refused(world):
    with pytest.raises(ScopeError, match="不在您的管辖范围内"):
        store(scope_of(world, "collector"), region="500101002000")
    with pytest.raises(ScopeError, match="属于其他机构"):
        store(scope_of(world, "paying_bank"), region="500101000000",
              organization_id=world.orgs["paying_bank2"].pk)
    with pytest.raises(ScopeError, match="只能查看"):
        store(scope_of(world, "supervisor"), region="500101000000")
    with pytest.raises(DomainError, match="行政区划 500101009000 不存在"):
        store(scope_of(world, "finance"), region="500101009000")
    assert not StoredFile.objects.exists()


# -- download ------------------------------------------------------------------------------------------
def test_download_streams_the_original_and_is_audited(world, client):
    data = "姓名,身份证号\n张三,1\n".encode()
    stored = store(Scope.system(), data, name="万州 花名册.csv")
    client.force_login(world.users["collector"])
    response = client.get(reverse("core:file-download", args=[stored.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=utf-8''" in disposition
    assert "%E8%8A%B1%E5%90%8D%E5%86%8C.csv" in disposition  # 花名册.csv, the original name
    assert response["Content-Type"].startswith("text/csv")
    event = AuditEvent.objects.get(action="file.download")
    assert event.actor_username == "t_collector" and event.object_id == str(stored.pk)
    assert event.region_code == "500101001000" and event.after["sha256"] == stored.sha256


def test_download_out_of_scope_is_404_and_not_audited(world, client):
    stored = store(Scope.system(), region="500101002000")
    client.force_login(world.users["collector"])
    assert client.get(reverse("core:file-download", args=[stored.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="file.download").exists()


def test_download_requires_login(world, client):
    stored = store(Scope.system())
    response = client.get(reverse("core:file-download", args=[stored.pk]))
    assert response.status_code == 302 and reverse("core:login") in response["Location"]


def test_file_missing_on_disk_is_a_readable_404(world, client, settings):
    stored = store(Scope.system())
    (Path(settings.MEDIA_ROOT) / stored.path).unlink()
    client.force_login(world.users["collector"])
    response = client.get(reverse("core:file-download", args=[stored.pk]))
    assert response.status_code == 404 and "Traceback" not in response.content.decode()


def test_a_tampered_path_cannot_escape_media_root(world, client, settings, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    stored = store(Scope.system())
    StoredFile.objects.filter(pk=stored.pk).update(path="../secret.txt")
    client.force_login(world.users["collector"])
    response = client.get(reverse("core:file-download", args=[stored.pk]))
    assert response.status_code == 400
    assert b"secret" not in response.content


@pytest.mark.parametrize("key, visible", [("collector", True), ("civil", True), ("finance", True),
                                          ("admin", False), ("regulator", False)])
def test_files_with_full_identifiers_only_for_roles_that_may_see_them(world, client, key, visible):
    roster = store(Scope.system(), region="500101001000")  # purpose "roster": full ID numbers inside
    plain = file_store(actor=Scope.system(), fileobj=io.BytesIO(b"x"), original_name="policy.pdf",
                       purpose="policy_doc", region_code="500101001000")
    client.force_login(world.users[key])
    expected = 200 if visible else 404
    assert client.get(reverse("core:file-download", args=[roster.pk])).status_code == expected
    assert client.get(reverse("core:file-download", args=[plain.pk])).status_code == 200
