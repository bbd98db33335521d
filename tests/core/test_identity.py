import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn, numdb
from stdnum.cn import ric, uscc

from yikatong.core import identity as ident
from yikatong.core.errors import DomainError

ON = dt.date(2026, 3, 1)


def _known_prefixes() -> list[str]:
    codes = []
    for _len, low, high, _props, children in numdb.get("cn/loc").prefixes:
        assert low == high
        for _clen, clow, chigh, cprops, _ in children:
            assert clow == chigh
            if cprops.get("county"):
                codes.append(low + clow)
    return sorted(codes)


PREFIXES = _known_prefixes()


def make_id(prefix: str, birth: dt.date, seq: int) -> str:
    body = f"{prefix}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def with_check(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


ids = st.builds(
    make_id,
    st.sampled_from(PREFIXES),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=ON),
    st.integers(min_value=0, max_value=999),
)


# -- resident ID ------------------------------------------------------------------------------------
def test_prefix_table_is_large():
    assert len(PREFIXES) > 5000 and "500101" in PREFIXES and "110101" in PREFIXES


def test_wanzhou_resident_born_before_the_code_existed_is_valid():
    # 500101 (万州区) exists since 1997; stdnum's own validate refuses a 1963 birth date with it.
    assert not ric.is_valid("500101196301010016")
    resident = ident.validate_resident_id("500101196301010016", on=ON)
    assert resident == ident.ResidentId("500101196301010016", dt.date(1963, 1, 1), "男", "500101")
    assert ident.age_on("500101196301010016", ON) == 63


def test_retired_region_code_is_still_valid():
    # 510102 was 成都东城区 1983–1990 only; people keep their IDs.
    number = make_id("510102", dt.date(1985, 6, 1), 12)
    assert ident.validate_resident_id(number, on=ON).region_prefix == "510102"


def test_check_digit_x_uppercase_and_lowercase():
    number = next(
        make_id("110101", dt.date(1980, 1, 1), seq) for seq in range(1000)
        if make_id("110101", dt.date(1980, 1, 1), seq).endswith("X")
    )
    assert ident.validate_resident_id(number, on=ON).number == number
    lower = number[:-1] + "x"
    assert ident.validate_resident_id(lower, on=ON).number == number
    assert ident.validate_resident_id(" " + number[:6] + " " + number[6:14] + "-" + lower[14:], on=ON).number == number
    wrong = number[:-1] + "0"
    with pytest.raises(ident.ResidentIdError, match="校验位错误：应为 X"):
        ident.validate_resident_id(wrong, on=ON)


def test_full_width_digits_are_normalized():
    assert ident.validate_resident_id("５００１０１１９６３０１０１００１６", on=ON).number == "500101196301010016"


@pytest.mark.parametrize(
    "number, code, fragment",
    [
        ("", "empty", "为空"),
        (None, "empty", "为空"),
        ("50010119630101001", "length", "实际为 17 位"),
        ("5001011963010100161", "length", "实际为 19 位"),
        ("500101630101001", "length", "15 位旧身份证号"),
        ("50010119630101001A", "format", "格式错误"),
        ("5001O1196301010016", "format", "格式错误"),
        ("500101196301010017", "checksum", "校验位错误：应为 6，请核对证件后重新录入"),
        (with_check("50010119630230001"), "birth_date", "19630230 不是有效日期"),
        (with_check("50010118991231001"), "birth_date", "早于 1900 年"),
        (with_check("50010120260302001"), "birth_date", "晚于 2026-03-01"),
        (with_check("99999919630101001"), "region", "地区码 999999"),
        (with_check("50019919630101001"), "region", "地区码 500199"),
    ],
)
def test_invalid_resident_ids_name_the_problem(number, code, fragment):
    with pytest.raises(ident.ResidentIdError) as info:
        ident.validate_resident_id(number, on=ON)
    assert info.value.code == code
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, DomainError)
    assert info.value.field == "id_number"
    assert not ident.is_valid_resident_id(number, on=ON)


def test_birth_on_the_reference_day_is_valid_and_default_uses_platform_today(settings):
    number = make_id("500101", ON, 1)
    assert ident.validate_resident_id(number, on=ON).birth_date == ON
    settings.YIKATONG_TODAY = "2026-02-28"
    assert not ident.is_valid_resident_id(number)
    settings.YIKATONG_TODAY = "2026-03-01"
    assert ident.is_valid_resident_id(number)


def test_gender_from_17th_digit():
    assert ident.validate_resident_id(make_id("500101", dt.date(1990, 1, 1), 1), on=ON).gender == "男"
    assert ident.validate_resident_id(make_id("500101", dt.date(1990, 1, 1), 2), on=ON).gender == "女"
    assert ident.validate_resident_id(make_id("500101", dt.date(1990, 1, 1), 0), on=ON).gender == "女"


@pytest.mark.parametrize(
    "birth, on, age",
    [
        (dt.date(1946, 3, 1), dt.date(2026, 3, 1), 80),
        (dt.date(1946, 3, 2), dt.date(2026, 3, 1), 79),
        (dt.date(1946, 2, 28), dt.date(2026, 3, 1), 80),
        (dt.date(1948, 2, 29), dt.date(2026, 2, 28), 77),
        (dt.date(1948, 2, 29), dt.date(2026, 3, 1), 78),
        (dt.date(2026, 3, 1), dt.date(2026, 3, 1), 0),
    ],
)
def test_age_on(birth, on, age):
    number = make_id("500101", birth, 5)
    assert ident.age_on(number, on) == age
    assert ident.validate_resident_id(number, on=on).age_on(on) == age


