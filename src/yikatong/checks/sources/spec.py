"""The shared-data file contract (SPEC §5.2), per source: headers, per-row checks and the database row.

Pure: no ORM. `parse_chunk` turns a chunk of file rows into database rows (COPY text for PostgreSQL,
tuples for SQLite) plus the refusals of single rows; it runs in worker processes (see load.py), so it
takes plain values and returns plain values. Identifiers are validated here (core.identity semantics,
with a fast path for the common valid case), encrypted and digested (core.crypto semantics); values in
refusals are masked (core.masking).

Duplicates inside a file cannot be seen one chunk at a time: each source names its natural key
(`SourceSpec.key`) and load.py rejects the later rows of a key set-based, after loading.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from yikatong.core import crypto, identity, masking
from yikatong.core.regions import RegionCodeError, normalize_code

ID, NAME = "身份证号", "姓名"

# Card statuses of the ssc_card file (Chinese label → registry CardStatus value).
CARD_STATUSES = {"已激活": "activated", "未激活": "not_activated", "挂失": "lost", "注销": "cancelled"}
CARD_STATUS_MESSAGE = "金融功能状态应为 已激活/未激活/挂失/注销"
CAPACITIES = ("法定代表人", "股东")

PG, SQLITE = "pg", "sqlite"


class RowError(Exception):
    """One cell refused: its column, the (masked) value and the reason."""

    def __init__(self, column: str, value: str, reason: str):
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


@dataclass(frozen=True)
class Context:
    """What a worker needs besides the rows: the reference date and the output format."""

    limit: dt.date  # the data date: dates after it are refused
    fmt: str = PG
    import_id: str = ""  # written into every PostgreSQL COPY line (source_import_id)


# -- the contract -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceSpec:
    code: str
    label: str
    columns: tuple[str, ...]  # file headers, 身份证号 and 姓名 first
    fields: tuple[str, ...]  # database columns after the common ones (see COMMON_FIELDS)
    parse: Callable  # (row, ctx, birth) -> values for `fields`; row = (number, ID, name, other cells…)
    key: tuple[str, ...] = ("id_digest",)  # natural key within one import (columns; NULLs compare equal)
    key_column: str = ID  # the column a duplicate is reported on
    key_reason: str = "同一身份证号在文件中只能出现一次"
    note: str = ""  # one line for the upload page
    # How each of `fields` is written as COPY text: "text" (escaped), "raw" (validated: digits, codes,
    # hex — nothing to escape), "bytes", "date", "int", "opt" (may be None: a date or a number).
    copy_kinds: tuple[str, ...] = ()

    @property
    def db_columns(self) -> tuple[str, ...]:
        return COMMON_FIELDS + self.fields

    @property
    def stage_columns(self) -> tuple[str, ...]:
        """The columns a worker fills (the import id is the same for every row and added on publish)."""
        return COMMON_FIELDS[1:] + self.fields

    @property
    def copy_columns(self) -> tuple[str, ...]:
        """The columns of a PostgreSQL COPY line: the ID digest first, so sorting the lines sorts by it."""
        return ("id_digest", "source_import_id", "row_number", "id_enc", "name") + self.fields

    @property
    def header_line(self) -> str:
        return ",".join(self.columns)


COMMON_FIELDS = ("source_import_id", "row_number", "id_digest", "id_enc", "name")


# -- text helpers -------------------------------------------------------------------------------------
def _text(value: str, column: str, max_length: int, *, required: bool = True, personal: bool = False) -> str:
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        value = value.replace("\x00", "").strip()
    if not value:
        if required:
            raise RowError(column, "", f"{column}为空：请填写{column}")
        return ""
    if len(value) > max_length:
        shown = masking.mask_name(value[:30]) if personal else value[:30] + "…"
        raise RowError(column, shown, f"{column}过长：最多 {max_length} 个字符")
    return value


_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})")


def _date(value: str, column: str, ctx: Context, *, required: bool = True) -> dt.date | None:
    if not value:
        if required:
            raise RowError(column, "", f"{column}为空：请填写日期（YYYY-MM-DD）")
        return None
    match = _DATE.fullmatch(value)
    try:
        if not match:
            raise ValueError
        day = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise RowError(column, value[:30], f"{column}“{value[:30]}”不是有效日期：应为 YYYY-MM-DD") from None
    if day > ctx.limit:
        raise RowError(column, value, f"{column}晚于数据日期（{ctx.limit.isoformat()}）：请核对")
    return day


# -- resident ID: fast path for valid numbers, core.identity for the message -------------------------
_birth_cache: dict[dt.date, dict[str, dt.date | None]] = {}
_prefix_cache: dict[str, bool] = {}


def _birth(text: str, limit: dt.date) -> dt.date | None:
    cache = _birth_cache.get(limit)
    if cache is None:
        cache = _birth_cache[limit] = {}
    try:
        return cache[text]
    except KeyError:
        pass
    try:
        birth = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        value = birth if identity.EARLIEST_BIRTH_YEAR <= birth.year and birth <= limit else None
    except ValueError:
        value = None
    if len(cache) < 100_000:
        cache[text] = value
    return value


def _prefix_known(prefix: str) -> bool:
    known = _prefix_cache.get(prefix)
    if known is None:
        known = identity.region_prefix_known(prefix)
        if len(_prefix_cache) < 20_000:
            _prefix_cache[prefix] = known
    return known


_CHECK_CHARS = "10X98765432"  # GB 11643: check character for each weighted sum mod 11


def check_digit(body17: str) -> str:
    """GB 11643 check character. The weights are 2^(17-i) mod 11, and 13 ≡ 2 (mod 11), so the weighted
    sum is 2 × (the 17 digits read in base 13) mod 11 — one int() instead of a Python loop."""
    return _CHECK_CHARS[2 * int(body17, 13) % 11]


def resident_id(text: str, column: str, limit: dt.date) -> tuple[str, dt.date]:
    """The normalized ID number and birth date, or RowError with core.identity's message."""
    value = text
    if len(value) != 18 or not value.isascii():
        value = identity.compact_resident_id(text)
    body = value[:17]
    if len(value) == 18 and value.isascii() and body.isdigit() and _CHECK_CHARS[2 * int(body, 13) % 11] == value[17]:
        birth = _birth(value[6:14], limit)
        if birth is not None and _prefix_known(value[:6]):
            return value, birth
    try:
        checked = identity.validate_resident_id(value, on=limit)
    except identity.IdentityError as exc:
        raise RowError(column, masking.mask_id_number(value), exc.message) from None
    return checked.number, checked.birth_date


