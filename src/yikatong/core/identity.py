"""Identity numbers: resident ID (GB 11643), unified social credit code (GB 32100), bank account, mobile.

Pure functions, no ORM. Each `validate_*` returns the normalized value (or a small record) or raises a
subclass of `IdentityError` whose message (Chinese) says what is wrong and what to do; each `is_valid_*`
is the boolean form. The `compact_*` functions only normalize (never refuse): the digest of a personal
identifier (yikatong.core.crypto.digest) is computed over them, so that a value typed with spaces,
lowercase x or a +86 prefix joins with the same value typed cleanly.
"""

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass

from stdnum import luhn, numdb
from stdnum.cn import ric, uscc

from yikatong.core.errors import DomainError

MALE, FEMALE = "男", "女"
EARLIEST_BIRTH_YEAR = 1900
BANK_ACCOUNT_MIN_LENGTH = 8
BANK_ACCOUNT_MAX_LENGTH = 32

_SEPARATORS = re.compile(r"[\s\-_]+")
_NON_DIGITS = re.compile(r"[^0-9]+")
_DIGITS = re.compile(r"[0-9]+")
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_USCC_ALPHABET = set("0123456789ABCDEFGHJKLMNPQRTUWXY")


class IdentityError(DomainError, ValueError):
    """An identity number was refused. A DomainError (so the UI shows the message) and a ValueError."""

    field_name = ""

    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message, field=self.field_name, code=code)


class ResidentIdError(IdentityError):
    field_name = "id_number"


class CreditCodeError(IdentityError):
    field_name = "credit_code"


class BankAccountError(IdentityError):
    field_name = "account"


class MobileError(IdentityError):
    field_name = "phone"


# -- normalization (never refuses) ------------------------------------------------------------------
def _nfkc(value: str | None) -> str:
    """Full-width digits and letters (common in spreadsheets typed with a Chinese IME) become ASCII."""
    return unicodedata.normalize("NFKC", value or "")


def compact_resident_id(number: str | None) -> str:
    """Strip separators and uppercase (a lowercase x check digit becomes X)."""
    return _SEPARATORS.sub("", _nfkc(number)).upper()


def compact_credit_code(number: str | None) -> str:
    return _SEPARATORS.sub("", _nfkc(number)).upper()


def compact_bank_account(number: str | None) -> str:
    """Digits only: bank accounts are written in groups of four, with spaces or dashes."""
    return _SEPARATORS.sub("", _nfkc(number))


def compact_mobile(number: str | None) -> str:
    """Digits only, without a +86 / 0086 / 86 country prefix in front of an 11-digit number."""
    digits = _NON_DIGITS.sub("", _nfkc(number))
    for prefix in ("0086", "86"):
        if len(digits) == 11 + len(prefix) and digits.startswith(prefix):
            return digits[len(prefix):]
    return digits


# -- resident identity card number ------------------------------------------------------------------
@dataclass(frozen=True)
class ResidentId:
    number: str
    birth_date: dt.date
    gender: str  # MALE or FEMALE
    region_prefix: str

    def age_on(self, on: dt.date) -> int:
        return _full_years(self.birth_date, on)


@functools.lru_cache(maxsize=16384)  # ~7,000 codes exist; bounded against arbitrary input
def region_prefix_known(prefix: str) -> bool:
    """True when the 6-digit code is a county-level division code of any era (1980 to now).

    Deliberately not cn.ric's check, which also requires the code to exist in the birth year: people
    born before a county was created (or renamed) hold IDs with the newer code.
    """
    if len(prefix) != 6 or not _DIGITS.fullmatch(prefix):
        return False
    merged: dict[str, str] = {}
    for _part, props in numdb.get("cn/loc").info(prefix):
        merged.update(props)
    return bool(merged.get("province") and merged.get("county"))


def validate_resident_id(number: str | None, *, on: dt.date | None = None) -> ResidentId:
    """Validate an 18-character resident ID number; `on` is the day the birth date may not be after
    (default: the platform's today)."""
    value = compact_resident_id(number)
    if not value:
        raise ResidentIdError("身份证号为空：请填写 18 位公民身份号码", code="empty")
    if len(value) == 15 and _DIGITS.fullmatch(value):
        raise ResidentIdError("15 位旧身份证号已停止使用：请录入 18 位公民身份号码", code="length")
    if len(value) != 18:
        raise ResidentIdError(f"身份证号应为 18 位，实际为 {len(value)} 位：请核对证件后重新录入", code="length")
    if not _RESIDENT_ID.fullmatch(value):
        raise ResidentIdError("身份证号格式错误：前 17 位必须是数字，第 18 位为数字或 X", code="format")
    expected = ric.calc_check_digit(value)
    if value[17] != expected:
        raise ResidentIdError(f"身份证号校验位错误：应为 {expected}，请核对证件后重新录入", code="checksum")
    birth = _birth_date(value, on)
    prefix = value[:6]
    if not region_prefix_known(prefix):
        raise ResidentIdError(
            f"身份证号前 6 位地区码 {prefix} 不是有效的行政区划代码（任何年份均未使用过）：请核对证件后重新录入",
            code="region",
        )
    gender = MALE if int(value[16]) % 2 == 1 else FEMALE
    return ResidentId(number=value, birth_date=birth, gender=gender, region_prefix=prefix)


