from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from yikatong.core.errors import DomainError
from yikatong.core.money import (
    MoneyError,
    MoneyField,
    fen,
    format_yuan,
    from_fen,
    is_money,
    to_chinese_uppercase,
    to_money,
)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1234.5", "1234.50"),
        (" 1234.50 ", "1234.50"),
        ("1,234.50", "1234.50"),
        ("12,345,678", "12345678.00"),
        ("0", "0.00"),
        ("-0.00", "0.00"),
        ("-12.3", "-12.30"),
        ("+5", "5.00"),
        (".5", "0.50"),
        ("1.500", "1.50"),  # trailing zeros lose nothing
        (7, "7.00"),
        (Decimal("99.9"), "99.90"),
        ("99999999999999.99", "99999999999999.99"),
    ],
)
def test_to_money(value, expected):
    result = to_money(value)
    assert isinstance(result, Decimal) and str(result) == expected


@pytest.mark.parametrize("value", [1.5, 0.1, float("nan"), True, None, [1], b"1"])
def test_floats_and_other_types_are_type_errors(value):
    with pytest.raises(TypeError):
        to_money(value)
    assert not is_money(value)


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("1.234", "金额最多保留两位小数：1.234"),
        (Decimal("0.001"), "最多保留两位小数"),
        ("nan", "格式不正确"),
        (Decimal("NaN"), "有限数字"),
        (Decimal("Infinity"), "有限数字"),
        ("inf", "格式不正确"),
        ("1e3", "格式不正确"),
        ("12.3.4", "格式不正确"),
        ("1,23.00", "格式不正确"),
        ("", "格式不正确"),
        ("¥12", "格式不正确"),
        ("100000000000000", "超出范围"),
        (Decimal("1E+40"), "超出范围"),
    ],
)
def test_refused_amounts(value, fragment):
    with pytest.raises(MoneyError) as info:
        to_money(value)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, DomainError)


@given(st.integers(min_value=-(10**16) + 1, max_value=10**16 - 1))
def test_fen_round_trip(cents):
    amount = from_fen(cents)
    assert fen(amount) == cents
    assert amount == Decimal(cents) / 100
    assert to_money(str(amount)) == amount


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=3, allow_nan=False))
def test_three_decimals_refused_two_accepted(value):
    if value == value.quantize(Decimal("0.01")):
        assert to_money(value) == value
    else:
        with pytest.raises(MoneyError):
            to_money(value)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_refused(value):
    with pytest.raises(TypeError):
        to_money(value)


def test_from_fen_refuses_non_integers():
    for value in (1.0, "100", True, Decimal(100)):
        with pytest.raises(TypeError):
            from_fen(value)
    assert from_fen(123450) == Decimal("1234.50")
    assert fen("0.01") == 1 and fen("-1.1") == -110


@pytest.mark.parametrize(
    "value, text", [("1234.5", "1,234.50"), (0, "0.00"), ("-1234567.8", "-1,234,567.80"), ("999", "999.00")]
)
def test_format_yuan(value, text):
    assert format_yuan(value) == text


@pytest.mark.parametrize(
    "value, words",
    [
        ("1234.50", "壹仟贰佰叁拾肆元伍角整"),
        ("0", "零元整"),
        ("0.05", "伍分"),
        ("0.50", "伍角整"),
        ("0.58", "伍角捌分"),
        ("1.05", "壹元零伍分"),
        ("10", "壹拾元整"),
        ("15", "壹拾伍元整"),
        ("100", "壹佰元整"),
        # examples from 《正确填写票据和结算凭证的基本规定》
        ("1409.50", "壹仟肆佰零玖元伍角整"),
        ("6007.14", "陆仟零柒元壹角肆分"),
        ("325.04", "叁佰贰拾伍元零肆分"),
        ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
        ("107000.53", "壹拾万柒仟元伍角叁分"),
        ("10500", "壹万零伍佰元整"),
        ("100000001", "壹亿零壹元整"),
        ("1000000400", "壹拾亿零肆佰元整"),
        ("20003456", "贰仟万叁仟肆佰伍拾陆元整"),
        ("100010000", "壹亿零壹万元整"),
        ("1010101.01", "壹佰零壹万零壹佰零壹元零壹分"),
        ("-12.3", "负壹拾贰元叁角整"),
    ],
)
def test_chinese_uppercase(value, words):
    assert to_chinese_uppercase(value) == words


def test_chinese_uppercase_refuses_floats():
    with pytest.raises(TypeError):
        to_chinese_uppercase(12.5)


# -- model field ------------------------------------------------------------------------------------
def test_money_field_defaults_and_deconstruct():
    field = MoneyField("金额")
    assert (field.max_digits, field.decimal_places) == (16, 2)
    name, path, args, kwargs = field.deconstruct()
    assert path == "yikatong.core.money.MoneyField"
    assert kwargs["max_digits"] == 16 and kwargs["decimal_places"] == 2


def test_money_field_refuses_floats_and_three_decimals():
    field = MoneyField()
    field.set_attributes_from_name("amount")
    assert field.to_python("12.3") == Decimal("12.30")
    assert field.get_prep_value("12.30") == Decimal("12.30")
    assert field.to_python(None) is None and field.get_prep_value(None) is None
    with pytest.raises(TypeError):
        field.to_python(12.3)
    with pytest.raises(TypeError):
        field.get_prep_value(12.3)
    with pytest.raises(ValidationError):
        field.to_python("12.345")
    with pytest.raises(ValidationError):
        field.to_python("abc")
    with pytest.raises(MoneyError):
        field.get_prep_value(Decimal("12.345"))