# -- identifier protection (core.crypto.protect, batched nonces) -------------------------------------
class Protector:
    """`crypto.protect` for normalized values, cheaper: nonces come from one os.urandom call per 4096
    values, and the HMAC is computed from precomputed inner and outer SHA-256 states (RFC 2104) instead
    of copying an HMAC object. Blobs and digests are exactly those of core.crypto: the digest key is read
    the way core.crypto reads it and checked against `crypto` on a probe value; should they ever differ,
    the plain HMAC copy is used. One instance per process (a forked worker gets a new one and draws its
    own nonces: see `protector()`)."""

    BATCH = 4096

    def __init__(self):
        ring = crypto.keyring()
        self._encrypt = ring.ciphers[ring.current_id].encrypt
        self._header = ring.header
        self._nonces = b""
        self._pos = 0

    def _nonce(self) -> bytes:
        if self._pos >= len(self._nonces):
            self._nonces, self._pos = os.urandom(crypto.NONCE_SIZE * self.BATCH), 0
        start = self._pos
        self._pos = start + crypto.NONCE_SIZE
        return self._nonces[start:self._pos]

    def digest(self, kind: str, normalized: str) -> str:
        return crypto.digester(kind)(normalized)

    def protect(self, kind: str, normalized: str) -> tuple[bytes, str]:
        nonce = self._nonce()
        blob = self._header + nonce + self._encrypt(nonce, normalized.encode(), self._header)
        return blob, self.digest(kind, normalized)


