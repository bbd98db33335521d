"""Per-row validation of a roster, ORM-free: it runs in worker processes on whole blocks.

`check_block(context, block)` parses a block (reader.parse_block), validates every row against the
rules of SPEC §5.1 / §3.4, encrypts identifiers and returns a `BlockResult`: the staging rows (as
PostgreSQL COPY text or as tuples for SQLite) and the rejected rows with their reasons. What needs the
database or the whole file (duplicates across blocks, the project library, existing beneficiaries) is
checked afterwards, set-based, by the service.

Speed: this is the per-row hot path of a million-row import, so the common case takes fast paths
(pre-compiled patterns, caches per birth date / region prefix / bank name, one urandom call per block
for the AES-GCM nonces). Whenever a fast path does not accept a value, the platform's own validator
(core.identity, registry.rules, applications.rules) decides and supplies the message — the fast paths
only ever accept what those validators accept, with the same normalized result.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from operator import mul

from yikatong.applications import rules as app_rules
from yikatong.core import crypto, identity, masking
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.registry import rules as registry_rules

from . import reader
from .reader import (
    ACCOUNT,
    AMOUNT,
    BANK,
    CORPORATE_ACCOUNT,
    CREDIT_CODE,
    ID_NUMBER,
    NAME,
    ORG_NAME,
    ORGANIZATION,
    PERIOD,
    PHONE,
    POLICY,
    QUANTITY,
    REGION,
    REMARKS,
    TIER,
)

# The staging row, in this order, for both databases.
STAGE_COLUMNS = (
    "row_no", "ok", "id_digest", "name", "id_enc", "id_masked", "gender", "birth_date", "region",
    "phone_enc", "phone_digest", "phone_masked", "acc_enc", "acc_digest", "acc_masked", "bank",
    "quantity", "tier", "amount", "remarks", "raw",
)
ERROR_COLUMNS = ("row_no", "col", "value", "reason", "raw")
RAW_SEPARATOR = "\x1f"  # cells of the raw row, as received (the rejected-rows file repeats them)
REMARKS_MAX = 200
VALUE_MAX = 200

_CJK_NAME = re.compile(r"[\u4e00-\u9fff]{2,50}")
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
_ACCOUNT = re.compile(r"[0-9]{8,32}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_MONEY = re.compile(r"[0-9]{1,14}(?:\.[0-9]{1,2})?")
_TOO_MANY_DECIMALS = re.compile(r"[+]?[0-9]*\.[0-9]{3,}")
_QUANTITY = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")
_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
_BYTEA = "\\\\x"  # COPY text of a bytea in hex: \\x…
_ZERO = Decimal(0)


@dataclass(frozen=True)
class PolicySnapshot:
    """What the amount rules need of the policy (policies.rules.max_amount takes any such object)."""

    code: str
    standard_type: str
    standard_amount: Decimal
    unit_name: str
    tiers: tuple = ()


@dataclass
class Context:
    """Everything a worker needs, fixed before the workers start (inherited through fork)."""

    layout: reader.Layout
    policy: PolicySnapshot
    period: str
    regions: frozenset[str]  # active regions within the uploader's scope
    scope_lo: str
    scope_hi: str
    today: dt.date
    copy_text: bool  # PostgreSQL: staging rows as COPY text; SQLite: tuples
    # SQLite with worker processes: each block's staging rows go into a small SQLite file of this folder
    # (written by the worker; the main process copies it with one INSERT … SELECT instead of receiving
    # and binding every row)
    stage_dir: str | None = None

    @property
    def kind(self) -> str:
        return self.layout.kind


class StageFile(str):
    """Path of a block's staging rows written to a SQLite file by a worker (Context.stage_dir)."""


@dataclass
class BlockResult:
    stage: bytes | list | StageFile = b""
    staged: int = 0
    errors: list = field(default_factory=list)  # (row_no, column, value, reason, raw)
    rows: int = 0  # non-blank data rows
    rejected_rows: int = 0
    regions: set = field(default_factory=set)
    last_row: int = 0


