"""Performance targets, budget execution progress from the ledger (exact to the fen, as of a date) and
dual monitoring (target achievement next to execution progress)."""

import datetime as dt
from decimal import Decimal

import pytest

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope
from yikatong.policies import rules_indicators as rules
from yikatong.policies import selectors_indicators as sel
from yikatong.policies.models import PerformanceTarget
from yikatong.policies.services import (
    indicator_allocate,
    indicator_commit,
    indicator_pay,
    indicator_return,
    policy_retire,
    target_record_actual,
    target_set,
)

from .test_indicators import WZ, YEAR, M, P, receive_central, setup_indicator_world

D = dt.date.fromisoformat
FL = "500102000000"


@pytest.fixture
def ol(published, today):
    return setup_indicator_world(published, today)


def target(ol, key="civil", **overrides):
    fields = {"policy_code": "CQ-X", "fiscal_year": YEAR, "region_code": WZ, "category": "output",
              "name": "发放人数", "target_value": "1200", "unit": "人", "direction": "gte"}
    fields.update(overrides)
    return target_set(actor=ol.scope(key), **fields)


# -- pure ------------------------------------------------------------------------------------------
def test_target_met_ratio_and_time_progress():
    assert rules.target_met("gte", Decimal("1200"), Decimal("1200")) is True
    assert rules.target_met("gte", Decimal("1200"), Decimal("1199.9999")) is False
    assert rules.target_met("lte", Decimal("5"), Decimal("5")) is True
    assert rules.target_met("lte", Decimal("5"), Decimal("5.0001")) is False
    assert rules.target_met("gte", Decimal("1"), None) is None
    with pytest.raises(DomainError):
        rules.target_met("eq", Decimal("1"), Decimal("1"))
    assert rules.ratio(Decimal("1"), Decimal("3")) == Decimal("0.3333")
    assert rules.ratio(Decimal("2"), Decimal("3")) == Decimal("0.6667")
    assert rules.ratio(Decimal("1"), Decimal("0")) is None
    assert rules.time_progress(2027, D("2026-12-31")) == Decimal("0.0000")
    assert rules.time_progress(2027, D("2027-01-01")) == Decimal("0.0027")   # 1/365
    assert rules.time_progress(2027, D("2027-03-10")) == Decimal("0.1890")   # 69/365
    assert rules.time_progress(2028, D("2028-12-30")) == Decimal("0.9973")   # 365/366
    assert rules.time_progress(2027, D("2027-12-31")) == Decimal("1.0000")


# -- targets ---------------------------------------------------------------------------------------
def test_set_update_and_evaluate_a_target(ol):
    t = target(ol)
    assert (t.category, t.name, t.target_value, t.unit, t.direction, t.actual_value) == (
        "output", "发放人数", Decimal("1200.0000"), "人", "gte", None)
    assert AuditEvent.objects.filter(action="target.set", object_id=str(t.pk)).count() == 1
    with pytest.raises(DomainError, match="没有变化"):
        target(ol)
    t2 = target(ol, target_value="1300", key="finance")  # finance of the region may set every line's targets
    assert t2.pk == t.pk and t2.target_value == Decimal("1300.0000")
    change = AuditEvent.objects.filter(action="target.set").order_by("seq").last()
    assert change.before["target_value"] == "1200.0000" and change.after["target_value"] == "1300.0000"

    t = target_record_actual(actor=ol.scope("civil"), target_id=t.pk, actual_value="1250")
    assert t.actual_value == Decimal("1250.0000") and t.evaluated_by == "t_civil" and t.evaluated_at
    event = AuditEvent.objects.get(action="target.record_actual")
    assert event.after["met"] is False and event.after["actual_value"] == "1250.0000"
    with pytest.raises(DomainError, match="更正实际完成值请填写说明"):
        target_record_actual(actor=ol.scope("civil"), target_id=t.pk, actual_value="1310")
    t = target_record_actual(actor=ol.scope("civil"), target_id=t.pk, actual_value="1310", note="补录12月数据")
    assert t.actual_value == Decimal("1310.0000") and t.evaluation_note == "补录12月数据"
    with pytest.raises(DomainError, match="已于 .* 评价，不能再修改目标值"):
        target(ol, target_value="1400")
    assert PerformanceTarget.objects.count() == 1


@pytest.mark.parametrize("key", ["agri", "finance_other", "collector", "supervisor", "p_civil", "paying_bank"])
def test_targets_refuse_other_lines_regions_and_roles(ol, key):
    with pytest.raises(ScopeError):
        target(ol, key=key)
    t = target(ol)
    with pytest.raises(ScopeError):
        target_record_actual(actor=ol.scope(key), target_id=t.pk, actual_value="1")
    assert PerformanceTarget.objects.get(pk=t.pk).actual_value is None


