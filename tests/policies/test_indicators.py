"""Budget indicators: receive, allocation down three levels, the ledger arithmetic of every entry kind,
conservation per reference, the library rule on commit, scope, recompute/verify, [003 §15] deadlines."""

import datetime as dt
from decimal import Decimal

import pytest

from yikatong.core import workdays
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope
from yikatong.policies import rules_indicators as rules
from yikatong.policies import selectors_indicators as sel
from yikatong.policies.models import BudgetIndicator, IndicatorEntry
from yikatong.policies.services import (
    indicator_allocate,
    indicator_allocation_complete,
    indicator_close,
    indicator_commit,
    indicator_pay,
    indicator_proposal_submit,
    indicator_receive,
    indicator_recompute,
    indicator_release,
    indicator_return,
    indicator_verify,
    library_build_from_list,
    policy_retire,
)

YEAR = 2027
P, M, WZ, FL = "500000000000", "500100000000", "500101000000", "500102000000"
D = dt.date.fromisoformat


def setup_indicator_world(published, today):
    """The published 2027 list turned into the library (CQ-X at the province, WZ-001 at 万州, FL-1 at 涪陵);
    today 2027-03-01."""
    library_build_from_list(actor=published.scope("p_finance"), province_code=P, year=YEAR)
    today("2027-03-01")
    return published


def receive_central(ol, *, amount="1000000.00", doc_no="财农〔2027〕1号", policy_code="CQ-X", **extra):
    """The province finance bureau receives central funds for CQ-X."""
    fields = {"received_on": "2027-02-20", "central_document_date": "2027-02-10", "fiscal_year": YEAR,
              "region_code": P, "source_level": "central"}
    fields.update(extra)
    return indicator_receive(actor=ol.scope("p_finance"), doc_no=doc_no, amount=amount,
                             policy_code=policy_code, **fields)


def three_levels(ol):
    """province 1,000,000.00 → prefecture 600,000.00 → 万州 400,000.00 and 涪陵 150,000.00."""
    root = receive_central(ol)
    (pref,) = indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=[
        {"region_code": M, "holder_code": "CQ-SXQ-CZ", "amount": "600000.00", "doc_no": "渝财农〔2027〕5号"}])
    wz, fl = indicator_allocate(actor=ol.scope("m_finance"), parent_id=pref.pk, parts=[
        {"region_code": WZ, "holder_code": "WZ-CZJ", "amount": "400000.00", "doc_no": "市辖财〔2027〕8号"},
        {"region_code": FL, "holder_code": "FL-CZJ", "amount": "150000.00", "doc_no": "市辖财〔2027〕9号"}])
    return [BudgetIndicator.objects.get(pk=x.pk) for x in (root, pref, wz, fl)]


def counts():
    return BudgetIndicator.objects.count(), IndicatorEntry.objects.count(), AuditEvent.objects.count()


def columns(ind) -> dict:
    ind = BudgetIndicator.objects.get(pk=ind.pk)
    return {c: getattr(ind, c) for c in rules.COLUMNS}


def bal(received="0", out="0", committed="0", paid="0", returned="0", available="0") -> dict:
    values = [received, out, committed, paid, returned, available]
    return {c: Decimal(v).quantize(Decimal("0.01")) for c, v in zip(rules.COLUMNS, values, strict=True)}


@pytest.fixture
def ol(published, today):
    return setup_indicator_world(published, today)


# -- pure rules --------------------------------------------------------------------------------------
def test_apply_entry_arithmetic_of_every_kind():
    b = rules.Balances()
    b = rules.apply_entry(b, "received", Decimal("100.00"))
    assert (b.received_total, b.available) == (Decimal("100.00"), Decimal("100.00"))
    b = rules.apply_entry(b, "allocated_out", Decimal("30.00"))
    assert (b.allocated_out_total, b.available) == (Decimal("30.00"), Decimal("70.00"))
    b = rules.apply_entry(b, "committed", Decimal("50.00"))
    assert (b.committed_total, b.available) == (Decimal("50.00"), Decimal("20.00"))
    b = rules.apply_entry(b, "paid", Decimal("40.00"))
    assert (b.committed_total, b.paid_total, b.available) == (Decimal("10.00"), Decimal("40.00"), Decimal("20.00"))
    b = rules.apply_entry(b, "released", Decimal("10.00"))
    assert (b.committed_total, b.available) == (Decimal("0.00"), Decimal("30.00"))
    b = rules.apply_entry(b, "returned", Decimal("15.00"))
    assert (b.returned_total, b.available) == (Decimal("15.00"), Decimal("45.00"))
    assert rules.available_of(b) == b.available
    assert rules.apply_entry(rules.Balances(), "allocated_in", Decimal("5.00")).received_total == Decimal("5.00")
    with pytest.raises(DomainError, match="可用余额不能为负数"):
        rules.apply_entry(b, "committed", Decimal("45.01"))
    with pytest.raises(DomainError, match="已挂接未支付不能为负数"):
        rules.apply_entry(b, "paid", Decimal("0.01"))
    with pytest.raises(DomainError, match="退回金额不能超过已支付金额"):
        rules.apply_entry(b, "returned", Decimal("25.01"))
    with pytest.raises(DomainError, match="应大于0"):
        rules.apply_entry(b, "received", Decimal("0"))
    with pytest.raises(DomainError, match="未知"):
        rules.apply_entry(b, "gift", Decimal("1"))


