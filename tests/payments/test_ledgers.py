"""Ledgers (general, detail, indicator, finance disbursement), daily close once, exports."""

from decimal import Decimal

import pytest

from tests.payments.factory import build_batch, build_plan
from tests.payments.money_helpers import apply_result, item_of
from yikatong.core import clock
from yikatong.core.errors import DomainError, ScopeError
from yikatong.payments.models import DailyClose, DisbursementEntry, EntryKind, PlanStatus
from yikatong.payments.selectors import ledgers as sel
from yikatong.payments.services.corrections import item_hold, item_remove, item_unhold
from yikatong.payments.services.ledgers import daily_close, detail_ledger_export, require_day_open
from yikatong.payments.services.reconciliation import reconcile
from yikatong.policies.services.indicators import indicator_commit

D = Decimal
WANZHOU = "500101000000"


@pytest.fixture
def released(pay):
    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    att = {a.item.beneficiary_id: a for a in batch.attempts.select_related("item")}
    apply_result(pay, att[pay.people["p1"].pk], ok=False)
    apply_result(pay, att[pay.people["p2"].pk], ok=True)
    return plan, batch


def test_general_ledger_by_day_and_batch(pay, released):
    plan, batch = released
    days = sel.general_ledger_by_day(pay.scope("civil"))
    assert len(days) == 1 and days[0]["booked_on"] == clock.today()
    row = days[0]
    assert (row["committed"], row["sent"], row["paid"], row["failed"], row["returned"]) == (
        D("1500.00"), D("1500.00"), D("300.00"), D("300.00"), D("300.00"))
    by_batch = sel.general_ledger_by_batch(pay.scope("finance"), plan_id=plan.pk)
    assert {r["batch__number"] for r in by_batch} == {None, batch.number}
    assert sel.ledger_totals(by_batch)["sent"] == D("1500.00")
    assert sel.general_ledger_by_day(pay.scope("agri")) == []
    assert sel.general_ledger_by_day(pay.scope("fl_civil")) == []
    assert sel.general_ledger_by_day(pay.scope("civil"), date_from="2030-01-01") == []


def test_detail_ledger_masks_and_filters(pay, released):
    plan, batch = released
    rows = [sel.detail_row(r) for r in sel.detail_ledger(pay.scope("civil"), plan_id=plan.pk)]
    assert len(rows) == 5
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["payee"] == "王*" and failed[0]["returned_on"] == clock.today()
    assert failed[0]["account"].startswith("*")
    assert len(list(sel.detail_ledger(pay.scope("civil"), status="paid"))) == 1
    assert len(list(sel.detail_ledger(pay.scope("collector2")))) == 0
    assert len(list(sel.detail_ledger(pay.scope("paying_bank2")))) == 0
    assert len(list(sel.detail_ledger(pay.scope("paying_bank")))) == 5


def test_detail_export_csv_and_xlsx(pay, released):
    response = detail_ledger_export(actor=pay.scope("civil"), fmt="csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff批次号") and text.count("\r\n") == 6 and "王*" in text
    xlsx = detail_ledger_export(actor=pay.scope("civil"), fmt="xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(__import__("io").BytesIO(b"".join(xlsx.streaming_content)))
    assert wb.active.max_row == 6
    with pytest.raises(DomainError):
        detail_ledger_export(actor=pay.scope("civil"), fmt="pdf")


def test_indicator_and_disbursement_ledgers(pay, released):
    plan, _ = released
    ledger = sel.plan_indicator_ledger(pay.scope("finance"), plan.pk)
    assert [r["kind"] for r in ledger["rows"]] == ["committed", "paid", "returned"]
    assert ledger["outstanding"] == D("0.00") and ledger["net_paid"] == D("1200.00")
    rows = sel.disbursement_ledger(pay.scope("finance"), region_code=WANZHOU)
    assert len(rows) == 1 and rows[0]["indicator_sums"]["paid"] == rows[0]["ledger"]["sent"] == D("1500.00")
    with pytest.raises(DomainError):
        sel.plan_indicator_ledger(pay.scope("fl_civil"), plan.pk)


def test_daily_close_once_by_the_county_finance(pay, released):
    finance = pay.scope("finance")
    close = daily_close(actor=finance, region_code=WANZHOU, day=clock.today())
    assert close.balanced and close.differences == []
    assert close.totals["sent"] == {"count": 5, "amount": "1500.00"}
    assert close.totals["committed"]["amount"] == "1500.00"
    with pytest.raises(DomainError, match="不能重复日结"):
        daily_close(actor=finance, region_code=WANZHOU, day=clock.today())
    assert DailyClose.objects.count() == 1
    with pytest.raises(DomainError, match="已日结"):
        require_day_open("500101001001", clock.today())
    for who in ("civil", "p_finance", "m_finance"):
        with pytest.raises(ScopeError):
            daily_close(actor=pay.scope(who), region_code=WANZHOU, day="2026-03-09")
    with pytest.raises(DomainError, match="未来"):
        daily_close(actor=finance, region_code=WANZHOU, day="2026-03-11")
    with pytest.raises(DomainError, match="县"):
        daily_close(actor=finance, region_code="500101001000", day="2026-03-09")


def test_daily_close_records_differences(pay, released):
    plan, batch = released
    DisbursementEntry.objects.create(plan=plan, batch=batch, attempt_id=batch.attempts.first().pk,
                                     kind=EntryKind.PAID, amount=D("0.01"), booked_on=clock.today(),
                                     created_at=clock.now(), actor="x")
    close = daily_close(actor=pay.scope("finance"), region_code=WANZHOU, day=clock.today())
    assert not close.balanced and any(d["delta"] == "0.01" for d in close.differences)


def test_item_held_before_the_mount_is_committed_when_released(pay):
    plan = build_plan(pay, status=PlanStatus.REVIEWED)
    civil = pay.scope("civil")
    item_hold(actor=civil, item_id=item_of(pay, "p5").pk, reason="卡片挂失")
    # the mount commits the payable items only (as plan_mount does)
    indicator_commit(actor=civil, indicator_id=pay.indicator.pk, amount="1200.00", ref_type="payment_plan",
                     ref_id=plan.number, policy_code="WZ-001", fiscal_year=2026)
    DisbursementEntry.objects.create(plan=plan, indicator_id=pay.indicator.pk, kind=EntryKind.COMMITTED,
                                     amount=D("1200.00"), booked_on=clock.today(), created_at=clock.now(), actor="t")
    plan.status, plan.indicator_id, plan.committed_amount = PlanStatus.MOUNTED, pay.indicator.pk, D("1200.00")
    plan.save()
    report = reconcile(actor=civil, plan_id=plan.pk)
    assert report["balanced"] and report["plans"][0]["figures"]["unsent"] == D("1200.00")
    item_hold(actor=civil, item_id=item_of(pay, "p4").pk, reason="暂缓")  # held after: keeps its commitment
    assert reconcile(actor=civil, plan_id=plan.pk)["balanced"]
    item_unhold(actor=civil, item_id=item_of(pay, "p5").pk, reason="已补卡")
    report = reconcile(actor=civil, plan_id=plan.pk)
    assert report["balanced"] and report["plans"][0]["figures"]["unsent"] == D("1500.00")
    item_remove(actor=civil, item_id=item_of(pay, "p4").pk, reason="剔除")
    report = reconcile(actor=civil, plan_id=plan.pk)
    assert report["balanced"] and report["plans"][0]["figures"]["unsent"] == D("1200.00")
