"""Reconciliation: balances to the fen on a clean path, names every planted difference; reports and vouchers."""

from decimal import Decimal

import pytest
from django.db import connection

from tests.payments.factory import build_batch, build_plan
from tests.payments.money_helpers import apply_result, item_of, resend
from yikatong.core import clock
from yikatong.core.errors import DomainError, ScopeError
from yikatong.payments.models import (
    BatchStatus,
    DisbursementEntry,
    DisbursementPlan,
    DocumentKind,
    EntryKind,
    PaymentAttempt,
    PaymentDocument,
    ResultImport,
    ResultLine,
)
from yikatong.payments.services.corrections import item_correct
from yikatong.payments.services.ledgers import clearing_voucher, reconciliation_document
from yikatong.payments.services.reconciliation import reconcile, report_json
from yikatong.policies.models import IndicatorEntry

D = Decimal


@pytest.fixture
def paying(pay):
    """First batch: p1 failed (returned), p2 paid, p3 failed (not yet returned), p4 p5 in flight; p1 corrected and
    re-sent in a follow-up batch that paid it."""
    plan = build_plan(pay)
    first = build_batch(pay, plan)
    att = {a.item.beneficiary_id: a for a in first.attempts.select_related("item")}
    apply_result(pay, att[pay.people["p1"].pk], ok=False)
    apply_result(pay, att[pay.people["p2"].pk], ok=True)
    apply_result(pay, att[pay.people["p3"].pk], ok=False, returned=False)
    item_correct(actor=pay.scope("civil"), item_id=item_of(pay, "p1").pk, reason="核实后补发")
    second = resend(pay, plan)
    apply_result(pay, second.attempts.get(), ok=True)
    return plan, first, second


def figures(report, number):
    return next(p for p in report["plans"] if p["number"] == number)["figures"]


def test_clean_path_balances_to_the_fen(pay, paying):
    plan, first, second = paying
    report = reconcile(actor=pay.scope("finance"), plan_id=plan.pk)
    assert report["balanced"], report["differences"]
    f = figures(report, plan.number)
    assert f["committed"] == D("1800.00") and f["released"] == D("0.00")
    assert (f["paid"], f["returned"], f["awaiting_return"], f["in_flight"], f["unsent"]) == (
        D("600.00"), D("300.00"), D("300.00"), D("600.00"), D("0.00"))
    assert {b["number"] for b in report["batches"]} == {first.number, second.number}
    assert all(b["balanced"] for b in report["batches"])
    assert report_json(report)["totals"]["paid"] == "600.00"


def test_unsent_money_of_a_mounted_plan_balances(pay):
    plan = build_plan(pay)
    report = reconcile(actor=pay.scope("civil"), region_code="500101000000")
    assert report["balanced"]
    assert figures(report, plan.number)["unsent"] == D("1500.00")


def _named(report, **want):
    return [d for d in report["differences"] if all(d.get(k) == v for k, v in want.items())]


def test_missing_sent_entry_is_named(pay, paying):
    plan, first, _ = paying
    attempt = first.attempts.get(seq=4)
    DisbursementEntry.objects.filter(attempt_id=attempt.pk, kind=EntryKind.SENT).delete()
    report = reconcile(actor=pay.scope("finance"), plan_id=plan.pk)
    assert not report["balanced"]
    batch_level = _named(report, level="batch", figure="sent", batch=first.number)
    assert batch_level and batch_level[0]["left"] == D("1500.00") and batch_level[0]["right"] == D("1200.00")
    assert _named(report, level="attempt", figure="sent", batch=first.number, seq=4)
    assert _named(report, level="indicator", figure="sent", plan=plan.number)
    assert report["attempt_differences"] == 1