_protector: Protector | None = None


def protector() -> Protector:
    global _protector
    if _protector is None:
        _protector = Protector()
    return _protector


def _forget_protector() -> None:
    """A forked child must draw its own nonces: never reuse the parent's batch."""
    global _protector
    _protector = None


os.register_at_fork(after_in_child=_forget_protector)


# -- per-source cell parsers ----------------------------------------------------------------------------
# Each gets the whole row (row number, 身份证号, 姓名, then the other cells in `columns` order), the context
# and the birth date, and returns the values of the spec's `fields`.
def _household(row, ctx, birth):
    number = _text(row[3], "户号", 32)
    try:
        region = normalize_code(row[4])
    except RegionCodeError as exc:
        raise RowError("行政区划代码", row[4][:30], str(exc)) from None
    return (number, region)


def _death(row, ctx, birth):
    day = _date(row[3], "死亡日期", ctx)
    if day < birth:
        raise RowError("死亡日期", row[3], f"死亡日期早于身份证号中的出生日期（{birth.isoformat()}）：请核对")
    return (day,)


_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_ok(number: str) -> bool:
    digits = number.encode()
    odd = digits[-1::-2]
    total = sum(odd) - 48 * len(odd) + sum([_LUHN_DOUBLE[d - 48] for d in digits[-2::-2]])
    return total % 10 == 0


def bank_account(raw: str) -> str:
    """core.identity.validate_bank_account with a fast path for the common clean number: the digits, or
    RowError with core.identity's message."""
    value = raw
    if not (value.isascii() and value.isdigit()):
        value = identity.compact_bank_account(raw)
    if (value.isascii() and value.isdigit()
            and identity.BANK_ACCOUNT_MIN_LENGTH <= len(value) <= identity.BANK_ACCOUNT_MAX_LENGTH
            and (not identity.luhn_required(value) or _luhn_ok(value))):
        return value
    try:
        return identity.validate_bank_account(raw)
    except identity.IdentityError as exc:
        raise RowError("社保卡银行账号", masking.mask_account(raw), exc.message) from None


def _ssc_card(row, ctx, birth):
    account = bank_account(row[3])
    bank = _text(row[4], "开户银行", 100)
    status = CARD_STATUSES.get(row[5])
    if status is None:
        if row[5] in CARD_STATUSES.values():
            status = row[5]
        else:
            raise RowError("金融功能状态", row[5][:30], CARD_STATUS_MESSAGE)
    blob, digest = protector().protect("account", account)
    return (digest, blob, "*" * (len(account) - 4) + account[-4:], bank, status)  # masking.mask_account


def _public_staff(row, ctx, birth):
    return (_text(row[3], "工作单位", 200),)


def _plate(value: str) -> str:
    return re.sub(r"[\s·•\-]+", "", unicodedata.normalize("NFKC", value)).upper()


def _vehicle(row, ctx, birth):
    plate = _text(_plate(row[3]), "号牌号码", 20)
    kind = _text(row[4], "车辆类型", 50, required=False)
    registered = _date(row[5], "登记日期", ctx, required=False)
    return (plate, kind, registered)


def _enterprise(row, ctx, birth):
    name = _text(row[3], "企业名称", 200)
    try:
        code = identity.validate_credit_code(row[4])
    except identity.IdentityError as exc:
        raise RowError("统一社会信用代码", row[4][:30], exc.message) from None
    capacity = row[5]
    if capacity not in CAPACITIES:
        raise RowError("身份", capacity[:30], "身份应为 法定代表人/股东")
    return (name, code, capacity)


_COUNT = re.compile(r"[0-9]{1,9}")
_AREA = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")


