"""Encryption of personal data at rest (AES-256-GCM) and keyed digests for lookup (HMAC-SHA256).

Blob layout: version (1 byte) | data key id (1 byte) | nonce (12 random bytes) | ciphertext + tag.
The two header bytes are the associated data, so a blob cannot be relabelled to another key or format.

Keys (see docs/personal-data.md):
  data keys    settings.YIKATONG_DATA_KEY = "1:<64 hex>,2:<64 hex>" (the highest id encrypts, any
               decrypts), or, when that is empty, the key file YIKATONG_KEY_DIR/data_keys created on first
               use (one "id:hex" line per key, mode 0600).
  digest key   settings.YIKATONG_DIGEST_KEY = "<64 hex>", or the key file YIKATONG_KEY_DIR/digest.key.
Keys are read once per process and cached; `reset_keys()` forgets them (tests, rotation).
"""

import fcntl
import functools
import hmac
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.dispatch import receiver
from django.test.signals import setting_changed

from yikatong.core.identity import (
    compact_bank_account,
    compact_credit_code,
    compact_mobile,
    compact_resident_id,
)
from yikatong.core.keyfiles import read_or_create, write_private_tmp

VERSION = 1
NONCE_SIZE = 12
HEADER_SIZE = 2
MIN_BLOB_SIZE = HEADER_SIZE + NONCE_SIZE + 16
DATA_KEY_FILE = "data_keys"
DIGEST_KEY_FILE = "digest.key"
MAX_KEY_ID = 255
_SHA256_BLOCK = 64  # bytes: the HMAC pad length for SHA-256

_ENTRY = re.compile(r"^(\d{1,3}):([0-9a-fA-F]{64})$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")

# What a digest is computed over: the normalized value, so "510102 19900101 123x" and
# "51010219900101123X" give the same digest. The kind is also part of the HMAC message ("id:<value>")
# for domain separation: an 11-digit account never collides with the same 11 digits as a phone.
NORMALIZERS: dict[str, Callable[[str | None], str]] = {
    "id": compact_resident_id,
    "account": compact_bank_account,
    "phone": compact_mobile,
    "uscc": compact_credit_code,
}


class CryptoError(ValueError):
    """A blob cannot be decrypted: damaged, tampered with, or made with a key this platform lacks."""


@dataclass(frozen=True)
class Keyring:
    ciphers: dict[int, AESGCM] = field(repr=False)
    current_id: int
    header: bytes  # version + current id: the associated data of every new blob
    source: str  # "env" or "file"
    path: Path | None
    raw: dict[int, bytes] = field(repr=False)  # never in a repr, a log line or a traceback


# -- keys -------------------------------------------------------------------------------------------
def key_dir() -> Path:
    return Path(settings.YIKATONG_KEY_DIR)


def data_key_path() -> Path:
    return key_dir() / DATA_KEY_FILE


def parse_data_keys(text: str, source: str) -> dict[int, bytes]:
    """Parse "id:hex64" entries separated by commas or new lines."""
    keys: dict[int, bytes] = {}
    for entry in re.split(r"[,\s]+", text.strip()):
        if not entry:
            continue
        match = _ENTRY.match(entry)
        if not match or not 1 <= int(match.group(1)) <= MAX_KEY_ID:
            raise ImproperlyConfigured(
                f"{source}: 数据密钥格式应为“编号:64位十六进制”，编号 1–{MAX_KEY_ID}，多个用逗号分隔"
            )
        key_id = int(match.group(1))
        if key_id in keys:
            raise ImproperlyConfigured(f"{source}: 数据密钥编号 {key_id} 重复")
        keys[key_id] = bytes.fromhex(match.group(2))
    if not keys:
        raise ImproperlyConfigured(f"{source}: 没有数据密钥")
    return keys


@functools.lru_cache(maxsize=1)
def keyring() -> Keyring:
    configured = (getattr(settings, "YIKATONG_DATA_KEY", "") or "").strip()
    if configured:
        raw, source, path = parse_data_keys(configured, "YIKATONG_DATA_KEY"), "env", None
    else:
        path = data_key_path()
        text = read_or_create(path, lambda: f"1:{secrets.token_hex(32)}\n")
        raw, source = parse_data_keys(text, str(path)), "file"
    current = max(raw)
    return Keyring(
        ciphers={key_id: AESGCM(key) for key_id, key in raw.items()},
        current_id=current,
        header=bytes([VERSION, current]),
        source=source,
        path=path,
        raw=raw,
    )


@functools.lru_cache(maxsize=1)
def _digest_key() -> bytes:
    configured = (getattr(settings, "YIKATONG_DIGEST_KEY", "") or "").strip()
    if configured:
        if not _HEX64.match(configured):
            raise ImproperlyConfigured("YIKATONG_DIGEST_KEY 应为 64 位十六进制（32 字节）")
        key = bytes.fromhex(configured)
    else:
        path = key_dir() / DIGEST_KEY_FILE
        text = read_or_create(path, lambda: secrets.token_hex(32) + "\n").strip()
        if not _HEX64.match(text):
            raise ImproperlyConfigured(f"{path}: 摘要密钥应为 64 位十六进制（32 字节）")
        key = bytes.fromhex(text)
    if key in keyring().raw.values():
        raise ImproperlyConfigured("摘要密钥不得与数据密钥相同")
    return key


@functools.lru_cache(maxsize=1)
def _digest_base() -> "hmac.HMAC":
    return hmac.new(_digest_key(), digestmod=sha256)