def test_balances_from_sums_equals_stepwise_application():
    sums = {"received": Decimal("100"), "allocated_out": Decimal("30"), "committed": Decimal("50"),
            "paid": Decimal("40"), "released": Decimal("10"), "returned": Decimal("15")}
    b = rules.balances_from_sums(sums)
    assert b.as_dict() == bal("100", "30", "0", "40", "15", "45")


def test_clocks_per_level_and_source():
    clocks = rules.deadline_clocks(region_code=P, source_level="central", received_on=D("2027-02-20"),
                                   central_document_date=D("2027-02-10"))
    assert [(c.step, c.start, c.who) for c in clocks] == [
        ("central_funds_proposal", D("2027-02-10"), "department"),
        ("central_funds_allocation", D("2027-02-10"), "finance")]
    assert [c.step for c in rules.deadline_clocks(region_code=M, source_level="central",
                                                  received_on=D("2027-03-01"), direct_to_county=True)] == [
        "prefecture_direct_allocation"]
    assert [c.step for c in rules.deadline_clocks(region_code=M, source_level="provincial",
                                                  received_on=D("2027-03-01"))] == ["prefecture_allocation"]
    assert rules.deadline_clocks(region_code=M, source_level="municipal", received_on=D("2027-03-01")) == []
    assert rules.deadline_clocks(region_code=WZ, source_level="central", received_on=D("2027-03-01")) == []
    assert rules.deadline_clocks(region_code=P, source_level="provincial", received_on=D("2027-03-01")) == []


# -- receive -----------------------------------------------------------------------------------------
def test_receive_writes_the_received_entry_balances_and_audit(ol):
    ind = receive_central(ol, amount="1234567.89")
    assert ind.holder.code == "CQ-CZJ" and ind.region_id == P and ind.parent_id is None
    assert ind.tag == "惠民惠农财政补贴资金" and ind.status == "active"
    assert columns(ind) == bal("1234567.89", available="1234567.89")
    (entry,) = IndicatorEntry.objects.filter(indicator=ind)
    assert (entry.kind, entry.amount, entry.ref_type, entry.ref_id) == (
        "received", Decimal("1234567.89"), "document", "财农〔2027〕1号")
    assert entry.booked_on == D("2027-02-20") and entry.actor == "t_p_finance"
    event = AuditEvent.objects.get(action="indicator.receive")
    assert event.object_id == str(ind.pk) and event.region_code == P and event.after["available"] == "1234567.89"
    assert indicator_verify() == []


@pytest.mark.parametrize("key, region, error", [
    ("p_civil", P, ScopeError),           # a department cannot register indicators
    ("supervisor", WZ, ScopeError),       # read-only
    ("finance_other", WZ, ScopeError),    # 涪陵 finance for 万州
    ("p_finance", WZ, ScopeError),        # the province for a county: the county's bureau registers
    ("collector", WZ, ScopeError),
])
def test_receive_wrong_role_or_region_is_refused(ol, key, region, error):
    before = counts()
    with pytest.raises(error):
        indicator_receive(actor=ol.scope(key), doc_no="X1", received_on="2027-02-20", amount="10.00",
                          source_level="provincial", policy_code="CQ-X", fiscal_year=YEAR, region_code=region)
    assert counts() == before


@pytest.mark.parametrize("overrides, message", [
    ({"central_document_date": None}, "请填写中央资金文件日期"),
    ({"central_document_date": "2027-02-21"}, "不能晚于收到日期"),
    ({"received_on": "2027-03-02"}, "晚于今天"),
    ({"received_on": "2027/02/20"}, "格式不正确"),
    ({"amount": "0"}, "应大于0"),
    ({"amount": "12.345"}, "最多保留两位小数"),
    ({"amount": "abc"}, "金额格式不正确"),
    ({"source_level": "federal"}, "资金来源层级“federal”无效"),
    ({"source_level": "provincial"}, "只有中央资金需要填写中央资金文件日期"),
    ({"policy_code": "NOPE"}, "补贴项目 NOPE 不存在"),
    ({"fiscal_year": "20x7"}, "预算年度"),
    ({"doc_no": "  "}, "请填写指标文号"),
])
def test_receive_bad_input_is_refused_readably(ol, overrides, message):
    before = counts()
    with pytest.raises(DomainError, match=message):
        receive_central(ol, **overrides)
    assert counts() == before