def _real_estate(row, ctx, birth):
    count_text, area_text = row[3], row[4].replace(",", "")
    if not _COUNT.fullmatch(count_text):
        raise RowError("不动产数量", count_text[:30], "不动产数量应为非负整数")
    area = None
    if area_text:
        if not _AREA.fullmatch(area_text):
            raise RowError("建筑面积", row[4][:30], "建筑面积应为非负数字（平方米，最多两位小数）")
        try:
            area = Decimal(area_text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise RowError("建筑面积", row[4][:30], "建筑面积应为非负数字（平方米，最多两位小数）") from None
    return (int(count_text), area)


def _cadre_relative(row, ctx, birth):
    cadre_id, _ = resident_id(row[3], "干部身份证号", ctx.limit)
    cadre_name = _text(row[4], "干部姓名", 100, personal=True)
    relation = _text(row[5], "关系", 20)
    return (protector().digest("id", cadre_id), cadre_name, relation)


SPECS: dict[str, SourceSpec] = {
    spec.code: spec
    for spec in (
        SourceSpec("household", "户籍", (ID, NAME, "户号", "行政区划代码"),
                   ("household_number", "region_code"), _household, copy_kinds=("text", "raw")),
        SourceSpec("death", "死亡/殡葬", (ID, NAME, "死亡日期"), ("death_date",), _death, copy_kinds=("date",),
                   note="死亡日期不能晚于数据日期，也不能早于出生日期。"),
        SourceSpec("ssc_card", "社保卡", (ID, NAME, "社保卡银行账号", "开户银行", "金融功能状态"),
                   ("account_digest", "account_enc", "account_masked", "bank_name", "card_status"), _ssc_card,
                   copy_kinds=("raw", "bytes", "raw", "text", "raw"),
                   note="金融功能状态为 已激活/未激活/挂失/注销；导入后同步刷新收款账户的社保卡状态。"),
        SourceSpec("public_staff", "财政供养人员", (ID, NAME, "工作单位"), ("employer",), _public_staff,
                   copy_kinds=("text",)),
        SourceSpec("vehicle", "车辆", (ID, NAME, "号牌号码", "车辆类型", "登记日期"),
                   ("plate", "vehicle_type", "registered_on"), _vehicle, copy_kinds=("text", "text", "opt"),
                   key=("plate",), key_column="号牌号码", key_reason="同一号牌号码在文件中只能出现一次",
                   note="一人可有多辆车（多行）；登记日期可为空。"),
        SourceSpec("enterprise", "工商登记", (ID, NAME, "企业名称", "统一社会信用代码", "身份"),
                   ("enterprise_name", "credit_code", "capacity"), _enterprise, copy_kinds=("text", "raw", "raw"),
                   key=("id_digest", "credit_code", "capacity"),
                   key_reason="同一人在同一企业的同一身份只能出现一次",
                   note="一人可在多家企业任职或持股（多行）；身份为 法定代表人/股东。"),
        SourceSpec("real_estate", "不动产", (ID, NAME, "不动产数量", "建筑面积"),
                   ("property_count", "floor_area"), _real_estate, copy_kinds=("int", "opt"),
                   key=("id_digest", "property_count", "floor_area"),
                   key_reason="同一人的登记记录（数量、面积均相同）重复出现",
                   note="一人可有多行（不同登记机构）；建筑面积单位为平方米，可为空。"),
        SourceSpec("cadre_relative", "村干部及近亲属", (ID, NAME, "干部身份证号", "干部姓名", "关系"),
                   ("cadre_id_digest", "cadre_name", "relation"), _cadre_relative,
                   copy_kinds=("raw", "text", "text"),
                   key=("id_digest", "cadre_id_digest"), key_reason="同一人与同一干部的关系只能出现一次",
                   note="干部本人也列一行（干部身份证号与身份证号相同，关系填“本人”）。"),
    )
}


def spec_for(code: str) -> SourceSpec:
    try:
        return SPECS[code]
    except KeyError:
        known = "、".join(f"{s.code}（{s.label}）" for s in SPECS.values())
        from yikatong.core.errors import DomainError

        raise DomainError(f"数据源“{code}”不存在：可选 {known}。", field="source") from None




# The chunk code builds on the contract above; re-exported so callers keep using spec.parse_chunk.
from .chunk import ChunkResult, parse_chunk, parse_row, unescape  # noqa: E402, F401