def test_age_before_birth_is_an_error():
    resident = ident.validate_resident_id(make_id("500101", dt.date(2000, 1, 1), 5), on=ON)
    with pytest.raises(ValueError):
        resident.age_on(dt.date(1999, 12, 31))


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(PREFIXES), birth=st.dates(dt.date(1900, 1, 1), ON), seq=st.integers(0, 999))
def test_generated_ids_validate_and_round_trip(prefix, birth, seq):
    number = make_id(prefix, birth, seq)
    resident = ident.validate_resident_id(number, on=ON)
    assert resident.number == number
    assert resident.birth_date == birth
    assert resident.region_prefix == prefix
    assert resident.gender == ("男" if seq % 2 else "女")
    assert ident.validate_resident_id(number.lower(), on=ON) == resident


@settings(max_examples=300, deadline=None)
@given(number=ids, position=st.integers(0, 17), data=st.data())
def test_any_single_character_change_is_rejected(number, position, data):
    alphabet = "0123456789X" if position == 17 else "0123456789"
    replacement = data.draw(st.sampled_from([c for c in alphabet if c != number[position]]))
    changed = number[:position] + replacement + number[position + 1:]
    assert not ident.is_valid_resident_id(changed, on=ON)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=25))
def test_arbitrary_text_never_crashes(text):
    try:
        resident = ident.validate_resident_id(text, on=ON)
    except ident.ResidentIdError:
        return
    assert len(resident.number) == 18


# -- credit code ------------------------------------------------------------------------------------
def test_credit_code():
    assert ident.validate_credit_code("91110000600037341L") == "91110000600037341L"
    assert ident.validate_credit_code(" 9111 0000-6000 3734 1l ") == "91110000600037341L"
    body = "N2500101MA5U7X8K1"  # a village collective economic organization (registered by agriculture)
    code = body + uscc.calc_check_digit(body)
    assert ident.validate_credit_code(code.lower()) == code
    assert not uscc.is_valid(code)  # stdnum alone refuses it


@pytest.mark.parametrize(
    "code, err",
    [
        ("", "empty"),
        ("91110000600037341", "length"),
        ("91110000600037341I", "format"),
        ("9111000A600037341L", "format"),
        ("91110000600037341M", "checksum"),
    ],
)
def test_invalid_credit_codes(code, err):
    with pytest.raises(ident.CreditCodeError) as info:
        ident.validate_credit_code(code)
    assert info.value.code == err and "统一社会信用代码" in str(info.value)
    assert not ident.is_valid_credit_code(code)


# -- bank account -----------------------------------------------------------------------------------
def _card(prefix: str, length: int) -> str:
    body = prefix + "0" * (length - len(prefix) - 1)
    return body + luhn.calc_check_digit(body)


def test_unionpay_cards_need_luhn():
    card = _card("6217", 19)
    assert ident.validate_bank_account(card[:4] + " " + card[4:8] + "-" + card[8:]) == card
    broken = card[:-1] + str((int(card[-1]) + 1) % 10)
    with pytest.raises(ident.BankAccountError) as info:
        ident.validate_bank_account(broken)
    assert info.value.code == "checksum"
    assert ident.validate_bank_account(broken, require_luhn=False) == broken
    for length in (16, 17, 18, 19):
        good = _card("62", length)
        bad = good[:-1] + str((int(good[-1]) + 3) % 10)
        assert ident.luhn_required(good) and ident.is_valid_bank_account(good)
        assert not ident.is_valid_bank_account(bad)


def test_other_accounts_skip_luhn_unless_asked():
    corporate = "50001234567890123456"  # 20 digits, not a UnionPay card number
    assert not luhn.is_valid(corporate)
    assert not ident.luhn_required(corporate)
    assert ident.validate_bank_account(corporate) == corporate
    assert not ident.is_valid_bank_account(corporate, require_luhn=True)
    fifteen = "622000000000001"  # 62 but only 15 digits: not a card number
    assert not ident.luhn_required(fifteen) and ident.is_valid_bank_account(fifteen)


@pytest.mark.parametrize(
    "number, code",
    [("", "empty"), ("   ", "empty"), ("6217abc0000", "format"), ("1234567", "length"), ("1" * 33, "length")],
)
def test_invalid_accounts(number, code):
    with pytest.raises(ident.BankAccountError) as info:
        ident.validate_bank_account(number)
    assert info.value.code == code


def test_account_length_is_configurable():
    assert not ident.is_valid_bank_account("123456")
    assert ident.is_valid_bank_account("123456", min_length=6)
    assert not ident.is_valid_bank_account("1234567890", max_length=9)


# -- mobile -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "number",
    ["13800138000", "+86 138 0013 8000", "86-138-0013-8000", "+86(138)00138000", "008613800138000", "１３８００１３８０００"],
)
def test_mobile_normalized(number):
    assert ident.validate_mobile(number) == "13800138000"
    assert ident.is_valid_mobile(number)


@pytest.mark.parametrize(
    "number", ["", None, "12800138000", "1380013800", "138001380001", "02312345678", "138a0138000", "+1 13800138000"]
)
def test_mobile_invalid(number):
    with pytest.raises(ident.MobileError) as info:
        ident.validate_mobile(number)
    assert "手机号码" in str(info.value)
    assert not ident.is_valid_mobile(number)