def test_receive_refuses_float_duplicate_and_a_policy_of_another_county(ol):
    with pytest.raises(TypeError):
        receive_central(ol, amount=1000.5)
    receive_central(ol)
    with pytest.raises(DomainError, match="请勿重复登记"):
        receive_central(ol)
    with pytest.raises(DomainError, match="不适用于区划 500102000000"):
        indicator_receive(actor=ol.scope("finance_other"), doc_no="FL-1", received_on="2027-02-20", amount="5.00",
                          source_level="county", policy_code="WZ-001", fiscal_year=YEAR, region_code=FL)
    # a system actor must name the holder, a finance bureau of that region
    with pytest.raises(DomainError, match="holder_code"):
        indicator_receive(actor=Scope.system(), doc_no="S1", received_on="2027-02-20", amount="5.00",
                          source_level="county", policy_code="WZ-001", fiscal_year=YEAR, region_code=WZ)
    with pytest.raises(DomainError, match="不是有效的财政部门"):
        indicator_receive(actor=Scope.system(), doc_no="S1", received_on="2027-02-20", amount="5.00",
                          source_level="county", policy_code="WZ-001", fiscal_year=YEAR, region_code=WZ,
                          holder_code="WZ-MZJ")
    ind = indicator_receive(actor=Scope.system(), doc_no="S1", received_on="2027-02-20", amount="5.00",
                            source_level="county", policy_code="WZ-001", fiscal_year=YEAR, region_code=WZ,
                            holder_code="WZ-CZJ")
    assert ind.holder.code == "WZ-CZJ"


# -- allocation --------------------------------------------------------------------------------------
def test_allocation_down_three_levels(ol):
    root, pref, wz, fl = three_levels(ol)
    assert columns(root) == bal("1000000.00", out="600000.00", available="400000.00")
    assert columns(pref) == bal("600000.00", out="550000.00", available="50000.00")
    assert columns(wz) == bal("400000.00", available="400000.00")
    assert columns(fl) == bal("150000.00", available="150000.00")
    assert (pref.parent_id, wz.parent_id, fl.parent_id) == (root.pk, pref.pk, pref.pk)
    assert (wz.holder.code, wz.region_id, wz.source_level, wz.fiscal_year) == ("WZ-CZJ", WZ, "central", YEAR)
    assert wz.central_document_date == D("2027-02-10") and wz.received_on == D("2027-03-01")
    assert list(IndicatorEntry.objects.filter(indicator=pref).values_list("kind", "amount", "ref_id")) == [
        ("allocated_in", Decimal("600000.00"), str(root.pk)),
        ("allocated_out", Decimal("400000.00"), str(wz.pk)),
        ("allocated_out", Decimal("150000.00"), str(fl.pk))]
    assert AuditEvent.objects.filter(action="indicator.allocate").count() == 2
    assert AuditEvent.objects.filter(action="indicator.allocate_in").count() == 3
    for ind in (root, pref, wz, fl):
        assert indicator_recompute(ind) == columns(ind)
    assert indicator_verify() == []
    # the rest can still be allocated, exactly to the fen
    (last,) = indicator_allocate(actor=ol.scope("m_finance"), parent_id=pref.pk, parts=[
        {"region_code": WZ, "holder_code": "WZ-CZJ", "amount": "50000.00", "doc_no": "市辖财〔2027〕10号"}])
    assert columns(pref)["available"] == Decimal("0.00")
    assert BudgetIndicator.objects.get(pk=pref.pk).allocation_done_on == D("2027-03-01")  # nothing left: done


def test_over_allocation_is_refused_and_nothing_is_written(ol):
    root = receive_central(ol, amount="100.00")
    before = counts()
    with pytest.raises(DomainError, match=r"^分配金额 100.01 超过上级指标可用余额 100.00。$"):
        indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=[
            {"region_code": M, "holder_code": "CQ-SXQ-CZ", "amount": "60.00", "doc_no": "A1"},
            {"region_code": WZ, "holder_code": "WZ-CZJ", "amount": "40.01", "doc_no": "A2"}])
    assert counts() == before
    # all or nothing: a valid first part is not written when the second is wrong
    with pytest.raises(DomainError, match="第2项分配：.*不是有效的财政部门"):
        indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=[
            {"region_code": M, "holder_code": "CQ-SXQ-CZ", "amount": "60.00", "doc_no": "A1"},
            {"region_code": WZ, "holder_code": "WZ-MZJ", "amount": "10.00", "doc_no": "A2"}])
    assert counts() == before
    assert columns(root) == bal("100.00", available="100.00")


