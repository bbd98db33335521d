"""The fast CSV path of banks.formats (constant cells quoted once, rows formatted, accounts decrypted in bulk)
writes byte for byte what csv.writer writes; unusual blobs fall back to the one-by-one decrypt."""

import csv
import io
import os
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.payments.factory import build_batch, build_plan
from yikatong.banks import formats
from yikatong.core import crypto
from yikatong.core.crypto import decrypt_text
from yikatong.payments.models import BatchStatus, PlanStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    return build_batch(pay, plan, status=BatchStatus.RELEASED)


def _reference_csv(batch) -> bytes:
    """The file as the plain csv.writer over Decimal amounts writes it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(formats.HEADERS)
    summary = formats.batch_summary(batch)
    rows = [(batch.number, a.seq, a.payee_name, decrypt_text(a.account_enc), a.bank_name, f"{a.amount:.2f}",
             batch.policy.name, batch.period, summary) for a in batch.attempts.order_by("seq")]
    writer.writerows(rows)
    total = sum(a.amount for a in batch.attempts.all())
    writer.writerow(formats.control_row(len(rows), total))
    return "\ufeff".encode() + out.getvalue().encode()


def _written(batch) -> bytes:
    out = io.BytesIO()
    formats.write_payment_csv(batch, out)
    return out.getvalue()


@pytest.mark.parametrize("policy_name", ['高龄津贴', '高龄,津贴 "甲" {0} %s', "a\nb"])
def test_fast_path_matches_csv_writer(batch, policy_name):
    batch.policy.name = policy_name
    batch.policy.save(update_fields=["name"])
    assert _written(batch) == _reference_csv(batch)


@pytest.mark.parametrize("name", ['张,三', '李"四"', "王\r\n五", "{赵}"])
def test_cells_that_need_quoting_match_csv_writer(batch, name):
    first = batch.attempts.order_by("seq").first()
    first.payee_name = name
    first.save(update_fields=["payee_name"])
    raw = _written(batch)
    assert raw == _reference_csv(batch)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[1][2] == name


def test_amounts_in_fen(batch):
    a, b = batch.attempts.order_by("seq")[:2]
    a.amount, b.amount = "0.05", "1234567.89"
    a.save(update_fields=["amount"])
    b.save(update_fields=["amount"])
    batch.total_amount = sum(x.amount for x in batch.attempts.all())
    raw = _written(batch).decode("utf-8-sig")
    assert ",0.05," in raw and ",1234567.89," in raw
    assert raw == _reference_csv(batch).decode("utf-8-sig")
    assert formats.fen_text(5) == "0.05" and formats.fen_text(30000) == "300.00" and formats.fen_text(-101) == "-1.01"


def test_bulk_decrypt_mixed_keys_and_bad_blob(monkeypatch):
    keys = {1: AESGCM(os.urandom(32)), 2: AESGCM(os.urandom(32))}
    monkeypatch.setattr(crypto, "keyring", lambda: SimpleNamespace(ciphers=keys, source="env"))

    def enc(key_id, text):
        header, nonce = bytes([crypto.VERSION, key_id]), os.urandom(crypto.NONCE_SIZE)
        return header + nonce + keys[key_id].encrypt(nonce, text.encode(), header)

    decrypt_all = formats._bulk_decryptor()
    same = [enc(1, f"62170000000000000{i:02d}") for i in range(5)]
    assert decrypt_all(same) == [f"62170000000000000{i:02d}" for i in range(5)]
    mixed = [enc(1, "a1"), enc(2, "b2"), memoryview(enc(1, "c3"))]
    assert decrypt_all(mixed) == ["a1", "b2", "c3"]
    assert decrypt_all([]) == []
    broken = bytearray(enc(1, "x"))
    broken[-1] ^= 1
    with pytest.raises(crypto.CryptoError):
        decrypt_all([enc(1, "ok"), bytes(broken)])
    with pytest.raises(crypto.CryptoError):
        decrypt_all([b"\x01"])


def test_bulk_decrypt_refuses_other_version(monkeypatch):
    keys = {1: AESGCM(os.urandom(32))}
    monkeypatch.setattr(crypto, "keyring", lambda: SimpleNamespace(ciphers=keys, source="env"))
    header, nonce = bytes([crypto.VERSION + 1, 1]), os.urandom(crypto.NONCE_SIZE)
    odd = header + nonce + keys[1].encrypt(nonce, b"6217000000000000001", header)
    decrypt_all = formats._bulk_decryptor()
    with pytest.raises(crypto.CryptoError):
        decrypt_all([odd])
    good_header = bytes([crypto.VERSION, 1])
    good = good_header + nonce + keys[1].encrypt(nonce, b"1", good_header)
    with pytest.raises(crypto.CryptoError):
        decrypt_all([good, odd])
