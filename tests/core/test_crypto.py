import multiprocessing
import os
import secrets
import stat
from io import StringIO

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, models
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from yikatong.core import crypto, keyfiles
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope
from yikatong.core.services.pii import pii_reencrypt, pii_reveal

KEY1, KEY2 = "11" * 32, "22" * 32
PROPS = hsettings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=150)


@pytest.fixture(autouse=True)
def keys(settings, tmp_path):
    """Every test gets its own key folder; the settings fixture resets the cached keys (setting_changed)."""
    settings.YIKATONG_KEY_DIR = tmp_path / "keys"
    settings.YIKATONG_DATA_KEY = ""
    settings.YIKATONG_DIGEST_KEY = ""
    return tmp_path / "keys"


# -- encryption -------------------------------------------------------------------------------------
@PROPS
@given(st.text())
def test_round_trip_arbitrary_unicode(value):
    blob = crypto.encrypt_text(value)
    assert crypto.decrypt_text(blob) == value
    assert crypto.decrypt_text(memoryview(blob)) == value  # what PostgreSQL returns
    assert len(blob) == 2 + 12 + len(value.encode()) + 16


def test_blob_layout_is_the_documented_one(settings):
    settings.YIKATONG_DATA_KEY = f"1:{KEY1},2:{KEY2}"
    blob = crypto.encrypt_text("510102199001011234")
    assert blob[0] == 1 and blob[1] == 2
    nonce, body = blob[2:14], blob[14:]
    # anyone holding key 2 can read it with plain AES-GCM and the header as associated data
    assert AESGCM(bytes.fromhex(KEY2)).decrypt(nonce, body, blob[:2]) == b"510102199001011234"
    assert crypto.encrypt_text("x")[2:14] != crypto.encrypt_text("x")[2:14]  # fresh nonce every time