@pytest.mark.parametrize("part, message", [
    ({"region_code": P}, "不在上级指标区划 500000000000 的下级范围内"),            # itself
    ({"region_code": "510000000000"}, "不在上级指标区划"),                           # another province
    ({"holder_code": "FL-CZJ"}, "不在区划 500101000000"),                           # a bureau elsewhere
    ({"holder_code": "NOPE"}, "机构 NOPE 不存在"),
    ({"amount": "-1.00"}, "分配金额应大于0"),
    ({"doc_no": ""}, "请填写下达文号"),
    ({"region_code": "5001"}, "行政区划代码"),
])
def test_allocation_part_errors(ol, part, message):
    root = receive_central(ol, amount="100.00")
    full = {"region_code": WZ, "holder_code": "WZ-CZJ", "amount": "10.00", "doc_no": "A1", **part}
    before = counts()
    with pytest.raises(DomainError, match=message):
        indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=[full])
    assert counts() == before


def test_allocation_by_someone_else_is_refused(ol):
    root = receive_central(ol, amount="100.00")
    part = [{"region_code": WZ, "holder_code": "WZ-CZJ", "amount": "10.00", "doc_no": "A1"}]
    for key in ("m_finance", "finance", "p_civil", "supervisor"):
        with pytest.raises(ScopeError):
            indicator_allocate(actor=ol.scope(key), parent_id=root.pk, parts=part)
    with pytest.raises(DomainError, match="请至少填写一项分配"):
        indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=[])
    with pytest.raises(DomainError, match="不存在"):
        indicator_allocate(actor=ol.scope("p_finance"), parent_id=999999, parts=part)
    indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=part)
    with pytest.raises(DomainError, match="请勿重复下达"):
        indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=part)
    assert columns(root)["available"] == Decimal("90.00")


# -- commit / release / pay / return ---------------------------------------------------------------
def county_indicator(ol, amount="1000.00"):
    return indicator_receive(actor=ol.scope("finance"), doc_no="万州财〔2027〕3号", received_on="2027-02-20",
                             amount=amount, source_level="county", policy_code="WZ-001", fiscal_year=YEAR,
                             region_code=WZ)


def commit(ol, ind, amount, ref="plan:1", key="civil", **extra):
    ref_type, ref_id = ref.split(":")
    fields = {"policy_code": ind.policy.code, "fiscal_year": ind.fiscal_year, **extra}
    return indicator_commit(actor=ol.scope(key), indicator_id=ind.pk, amount=amount, ref_type=ref_type,
                            ref_id=ref_id, **fields)


def test_every_money_movement_and_its_arithmetic(ol):
    ind = county_indicator(ol)
    entry = commit(ol, ind, "600.10")
    assert (entry.kind, entry.ref_type, entry.ref_id, entry.actor) == ("committed", "plan", "1", "t_civil")
    assert columns(ind) == bal("1000.00", committed="600.10", available="399.90")
    indicator_pay(actor=ol.scope("finance"), indicator_id=ind.pk, amount="500.05", ref_type="plan", ref_id="1")
    assert columns(ind) == bal("1000.00", committed="100.05", paid="500.05", available="399.90")
    indicator_release(actor=ol.scope("civil"), indicator_id=ind.pk, amount="100.05", ref_type="plan", ref_id="1")
    assert columns(ind) == bal("1000.00", paid="500.05", available="499.95")
    indicator_return(actor=Scope.system(), indicator_id=ind.pk, amount="0.05", ref_type="plan", ref_id="1",
                     on="2027-02-28")
    assert columns(ind) == bal("1000.00", paid="500.05", returned="0.05", available="500.00")
    assert BudgetIndicator.objects.get(pk=ind.pk).net_paid == Decimal("500.00")
    # the returned money can be committed and paid again
    commit(ol, ind, "500.00", ref="plan:2")
    indicator_pay(actor=ol.scope("civil"), indicator_id=ind.pk, amount="500.00", ref_type="plan", ref_id="2")
    assert columns(ind) == bal("1000.00", paid="1000.05", returned="0.05", available="0.00")
    kinds = list(IndicatorEntry.objects.filter(indicator=ind).values_list("kind", flat=True))
    assert kinds == ["received", "committed", "paid", "released", "returned", "committed", "paid"]
    assert indicator_recompute(ind) == columns(ind)
    assert indicator_verify() == []
    for action, n in [("indicator.commit", 2), ("indicator.pay", 2), ("indicator.release", 1),
                      ("indicator.return", 1)]:
        assert AuditEvent.objects.filter(action=action, object_id=str(ind.pk)).count() == n
    ret = AuditEvent.objects.get(action="indicator.return")
    assert ret.before["available"] == "499.95" and ret.after["available"] == "500.00"
    assert ret.after["ref"] == "plan:1" and ret.actor_username == "system"


