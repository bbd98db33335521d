"""Pure rules of the registry (no database)."""

import pytest

from yikatong.core.errors import DomainError
from yikatong.registry import rules


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("张三", "张三"),
        (" 欧阳娜娜 ", "欧阳娜娜"),
        ("张 三", "张三"),
        ("买买提•艾力", "买买提·艾力"),
        ("阿依古丽・吐尔逊", "阿依古丽·吐尔逊"),
        ("𠮷祥", "𠮷祥"),  # a character of extension B (生僻字)
        ("John  Smith", "John Smith"),
        ("O'Neil-Li", "O'Neil-Li"),
    ],
)
def test_person_names_accepted(raw, clean):
    assert rules.clean_person_name(raw) == clean


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"), ("张", "length"), ("张" * 51, "length"), ("张三3", "digits"), ("张三３", "digits"),
        ("张三Smith", "format"), ("张三!", "format"), ("买买提··艾力", "format"), ("艾力·", "format"),
        ("---", "format"),
    ],
)
def test_person_names_refused(raw, code):
    with pytest.raises(DomainError) as info:
        rules.clean_person_name(raw)
    assert (info.value.code, info.value.field) == (code, "name")


def test_org_names():
    assert rules.clean_org_name("  万州区 第一 合作社 ") == "万州区 第一 合作社"
    with pytest.raises(DomainError, match="^单位名称长度应为"):
        rules.clean_org_name("社")
    with pytest.raises(DomainError, match="控制字符"):
        rules.clean_org_name("合作\x00社")


def test_account_kinds():
    assert rules.default_account_kind("person") == "ssc_card"
    assert rules.default_account_kind("organization") == "corporate"
    rules.check_account_kind("person", "ssc_card")
    rules.check_account_kind("person", "other_bank")
    rules.check_account_kind("organization", "corporate")
    for beneficiary_kind, account_kind in [("person", "corporate"), ("organization", "ssc_card"),
                                           ("organization", "other_bank"), ("person", "cash")]:
        with pytest.raises(DomainError):
            rules.check_account_kind(beneficiary_kind, account_kind)
    assert rules.luhn_rule("corporate") is False and rules.luhn_rule("ssc_card") is None


def test_exception_reason_only_for_other_bank():
    with pytest.raises(DomainError, match="^使用非社保卡账户须填写过渡期例外原因$"):
        rules.clean_exception_reason("other_bank", "  ")
    assert rules.clean_exception_reason("other_bank", " 制卡中 ") == "制卡中"
    assert rules.clean_exception_reason("ssc_card", "whatever") == ""


def test_card_status_values_and_warnings():
    assert [rules.card_status_value(s) for s in ("已激活", "未激活", "挂失", "注销", "lost")] == [
        "activated", "not_activated", "lost", "cancelled", "lost"]
    with pytest.raises(DomainError, match="^金融功能状态“冻结”无效"):
        rules.card_status_value("冻结")
    assert rules.card_status_warning("ssc_card", "not_activated") == "该社保卡未激活金融功能，发放前须提醒本人激活"
    assert "挂失" in rules.card_status_warning("ssc_card", "lost")
    assert rules.card_status_warning("ssc_card", "activated") == ""
    assert rules.card_status_warning("ssc_card", "unknown") == ""
    assert rules.card_status_warning("other_bank", "not_activated") == ""


def test_snapshot_keeps_only_known_fields():
    snap = rules.snapshot({"name": "张三", "id_masked": "500101********1234", "id_number": "plain", "phone": "plain",
                           "birth_date": None})
    assert "id_number" not in snap and "phone" not in snap and snap["birth_date"] == ""
    assert set(snap) == set(rules.SNAPSHOT_FIELDS)
    assert rules.short_id("500101195803141234") == "500101…1234"