@PROPS
@given(value=st.text(min_size=1, max_size=30), data=st.data())
def test_any_tampered_byte_is_refused(value, data):
    blob = bytearray(crypto.encrypt_text(value))
    position = data.draw(st.integers(0, len(blob) - 1))
    blob[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt_text(bytes(blob))


def test_short_or_foreign_blobs_are_refused():
    for blob in (b"", b"\x01\x01", b"\x02" + crypto.encrypt_text("x")[1:]):
        with pytest.raises(crypto.CryptoError):
            crypto.decrypt_text(blob)
    with pytest.raises(TypeError):
        crypto.encrypt_text(None)


def test_key_file_created_private_once(keys):
    blob = crypto.encrypt_text("秘密")
    path = keys / "data_keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    crypto.digest("id", "500101196301010016")
    assert stat.S_IMODE((keys / "digest.key").stat().st_mode) == 0o600
    assert len((keys / "digest.key").read_text().strip()) == 64
    assert path.read_text().startswith("1:") and len(path.read_text().strip()) == 2 + 64
    crypto.reset_keys()
    assert crypto.decrypt_text(blob) == "秘密"  # read back from the file, not regenerated
    assert not [p for p in keys.iterdir() if p.name.endswith(".tmp")]


def _create_in_child(path, barrier, queue):
    barrier.wait()
    queue.put(keyfiles.read_or_create(path, lambda: secrets.token_hex(32)))


def test_two_processes_creating_the_key_file_agree(keys):
    keys.mkdir(parents=True)
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    children = [ctx.Process(target=_create_in_child, args=(keys / "race.key", barrier, queue)) for _ in range(4)]
    for child in children:
        child.start()
    results = [queue.get(timeout=30) for _ in children]
    for child in children:
        child.join(timeout=30)
    assert len(set(results)) == 1 and len(results[0]) == 64
    assert (keys / "race.key").read_text() == results[0]


# -- keys from the environment ----------------------------------------------------------------------
def test_environment_keys_newest_encrypts_any_decrypts(settings):
    settings.YIKATONG_DATA_KEY = f"1:{KEY1}"
    old = crypto.encrypt_text("老数据")
    settings.YIKATONG_DATA_KEY = f"1:{KEY1}, 2:{KEY2}"
    assert crypto.keyring().current_id == 2 and crypto.keyring().source == "env"
    assert crypto.decrypt_text(old) == "老数据"
    assert crypto.key_id_of(crypto.encrypt_text("新数据")) == 2
    settings.YIKATONG_DATA_KEY = f"2:{KEY2}"
    with pytest.raises(crypto.CryptoError, match="缺少编号为 1 的数据密钥"):
        crypto.decrypt_text(old)


@pytest.mark.parametrize(
    "value", ["1:abcd", f"0:{KEY1}", f"256:{KEY1}", f"1:{KEY1},1:{KEY2}", f"x:{KEY1}", KEY1, ",", f"1:{KEY1[:-1]}g"]
)
def test_bad_environment_keys_are_refused(settings, value):
    settings.YIKATONG_DATA_KEY = value
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt_text("x")


def test_digest_key_must_differ_from_data_keys(settings):
    settings.YIKATONG_DATA_KEY = f"1:{KEY1}"
    settings.YIKATONG_DIGEST_KEY = KEY1
    with pytest.raises(ImproperlyConfigured, match="不得与数据密钥相同"):
        crypto.digest("id", "500101196301010016")
    settings.YIKATONG_DIGEST_KEY = "abc"
    with pytest.raises(ImproperlyConfigured):
        crypto.digest("id", "500101196301010016")


# -- digests ----------------------------------------------------------------------------------------
def test_digest_equal_for_every_spelling_of_the_same_number():
    assert crypto.digest("id", "51010219900101123x") == crypto.digest("id", " 510102 19900101 123X ")
    assert crypto.digest("account", "6217 0000-0000 1234") == crypto.digest("account", "6217000000001234")
    assert crypto.digest("phone", "+86 138-0013-8000") == crypto.digest("phone", "13800138000")
    assert crypto.digest("uscc", "91110000600037341l") == crypto.digest("uscc", "91110000600037341L")
    value = crypto.digest("id", "500101196301010016")
    assert len(value) == 64 and int(value, 16) >= 0
    crypto.reset_keys()
    assert crypto.digest("id", "500101196301010016") == value  # same key file, same digest


def test_digest_kinds_are_separated_and_depend_on_the_key(settings):
    assert crypto.digest("phone", "13800138000") != crypto.digest("account", "13800138000")
    before = crypto.digest("id", "500101196301010016")
    settings.YIKATONG_DIGEST_KEY = "33" * 32
    assert crypto.digest("id", "500101196301010016") != before
    with pytest.raises(ValueError):
        crypto.digest("name", "张三")
    with pytest.raises(ValueError):
        crypto.digest("id", "  ")


@PROPS
@given(st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True), st.from_regex(r"[0-9]{17}[0-9X]", fullmatch=True))
def test_digest_equal_iff_normalized_equal(first, second):
    assert (crypto.digest("id", first) == crypto.digest("id", second)) == (first == second)
    assert crypto.digest("id", first.lower()) == crypto.digest("id", first)


def test_protect_stores_normalized_value():
    blob, digest = crypto.protect("id", "51010219900101123x")
    assert crypto.decrypt_text(blob) == "51010219900101123X"
    assert digest == crypto.digest("id", "51010219900101123X")
    assert crypto.protect("phone", "") == (None, None)
    assert crypto.protect("phone", None) == (None, None)


# -- rotation ---------------------------------------------------------------------------------------
def test_rotation_key_file(keys):
    old = crypto.encrypt_text("张三")
    assert crypto.key_id_of(old) == 1
    digest = crypto.digest("id", "500101196301010016")
    assert crypto.add_data_key() == 2
    assert crypto.keyring().current_id == 2
    assert crypto.decrypt_text(old) == "张三"
    fresh = crypto.reencrypt(old)
    assert crypto.key_id_of(fresh) == 2 and crypto.decrypt_text(fresh) == "张三"
    assert crypto.reencrypt(fresh) is None
    assert crypto.digest("id", "500101196301010016") == digest  # digests do not rotate
    lines = (keys / "data_keys").read_text().split()
    assert [line.split(":")[0] for line in lines] == ["1", "2"]
    assert stat.S_IMODE((keys / "data_keys").stat().st_mode) == 0o600