def test_attempt_amount_changed_by_raw_sql_is_named(pay, paying):
    plan, first, _ = paying
    attempt = first.attempts.get(seq=2)  # p2, paid
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {PaymentAttempt._meta.db_table} SET amount = %s WHERE id = %s", ["300.01", attempt.pk])
    report = reconcile(actor=pay.scope("finance"), plan_id=plan.pk)
    assert not report["balanced"]
    sent = _named(report, level="attempt", figure="sent", batch=first.number, seq=2)
    assert sent and sent[0]["left"] == D("300.01") and sent[0]["right"] == D("300.00")
    paid = _named(report, level="import", figure="paid", batch=first.number)  # results are booked per import
    assert paid and paid[0]["left"] - paid[0]["right"] == D("0.01")
    assert "发放记录 1 笔 300.01 元，发放台账 1 笔 300.00 元" in paid[0]["message"]
    assert _named(report, level="batch", figure="total_amount", batch=first.number)
    assert _named(report, level="plan", figure="conservation", plan=plan.number)


def test_missing_indicator_entry_is_named(pay, paying):
    plan, _, _ = paying
    entry = IndicatorEntry.objects.filter(ref_id=plan.number, kind="returned").first()
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {IndicatorEntry._meta.db_table} WHERE id = %s", [entry.pk])
    report = reconcile(actor=pay.scope("finance"), plan_id=plan.pk)
    diffs = _named(report, level="indicator", figure="returned", plan=plan.number)
    assert len(diffs) == 1 and diffs[0]["left"] == D("300.00") and diffs[0]["right"] == D("0.00")
    assert "指标退回" in diffs[0]["message"]


def test_open_stored_bank_line_is_named_until_reviewed(pay, paying):
    plan, first, _ = paying
    imp = ResultImport.objects.create(bank=plan.bank, channel="file", content_digest="x" * 64, status="done",
                                      received_by="bank", received_at=clock.now())
    line = ResultLine.objects.create(result_import=imp, line_no=7, batch_number=first.number, seq="4",
                                     amount="299.00", outcome="success", disposition="amount",
                                     message="金额与明细不符")
    report = reconcile(actor=pay.scope("finance"), plan_id=plan.pk)
    lines = _named(report, level="bank_line", batch=first.number, seq="4")
    assert lines and "299.00" in lines[0]["message"] and report["open_bank_lines"] == 1
    line.review = ResultLine.Review.CLOSED
    line.save()
    assert reconcile(actor=pay.scope("finance"), plan_id=plan.pk)["balanced"]


def test_entry_off_by_one_fen_is_named(pay, paying):
    plan, first, _ = paying
    attempt = first.attempts.get(seq=5)
    DisbursementEntry.objects.create(plan=plan, batch=first, attempt_id=attempt.pk, kind=EntryKind.SENT,
                                     amount=D("0.01"), booked_on=clock.today(), created_at=clock.now(), actor="x")
    report = reconcile(actor=pay.scope("finance"), plan_id=plan.pk)
    d = _named(report, level="attempt", figure="sent", seq=5)
    assert d and d[0]["delta"] == D("0.01")


def test_scope_and_filters(pay, paying):
    plan, first, second = paying
    with pytest.raises(ScopeError):
        reconcile(actor=pay.scope("paying_bank"), plan_id=plan.pk)
    with pytest.raises(DomainError):
        reconcile(actor=pay.scope("fl_civil"), plan_id=plan.pk)
    assert reconcile(actor=pay.scope("agri"), region_code="500101000000")["plans"] == []
    only = reconcile(actor=pay.scope("finance"), batch_id=second.pk)
    assert [b["number"] for b in only["batches"]] == [second.number] and only["balanced"]
    assert reconcile(actor=pay.scope("finance"), date_from="2030-01-01")["plans"] == []
    with pytest.raises(DomainError, match="无效"):
        reconcile(actor=pay.scope("finance"), date_from="bad")