@pytest.mark.parametrize("overrides, message", [
    ({"category": "quality"}, "绩效指标类别“quality”无效"),
    ({"direction": "eq"}, "方向“eq”无效"),
    ({"target_value": "abc"}, "不是有效的数字"),
    ({"target_value": "-1"}, "不能为负数"),
    ({"target_value": "1.00001"}, "最多保留四位小数"),
    ({"name": " "}, "请填写绩效指标名称"),
    ({"policy_code": "NOPE"}, "补贴项目 NOPE 不存在"),
    ({"policy_code": "FL-1"}, "不适用于区划 500101000000"),
    ({"region_code": "5001x"}, "行政区划代码"),
])
def test_target_bad_input(ol, overrides, message):
    with pytest.raises(DomainError, match=message):
        target(ol, **overrides)
    assert not PerformanceTarget.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="target.").exists()


def test_no_targets_for_a_retired_policy(ol):
    policy_retire(actor=ol.scope("p_civil"), code="CQ-X", reason="停止")
    with pytest.raises(DomainError, match="已停止执行"):
        target(ol)


# -- execution progress from the ledger ------------------------------------------------------------
def money_world(ol, today):
    """Province 1,000,000.00 (received 02-20) → prefecture 600,000.00 → 万州 333,333.33 and 涪陵 166,666.67
    (03-01). 03-01: the province pays 1,000.00 itself, 万州 pays 33,333.33, 涪陵 16,666.67.
    03-10: 万州 pays 11,111.11 more and gets 0.01 back."""
    root = receive_central(ol)
    (pref,) = indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=[
        {"region_code": M, "holder_code": "CQ-SXQ-CZ", "amount": "600000.00", "doc_no": "D1"}])
    wz, fl = indicator_allocate(actor=ol.scope("m_finance"), parent_id=pref.pk, parts=[
        {"region_code": WZ, "holder_code": "WZ-CZJ", "amount": "333333.33", "doc_no": "D2"},
        {"region_code": FL, "holder_code": "FL-CZJ", "amount": "166666.67", "doc_no": "D3"}])

    def commit_pay(key, ind, commit, pay):
        indicator_commit(actor=ol.scope(key), indicator_id=ind.pk, amount=commit, ref_type="plan",
                         ref_id=f"{ind.pk}", policy_code="CQ-X", fiscal_year=YEAR)
        indicator_pay(actor=ol.scope(key), indicator_id=ind.pk, amount=pay, ref_type="plan", ref_id=f"{ind.pk}")

    commit_pay("p_finance", root, "1000.00", "1000.00")
    commit_pay("finance", wz, "100000.00", "33333.33")
    commit_pay("finance_other", fl, "50000.00", "16666.67")
    today("2027-03-10")
    indicator_pay(actor=ol.scope("finance"), indicator_id=wz.pk, amount="11111.11", ref_type="plan", ref_id=f"{wz.pk}")
    indicator_return(actor=Scope.system(), indicator_id=wz.pk, amount="0.01", ref_type="plan", ref_id=f"{wz.pk}")
    return root, pref, wz, fl


def simple(rows):
    return {(r["policy"], r["region"]): (str(r["allocated"]), str(r["committed"]), str(r["paid"]),
                                         None if r["ratio"] is None else str(r["ratio"])) for r in rows}


def test_progress_per_region_and_per_subtree_exact_to_the_fen(ol, today):
    money_world(ol, today)
    system = Scope.system()
    assert simple(sel.budget_execution_progress(system, fiscal_year=YEAR)) == {
        ("CQ-X", P): ("400000.00", "0.00", "1000.00", "0.0025"),
        ("CQ-X", M): ("100000.00", "0.00", "0.00", "0.0000"),
        ("CQ-X", WZ): ("333333.33", "55555.56", "44444.43", "0.1333"),
        ("CQ-X", FL): ("166666.67", "33333.33", "16666.67", "0.1000"),
    }
    assert simple(sel.budget_execution_progress(system, fiscal_year=YEAR, region_code=P)) == {
        ("CQ-X", P): ("1000000.00", "88888.89", "62111.10", "0.0621")}
    assert simple(sel.budget_execution_progress(system, fiscal_year=YEAR, region_code=M)) == {
        ("CQ-X", M): ("600000.00", "88888.89", "61111.10", "0.1019")}
    # as of an earlier date: what was booked up to and including that day
    assert simple(sel.budget_execution_progress(system, fiscal_year=YEAR, region_code=WZ, on=D("2027-03-01"))) == {
        ("CQ-X", WZ): ("333333.33", "66666.67", "33333.33", "0.1000")}
    assert simple(sel.budget_execution_progress(system, fiscal_year=YEAR, on=D("2027-02-25"))) == {
        ("CQ-X", P): ("1000000.00", "0.00", "0.00", "0.0000")}
    assert sel.budget_execution_progress(system, fiscal_year=YEAR, on=D("2027-02-19")) == []
    assert sel.budget_execution_progress(system, fiscal_year=2026) == []
    assert sel.budget_execution_progress(system, fiscal_year=YEAR, policy_code="WZ-001") == []
    row = sel.budget_execution_progress(system, fiscal_year=YEAR, region_code=WZ)[0]
    assert isinstance(row["paid"], Decimal) and row["region_name"] == "万州区" and row["policy_name"]


