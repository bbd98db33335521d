"""Small direct helpers for the ledger, correction, reconciliation and conservation tests: they book bank results
and follow-up batches through the models exactly like the results and batch services are specified to
(docs/payments.md), so these tests do not depend on those services (tests/payments/factory.py builds the rest).

Contract mimicked:
- a result: the attempt becomes paid/failed (result_on), the item paid (paid_on) or failed (correction deadline
  3 wd, last failure reason); PAID or FAILED entry per attempt; the batch's paid/failed counters.
- a return of failed money: attempt.returned_on, a RETURNED entry per attempt and indicator_return.
- a follow-up batch (补发): indicator_commit + a COMMITTED entry for its total, then a released batch (factory).
"""

from decimal import Decimal

from django.db.models import F

from tests.payments.factory import build_batch
from yikatong.core import clock
from yikatong.payments import workflow
from yikatong.payments.models import (
    AttemptStatus,
    BatchKind,
    BatchStatus,
    DisbursementEntry,
    EntryKind,
    ItemStatus,
    PaymentBatch,
    PaymentItem,
)
from yikatong.payments.services.common import deadline
from yikatong.policies.services.indicators import indicator_commit, indicator_return

REF = "payment_plan"


def _entry(attempt, kind):
    batch = attempt.batch
    DisbursementEntry.objects.create(plan_id=batch.plan_id, batch=batch, attempt_id=attempt.pk,
                                     indicator_id=batch.indicator_id, kind=kind, amount=attempt.amount,
                                     booked_on=clock.today(), created_at=clock.now(), actor="helper")


def apply_result(pay, attempt, *, ok: bool, reason: str = "账户不存在", returned: bool = True):
    """Apply one bank result to a sent attempt (and, for a failure, the return of its money)."""
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SENT
    item = attempt.item
    attempt.status = AttemptStatus.PAID if ok else AttemptStatus.FAILED
    attempt.result_on = clock.today()
    attempt.failure_reason = "" if ok else reason
    attempt.save(update_fields=["status", "result_on", "failure_reason"])
    _entry(attempt, EntryKind.PAID if ok else EntryKind.FAILED)
    batch_counts = {"paid_count": F("paid_count") + 1, "paid_amount": F("paid_amount") + attempt.amount} if ok \
        else {"failed_count": F("failed_count") + 1, "failed_amount": F("failed_amount") + attempt.amount}
    PaymentBatch.objects.filter(pk=attempt.batch_id).update(status=BatchStatus.PARTIAL, **batch_counts)
    if ok:
        item.status, item.paid_on = ItemStatus.PAID, clock.today()
        item.save(update_fields=["status", "paid_on"])
    else:
        item.status, item.last_failure_reason = ItemStatus.FAILED, reason
        item.correction_deadline = deadline(workflow.FAILURE_CORRECTION)
        item.save(update_fields=["status", "last_failure_reason", "correction_deadline"])
        if returned:
            return_money(pay, attempt)
    return attempt


def return_money(pay, attempt):
    """The failed money of an attempt is back in the treasury."""
    attempt.returned_on = clock.today()
    attempt.save(update_fields=["returned_on"])
    _entry(attempt, EntryKind.RETURNED)
    plan = attempt.batch.plan
    indicator_return(actor=pay.scope("civil"), indicator_id=plan.indicator_id, amount=attempt.amount,
                     ref_type=REF, ref_id=plan.number, note=f"退回 {attempt.batch.number}/{attempt.seq}")


def resend(pay, plan, items=None):
    """A released follow-up batch of the plan's corrected items (or `items`), committed first."""
    items = list(items if items is not None else plan.items.filter(status=ItemStatus.CORRECTED).order_by("id"))
    if not items:
        return None
    total = sum((i.amount for i in items), Decimal("0.00"))
    indicator_commit(actor=pay.scope("civil"), indicator_id=plan.indicator_id, amount=total, ref_type=REF,
                     ref_id=plan.number, policy_code=plan.policy.code, fiscal_year=plan.fiscal_year)
    DisbursementEntry.objects.create(plan=plan, indicator_id=plan.indicator_id, kind=EntryKind.COMMITTED,
                                     amount=total, booked_on=clock.today(), created_at=clock.now(), actor="helper",
                                     note="补发挂接")
    return build_batch(pay, plan, items=items, kind=BatchKind.RESEND)


def item_of(pay, key) -> PaymentItem:
    return PaymentItem.objects.get(beneficiary=pay.people[key])
