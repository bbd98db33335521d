"""Per-row validation of rosters (no database): the fast paths accept exactly what the platform's own
validators accept, with the same normalized values, masks, ciphertexts and digests."""

import datetime as dt
import random
from decimal import Decimal

import pytest

from yikatong.applications.roster import reader, validate
from yikatong.core import crypto, identity, masking
from yikatong.registry import rules as registry_rules

from .conftest import luhn_account, resident_id
from .roster_fixtures import PERSON_HEADERS, csv_bytes, person_row

TODAY = dt.date(2026, 3, 2)
VILLAGE = "500101001001"


@pytest.fixture(autouse=True)
def keys(settings, tmp_path):
    settings.YIKATONG_KEY_DIR = tmp_path / "keys"
    settings.YIKATONG_DATA_KEY = ""
    settings.YIKATONG_DIGEST_KEY = ""


def context(*, copy_text=False, standard_type="fixed", standard="300.00", tiers=(), headers=PERSON_HEADERS):
    layout = reader.layout_for("csv", 1, list(headers))
    policy = validate.PolicySnapshot(code="WZ-001", standard_type=standard_type, standard_amount=Decimal(standard),
                                     unit_name="亩", tiers=tuple(tiers))
    return validate.Context(layout=layout, policy=policy, period="2026-03", regions=frozenset({VILLAGE}),
                            scope_lo="500101001000", scope_hi="500101001999", today=TODAY, copy_text=copy_text)


def check(rows, **kwargs):
    ctx = context(**kwargs)
    content = csv_bytes(rows, ctx.layout.headers, bom=False)
    body = content.split(b"\r\n", 1)[1]
    return validate.check_block(ctx, reader.Block("csv", 2, body))


def staged(result) -> dict[int, dict]:
    return {row[0]: dict(zip(validate.STAGE_COLUMNS, row, strict=True)) for row in result.stage if row[1] == 1}


def messages(result) -> dict[int, list[str]]:
    out = {}
    for row_no, _column, _value, reason, _raw in result.errors:
        out.setdefault(row_no, []).append(reason)
    return out


def id_variants(rng) -> list[str]:
    out = []
    for n in range(300):
        good = resident_id(rng.choice(["500101", "510102", "110101", "500235"]),
                           f"{rng.randrange(1900, 2026)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}", n)
        out.append(good)
        out.append(good[:17] + rng.choice("0123456789X"))  # mostly a wrong check digit
        out.append(good.lower())
        out.append(good[:6] + " " + good[6:])
        out.append(good.translate(str.maketrans("0123456789", "０１２３４５６７８９")))
    out += [resident_id("000000", "19600101", 1), resident_id("500101", "20300101", 1),
            resident_id("500101", "18990101", 1), resident_id("500101", "19600230", 1), "", "123", "5001011963010100"]
    return out


def test_resident_id_fast_path_agrees_with_core_identity():
    rng = random.Random(7)
    numbers = id_variants(rng)
    rows = [person_row(0, 身份证号=number, 社保卡银行账号=luhn_account(f"6230{i:014d}")) for i, number in enumerate(numbers)]
    result = check(rows)
    ok, errors = staged(result), messages(result)
    for index, number in enumerate(numbers):
        row_no = index + 2
        try:
            expected = identity.validate_resident_id(number, on=TODAY)
        except identity.IdentityError as exc:
            assert row_no not in ok and exc.message in errors.get(row_no, []), number
            continue
        if row_no in errors:  # the same person twice (lowercase x, spaces …): only a duplicate refusal
            assert all("为同一人" in m for m in errors[row_no]), (number, errors[row_no])
            continue
        row = ok[row_no]
        assert row["gender"] == expected.gender and row["birth_date"] == expected.birth_date.isoformat()
        assert row["id_masked"] == masking.mask_id_number(expected.number)
        assert row["id_digest"] == crypto.digest("id", expected.number)
        assert crypto.decrypt_text(row["id_enc"]) == expected.number


def test_account_phone_and_name_fast_paths_agree_with_the_validators():
    rng = random.Random(3)
    accounts, phones, names = [], [], []
    for _ in range(200):
        good = luhn_account(f"62{rng.randrange(10**15):015d}")
        accounts += [good, good[:-1] + str((int(good[-1]) + 1) % 10), "95" + good[2:], good[:4] + " " + good[4:],
                     good[:7], "1234567", "12345678"]
        phones += [f"1{rng.randrange(3, 10)}{rng.randrange(10**9):09d}", f"1{rng.randrange(0, 3)}{rng.randrange(10**9):09d}",
                   "+86 138 0013 8000", "138-0013-8000", "1380013800"]
        names += ["张三", "欧阳娜娜", "买买提·艾力", "张 三", "张3", "A", "Zhang San", "王" * 51]
    size = max(len(accounts), len(phones), len(names))
    rows = [person_row(i, 身份证号=resident_id("500101", "19600101", i % 900) if i < 900 else resident_id("500102", "19600101", i % 900),
                       社保卡银行账号=accounts[i % len(accounts)], 手机号码=phones[i % len(phones)], 姓名=names[i % len(names)])
            for i in range(size)]
    result = check(rows)
    ok, errors = staged(result), messages(result)
    for index, row in enumerate(rows):
        row_no, expected_errors, account, phone = index + 2, [], None, None
        try:
            account = identity.validate_bank_account(row["社保卡银行账号"])
        except identity.IdentityError as exc:
            expected_errors.append(exc.message)
        try:
            phone = identity.validate_mobile(row["手机号码"])
        except identity.IdentityError as exc:
            expected_errors.append(exc.message)
        try:
            name = registry_rules.clean_person_name(row["姓名"])
        except Exception as exc:  # noqa: BLE001
            expected_errors.append(exc.message)
        if expected_errors:
            assert row_no not in ok and sorted(errors[row_no]) == sorted(expected_errors), row
            continue
        got = ok[row_no]
        assert got["name"] == name
        assert got["acc_digest"] == crypto.digest("account", account) and got["acc_masked"] == masking.mask_account(account)
        assert crypto.decrypt_text(got["acc_enc"]) == account
        assert got["phone_digest"] == crypto.digest("phone", phone) and got["phone_masked"] == masking.mask_phone(phone)


