"""Build payment states directly through the models (NOT through the services under test), so tests of a later
step do not depend on the services of earlier steps. The shapes here are the contract of docs/payments.md."""

from decimal import Decimal

from yikatong.core import clock
from yikatong.core.models import Organization
from yikatong.payments.models import (
    AttemptStatus,
    BatchKind,
    BatchStatus,
    DisbursementEntry,
    DisbursementPlan,
    EntryKind,
    ItemStatus,
    PaymentAttempt,
    PaymentBatch,
    PaymentItem,
    PlanStatus,
)
from yikatong.policies.services.indicators import indicator_commit, indicator_pay

MOUNTED_OR_LATER = (PlanStatus.MOUNTED, PlanStatus.VOUCHERED, PlanStatus.PAYING, PlanStatus.COMPLETED)
_counter = {"plan": 0, "batch": 0}


def build_plan(pay, *, status=PlanStatus.VOUCHERED, applications=None, bank_key="paying_bank") -> DisbursementPlan:
    apps = list(applications if applications is not None else pay.applications)
    first = apps[0]
    _counter["plan"] += 1
    civil = pay.world.orgs["civil"]
    plan = DisbursementPlan.objects.create(
        number=f"FA-T{_counter['plan']:05d}", title="测试发放方案", policy=first.policy, period=first.period,
        fiscal_year=int(first.period[:4]), region_id="500101000000", business_line=first.policy.business_line,
        organization=civil, bank=pay.world.orgs[bank_key], status=status, step_started_on=clock.today(),
        created_by="factory")
    for app in apps:
        acct = app.payee_account or app.beneficiary.accounts.get(is_active=True)
        PaymentItem.objects.create(
            plan=plan, application=app, beneficiary=app.beneficiary, policy=app.policy, period=app.period,
            region=app.region, amount=app.amount, payee_account=acct, payee_name=app.beneficiary.name,
            account_enc=bytes(acct.account_enc), account_digest=acct.account_digest,
            account_masked=acct.account_masked, bank_name=acct.bank_name)
    total = sum((a.amount for a in apps), Decimal("0.00"))
    plan.item_count, plan.total_amount = len(apps), total
    if status in MOUNTED_OR_LATER:
        indicator_commit(actor=pay.scope("civil"), indicator_id=pay.indicator.pk, amount=total,
                         ref_type="payment_plan", ref_id=plan.number, policy_code=first.policy.code,
                         fiscal_year=plan.fiscal_year)
        plan.indicator_id, plan.committed_amount = pay.indicator.pk, total
        DisbursementEntry.objects.create(plan=plan, indicator_id=pay.indicator.pk, kind=EntryKind.COMMITTED,
                                         amount=total, booked_on=clock.today(), created_at=clock.now(),
                                         actor="factory")
    plan.save()
    return plan


def build_batch(pay, plan, *, items=None, status=BatchStatus.RELEASED, kind=BatchKind.FIRST) -> PaymentBatch:
    """A batch of `items` (default: the plan's sendable items) with one new attempt each; released batches have
    paid the indicator and booked SENT entries, like batch_release does."""
    items = list(items if items is not None else plan.items.filter(
        status__in=[ItemStatus.PENDING, ItemStatus.CORRECTED]).order_by("id"))
    _counter["batch"] += 1
    batch = PaymentBatch.objects.create(
        number=f"PB-T{_counter['batch']:05d}", plan=plan, kind=kind, bank=plan.bank, policy=plan.policy,
        period=plan.period, region=plan.region, business_line=plan.business_line, indicator_id=plan.indicator_id,
        status=status, created_by="factory")
    total = Decimal("0.00")
    for seq, item in enumerate(items, start=1):
        item.attempt_count += 1
        PaymentAttempt.objects.create(
            item=item, attempt_no=item.attempt_count, batch=batch, seq=seq, amount=item.amount,
            payee_name=item.payee_name, account_enc=bytes(item.account_enc), account_digest=item.account_digest,
            account_masked=item.account_masked, bank_name=item.bank_name, status=AttemptStatus.SENT)
        item.status = ItemStatus.SENDING
        item.save(update_fields=["attempt_count", "status"])
        total += item.amount
    batch.item_count, batch.total_amount = len(items), total
    if status != BatchStatus.PREPARED:
        batch.released_at = clock.now()
        indicator_pay(actor=pay.scope("civil"), indicator_id=plan.indicator_id, amount=total,
                      ref_type="payment_plan", ref_id=plan.number)
        for attempt in batch.attempts.all():
            DisbursementEntry.objects.create(plan=plan, batch=batch, attempt_id=attempt.pk,
                                             indicator_id=plan.indicator_id, kind=EntryKind.SENT,
                                             amount=attempt.amount, booked_on=clock.today(),
                                             created_at=clock.now(), actor="factory")
        if plan.status == PlanStatus.VOUCHERED:
            plan.status = PlanStatus.PAYING
            plan.save(update_fields=["status"])
    batch.save()
    return batch


def bank_org(pay, key="paying_bank") -> Organization:
    return pay.world.orgs[key]
