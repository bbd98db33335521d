"""Pure rules of collection: periods, application numbers, amounts, notice digests, sampling (no database)."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from yikatong.applications import rules, workflow
from yikatong.core.errors import DomainError, ScopeError, TransitionError
from yikatong.core.scope import Scope


@pytest.mark.parametrize("text, first, last", [
    ("2026", "2026-01-01", "2026-12-31"),
    ("2026Q1", "2026-01-01", "2026-03-31"),
    ("2026q4", "2026-10-01", "2026-12-31"),
    ("2024-02", "2024-02-01", "2024-02-29"),
    (" 2026-03 ", "2026-03-01", "2026-03-31"),
])
def test_parse_period(text, first, last):
    assert rules.parse_period(text) == (dt.date.fromisoformat(first), dt.date.fromisoformat(last))


@pytest.mark.parametrize("text, message", [
    ("", "请填写补贴期间"),
    ("2026-13", "月份无效"),
    ("2026-00", "月份无效"),
    ("2026Q5", "格式不正确"),
    ("26-03", "格式不正确"),
    ("2026/03", "格式不正确"),
    ("1999", "年份无效"),
])
def test_parse_period_refuses_with_chinese_message(text, message):
    with pytest.raises(DomainError, match=message):
        rules.parse_period(text)


def test_period_must_match_the_cycle():
    assert rules.check_period_for_cycle("2026-03", "monthly", policy_code="X") == "2026-03"
    assert rules.check_period_for_cycle("2026q2", "quarterly", policy_code="X") == "2026Q2"
    assert rules.check_period_for_cycle("2026", "one_off", policy_code="X") == "2026"
    with pytest.raises(DomainError, match=r"补贴项目 X 按月发放，补贴期间应填写月份（如 2026-03），而不是“2026Q1”"):
        rules.check_period_for_cycle("2026Q1", "monthly", policy_code="X")
    with pytest.raises(DomainError, match="按年发放，补贴期间应填写年度"):
        rules.check_period_for_cycle("2026-03", "yearly", policy_code="X")


def test_period_must_overlap_the_policy_validity():
    rules.check_period_in_validity("2026-03", dt.date(2026, 3, 15), None, policy_code="X")
    with pytest.raises(DomainError, match="不在补贴项目 X 的有效期"):
        rules.check_period_in_validity("2026-02", dt.date(2026, 3, 1), None, policy_code="X")
    with pytest.raises(DomainError, match="有效期"):
        rules.check_period_in_validity("2027", dt.date(2026, 1, 1), dt.date(2026, 12, 31), policy_code="X")


def test_application_number_format():
    number = rules.new_application_number(dt.date(2026, 3, 5))
    assert number.startswith("SB20260305") and len(number) == 18
    assert rules.is_application_number(number)
    assert not rules.is_application_number("SB20260305IIIIIIII")  # I is not in the alphabet
    assert len({rules.new_application_number(dt.date(2026, 3, 5)) for _ in range(200)}) == 200


FIXED = SimpleNamespace(code="F", standard_type="fixed", standard_amount=Decimal("300.00"), tiers=[], unit_name="")
PER_UNIT = SimpleNamespace(code="U", standard_type="per_unit", standard_amount=Decimal("120.50"), tiers=[],
                           unit_name="亩")
TIERED = SimpleNamespace(code="T", standard_type="tiered", standard_amount=Decimal("0"), unit_name="",
                         tiers=[{"code": "T1", "label": "一级", "amount": "600.00"}])


def test_amount_defaults_to_the_standard_and_is_checked():
    assert rules.clean_amount(FIXED) == (Decimal("300.00"), Decimal("300.00"))
    assert rules.clean_amount(FIXED, "250.5") == (Decimal("250.50"), Decimal("300.00"))
    assert rules.clean_amount(PER_UNIT, quantity=Decimal("3.5"))[0] == Decimal("421.75")
    assert rules.clean_amount(TIERED, tier="T1")[0] == Decimal("600.00")
    with pytest.raises(DomainError, match="超过补贴标准上限 300.00 元"):
        rules.clean_amount(FIXED, "300.01")
    with pytest.raises(DomainError, match="最多保留两位小数"):
        rules.clean_amount(FIXED, "12.345")
    with pytest.raises(DomainError, match="应大于0"):
        rules.clean_amount(FIXED, "0")
    with pytest.raises(DomainError, match="应大于0"):
        rules.clean_amount(FIXED, "-5")
    with pytest.raises(DomainError, match="浮点数"):
        rules.clean_amount(FIXED, 12.5)
    with pytest.raises(DomainError, match="格式不正确"):
        rules.clean_amount(FIXED, "abc")
    with pytest.raises(DomainError, match="请填写补贴数量"):
        rules.clean_amount(PER_UNIT)
    with pytest.raises(DomainError, match="请指明补贴档次"):
        rules.clean_amount(TIERED)


def test_quantity():
    assert rules.clean_quantity("") is None
    assert rules.clean_quantity("2.5") == Decimal("2.50")
    for bad, message in [("0", "应大于0"), ("1.234", "两位小数"), ("x", "不是有效的数字"), (1.5, "浮点数")]:
        with pytest.raises(DomainError, match=message):
            rules.clean_quantity(bad)


def _digest(**changes):
    base = dict(number="GS-1-R1", policy_code="P", period="2026-03", region_code="500101001001", round_no=1,
                entries=[(1, "张*", "500101********0011", None, Decimal("300.00")),
                         (2, "李*", "500101********0022", Decimal("2.5"), Decimal("301.25"))])
    base.update(changes)
    return rules.notice_digest(**base)


def test_notice_digest_is_stable_and_changes_with_content():
    first = _digest()
    assert first == _digest() and len(first) == 64
    # 300 and 300.00 are the same amount: same digest
    assert first == _digest(entries=[(1, "张*", "500101********0011", None, 300),
                                     (2, "李*", "500101********0022", "2.50", "301.25")])
    assert first != _digest(round_no=2)
    assert first != _digest(period="2026-04")
    assert first != _digest(entries=[(1, "张*", "500101********0011", None, Decimal("300.01")),
                                     (2, "李*", "500101********0022", Decimal("2.5"), Decimal("301.25"))])
    assert first != _digest(entries=[(1, "张*", "500101********0011", None, Decimal("300.00"))])
    canonical = rules.notice_canonical(number="N", policy_code="P", period="2026", region_code="R", round_no=1,
                                       entries=[(1, "张*", "id", None, 5)])
    assert canonical == ('{"entries":[[1,"张*","id",null,"5.00"]],"number":"N","period":"2026",'
                         '"policy":"P","region":"R","round":1}')


def test_notice_number():
    assert rules.notice_number("500101001001", "WZ-001", "2026-03", 2) == "GS-500101001001-WZ-001-2026-03-R2"


def test_sampling_is_deterministic_and_sized_by_ratio():
    keys = list(range(1, 101))
    sample = rules.select_sample(keys, "0.1", "seed")
    assert len(sample) == 10 and set(sample) <= set(keys)
    assert rules.select_sample(list(reversed(keys)), "10%", "seed") == sample   # order of input is irrelevant
    assert rules.select_sample(keys, "0.1", "other seed") != sample
    assert len(rules.select_sample([1, 2, 3], "0.01", "s")) == 1                 # at least one
    assert rules.select_sample([], "0.5", "s") == []
    for bad in ("0", "1.5", "abc", "-10%"):
        with pytest.raises(DomainError, match="抽查比例"):
            rules.select_sample(keys, bad, "s")


def test_transition_table_is_the_one_place():
    assert workflow.find_transition("verify", "collected").target == "verified"
    assert workflow.find_transition("verify", "verified") is None
    assert workflow.STATE_STEPS["collected"] == "initial_verification"
    assert workflow.STATE_STEPS["submitted"] == "department_approval"
    assert set(workflow.DEADLINE_STATES) == {"collected", "submitted"}
    assert workflow.allowed_actions("approved") == []
    system = Scope.system()
    with pytest.raises(TransitionError, match="当前状态为“审核通过”，不能审核通过。当前可执行的操作：无（已办结）"):
        workflow.require_transition(system, "approve", "approved")


def test_require_transition_checks_role_before_state():
    collector = Scope(1, "c", "collector", 1, "C", "", "500101001000", "500101001000", "500101001999")
    department = Scope(2, "d", "department", 2, "D", "civil_affairs", "500101000000", "500101000000",
                       "500101999999")
    with pytest.raises(ScopeError, match="没有该权限"):
        workflow.require_transition(collector, "approve", "submitted")
    # a department returns a submitted application, but not one still being verified
    assert workflow.require_transition(department, "return", "submitted").permission == "application.approve"
    with pytest.raises(ScopeError, match="须由其他角色办理"):
        workflow.require_transition(department, "return", "collected")