def test_conservation_per_reference(ol):
    ind = county_indicator(ol)
    commit(ol, ind, "300.00", ref="plan:1")
    commit(ol, ind, "200.00", ref="plan:2")
    before = counts()
    kw = {"actor": ol.scope("finance"), "indicator_id": ind.pk, "ref_type": "plan"}
    with pytest.raises(DomainError, match="解除挂接金额 300.01 元超过单据 plan:1 在本指标上已挂接未支付的 300.00 元"):
        indicator_release(amount="300.01", ref_id="1", **kw)
    with pytest.raises(DomainError, match="支付金额 200.01 元超过.*200.00 元"):
        indicator_pay(amount="200.01", ref_id="2", **kw)      # plan 1's commitment cannot pay for plan 2
    with pytest.raises(DomainError, match="已挂接未支付的 0.00 元，请先挂接指标"):
        indicator_pay(amount="1.00", ref_id="3", **kw)
    with pytest.raises(DomainError, match="已支付未退回的 0.00 元"):
        indicator_return(amount="1.00", ref_id="1", **kw)
    assert counts() == before
    indicator_pay(amount="250.00", ref_id="1", **kw)
    indicator_return(amount="100.00", ref_id="1", **kw)
    with pytest.raises(DomainError, match="退回金额 150.01 元超过.*已支付未退回的 150.00 元"):
        indicator_return(amount="150.01", ref_id="1", **kw)
    with pytest.raises(DomainError, match="已挂接未支付的 50.00 元"):
        indicator_pay(amount="50.01", ref_id="1", **kw)     # returned money is not committed any more
    with pytest.raises(DomainError, match="已挂接未支付的 50.00 元"):
        indicator_release(amount="50.01", ref_id="1", **kw)
    with pytest.raises(DomainError, match="晚于今天"):
        indicator_pay(amount="1.00", ref_id="1", on="2027-03-02", **kw)
    with pytest.raises(DomainError, match="请填写关联单据编号"):
        indicator_pay(amount="1.00", ref_id=" ", **kw)
    assert columns(ind) == bal("1000.00", committed="250.00", paid="250.00", returned="100.00", available="600.00")
    assert indicator_verify() == []


def test_commit_insufficient_balance_message(ol):
    ind = county_indicator(ol, amount="1000.00")
    commit(ol, ind, "999.99")
    before = counts()
    with pytest.raises(DomainError, match=r"^指标余额不足：可用 0.01 元，需要 1,000.00 元。$") as exc:
        commit(ol, ind, "1000.00", ref="plan:2")
    assert exc.value.code == "insufficient_balance"
    assert counts() == before
    commit(ol, ind, "0.01", ref="plan:2")
    assert columns(ind)["available"] == Decimal("0.00")


def test_commit_refused_for_other_policy_year_region_or_outside_the_library(ol):
    ind = county_indicator(ol)
    before = counts()
    with pytest.raises(DomainError, match="属于补贴项目 WZ-001，不能用于补贴项目 CQ-X") as exc:
        commit(ol, ind, "1.00", policy_code="CQ-X")
    assert exc.value.code == "policy_mismatch"
    with pytest.raises(DomainError, match="是 2027 年度指标，不能用于 2028 年度") as exc:
        commit(ol, ind, "1.00", fiscal_year=2028)
    assert exc.value.code == "year_mismatch"
    with pytest.raises(DomainError, match="不在预算指标所属区划"):
        commit(ol, ind, "1.00", region_code=FL)
    assert counts() == before
    commit(ol, ind, "1.00", region_code="500101001001")  # a village of 万州 pays under the county indicator

    # an indicator of a year without a library: never paid
    ind2028 = indicator_receive(actor=ol.scope("finance"), doc_no="万州财〔2028〕1号", received_on="2027-02-20",
                                amount="10.00", source_level="county", policy_code="WZ-001", fiscal_year=2028,
                                region_code=WZ)
    with pytest.raises(DomainError, match="不在 2028 年度 .* 的补贴项目库中") as exc:
        commit(ol, ind2028, "1.00")
    assert exc.value.code == "not_in_library"
    # a policy that left the library (retired) is no longer paid either
    root = receive_central(ol, amount="100.00")
    (wz,) = indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=[
        {"region_code": WZ, "holder_code": "WZ-CZJ", "amount": "100.00", "doc_no": "A1"}])
    commit(ol, wz, "10.00", key="finance")
    policy_retire(actor=ol.scope("p_civil"), code="CQ-X", reason="停止执行")
    with pytest.raises(DomainError, match="不在 2027 年度 万州区（500101000000） 的补贴项目库中"):
        commit(ol, wz, "10.00", ref="plan:2", key="finance")
    assert columns(wz)["committed_total"] == Decimal("10.00")