@pytest.mark.parametrize("amount, ok, message", [
    ("300", True, ""), ("300.00", True, ""), ("0.01", True, ""), ("", True, ""), ("1,200", False, "超过补贴标准上限"),
    ("300.001", False, "补贴金额最多两位小数"), ("300.01", False, "超过补贴标准上限 300.00 元"), ("0", False, "应大于0"),
    ("-5", False, "应大于0"), ("abc", False, "金额格式不正确"), ("1e2", False, "金额格式不正确"), ("３００", True, ""),
])
def test_amount_rules_for_a_fixed_standard(amount, ok, message):
    result = check([person_row(0, 补贴金额=amount)])
    if ok:
        row = staged(result)[2]
        assert Decimal(row["amount"]) == (Decimal(amount) if amount else Decimal("300.00"))  # as core.money reads it
    else:
        assert message in messages(result)[2][0]


def test_amount_rules_for_tiers_and_units():
    tiers = [{"code": "T1", "label": "一级", "amount": "600.00"}, {"code": "T2", "label": "二级", "amount": "900.00"}]
    headers = [*PERSON_HEADERS, "补贴档次"]
    result = check([person_row(0, 补贴金额="900", 补贴档次="T2"), person_row(1, 补贴金额="900", 补贴档次="T1"),
                    person_row(2, 补贴金额="600")], standard_type="tiered", standard="0", tiers=tiers, headers=headers)
    assert staged(result)[2]["tier"] == "T2"
    assert "超过补贴标准上限 600.00 元" in messages(result)[3][0]
    assert "请指明补贴档次" in messages(result)[4][0]
    assert [e[1] for e in result.errors if e[0] == 4] == ["补贴档次"]
    result = check([person_row(0, 补贴数量="1.5", 补贴金额="180.75"), person_row(1, 补贴数量="0", 补贴金额="1"),
                    person_row(2, 补贴数量="1.234", 补贴金额="1")], standard_type="per_unit", standard="120.50")
    assert staged(result)[2]["quantity"] == "1.50"
    assert [e[1] for e in result.errors] == ["补贴数量", "补贴数量"]


def test_all_problems_of_a_row_are_reported():
    result = check([person_row(0, 姓名="", 手机号码="12", 补贴金额="-1", 行政区划代码="500102001001")])
    columns = [e[1] for e in result.errors]
    assert columns == ["姓名", "手机号码", "行政区划代码", "补贴金额"]
    assert result.rejected_rows == 1 and result.rows == 1
    # the refused row keeps its digest for the duplicate check across blocks, and nothing else
    (row,) = result.stage
    assert row[1] == 0 and row[2] == crypto.digest("id", person_row(0)["身份证号"]) and row[3:] == (None,) * (len(validate.STAGE_COLUMNS) - 3)


def test_copy_text_escapes_free_text():
    result = check([person_row(0, 备注="a\tb\\c\nd", 补贴档次="T\r1")], copy_text=True,
                   headers=[*PERSON_HEADERS, "补贴档次"])
    line = result.stage.decode()
    assert line.count("\n") == 1 and line.endswith("\n")
    fields = line[:-1].split("\t")
    assert len(fields) == len(validate.STAGE_COLUMNS)
    assert fields[validate.STAGE_COLUMNS.index("remarks")] == "a\\tb\\\\c\\nd"
    assert fields[validate.STAGE_COLUMNS.index("tier")] == "T\\r1"
    assert "a\\tb" in fields[validate.STAGE_COLUMNS.index("raw")]
    assert fields[validate.STAGE_COLUMNS.index("id_enc")].startswith("\\\\x")


def test_protector_matches_core_crypto_and_follows_key_rotation(settings, tmp_path):
    guard = validate.protector()
    blob, digest = guard.protect("id", "500101196301010016")
    assert crypto.decrypt_text(blob) == "500101196301010016" and digest == crypto.digest("id", "500101196301010016")
    assert len({guard.encrypt("x")[2:14] for _ in range(10000)}) == 10000  # fresh nonces across batches
    old = crypto.key_id_of(blob)
    crypto.add_data_key()
    assert crypto.key_id_of(validate.protector().encrypt("x")) == old + 1
