import pytest
from hypothesis import given
from hypothesis import strategies as st

from yikatong.core.masking import (
    COMPOUND_SURNAMES,
    mask_account,
    mask_id_number,
    mask_name,
    mask_payee_name,
    mask_phone,
)


@pytest.mark.parametrize(
    "name, masked",
    [
        ("张三", "张*"),
        ("李小明", "李**"),
        ("欧阳娜娜", "欧阳**"),
        ("欧阳娜", "欧阳*"),
        ("司马光", "司马*"),
        ("诸葛孔明", "诸葛**"),
        ("欧阳", "欧*"),  # two characters: a surname alone is not treated as compound
        ("王", "王"),
        ("  张三 ", "张*"),
        ("阿依古丽·买买提", "阿*******"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_payee_name():
    assert mask_payee_name("重庆市万州区某某农民专业合作社", True) == "重庆市万州区某某农民专业合作社"
    assert mask_payee_name("王小二", False) == "王**"
    assert mask_payee_name(None, True) == ""


@pytest.mark.parametrize(
    "number, masked",
    [
        ("510102199001011234", "510102********1234"),
        ("51010219900101123x", "510102********123X"),
        ("510102 19900101 1234", "510102********1234"),
        ("510102900101123", "510102*****1123"),  # old 15-digit number
        ("5101021990", "**********"),  # too short to show anything
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_number(number, masked):
    assert mask_id_number(number) == masked


@pytest.mark.parametrize(
    "number, masked",
    [
        ("6217000000001234", "************1234"),
        ("6217 0000 0000 1234 567", "***************4567"),
        ("12345678", "****5678"),
        ("1234567", "*******"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_account(number, masked):
    assert mask_account(number) == masked


@pytest.mark.parametrize(
    "number, masked",
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("023-1234567", "**********"),  # 10 digits: not a mobile, all hidden
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(number, masked):
    assert mask_phone(number) == masked


# -- properties -------------------------------------------------------------------------------------
digits = st.text(alphabet="0123456789", min_size=1, max_size=40)


@given(st.text(alphabet=st.characters(categories=["Lo"]), min_size=1, max_size=12))
def test_name_keeps_only_the_first_characters(name):
    masked = mask_name(name)
    assert len(masked) == len(name)
    keep = 2 if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else 1
    assert masked[:keep] == name[:keep]
    assert masked[keep:] == "*" * (len(name) - keep)


@given(st.sampled_from(sorted(COMPOUND_SURNAMES)), st.text(alphabet="娜明华伟芳", min_size=1, max_size=3))
def test_compound_surnames_keep_two(surname, given_name):
    assert mask_name(surname + given_name) == surname + "*" * len(given_name)


@given(st.text(alphabet="0123456789X", min_size=15, max_size=30))
def test_id_keeps_exactly_first_six_and_last_four(number):
    masked = mask_id_number(number)
    assert len(masked) == len(number)
    assert masked[:6] == number[:6] and masked[-4:] == number[-4:]
    assert set(masked[6:-4]) <= {"*"} and len(masked[6:-4]) == len(number) - 10


@given(st.text(alphabet="0123456789", min_size=8, max_size=32))
def test_account_keeps_exactly_last_four(number):
    masked = mask_account(number)
    assert masked == "*" * (len(number) - 4) + number[-4:]


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_phone_keeps_exactly_first_three_and_last_four(number):
    assert mask_phone(number) == number[:3] + "****" + number[-4:]


def _revealed(masked: str) -> int:
    return sum(1 for c in masked if c != "*")


@given(st.text(max_size=40))
def test_arbitrary_strings_never_reveal_more_than_allowed(text):
    # (mask, most characters shown, fewest characters hidden when anything is shown)
    for mask, shown_max, hidden_min in (
        (mask_id_number, 10, 5), (mask_account, 4, 4), (mask_phone, 7, 4), (mask_name, 2, 1)
    ):
        masked = mask(text)
        shown = _revealed(masked)
        assert shown <= shown_max
        if shown and not (mask is mask_name and len(masked) == 1):  # a one-character name stays
            assert len(masked) - shown >= hidden_min


@given(digits)
def test_revealed_characters_are_the_real_ones(number):
    # whatever shows must be the digits at the same places, never invented or shifted
    for mask in (mask_id_number, mask_account):
        masked = mask(number)
        assert len(masked) == len(number)
        assert all(m == "*" or m == c for m, c in zip(masked, number, strict=True))