def reset_keys() -> None:
    """Forget cached keys; the next use reads them again from settings or the key files."""
    keyring.cache_clear()
    _digest_key.cache_clear()
    _digest_base.cache_clear()
    digester.cache_clear()


@receiver(setting_changed)
def _keys_setting_changed(*, setting, **kwargs):
    if setting in ("YIKATONG_DATA_KEY", "YIKATONG_DIGEST_KEY", "YIKATONG_KEY_DIR"):
        reset_keys()


def add_data_key() -> int:
    """Append a new data key to the key file and return its id (it becomes the current key).

    Only for keys kept in the key file; keys from YIKATONG_DATA_KEY are changed in the environment.
    """
    ring = keyring()
    if ring.source != "file":
        raise ImproperlyConfigured("数据密钥来自环境变量 YIKATONG_DATA_KEY，请在环境变量中追加新密钥")
    path = ring.path
    lock_fd = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(lock_fd, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two rotations at once must not both take the same id
        keys = parse_data_keys(path.read_text(), str(path))
        new_id = max(keys) + 1
        if new_id > MAX_KEY_ID:
            raise ImproperlyConfigured(f"数据密钥编号已达上限 {MAX_KEY_ID}")
        keys[new_id] = secrets.token_bytes(32)
        text = "".join(f"{key_id}:{key.hex()}\n" for key_id, key in sorted(keys.items()))
        os.replace(write_private_tmp(path, text), path)
    reset_keys()
    return new_id


# -- encryption -------------------------------------------------------------------------------------
def encrypt_text(value: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError("encrypt_text takes a str")
    ring = keyring()
    nonce = os.urandom(NONCE_SIZE)
    return ring.header + nonce + ring.ciphers[ring.current_id].encrypt(nonce, value.encode(), ring.header)


def key_id_of(blob: bytes | memoryview) -> int:
    blob = bytes(blob)
    if len(blob) < MIN_BLOB_SIZE or blob[0] != VERSION:
        raise CryptoError("个人信息密文格式无法识别（版本或长度不符）")
    return blob[1]


def decrypt_text(blob: bytes | memoryview | bytearray) -> str:
    blob = bytes(blob)  # PostgreSQL hands BinaryField values over as memoryview
    key_id = key_id_of(blob)
    ring = keyring()
    cipher = ring.ciphers.get(key_id)
    if cipher is None and ring.source == "file":
        reset_keys()  # another process may have added a key since we read the file
        ring = keyring()
        cipher = ring.ciphers.get(key_id)
    if cipher is None:
        raise CryptoError(f"缺少编号为 {key_id} 的数据密钥，无法解密：请检查密钥配置")
    header, nonce = blob[:HEADER_SIZE], blob[HEADER_SIZE:HEADER_SIZE + NONCE_SIZE]
    try:
        return cipher.decrypt(nonce, blob[HEADER_SIZE + NONCE_SIZE:], header).decode()
    except InvalidTag as exc:
        raise CryptoError("个人信息密文校验失败：数据已损坏、被篡改或密钥不符") from exc


def reencrypt(blob: bytes | memoryview) -> bytes | None:
    """The value under the current key, or None when the blob already uses it."""
    if key_id_of(blob) == keyring().current_id:
        return None
    return encrypt_text(decrypt_text(blob))


# -- digests ----------------------------------------------------------------------------------------
def normalize(kind: str, value: str | None) -> str:
    try:
        return NORMALIZERS[kind](value)
    except KeyError:
        raise ValueError(f"unknown identifier kind {kind!r}; use one of {sorted(NORMALIZERS)}") from None


def digest(kind: str, value: str) -> str:
    """HMAC-SHA256 (hex) of "kind:normalized value" with the digest key. Equal for every spelling of
    the same number, in every table."""
    normalized = normalize(kind, value)
    if not normalized:
        raise ValueError("an empty value has no digest")
    return _digest_normalized(kind, normalized)


def _digest_normalized(kind: str, normalized: str) -> str:
    mac = _digest_base().copy()
    mac.update(f"{kind}:{normalized}".encode())
    return mac.hexdigest()


@functools.lru_cache(maxsize=16)
def digester(kind: str) -> Callable[[str], str]:
    """A function normalized value -> the digest `_digest_normalized(kind, value)` returns, cheaper for
    many values (made once per kind and key; reset_keys forgets it): HMAC-SHA256 (RFC 2104) from SHA-256
    states precomputed after the key's inner pad plus "kind:" and after its outer pad, so each value costs two
    state copies and no HMAC object."""
    key = _digest_key()
    if len(key) > _SHA256_BLOCK:  # pragma: no cover - keys are 32 bytes; HMAC hashes longer ones first
        key = sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\0")
    inner = sha256(bytes(b ^ 0x36 for b in key))
    inner.update(f"{kind}:".encode())
    outer = sha256(bytes(b ^ 0x5C for b in key))
    inner_copy, outer_copy = inner.copy, outer.copy

    def digest_of(normalized: str) -> str:
        mac = inner_copy()
        mac.update(normalized.encode())
        result = outer_copy()
        result.update(mac.digest())
        return result.hexdigest()

    return digest_of


def protect(kind: str, value: str | None) -> tuple[bytes | None, str | None]:
    """(ciphertext, digest) of the normalized value, for storing a personal identifier.
    An empty value is stored as NULL: (None, None)."""
    normalized = normalize(kind, value)
    if not normalized:
        return None, None
    return encrypt_text(normalized), _digest_normalized(kind, normalized)
