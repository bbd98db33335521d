"""Pure rules: list calendar, deadline states, standard amounts, input shapes, the change chain."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from yikatong.core.errors import DomainError, TransitionError
from yikatong.policies import rules
from yikatong.policies.workflow import CHANGE_TRANSITIONS, LIST_TRANSITIONS, next_state


def test_list_deadlines_of_a_common_year():
    assert rules.list_deadlines(2027) == {
        "department_submit": dt.date(2026, 11, 30),
        "prefecture_file": dt.date(2026, 12, 20),
        "province_publish": dt.date(2027, 2, 28),
    }


@pytest.mark.parametrize("year,last_day", [(2028, 29), (2024, 29), (2100, 28), (2000, 29), (2026, 28)])
def test_publish_deadline_is_end_of_february_leap_years_included(year, last_day):
    assert rules.list_deadlines(year)["province_publish"] == dt.date(year, 2, last_day)


@pytest.mark.parametrize("today,state", [
    ("2026-11-22", "ok"),        # 8 days left
    ("2026-11-23", "near"),      # 7 days left
    ("2026-11-30", "near"),      # the deadline itself
    ("2026-12-01", "overdue"),
])
def test_deadline_state(today, state):
    assert rules.deadline_state(dt.date(2026, 11, 30), dt.date.fromisoformat(today)) == state


def _policy(**kw):
    base = {"code": "X", "standard_type": "fixed", "standard_amount": Decimal("100.00"), "tiers": [], "unit_name": ""}
    return SimpleNamespace(**{**base, **kw})


def test_max_amount_fixed_ignores_quantity():
    assert rules.max_amount(_policy(standard_amount=Decimal("600")), quantity="3") == Decimal("600.00")


def test_max_amount_per_unit_rounds_half_up_to_the_fen():
    policy = _policy(standard_type="per_unit", standard_amount=Decimal("105.55"), unit_name="亩")
    # 105.55 × 2.35 = 248.0425 → 248.04 ; 100.05 × 0.5 = 50.025 → 50.03 (half up, not banker's)
    assert rules.max_amount(policy, quantity="2.35") == Decimal("248.04")
    assert rules.max_amount(_policy(standard_type="per_unit", standard_amount=Decimal("100.05"), unit_name="亩"),
                            quantity=Decimal("0.5")) == Decimal("50.03")


@pytest.mark.parametrize("quantity,message", [(None, "请填写补贴数量（亩数）"), ("", "请填写补贴数量"),
                                              ("abc", "不是有效的数字"), ("-1", "应大于0"), ("0", "应大于0")])
def test_max_amount_per_unit_needs_a_positive_quantity(quantity, message):
    policy = _policy(standard_type="per_unit", unit_name="亩")
    with pytest.raises(DomainError, match=message):
        rules.max_amount(policy, quantity=quantity)


def test_max_amount_tiered():
    policy = _policy(standard_type="tiered", tiers=[{"code": "T1", "label": "微耕机", "amount": "1000.00"},
                                                    {"code": "T2", "label": "拖拉机", "amount": "2500.00"}])
    assert rules.max_amount(policy, tier="T2") == Decimal("2500.00")
    with pytest.raises(DomainError, match="请指明补贴档次：T1（微耕机）"):
        rules.max_amount(policy)
    with pytest.raises(DomainError, match="没有档次“T9”"):
        rules.max_amount(policy, tier="T9")


def test_funding_sources_must_sum_to_100():
    assert rules.clean_funding_sources([{"level": "central", "share": 80}, {"level": "provincial", "share": "20"}]) == [
        {"level": "central", "share": "80"}, {"level": "provincial", "share": "20"}]
    with pytest.raises(DomainError, match="合计应为100%，当前为90%"):
        rules.clean_funding_sources([{"level": "central", "share": 80}, {"level": "county", "share": 10}])
    with pytest.raises(DomainError, match="层级“city”无效"):
        rules.clean_funding_sources([{"level": "city", "share": 100}])
    with pytest.raises(DomainError, match="重复"):
        rules.clean_funding_sources([{"level": "county", "share": 50}, {"level": "county", "share": 50}])
    with pytest.raises(DomainError, match="请填写资金来源"):
        rules.clean_funding_sources([])
    # 33.33 + 33.33 + 33.34 is exactly 100 with decimals (floats would not be)
    assert len(rules.clean_funding_sources([{"level": "central", "share": "33.33"},
                                            {"level": "provincial", "share": "33.33"},
                                            {"level": "county", "share": "33.34"}])) == 3


def test_tiers_validation():
    with pytest.raises(DomainError, match="至少需要一个档次"):
        rules.clean_tiers([])
    with pytest.raises(DomainError, match="重复"):
        rules.clean_tiers([{"code": "A", "label": "甲", "amount": "1"}, {"code": "A", "label": "乙", "amount": "2"}])
    with pytest.raises(DomainError, match="最多保留两位小数"):
        rules.clean_tiers([{"code": "A", "label": "甲", "amount": "1.005"}])
    with pytest.raises(DomainError, match="应大于0"):
        rules.clean_tiers([{"code": "A", "label": "甲", "amount": "0"}])


def test_covering_region_codes_of_a_county():
    assert rules.covering_region_codes("500101000000") == ["500101000000", "500100000000", "500000000000"]
    assert rules.covering_region_codes("500000000000") == ["500000000000"]


def test_change_chain_by_level_and_step_actor_rules():
    county = rules.change_chain(3)
    assert [s.code for s in county] == ["county_department", "prefecture_government", "province_department",
                                        "province_finance"]
    assert [s.code for s in rules.change_chain(1)] == ["province_department", "province_finance"]
    with pytest.raises(DomainError):
        rules.change_chain(4)
    kw = {"request_region_code": "500101000000", "policy_line": "civil_affairs"}
    assert rules.step_refusal(county[0], role="department", actor_region_code="500101000000",
                              actor_line="civil_affairs", **kw) is None
    assert "业务条线" in rules.step_refusal(county[0], role="department", actor_region_code="500101000000",
                                         actor_line="agriculture", **kw)
    assert "管辖范围" in rules.step_refusal(county[0], role="department", actor_region_code="500102000000",
                                         actor_line="civil_affairs", **kw)
    assert "财政部门" in rules.step_refusal(county[1], role="department", actor_region_code="500100000000",
                                        actor_line="civil_affairs", **kw)
    assert rules.step_refusal(county[1], role="finance", actor_region_code="500100000000", actor_line="", **kw) is None
    assert "层级" in rules.step_refusal(county[1], role="finance", actor_region_code="500101000000",
                                      actor_line="", **kw)


def test_transition_tables_refuse_illegal_moves_in_chinese():
    assert next_state(LIST_TRANSITIONS, "draft", "file", what="清单") == "filed"
    with pytest.raises(TransitionError, match="当前状态为“已公布”，不能退回"):
        next_state(LIST_TRANSITIONS, "published", "return", what="清单")
    with pytest.raises(TransitionError, match="不能审核同意"):
        next_state(CHANGE_TRANSITIONS, "returned", "approve_step", what="申请")


def test_year_closed_and_locked_by_date():
    assert rules.year_closed(2025, dt.date(2026, 1, 1))
    assert not rules.year_closed(2026, dt.date(2026, 12, 31))
    assert not rules.locked_by_date(2027, dt.date(2026, 12, 31))
    assert rules.locked_by_date(2027, dt.date(2027, 1, 1))