def _birth_date(value: str, on: dt.date | None) -> dt.date:
    try:
        birth = ric.get_birth_date(value)
    except Exception as exc:  # stdnum raises InvalidComponent for an impossible date
        raise ResidentIdError(
            f"身份证号中的出生日期 {value[6:14]} 不是有效日期：请核对证件后重新录入", code="birth_date"
        ) from exc
    if birth.year < EARLIEST_BIRTH_YEAR:
        raise ResidentIdError(
            f"身份证号中的出生日期 {birth.isoformat()} 早于 {EARLIEST_BIRTH_YEAR} 年：请核对证件后重新录入",
            code="birth_date",
        )
    if on is None:
        from yikatong.core import clock

        on = clock.today()
    if birth > on:
        raise ResidentIdError(
            f"身份证号中的出生日期 {birth.isoformat()} 晚于 {on.isoformat()}：请核对证件后重新录入",
            code="birth_date",
        )
    return birth


def is_valid_resident_id(number: str | None, *, on: dt.date | None = None) -> bool:
    try:
        validate_resident_id(number, on=on)
    except IdentityError:
        return False
    return True


def age_on(number: "str | ResidentId", on: dt.date) -> int:
    """Age in full years on `on` (the birthday itself counts; a 29 February birthday counts on
    1 March in common years). Validates a string ID number first (as of `on`)."""
    resident = number if isinstance(number, ResidentId) else validate_resident_id(number, on=on)
    return resident.age_on(on)


def _full_years(birth: dt.date, on: dt.date) -> int:
    if on < birth:
        raise ValueError(f"{on} is before the birth date {birth}")
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# -- unified social credit code ---------------------------------------------------------------------
def validate_credit_code(number: str | None) -> str:
    """Validate an 18-character unified social credit code; returns it compact and uppercase.

    The check digit comes from stdnum.cn.uscc; the format check is ours because stdnum wants the first
    two characters to be digits, which refuses real codes of other registration authorities
    (e.g. N2… village collective economic organizations, Y1… other authorities).
    """
    value = compact_credit_code(number)
    if not value:
        raise CreditCodeError("统一社会信用代码为空：请填写 18 位统一社会信用代码", code="empty")
    if len(value) != 18:
        raise CreditCodeError(
            f"统一社会信用代码应为 18 位，实际为 {len(value)} 位：请核对营业执照或登记证书", code="length"
        )
    if any(c not in _USCC_ALPHABET for c in value) or not _DIGITS.fullmatch(value[2:8]):
        raise CreditCodeError(
            "统一社会信用代码格式错误：只能包含数字和大写字母（不含 I、O、Z、S、V），第 3–8 位为行政区划码",
            code="format",
        )
    expected = uscc.calc_check_digit(value)
    if value[17] != expected:
        raise CreditCodeError(
            f"统一社会信用代码校验位错误：应为 {expected}，请核对营业执照或登记证书", code="checksum"
        )
    return value


def is_valid_credit_code(number: str | None) -> bool:
    try:
        validate_credit_code(number)
    except IdentityError:
        return False
    return True


# -- bank account -----------------------------------------------------------------------------------
def luhn_required(account: str) -> bool:
    """The automatic rule: a 16–19 digit number starting with 62 is a UnionPay card (social security
    card bank accounts are) and must pass Luhn. Other accounts (corporate accounts, passbooks, other
    schemes) follow each bank's own numbering, so Luhn is not applied to them."""
    return 16 <= len(account) <= 19 and account.startswith("62")


def validate_bank_account(
    number: str | None,
    *,
    require_luhn: bool | None = None,
    min_length: int = BANK_ACCOUNT_MIN_LENGTH,
    max_length: int = BANK_ACCOUNT_MAX_LENGTH,
) -> str:
    """Validate a bank account number; returns its digits.

    require_luhn: None = automatic (`luhn_required`), True = always check, False = never check.
    """
    value = compact_bank_account(number)
    if not value:
        raise BankAccountError("银行账号为空：请填写收款银行账号", code="empty")
    if not _DIGITS.fullmatch(value):
        raise BankAccountError("银行账号只能包含数字（可用空格分组）：请核对后重新录入", code="format")
    if not min_length <= len(value) <= max_length:
        raise BankAccountError(
            f"银行账号长度应为 {min_length}–{max_length} 位，实际为 {len(value)} 位：请核对后重新录入",
            code="length",
        )
    check = luhn_required(value) if require_luhn is None else require_luhn
    if check and not luhn.is_valid(value):
        raise BankAccountError("银行卡号校验失败（末位校验码不符）：请核对卡号后重新录入", code="checksum")
    return value


def is_valid_bank_account(number: str | None, *, require_luhn: bool | None = None, **limits) -> bool:
    try:
        validate_bank_account(number, require_luhn=require_luhn, **limits)
    except IdentityError:
        return False
    return True


# -- mobile phone -----------------------------------------------------------------------------------
def validate_mobile(number: str | None) -> str:
    """Validate a mainland mobile number (11 digits, 1[3-9]…); +86/0086/86, spaces and dashes allowed.
    Returns the 11 digits."""
    if not (number or "").strip():
        raise MobileError("手机号码为空：请填写 11 位手机号码", code="empty")
    if re.search(r"[^0-9\s\-+()]", _nfkc(number)):
        raise MobileError("手机号码只能包含数字（可带 +86 前缀、空格或短横线）：请核对后重新录入", code="format")
    value = compact_mobile(number)
    if not _MOBILE.fullmatch(value):
        raise MobileError(
            f"手机号码应为 1 开头、第二位为 3–9 的 11 位数字，实际为“{value}”：请核对后重新录入", code="format"
        )
    return value


def is_valid_mobile(number: str | None) -> bool:
    try:
        validate_mobile(number)
    except IdentityError:
        return False
    return True
