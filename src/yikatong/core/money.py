"""Money: one Decimal yuan type for the whole platform (two places), never float.

`to_money` is the one way in: str, int or Decimal; floats are refused (a float cannot hold 0.10 exactly),
so are NaN/infinity and more than two decimals (1.500 is fine: it is 1.50). `fen`/`from_fen` convert to
and from integer fen. `MoneyField` is the model field every amount uses.
"""

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models

from yikatong.core.errors import DomainError

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_DIGITS = 16
DECIMAL_PLACES = 2
LIMIT = Decimal(10) ** (MAX_DIGITS - DECIMAL_PLACES)  # what a MoneyField can hold, exclusive
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


class MoneyError(DomainError, ValueError):
    """An amount was refused; the message (Chinese) says why."""

    def __init__(self, message: str):
        super().__init__(message, field="amount", code="money")


def to_money(value) -> Decimal:
    """Return `value` as a Decimal yuan amount quantized to two places.

    Accepts str ("1234.5", " 1,234.50 "), int and Decimal. Raises TypeError for float, bool and other
    types, MoneyError for text that is not a number, NaN/infinity, more than two decimals, or an amount
    too large for a MoneyField.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"金额不能使用浮点数或布尔值（{value!r}）：请传入字符串、整数或 Decimal")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        amount = _parse(value)
    else:
        raise TypeError(f"无法识别的金额类型 {type(value).__name__}：请传入字符串、整数或 Decimal")
    if not amount.is_finite():
        raise MoneyError(f"金额必须是有限数字：{value}")
    try:
        quantized = amount.quantize(CENT)
    except InvalidOperation:  # too many digits for the context: far beyond any real amount
        raise MoneyError(f"金额超出范围：{value}") from None
    if quantized != amount:
        raise MoneyError(f"金额最多保留两位小数：{value}")
    if abs(quantized) >= LIMIT:
        raise MoneyError(f"金额超出范围（绝对值须小于 {LIMIT:,} 元）：{value}")
    return quantized if quantized else ZERO  # never "-0.00"


def _parse(text: str) -> Decimal:
    cleaned = text.strip()
    if _GROUPED.match(cleaned):
        cleaned = cleaned.replace(",", "")
    if not _NUMBER.match(cleaned):
        raise MoneyError(f"金额格式不正确：“{text}”，请填写数字，如 1234.50")
    return Decimal(cleaned)


def is_money(value) -> bool:
    try:
        to_money(value)
    except (TypeError, MoneyError):
        return False
    return True


def fen(value) -> int:
    """The amount in integer fen (分)."""
    return int(to_money(value) * 100)


def from_fen(value: int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"分必须是整数：{value!r}")
    return to_money(Decimal(value).scaleb(-2))


def format_yuan(value) -> str:
    """'1,234.50' (thousands separators, two places)."""
    return f"{to_money(value):,.2f}"


# -- Chinese uppercase amount (大写金额) -------------------------------------------------------------
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_SECTION_UNITS = ("", "万", "亿", "万亿")


def to_chinese_uppercase(value) -> str:
    """The amount written out for vouchers, per the rules for filling in bills and settlement
    vouchers (正确填写票据和结算凭证的基本规定): 壹仟贰佰叁拾肆元伍角整, 叁佰贰拾伍元零肆分,
    壹拾万柒仟元伍角叁分 (a 零 at a zero 万/元 place before a non-zero 千 or 角 is left out, which the
    rules allow), 零元整. Negative amounts start with 负."""
    amount = to_money(value)
    sign = "负" if amount < 0 else ""
    cents = abs(fen(amount))
    yuan, jiao, fen_ = cents // 100, cents // 10 % 10, cents % 10
    text = _integer_part(yuan)
    if yuan:
        text += "元"
    if jiao == 0 and fen_ == 0:
        return sign + (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif yuan:
        text += "零"  # 壹佰元零伍分
    text += (_DIGITS[fen_] + "分") if fen_ else "整"
    return sign + text


def _integer_part(number: int) -> str:
    sections = []
    while number:
        sections.append(number % 10000)
        number //= 10000
    parts, started, gap = [], False, False
    for index in range(len(sections) - 1, -1, -1):
        section = sections[index]
        if section == 0:
            gap = started
            continue
        if started and (gap or section < 1000):
            parts.append("零")
        parts.append(_section(section) + _SECTION_UNITS[index])
        started, gap = True, False
    return "".join(parts)


def _section(number: int) -> str:
    text, started, zero = "", False, False
    for position in (3, 2, 1, 0):
        digit = number // 10**position % 10
        if digit == 0:
            zero = started
            continue
        if zero:
            text += "零"
        text += _DIGITS[digit] + _SMALL_UNITS[position]
        started, zero = True, False
    return text


# -- model field ------------------------------------------------------------------------------------
class MoneyField(models.DecimalField):
    """DecimalField(max_digits=16, decimal_places=2) that refuses floats and more than two decimals."""

    description = "金额（元，两位小数）"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError(f"金额字段 {self.name} 不接受浮点数：{value!r}")
        try:
            return to_money(value)
        except (MoneyError, TypeError) as exc:
            raise ValidationError(str(exc), code="invalid") from exc

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError(f"金额字段 {self.name} 不接受浮点数：{value!r}")
        if hasattr(value, "resolve_expression"):
            return value
        return to_money(value)