# -- fast identifier protection ------------------------------------------------------------------------
class Protector:
    """core.crypto.protect for already-normalized values, at a third of the cost: the AES-GCM nonces come
    from one os.urandom call per 4096 values and the HMAC state is copied instead of rebuilt. Blobs and
    digests are exactly those of core.crypto (tests check decrypt_text / digest round trips).

    Never share an instance across fork(): each process must draw its own nonces (see `protector()`)."""

    BATCH = 4096

    def __init__(self):
        ring = crypto.keyring()
        self._encrypt = ring.ciphers[ring.current_id].encrypt
        self._header = ring.header
        self.ring = ring
        self._nonces = b""
        self._pos = 0
        self.pid = os.getpid()

    def _nonce(self) -> bytes:
        if self._pos >= len(self._nonces):
            self._nonces = os.urandom(crypto.NONCE_SIZE * self.BATCH)
            self._pos = 0
        start = self._pos
        self._pos = start + crypto.NONCE_SIZE
        return self._nonces[start:self._pos]

    def encrypt(self, normalized: str) -> bytes:
        nonce = self._nonce()
        header = self._header
        return header + nonce + self._encrypt(nonce, normalized.encode(), header)

    def digest(self, kind: str, normalized: str) -> str:
        return crypto.digester(kind)(normalized)

    def protect(self, kind: str, normalized: str) -> tuple[bytes, str]:
        return self.encrypt(normalized), self.digest(kind, normalized)


_protector: Protector | None = None


def protector() -> Protector:
    global _protector
    if _protector is None or _protector.pid != os.getpid() or _protector.ring is not crypto.keyring():
        _protector = Protector()
    return _protector


# -- caches (per process) --------------------------------------------------------------------------
_birth_cache: dict[str, tuple[dt.date, str] | None] = {}
_prefix_cache: dict[str, bool] = {}
_bank_cache: dict[str, str | DomainError] = {}
_head_cache: dict[str, int] = {}


def _birth(text: str, today: dt.date) -> tuple[dt.date, str] | None:
    try:
        return _birth_cache[text]
    except KeyError:
        pass
    try:
        birth = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
        value = (birth, birth.isoformat()) if identity.EARLIEST_BIRTH_YEAR <= birth.year and birth <= today else None
    except ValueError:
        value = None
    if len(_birth_cache) < 100_000:
        _birth_cache[text] = value
    return value


def _head_sum(head: str) -> int:
    """The weighted sum of the first 14 digits of a resident ID (region + birth date: shared by many rows)
    for the check digit; the last three weights (8, 4, 2) are added by the caller."""
    total = _head_cache.get(head)
    if total is None:
        total = sum(map(mul, map(int, head), _ID_WEIGHTS))  # zip stops at the 14 digits
        if len(_head_cache) < 200_000:
            _head_cache[head] = total
    return total


def _prefix_known(prefix: str) -> bool:
    known = _prefix_cache.get(prefix)
    if known is None:
        known = identity.region_prefix_known(prefix)
        if len(_prefix_cache) < 20_000:
            _prefix_cache[prefix] = known
    return known


def _bank(text: str):
    value = _bank_cache.get(text)
    if value is None:
        try:
            value = registry_rules.clean_text(text, field="bank_name", label="开户银行",
                                              max_length=registry_rules.BANK_NAME_MAX, required=True)
        except DomainError as exc:
            value = exc
        if len(_bank_cache) < 10_000:
            _bank_cache[text] = value
    return value


def _luhn_ok(digits: str) -> bool:
    """Luhn check of an ASCII digit string: digit sums in C over the bytes (every second digit from the
    right doubled through a translation table: 0→0, 1→2, …, 5→1 (10), …, 9→9 (18))."""
    raw = digits.encode("ascii")
    return (sum(raw[-1::-2]) + sum(raw[-2::-2].translate(_LUHN_DOUBLED)) - 48 * len(raw)) % 10 == 0