def _rotate_in_child(barrier, queue):
    barrier.wait()
    queue.put(crypto.add_data_key())


def test_concurrent_rotations_take_different_ids(keys):
    crypto.encrypt_text("create the key file")
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    children = [ctx.Process(target=_rotate_in_child, args=(barrier, queue)) for _ in range(3)]
    for child in children:
        child.start()
    ids = sorted(queue.get(timeout=30) for _ in children)
    for child in children:
        child.join(timeout=30)
    assert ids == [2, 3, 4]
    crypto.reset_keys()
    assert sorted(crypto.keyring().ciphers) == [1, 2, 3, 4]


def test_process_reads_a_key_added_by_another_process(keys):
    crypto.encrypt_text("warm the cache")
    key2 = os.urandom(32)
    with open(keys / "data_keys", "a") as handle:  # what rotate-keys in another process does
        handle.write(f"2:{key2.hex()}\n")
    nonce = os.urandom(12)
    blob = bytes([1, 2]) + nonce + AESGCM(key2).encrypt(nonce, "新密钥".encode(), bytes([1, 2]))
    assert crypto.decrypt_text(blob) == "新密钥"


def test_add_data_key_refused_for_environment_keys(settings):
    settings.YIKATONG_DATA_KEY = f"1:{KEY1}"
    with pytest.raises(ImproperlyConfigured):
        crypto.add_data_key()
    with pytest.raises(CommandError, match="YIKATONG_DATA_KEY"):
        call_command("rotate-keys", "--new-data-key", stdout=StringIO())


def test_command_status_and_new_key(keys):
    out = StringIO()
    call_command("rotate-keys", "--status", stdout=out)
    assert "当前加密密钥：1" in out.getvalue() and str(keys) in out.getvalue()
    out = StringIO()
    call_command("rotate-keys", "--new-data-key", stdout=out)
    assert "新增数据密钥 2" in out.getvalue() and "--reencrypt" in out.getvalue()
    assert crypto.keyring().current_id == 2


# -- re-encryption of a table -----------------------------------------------------------------------
@pytest.fixture
def sample_model(transactional_db):
    """A throw-away model with encrypted columns, registered and created only for one test (so the
    migrations check of other tests never sees it)."""

    class PiiSample(models.Model):
        region_id = models.CharField(max_length=12, default="500101001001")
        secret = models.BinaryField(null=True)
        other = models.BinaryField(null=True)

        class Meta:
            app_label = "core"
            db_table = "test_core_pii_sample"

        def __str__(self):
            return f"PiiSample {self.pk}"

    with connection.schema_editor() as editor:
        editor.create_model(PiiSample)
    yield PiiSample
    with connection.schema_editor() as editor:
        editor.delete_model(PiiSample)
    del apps.all_models["core"]["piisample"]
    apps.clear_cache()