def test_reconciliation_document_and_clearing_voucher(pay, paying):
    plan, first, _ = paying
    docs = reconciliation_document(actor=pay.scope("finance"), plan_id=plan.pk)
    assert [d.kind for d in docs] == [DocumentKind.RECONCILIATION] * 2
    assert {d.file.original_name.rsplit(".", 1)[1] for d in docs} == {"xlsx", "pdf"}
    doc = clearing_voucher(actor=pay.scope("civil"), batch_id=first.pk)
    assert doc.kind == DocumentKind.CLEARING_VOUCHER and doc.total_amount == D("300.00")
    assert PaymentDocument.objects.filter(plan=plan).count() == 3
    with pytest.raises(ScopeError):
        clearing_voucher(actor=pay.scope("supervisor"), batch_id=first.pk)
    prepared = build_batch(pay, plan, items=[], status=BatchStatus.PREPARED)
    with pytest.raises(DomainError, match="尚未发送银行"):
        clearing_voucher(actor=pay.scope("finance"), batch_id=prepared.pk)


def test_errors_that_cancel_out_inside_a_batch_are_named(pay, paying):
    plan, first, _ = paying
    a4, a5 = first.attempts.get(seq=4), first.attempts.get(seq=5)
    DisbursementEntry.objects.filter(attempt_id=a4.pk, kind=EntryKind.SENT).update(amount=D("300.01"))
    DisbursementEntry.objects.filter(attempt_id=a5.pk, kind=EntryKind.SENT).update(amount=D("299.99"))
    report = reconcile(actor=pay.scope("finance"), plan_id=plan.pk)
    assert not _named(report, level="batch", figure="sent")  # the batch's plain sums still agree
    assert not report["balanced"]
    assert {d["seq"] for d in _named(report, level="attempt", figure="sent", batch=first.number)} == {4, 5}


def test_entry_booked_on_a_batch_of_another_plan_is_named(pay, paying):
    plan, first, _ = paying
    other = DisbursementPlan.objects.create(
        number="FA-OTHER", title="另一方案", policy=plan.policy, period="2026-04", fiscal_year=2026,
        region_id=plan.region_id, business_line=plan.business_line, organization=plan.organization, bank=plan.bank,
        status="draft", step_started_on=clock.today(), created_by="t")
    DisbursementEntry.objects.create(plan=other, batch=first, kind=EntryKind.PAID, amount=D("5.00"),
                                     booked_on=clock.today(), created_at=clock.now(), actor="x")
    report = reconcile(actor=pay.scope("finance"), region_code="500101000000")
    assert _named(report, level="entry", plan=other.number)


def test_result_entries_of_an_import_are_checked_against_its_attempts(pay):
    """A bank result import books one entry per batch, kind and day carrying the count and hash totals of the
    attempts it applied: the clean import balances; an entry whose count, amount or hash totals no longer
    match its attempts is named with the import, also when the plain sums still agree."""
    from tests.payments.test_results import import_csv, result_lines_for

    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    ri = import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(2,)))
    assert ri.status == ResultImport.Status.DONE, ri.message
    assert reconcile(actor=pay.scope("finance"), plan_id=plan.pk)["balanced"]

    paid = DisbursementEntry.objects.filter(batch=batch, kind=EntryKind.PAID)
    paid.update(control_a=paid.get().control_a + 1)  # as if two attempts' amounts were swapped
    report = reconcile(actor=pay.scope("finance"), plan_id=plan.pk)
    assert not report["balanced"] and not _named(report, level="batch", figure="paid")
    named = _named(report, level="import", figure="paid", batch=batch.number)
    assert len(named) == 1 and "逐笔校验和不符" in named[0]["message"] and str(ri.pk)[:8] in named[0]["message"]

    paid.update(control_a=paid.get().control_a - 1, lines=3)
    named = _named(reconcile(actor=pay.scope("finance"), plan_id=plan.pk), level="import", figure="paid")
    assert named and "发放记录 4 笔 1,200.00 元，发放台账 3 笔 1,200.00 元" in named[0]["message"]

    paid.update(lines=4)
    DisbursementEntry.objects.filter(batch=batch, kind=EntryKind.RETURNED).delete()
    report = reconcile(actor=pay.scope("finance"), plan_id=plan.pk)
    assert _named(report, level="batch", figure="returned", batch=batch.number)
    assert _named(report, level="import", figure="returned", batch=batch.number)