# -- helpers -------------------------------------------------------------------------------------------
def _copy_field(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    return str(value)


def _copy_line(values) -> str:
    return "\t".join(map(_copy_field, values)) + "\n"


def mask_value(column: str, value: str) -> str:
    """The value as shown with a row error: identifiers masked (SPEC §7), organizations in full."""
    if column == ID_NUMBER:
        return masking.mask_id_number(value)
    if column in (ACCOUNT, CORPORATE_ACCOUNT):
        return masking.mask_account(value)
    if column == PHONE:
        return masking.mask_phone(value)
    return (value or "")[:VALUE_MAX]


def raw_text(cells) -> str:
    joined = RAW_SEPARATOR.join(cells)
    if joined.count(RAW_SEPARATOR) != len(cells) - 1:  # a cell holds the separator itself (never in practice)
        joined = RAW_SEPARATOR.join(cell.replace(RAW_SEPARATOR, " ") for cell in cells)
    return joined


def raw_cells(text: str | None) -> list[str]:
    return text.split(RAW_SEPARATOR) if text else []


def duplicate_reason(kind: str, first_row) -> str:
    what = "统一社会信用代码" if kind == ORGANIZATION else "身份证号"
    return f"与第 {first_row} 行为同一{'单位' if kind == ORGANIZATION else '人'}（{what}相同）：同一期间每个补贴对象只能申报一次，请删除重复的行"


def _stage_line(row_no, digest, name, id_blob, id_masked, gender, birth_iso, region, phone_blob, phone_digest,
                phone_masked, acc_blob, acc_digest, acc_masked, bank, quantity, tier, amount, remarks, raw) -> str:
    """One accepted row as a line of PostgreSQL COPY text (STAGE_COLUMNS order); free text is escaped."""
    return "\t".join((
        str(row_no), "1", digest, _escape(name), _BYTEA + id_blob.hex(), id_masked,
        _NULL if gender is None else gender, _NULL if birth_iso is None else birth_iso, region,
        _NULL if phone_blob is None else _BYTEA + phone_blob.hex(), phone_digest, phone_masked,
        _BYTEA + acc_blob.hex(), acc_digest, acc_masked, _escape(bank),
        _NULL if quantity is None else quantity, _escape(tier), str(amount), _escape(remarks), _escape(raw),
    )) + "\n"


_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]").search


def _escape(text: str) -> str:
    return text.translate(_COPY_ESCAPE) if _NEEDS_ESCAPE(text) else text