def test_progress_is_scoped(ol, today):
    money_world(ol, today)
    mine = sel.budget_execution_progress(ol.scope("finance"), fiscal_year=YEAR)
    assert [(r["region"], str(r["paid"])) for r in mine] == [(WZ, "44444.43")]
    assert [r["region"] for r in sel.budget_execution_progress(ol.scope("civil"), fiscal_year=YEAR)] == [WZ]
    assert sel.budget_execution_progress(ol.scope("agri"), fiscal_year=YEAR) == []  # other business line
    assert len(sel.budget_execution_progress(ol.scope("p_civil"), fiscal_year=YEAR)) == 4
    with pytest.raises(ScopeError):
        sel.budget_execution_progress(ol.scope("finance"), fiscal_year=YEAR, region_code=P)
    with pytest.raises(ScopeError):
        sel.budget_execution_progress(ol.scope("collector"), fiscal_year=YEAR)


def test_dual_monitoring_pairs_targets_with_execution(ol, today):
    money_world(ol, today)
    t1 = target(ol)
    t2 = target(ol, category="satisfaction", name="群众满意度", target_value="90", unit="%")
    target(ol, category="timeliness", name="按时发放率", target_value="100", unit="%")
    target(ol, policy_code="WZ-001", name="临时救助人次", target_value="50", unit="人次")
    target_record_actual(actor=ol.scope("civil"), target_id=t1.pk, actual_value="1250")
    target_record_actual(actor=ol.scope("civil"), target_id=t2.pk, actual_value="85.5")

    rows = {r["policy"]: r for r in sel.dual_monitoring(ol.scope("finance"), YEAR)}
    assert set(rows) == {"CQ-X", "WZ-001"}
    cq = rows["CQ-X"]
    assert (cq["region"], cq["allocated"], cq["paid"], cq["ratio"]) == (
        WZ, Decimal("333333.33"), Decimal("44444.43"), Decimal("0.1333"))
    assert cq["time_progress"] == Decimal("0.1890") and cq["behind_schedule"] is True  # 13.33% < 18.90%
    assert (cq["targets_total"], cq["targets_evaluated"], cq["targets_met"], cq["achievement"]) == (
        3, 2, 1, Decimal("0.5000"))
    assert {t["name"]: t["met"] for t in cq["targets"]} == {"发放人数": True, "群众满意度": False, "按时发放率": None}
    wz001 = rows["WZ-001"]
    assert (wz001["allocated"], wz001["ratio"], wz001["behind_schedule"], wz001["achievement"]) == (
        Decimal("0.00"), None, False, None)
    early = {r["policy"]: r for r in sel.dual_monitoring(ol.scope("finance"), YEAR, on=D("2027-01-15"))}
    assert early["CQ-X"]["paid"] == Decimal("0.00") and early["CQ-X"]["ratio"] is None

    # the province sees its own subtree's money; targets are those set for the province itself (none here)
    province = sel.dual_monitoring(ol.scope("p_finance"), YEAR)
    assert [(r["policy"], r["paid"], r["targets_total"]) for r in province] == [("CQ-X", Decimal("62111.10"), 0)]
    assert sel.dual_monitoring(ol.scope("agri"), YEAR) == []
    with pytest.raises(ScopeError):
        sel.dual_monitoring(ol.scope("finance"), YEAR, region_code=FL)
    with pytest.raises(DomainError, match="请指定要监控的区划"):
        sel.dual_monitoring(Scope.system(), YEAR)
    assert len(sel.dual_monitoring(Scope.system(), YEAR, region_code=WZ)) == 2
    assert [t.name for t in sel.targets_visible(ol.scope("agri"), fiscal_year=YEAR)] == []
    assert len(sel.targets_visible(ol.scope("p_civil"), fiscal_year=YEAR)) == 4