@pytest.mark.parametrize("key", ["finance_other", "agri", "p_finance", "supervisor", "collector", "paying_bank",
                                 "p_civil"])
def test_money_services_refuse_other_regions_lines_and_roles(ol, key):
    ind = county_indicator(ol)
    commit(ol, ind, "10.00")
    indicator_pay(actor=ol.scope("civil"), indicator_id=ind.pk, amount="5.00", ref_type="plan", ref_id="1")
    before = counts()
    kw = {"actor": ol.scope(key), "indicator_id": ind.pk, "ref_type": "plan", "ref_id": "1", "amount": "1.00"}
    with pytest.raises(ScopeError):
        indicator_commit(policy_code="WZ-001", fiscal_year=YEAR, **kw)
    for service in (indicator_release, indicator_pay, indicator_return):
        with pytest.raises(ScopeError):
            service(**kw)
    assert counts() == before


def test_close_stops_commitments_but_not_returns(ol):
    ind = county_indicator(ol)
    commit(ol, ind, "10.00")
    indicator_pay(actor=ol.scope("civil"), indicator_id=ind.pk, amount="6.00", ref_type="plan", ref_id="1")
    with pytest.raises(DomainError, match="尚有已挂接未支付资金 4.00 元"):
        indicator_close(actor=ol.scope("finance"), indicator_id=ind.pk, reason="年终")
    with pytest.raises(ScopeError):
        indicator_close(actor=ol.scope("civil"), indicator_id=ind.pk, reason="年终")
    indicator_release(actor=ol.scope("civil"), indicator_id=ind.pk, amount="4.00", ref_type="plan", ref_id="1")
    with pytest.raises(DomainError, match="请填写关闭原因"):
        indicator_close(actor=ol.scope("finance"), indicator_id=ind.pk, reason="")
    indicator_close(actor=ol.scope("finance"), indicator_id=ind.pk, reason="年终结转")
    with pytest.raises(DomainError, match="已关闭") as exc:
        commit(ol, ind, "1.00", ref="plan:2")
    assert exc.value.code == "closed"
    indicator_return(actor=ol.scope("finance"), indicator_id=ind.pk, amount="6.00", ref_type="plan", ref_id="1")
    assert columns(ind) == bal("1000.00", paid="6.00", returned="6.00", available="1000.00")
    assert AuditEvent.objects.filter(action="indicator.close", reason="年终结转").count() == 1


# -- the ledger is append-only; verify finds what was changed behind its back -----------------------
def test_entries_cannot_be_edited_or_deleted(ol):
    ind = county_indicator(ol)
    entry = IndicatorEntry.objects.get(indicator=ind)
    entry.amount = Decimal("1.00")
    with pytest.raises(TypeError, match="只能追加"):
        entry.save()
    with pytest.raises(TypeError, match="只能追加"):
        entry.delete()
    with pytest.raises(TypeError, match="只能追加"):
        IndicatorEntry.objects.filter(indicator=ind).update(amount=Decimal("2.00"))
    with pytest.raises(TypeError, match="只能追加"):
        IndicatorEntry.objects.filter(indicator=ind).delete()
    assert IndicatorEntry.objects.get(indicator=ind).amount == Decimal("1000.00")


def test_verify_names_columns_that_do_not_match_the_ledger(ol):
    ind = county_indicator(ol)
    commit(ol, ind, "10.00")
    assert indicator_verify(fiscal_year=YEAR) == []
    # a bug (or a hand edit) adds money without an entry: both columns stay non-negative and consistent
    BudgetIndicator.objects.filter(pk=ind.pk).update(received_total=Decimal("1100.00"), available=Decimal("1090.00"))
    problems = indicator_verify(fiscal_year=YEAR)
    assert {p["check"] for p in problems} == {"received_total", "available"}
    avail = next(p for p in problems if p["check"] == "available")
    assert avail["stored"] == Decimal("1090.00") and avail["ledger"] == Decimal("990.00")
    assert "可用余额：记录 1,090.00 元，台账合计 990.00 元" in avail["detail"]
    assert indicator_verify(fiscal_year=2026) == []  # other years are not looked at
    assert indicator_recompute(ind)["available"] == Decimal("990.00")