# -- the block -----------------------------------------------------------------------------------------
def check_block(context: Context, block: reader.Block) -> BlockResult:
    """Validate the rows of one block (see the module docstring)."""
    layout = context.layout
    cols = layout.columns
    person = layout.kind != ORGANIZATION

    def index(name):  # an absent column reads the "" appended to every row
        return cols.get(name, -1)

    i_name = index(NAME if person else ORG_NAME)
    i_id = index(ID_NUMBER if person else CREDIT_CODE)
    i_acc = index(ACCOUNT if person else CORPORATE_ACCOUNT)
    id_column = ID_NUMBER if person else CREDIT_CODE
    name_column = NAME if person else ORG_NAME
    i_bank, i_phone, i_region = index(BANK), index(PHONE), index(REGION)
    i_policy, i_period, i_qty = index(POLICY), index(PERIOD), index(QUANTITY)
    i_amount, i_remarks, i_tier = index(AMOUNT), index(REMARKS), index(TIER)
    width = len(layout.headers) + 1
    digest_kind = "id" if person else "uscc"

    policy = context.policy
    fixed_max = policy.standard_amount.quantize(Decimal("0.01")) if policy.standard_type == "fixed" else None
    policy_code, period, today = policy.code, context.period, context.today
    regions, scope_lo, scope_hi = context.regions, context.scope_lo, context.scope_hi
    guard = protector()
    encrypt, digest_of = guard.encrypt, guard.digest
    copy_text = context.copy_text
    cjk_name, resident_re, account_re = _CJK_NAME.fullmatch, _RESIDENT_ID.fullmatch, _ACCOUNT.fullmatch
    mobile_re, money_re = _MOBILE.fullmatch, _MONEY.fullmatch
    cent = Decimal("0.01")

    result = BlockResult()
    stage_out: list = []
    errors = result.errors
    seen: dict[str, int] = {}
    region_set = result.regions

    for row_no, cells in reader.parse_block(block, layout):
        result.rows += 1
        result.last_row = row_no
        raw = raw_text(cells)
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        else:
            cells.append("")
        problems: list[tuple[str, str, str]] = []
        digest = None

        # -- policy and period: one of each per import; empty cells take the import's values
        code = cells[i_policy]
        if code and code != policy_code:
            problems.append((POLICY, code, f"补贴项目编码 {code} 与本次导入的补贴项目 {policy_code} 不一致："
                                           "一个花名册只导入一个补贴项目，请按项目分开导入"))
        text = cells[i_period]
        if text and text != period and app_rules.normalize_period(text) != period:
            problems.append((PERIOD, text, f"补贴期间 {text} 与本次导入的补贴期间 {period} 不一致：请核对，或按期间分开导入"))

        # -- name
        name = cells[i_name]
        if not (person and cjk_name(name)):
            try:
                name = (registry_rules.clean_person_name if person else registry_rules.clean_org_name)(name)
            except DomainError as exc:
                problems.append((name_column, name[:VALUE_MAX], exc.message))

        # -- identifier
        number = cells[i_id]
        gender = birth_iso = id_masked = None
        if person:
            fast = None
            if len(number) == 18 and resident_re(number):
                if number[17] == _ID_CHECK[(_head_sum(number[:14]) + 8 * int(number[14]) + 4 * int(number[15])
                                            + 2 * int(number[16])) % 11]:
                    birth = _birth(number[6:14], today)
                    if birth is not None and _prefix_known(number[:6]):
                        fast = birth
            if fast is not None:
                birth_iso = fast[1]
                gender = identity.MALE if int(number[16]) % 2 else identity.FEMALE
            else:
                try:
                    resident = identity.validate_resident_id(number, on=today)
                    number, birth_iso, gender = resident.number, resident.birth_date.isoformat(), resident.gender
                except identity.IdentityError as exc:
                    problems.append((ID_NUMBER, masking.mask_id_number(number), exc.message))
                    number = None
            if number is not None:
                id_masked = number[:6] + "********" + number[14:]  # = masking.mask_id_number (18 characters)
        else:
            try:
                number = id_masked = identity.validate_credit_code(number)  # organizations are public
            except identity.IdentityError as exc:
                problems.append((CREDIT_CODE, number[:VALUE_MAX], exc.message))
                number = None
        if number is not None:
            digest = digest_of(digest_kind, number)
            first = seen.get(digest)
            if first is not None:
                # a later row of the same person inside this block: only the first one counts
                problems.append((id_column, id_masked, duplicate_reason(layout.kind, first)))
                digest = None  # not staged: its first occurrence is
            else:
                seen[digest] = row_no

        # -- account and bank
        account = cells[i_acc]
        if person:
            ok_account = account_re(account) is not None and (
                not (16 <= len(account) <= 19 and account.startswith("62")) or _luhn_ok(account))
            if not ok_account:
                try:
                    account = identity.validate_bank_account(account)
                    ok_account = True
                except identity.IdentityError as exc:
                    problems.append((ACCOUNT, masking.mask_account(account), exc.message))
        else:
            try:
                account = identity.validate_bank_account(account, require_luhn=False)
                ok_account = True
            except identity.IdentityError as exc:
                ok_account = False
                problems.append((CORPORATE_ACCOUNT, masking.mask_account(account), exc.message))
        bank = _bank(cells[i_bank])
        if bank.__class__ is not str:
            problems.append((BANK, cells[i_bank][:VALUE_MAX], bank.message))

        # -- phone (persons only: organizations register no phone)
        phone = cells[i_phone] if person else ""
        if phone and not mobile_re(phone):
            try:
                phone = identity.validate_mobile(phone)
            except identity.IdentityError as exc:
                problems.append((PHONE, masking.mask_phone(phone), exc.message))
                phone = ""

        # -- region: a known, active region within the uploader's scope
        region = cells[i_region]
        if region not in regions:
            try:
                code12 = region_rules.normalize_code(region)
            except region_rules.RegionCodeError as exc:
                problems.append((REGION, region[:VALUE_MAX], str(exc)))
            else:
                if code12 in regions:
                    region = code12
                elif scope_lo <= code12 <= scope_hi:
                    problems.append((REGION, region, f"行政区划代码 {region} 不存在或已撤销：请填写现行的 12 位行政区划代码"))
                else:
                    problems.append((REGION, region, f"行政区划 {region} 不在您的管辖范围内"))

        # -- quantity, tier, amount
        qty_text = cells[i_qty]
        quantity = None
        quantity_ok = True
        if qty_text:
            if _QUANTITY.fullmatch(qty_text) and (quantity := Decimal(qty_text)) > 0:
                quantity = quantity.quantize(cent)
            else:
                try:
                    quantity = app_rules.clean_quantity(qty_text)
                except DomainError as exc:
                    problems.append((QUANTITY, qty_text[:VALUE_MAX], exc.message))
                    quantity, quantity_ok = None, False
        tier = cells[i_tier]
        amount_text = cells[i_amount]
        amount = None
        if quantity_ok:
            if fixed_max is not None and amount_text and money_re(amount_text):
                amount = Decimal(amount_text)
                if amount <= _ZERO:
                    amount = None
                    problems.append((AMOUNT, amount_text, f"补贴金额应大于0，当前为 {amount_text}。"))
                elif amount > fixed_max:
                    problems.append((AMOUNT, amount_text, f"补贴金额 {amount.quantize(cent)} 元超过补贴标准上限 "
                                                          f"{fixed_max} 元（补贴项目 {policy_code}），请核对金额。"))
                    amount = None
            elif amount_text and _TOO_MANY_DECIMALS.fullmatch(amount_text):
                problems.append((AMOUNT, amount_text, f"补贴金额最多两位小数：{amount_text}（请精确到分）"))
            else:
                try:
                    amount, _standard = app_rules.clean_amount(policy, amount_text, quantity=quantity, tier=tier)
                except DomainError as exc:
                    column = {"quantity": QUANTITY, "tier": TIER}.get(exc.field or "", AMOUNT)
                    shown = {QUANTITY: qty_text, TIER: tier}.get(column, amount_text)
                    problems.append((column, shown[:VALUE_MAX], exc.message))
            if amount is not None:
                amount = amount.quantize(cent)

        remarks = cells[i_remarks]
        if len(remarks) > REMARKS_MAX:
            problems.append((REMARKS, remarks[:VALUE_MAX], f"备注不能超过{REMARKS_MAX}字，实际为 {len(remarks)} 字"))

        if problems or not ok_account:
            result.rejected_rows += 1
            for column, value, reason in problems:
                errors.append((row_no, column, value, reason, raw))
            if digest is not None:
                # kept for the duplicate check across blocks, not for import
                values = (row_no, 0, digest, *([None] * (len(STAGE_COLUMNS) - 3)))
                stage_out.append(_copy_line(values) if copy_text else values)
            continue

        region_set.add(region)
        id_blob = encrypt(number)
        if phone:
            phone_blob, phone_digest = encrypt(phone), digest_of("phone", phone)
            phone_masked = phone[:3] + "****" + phone[7:]  # = masking.mask_phone (11 digits)
        else:
            phone_blob, phone_digest, phone_masked = None, "", ""
        acc_blob, acc_digest = encrypt(account), digest_of("account", account)
        acc_masked = "*" * (len(account) - 4) + account[-4:]  # = masking.mask_account (8+ digits)
        quantity_text = None if quantity is None else str(quantity)
        if copy_text:  # PostgreSQL: COPY text
            stage_out.append(_stage_line(row_no, digest, name, id_blob, id_masked, gender, birth_iso, region,
                                         phone_blob, phone_digest, phone_masked, acc_blob, acc_digest, acc_masked,
                                         bank, quantity_text, tier, amount, remarks, raw))
        else:
            stage_out.append((
                row_no, 1, digest, name, id_blob, id_masked, gender, birth_iso, region,
                phone_blob, phone_digest, phone_masked, acc_blob, acc_digest, acc_masked, bank,
                quantity_text, tier, str(amount), remarks, raw,
            ))

    result.staged = len(stage_out)
    if copy_text:
        result.stage = "".join(stage_out).encode("utf-8")
    elif context.stage_dir and stage_out:
        result.stage = write_stage_file(context.stage_dir, block.start_row, stage_out)
    else:
        result.stage = stage_out
    return result


def write_stage_file(folder: str, start_row: int, rows: list) -> StageFile:
    """The staging rows of one block as table `s` (STAGE_COLUMNS) of a new SQLite file (no journal, no
    sync: it lives only until the main process has copied it)."""
    import sqlite3

    path = os.path.join(folder, f"block-{start_row}-{os.getpid()}.sqlite3")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"CREATE TABLE s ({', '.join(STAGE_COLUMNS)})")
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO s VALUES ({', '.join(['?'] * len(STAGE_COLUMNS))})", rows)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return StageFile(path)