def test_reencrypt_command(sample_model):
    rows = [sample_model(secret=crypto.encrypt_text(f"账号{i}"), other=None if i % 3 else crypto.encrypt_text(f"电话{i}"))
            for i in range(7)]
    sample_model.objects.bulk_create(rows)
    crypto.add_data_key()
    sample_model.objects.create(secret=crypto.encrypt_text("已是新密钥"))
    out = StringIO()
    call_command("rotate-keys", "--reencrypt", "core.PiiSample", "secret", "other", "--batch-size", "3", stdout=out)
    text = out.getvalue()
    assert "已处理 3/8 行" in text and "已处理 8/8 行" in text and "共 8 行，其中 7 行" in text
    for row in sample_model.objects.order_by("pk"):
        assert crypto.key_id_of(row.secret) == 2
        assert row.other is None or crypto.key_id_of(row.other) == 2
    values = sorted(crypto.decrypt_text(r.secret) for r in sample_model.objects.all())
    assert values == sorted([f"账号{i}" for i in range(7)] + ["已是新密钥"])
    assert [crypto.decrypt_text(r.other) for r in sample_model.objects.exclude(other=None).order_by("pk")] == [
        "电话0", "电话3", "电话6"
    ]
    event = AuditEvent.objects.get(action="pii.reencrypt")
    assert event.after["reencrypted"] == 7 and event.after["key_id"] == 2
    # running it again changes nothing
    assert pii_reencrypt(actor=Scope.system(), model=sample_model, fields=["secret", "other"]) == (8, 0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["core.NoSuchModel", "secret"], "找不到模型"),
        (["core.PiiSample"], "至少一个字段"),
        (["core.PiiSample", "region_id"], "不是加密字段"),
        (["core.PiiSample", "nothing"], "没有字段 nothing"),
    ],
)
def test_reencrypt_command_bad_input(sample_model, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rotate-keys", "--reencrypt", *args, stdout=StringIO())


def test_reencrypt_is_for_the_system_only(sample_model, world):
    with pytest.raises(ScopeError):
        pii_reencrypt(actor=Scope.for_user(world.users["admin"]), model=sample_model, fields=["secret"])


# -- full view ---------------------------------------------------------------------------------------
def _reveal(world, who, subject_key, reason="核对银行回盘失败原因"):
    subject = world.orgs[subject_key]
    return pii_reveal(
        actor=Scope.for_user(world.users[who]), subject=subject, field="account",
        value_blob=crypto.encrypt_text("6217000000001234"), reason=reason,
    )


def test_reveal_logs_who_what_why(world):
    assert _reveal(world, "civil", "collector") == "6217000000001234"
    event = AuditEvent.objects.get(action="pii.view")
    subject = world.orgs["collector"]
    assert event.actor_username == "t_civil" and event.organization_code == "WZ-MZJ"
    assert (event.object_type, event.object_id) == ("core.organization", str(subject.pk))
    assert event.region_code == subject.region_id
    assert event.after == {"field": "account"} and event.reason == "核对银行回盘失败原因"
    from yikatong.core.audit import verify_chain

    assert verify_chain() is None


def test_reveal_read_only_supervisor_may_view(world):
    assert _reveal(world, "supervisor", "civil") == "6217000000001234"


@pytest.mark.parametrize(
    "who, subject",
    [
        ("paying_bank", "civil"),  # role without pii.view_full
        ("card_bank", "civil"),
        ("finance_other", "civil"),  # 涪陵 looking at 万州
        ("collector", "collector2"),  # one township looking at the other
        ("collector", "civil"),  # a township looking up at the county
    ],
)
def test_reveal_refused_outside_role_or_region(world, who, subject):
    with pytest.raises(ScopeError):
        _reveal(world, who, subject)
    assert not AuditEvent.objects.filter(action="pii.view").exists()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reveal_needs_a_reason(world, reason):
    with pytest.raises(DomainError, match="请填写查看完整信息的事由"):
        _reveal(world, "civil", "collector", reason=reason)
    assert not AuditEvent.objects.filter(action="pii.view").exists()


def test_reveal_of_tampered_value_reveals_nothing_and_logs_nothing(world):
    blob = bytearray(crypto.encrypt_text("6217000000001234"))
    blob[-1] ^= 1
    with pytest.raises(crypto.CryptoError):
        pii_reveal(actor=Scope.for_user(world.users["civil"]), subject=world.orgs["civil"], field="account",
                   value_blob=bytes(blob), reason="核对")
    assert not AuditEvent.objects.filter(action="pii.view").exists()
    assert pii_reveal(actor=Scope.for_user(world.users["civil"]), subject=world.orgs["civil"], field="phone",
                      value_blob=None, reason="核对") == ""