# -- proposals and deadlines [003 §15] -------------------------------------------------------------
def test_proposal_by_the_department_of_the_policy_line(ol):
    root = receive_central(ol)
    for key in ("p_agri", "civil", "p_finance", "supervisor"):
        with pytest.raises(ScopeError):
            indicator_proposal_submit(actor=ol.scope(key), indicator_id=root.pk, note="分配建议")
    with pytest.raises(DomainError, match="请填写分配建议方案说明"):
        indicator_proposal_submit(actor=ol.scope("p_civil"), indicator_id=root.pk, note=" ")
    ind = indicator_proposal_submit(actor=ol.scope("p_civil"), indicator_id=root.pk, note="按人数分配到区县")
    assert ind.proposal_submitted_on == D("2027-03-01") and ind.proposal_note == "按人数分配到区县"
    with pytest.raises(DomainError, match="已于 2027-03-01 报送"):
        indicator_proposal_submit(actor=ol.scope("p_civil"), indicator_id=root.pk, note="再报一次")
    assert AuditEvent.objects.filter(action="indicator.propose").count() == 1


def test_central_fund_deadlines_move_past_holidays_and_weekends(published, today):
    ol = published  # today 2026-11-25
    root = receive_central(ol, received_on="2026-09-20", central_document_date="2026-09-17")
    rows = {r["step"]: r for r in sel.indicators_with_deadlines(ol.scope("p_finance"), today=D("2026-09-25"))}
    # 09-17 + 15 = 10-02, National Day holiday → Thu 10-08; + 30 = Sat 10-17 → Mon 10-19
    assert rows["central_funds_proposal"]["deadline"] == D("2026-10-08")
    assert rows["central_funds_allocation"]["deadline"] == D("2026-10-19")
    assert rows["central_funds_proposal"]["deadline"] == workdays.deadline_for("central_funds_proposal", D("2026-09-17"))
    assert rows["central_funds_allocation"]["deadline"] == workdays.deadline_for(
        "central_funds_allocation", D("2026-09-17"))
    assert rows["central_funds_proposal"]["who"] == "department"
    assert {r["state"] for r in rows.values()} == {"ok"}

    def state(step, on):
        found = [r for r in sel.indicators_with_deadlines(ol.scope("p_finance"), today=D(on)) if r["step"] == step]
        return found[0]["state"], found[0]["days_overdue"]

    assert state("central_funds_proposal", "2026-09-29") == ("ok", 0)         # 09-30 and 10-08 left
    assert state("central_funds_proposal", "2026-09-30") == ("due_soon", 0)   # only 10-08 left: the holiday
    assert state("central_funds_proposal", "2026-10-07") == ("due_soon", 0)
    assert state("central_funds_proposal", "2026-10-08") == ("due_soon", 0)   # the deadline day itself
    assert state("central_funds_proposal", "2026-10-09") == ("overdue", 1)
    assert state("central_funds_allocation", "2026-10-16") == ("due_soon", 0)  # Fri before a Monday deadline
    assert state("central_funds_allocation", "2026-10-20") == ("overdue", 1)

    warnings = sel.indicator_warnings(ol.scope("p_finance"), today=D("2026-10-09"))
    assert [(w["indicator"].pk, w["step"], w["state"]) for w in warnings] == [
        (root.pk, "central_funds_proposal", "overdue")]
    # proposal late on 10-12, allocation completed in time on 10-16
    today("2026-10-12")
    indicator_proposal_submit(actor=ol.scope("p_civil"), indicator_id=root.pk, note="分配建议")
    today("2026-10-16")
    indicator_allocation_complete(actor=ol.scope("p_finance"), indicator_id=root.pk)
    with pytest.raises(DomainError, match="已于 2026-10-16 确认"):
        indicator_allocation_complete(actor=ol.scope("p_finance"), indicator_id=root.pk)
    rows = {r["step"]: r for r in sel.indicators_with_deadlines(ol.scope("p_finance"), today=D("2026-11-01"))}
    assert rows["central_funds_proposal"]["state"] == "done" and rows["central_funds_proposal"]["late"]
    assert rows["central_funds_allocation"]["state"] == "done" and not rows["central_funds_allocation"]["late"]
    assert sel.indicator_warnings(ol.scope("p_finance"), today=D("2026-11-01")) == []
    assert sel.indicators_with_deadlines(ol.scope("p_finance"), today=D("2026-11-01"), include_done=False) == []


def test_prefecture_deadline_direct_to_county_and_warning_scope(ol):
    root = receive_central(ol)
    direct, other = indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=[
        {"region_code": M, "holder_code": "CQ-SXQ-CZ", "amount": "100.00", "doc_no": "D1", "direct_to_county": True},
        {"region_code": M, "holder_code": "CQ-SXQ-CZ", "amount": "100.00", "doc_no": "D2"}])
    indicator_allocate(actor=ol.scope("m_finance"), parent_id=direct.pk, parts=[
        {"region_code": WZ, "holder_code": "WZ-CZJ", "amount": "100.00", "doc_no": "D1-1"}])  # all: done
    rows = sel.indicators_with_deadlines(ol.scope("m_finance"), today=D("2027-03-10"))
    by_ind = {r["indicator"].pk: r for r in rows}
    assert set(by_ind) == {direct.pk, other.pk}  # the province's clocks are not the prefecture's business
    # received 2027-03-01 (Mon): +15 = 03-16 (Tue), +30 = 03-31 (Wed)
    assert (by_ind[direct.pk]["step"], by_ind[direct.pk]["deadline"], by_ind[direct.pk]["state"]) == (
        "prefecture_direct_allocation", D("2027-03-16"), "done")
    assert (by_ind[other.pk]["step"], by_ind[other.pk]["deadline"], by_ind[other.pk]["state"]) == (
        "prefecture_allocation", D("2027-03-31"), "ok")
    warnings = sel.indicator_warnings(ol.scope("m_finance"), today=D("2027-04-01"))
    assert [(w["indicator"].pk, w["state"]) for w in warnings] == [(other.pk, "overdue")]
    assert sel.indicator_warnings(ol.scope("finance"), today=D("2027-04-01")) == []  # a county sees none
    assert sel.indicators_with_deadlines(ol.scope("finance"), today=D("2027-04-01")) == []
    province = sel.indicator_warnings(ol.scope("p_finance"), today=D("2027-04-01"))
    assert {w["step"] for w in province} == {"central_funds_proposal", "central_funds_allocation",
                                             "prefecture_allocation"}
    supervisor = Scope.for_user(ol.world.users["supervisor"])
    assert sel.indicator_warnings(supervisor, today=D("2027-04-01")) == []  # 万州's auditor


# -- reading ---------------------------------------------------------------------------------------
def test_indicators_visible_by_region_and_line(ol):
    root, pref, wz, fl = three_levels(ol)
    county_indicator(ol)
    assert set(sel.indicators_visible(ol.scope("p_finance")).values_list("pk", flat=True)) >= {
        root.pk, pref.pk, wz.pk, fl.pk}
    wz_ids = set(sel.indicators_visible(ol.scope("finance")).values_list("region_id", flat=True))
    assert wz_ids == {WZ}
    assert sel.indicators_visible(ol.scope("agri")).count() == 0  # civil-affairs policies only
    assert sel.indicators_visible(ol.scope("civil")).count() == 2
    assert sel.indicators_visible(Scope.for_user(ol.world.users["supervisor"])).count() == 2
    with pytest.raises(ScopeError):
        sel.indicators_visible(ol.scope("collector"))
    with pytest.raises(DomainError, match="不存在或不在您的查看范围内"):
        sel.indicator_get(ol.scope("finance_other"), wz.pk)
    assert [e.kind for e in sel.indicator_entries(ol.scope("finance"), wz.pk)] == ["allocated_in"]
    assert [c.pk for c in sel.indicator_children(ol.scope("m_finance"), pref.pk)] == [wz.pk, fl.pk]


# -- CLI -------------------------------------------------------------------------------------------
def test_indicators_report_cli(ol):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    root, pref, wz, fl = three_levels(ol)
    out = StringIO()
    call_command("indicators-report", "--year", str(YEAR), "--verify", "--warnings", stdout=out)
    text = out.getvalue()
    assert "2027 年度共 4 个预算指标" in text and "核对通过" in text
    assert "可用 400,000.00" in text
    # the central document of 02-10 asked for the department's proposal by 02-25
    assert "中央资金：省级主管部门报送资金分配建议方案\t主管部门\t期限 2027-02-25\t已超期" in text
    assert "分配下达预警 1 条" in text
    out = StringIO()
    call_command("indicators-report", "--year", str(YEAR), "--region", "500101", stdout=out)
    assert "2027 年度共 1 个预算指标" in out.getvalue()
    with pytest.raises(CommandError, match="行政区划代码"):
        call_command("indicators-report", "--year", str(YEAR), "--region", "50x")
    BudgetIndicator.objects.filter(pk=wz.pk).update(received_total=Decimal("400000.01"),
                                                    available=Decimal("400000.01"))
    err = StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("indicators-report", "--year", str(YEAR), "--verify", stdout=StringIO(), stderr=err)
    assert exc.value.code == 1
    assert "可用余额：记录 400,000.01 元，台账合计 400,000.00 元" in err.getvalue()
