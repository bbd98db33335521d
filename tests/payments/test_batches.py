"""Payment batches: batch_create (first / resend), batch_release, batch_cancel, scope, bank visibility."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from tests.payments.factory import build_batch, build_plan
from yikatong.checks.models import Finding
from yikatong.core.errors import DomainError, ScopeError, TransitionError
from yikatong.payments.models import (
    AttemptStatus,
    BatchKind,
    BatchStatus,
    DisbursementEntry,
    EntryKind,
    ItemEvent,
    ItemStatus,
    PaymentAttempt,
    PaymentBatch,
    PaymentItem,
    PlanStatus,
)
from yikatong.payments.selectors.batches import batch_get, batches_visible, deadline_state
from yikatong.payments.services.batches import batch_cancel, batch_create, batch_release
from yikatong.policies.models import BudgetIndicator
from yikatong.policies.services.indicators import indicator_commit, indicator_return
from yikatong.registry.models import PayeeAccount

pytestmark = pytest.mark.django_db


def _indicator(pay) -> BudgetIndicator:
    return BudgetIndicator.objects.get(pk=pay.indicator.pk)


def test_first_batch_happy_path(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    civil = pay.scope("civil")
    batch = batch_create(actor=civil, plan_id=plan.pk)
    assert batch.kind == BatchKind.FIRST and batch.status == BatchStatus.PREPARED
    assert batch.number.startswith("PB20260310")
    assert batch.item_count == 5 and batch.total_amount == Decimal("1500.00")
    attempts = list(batch.attempts.order_by("seq"))
    assert [a.seq for a in attempts] == [1, 2, 3, 4, 5]
    assert [a.item_id for a in attempts] == sorted(a.item_id for a in attempts)
    assert {a.attempt_no for a in attempts} == {1} and {a.status for a in attempts} == {AttemptStatus.SENT}
    assert set(plan.items.values_list("status", flat=True)) == {ItemStatus.SENDING}
    assert set(plan.items.values_list("attempt_count", flat=True)) == {1}
    paid_before = _indicator(pay).paid_total

    batch = batch_release(actor=civil, batch_id=batch.pk)
    assert batch.status == BatchStatus.RELEASED and batch.pay_deadline.isoformat() == "2026-03-12"
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAYING
    assert _indicator(pay).paid_total - paid_before == Decimal("1500.00")
    sent = DisbursementEntry.objects.filter(batch=batch, kind=EntryKind.SENT)
    assert sent.count() == 5 and sent.aggregate(s=Sum("amount"))["s"] == batch.total_amount
    assert set(sent.values_list("attempt_id", flat=True)) == {a.pk for a in attempts}
    assert deadline_state(batch) == "ok"

    with pytest.raises(TransitionError):
        batch_release(actor=civil, batch_id=batch.pk)
    assert DisbursementEntry.objects.filter(batch=batch, kind=EntryKind.SENT).count() == 5
    with pytest.raises(DomainError, match="没有已更正待补发的明细"):
        batch_create(actor=civil, plan_id=plan.pk)


def test_unpayable_card_and_block_finding_are_held_and_not_in_file(pay, django_capture_on_commit_callbacks):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    items = list(plan.items.order_by("id"))
    PayeeAccount.objects.filter(pk=items[0].payee_account_id).update(card_status="lost")
    # R06 (amount above the policy standard, block): 350.00 for a fixed 300.00 policy
    PaymentItem.objects.filter(pk=items[1].pk).update(amount=Decimal("350.00"))
    civil = pay.scope("civil")
    batch = batch_create(actor=civil, plan_id=plan.pk)
    held = {i.pk: i for i in plan.items.filter(status=ItemStatus.HELD)}
    assert set(held) == {items[0].pk, items[1].pk}
    assert "挂失" in held[items[0].pk].hold_reason and "R06" in held[items[1].pk].hold_reason
    assert ItemEvent.objects.filter(item_id__in=held, action="hold").count() == 2
    assert Finding.objects.filter(ref_type="payment_item", ref_id=str(items[1].pk), rule="R06").exists()
    assert batch.item_count == 3 and batch.total_amount == Decimal("900.00")
    assert not batch.attempts.filter(item_id__in=held).exists()
    plan.refresh_from_db()
    assert plan.held_count == 2

    with django_capture_on_commit_callbacks(execute=True):
        batch_release(actor=civil, batch_id=batch.pk)
    from yikatong.core.services.files import file_abspath
    from yikatong.payments.services.batch_files import batch_documents

    docs = batch_documents(batch)
    assert set(docs) == {"csv", "xlsx", "pain001"}
    text = file_abspath(docs["csv"].file).read_text(encoding="utf-8-sig")
    lines = text.strip().splitlines()
    assert len(lines) == 1 + 3 + 1 and lines[-1].startswith("合计,3,")
    accounts_held = {PayeeAccount.objects.get(pk=items[k].payee_account_id) for k in (0, 1)}
    from yikatong.core.crypto import decrypt_text

    for account in accounts_held:
        assert decrypt_text(account.account_enc) not in text


def test_nothing_sendable_refused_and_nothing_changed(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    PayeeAccount.objects.filter(pk__in=plan.items.values("payee_account_id")).update(card_status="not_activated")
    with pytest.raises(DomainError, match="没有可发送的明细"):
        batch_create(actor=pay.scope("civil"), plan_id=plan.pk)
    assert not PaymentBatch.objects.exists()
    assert set(plan.items.values_list("status", flat=True)) == {ItemStatus.PENDING}


def _failed_and_corrected(pay, plan, batch, item_ids):
    """Mark attempts failed, the money back in the treasury and the items corrected (what results/corrections
    do), directly through the models."""
    attempts = batch.attempts.filter(item_id__in=item_ids)
    total = sum(a.amount for a in attempts)
    attempts.update(status=AttemptStatus.FAILED, failure_reason="户名不符")
    PaymentAttempt.objects.filter(batch=batch).exclude(item_id__in=item_ids).update(status=AttemptStatus.PAID)
    PaymentItem.objects.filter(pk__in=item_ids).update(status=ItemStatus.CORRECTED)
    PaymentItem.objects.filter(plan=plan).exclude(pk__in=item_ids).update(status=ItemStatus.PAID)
    indicator_return(actor=pay.scope("civil"), indicator_id=plan.indicator_id, amount=total,
                     ref_type="payment_plan", ref_id=plan.number)
    return total


def test_resend_takes_only_corrected_items_and_commits(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    first = build_batch(pay, plan, status=BatchStatus.COMPLETED)
    plan.refresh_from_db()
    failed = list(plan.items.order_by("id").values_list("pk", flat=True)[:2])
    _failed_and_corrected(pay, plan, first, failed)
    ind = _indicator(pay)
    committed_before, available_before = ind.committed_total, ind.available
    resend = batch_create(actor=pay.scope("civil"), plan_id=plan.pk)
    assert resend.kind == BatchKind.RESEND and resend.item_count == 2 and resend.total_amount == Decimal("600.00")
    assert set(resend.attempts.values_list("item_id", flat=True)) == set(failed)
    assert set(resend.attempts.values_list("attempt_no", flat=True)) == {2}
    ind = _indicator(pay)
    assert ind.available == available_before - Decimal("600.00")
    assert ind.committed_total == committed_before + Decimal("600.00")
    plan.refresh_from_db()
    assert plan.committed_amount == Decimal("2100.00")
    assert DisbursementEntry.objects.filter(plan=plan, kind=EntryKind.COMMITTED).aggregate(
        s=Sum("amount"))["s"] == Decimal("2100.00")

    # cancelling the resend gives the commitment back and makes the items sendable again
    batch_cancel(actor=pay.scope("civil"), batch_id=resend.pk, reason="账号需再次核对")
    resend.refresh_from_db()
    assert resend.status == BatchStatus.CANCELLED
    assert set(resend.attempts.values_list("status", flat=True)) == {AttemptStatus.WITHDRAWN}
    assert set(PaymentItem.objects.filter(pk__in=failed).values_list("status", flat=True)) == {ItemStatus.CORRECTED}
    assert _indicator(pay).available == available_before
    assert DisbursementEntry.objects.get(plan=plan, kind=EntryKind.RELEASED).amount == Decimal("600.00")
    again = batch_create(actor=pay.scope("civil"), plan_id=plan.pk)
    assert set(again.attempts.values_list("attempt_no", flat=True)) == {3}


def test_resend_over_indicator_balance_refused(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    first = build_batch(pay, plan, status=BatchStatus.COMPLETED)
    plan.refresh_from_db()
    failed = list(plan.items.order_by("id").values_list("pk", flat=True)[:1])
    _failed_and_corrected(pay, plan, first, failed)
    ind = _indicator(pay)
    indicator_commit(actor=pay.scope("civil"), indicator_id=ind.pk, amount=ind.available - Decimal("100.00"),
                     ref_type="payment_plan", ref_id="OTHER-PLAN", policy_code="WZ-001", fiscal_year=2026)
    before = _indicator(pay).available
    with pytest.raises(DomainError, match="补发需挂接预算指标 300.00 元") as exc:
        batch_create(actor=pay.scope("civil"), plan_id=plan.pk)
    assert "余额" in exc.value.message
    assert PaymentBatch.objects.count() == 1
    assert _indicator(pay).available == before
    assert PaymentItem.objects.get(pk=failed[0]).status == ItemStatus.CORRECTED
    plan.refresh_from_db()
    assert plan.committed_amount == Decimal("1500.00")


@pytest.mark.parametrize("who", ["finance", "agri", "fl_civil", "paying_bank", "supervisor"])
def test_wrong_actor_refused(pay, who):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    with pytest.raises(ScopeError):
        batch_create(actor=pay.scope(who), plan_id=plan.pk)
    batch = build_batch(pay, plan, status=BatchStatus.PREPARED)
    with pytest.raises(ScopeError):
        batch_release(actor=pay.scope(who), batch_id=batch.pk)
    with pytest.raises(ScopeError):
        batch_cancel(actor=pay.scope(who), batch_id=batch.pk, reason="测试")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PREPARED


def test_cancel_only_prepared(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    batch = batch_create(actor=pay.scope("civil"), plan_id=plan.pk)
    with pytest.raises(DomainError, match="原因"):
        batch_cancel(actor=pay.scope("civil"), batch_id=batch.pk, reason=" ")
    batch_cancel(actor=pay.scope("civil"), batch_id=batch.pk, reason="银行变更")
    assert set(plan.items.values_list("status", flat=True)) == {ItemStatus.PENDING}
    with pytest.raises(TransitionError):
        batch_release(actor=pay.scope("civil"), batch_id=batch.pk)
    second = batch_create(actor=pay.scope("civil"), plan_id=plan.pk)  # a cancelled first batch may be redone
    assert set(second.attempts.values_list("attempt_no", flat=True)) == {2}
    batch_release(actor=pay.scope("civil"), batch_id=second.pk)
    with pytest.raises(TransitionError):
        batch_cancel(actor=pay.scope("civil"), batch_id=second.pk, reason="太迟")


def test_bank_sees_only_its_released_batches(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    prepared = build_batch(pay, plan, status=BatchStatus.PREPARED)
    released = PaymentBatch.objects.create(
        number="PB-OWN", plan=plan, bank=plan.bank, policy=plan.policy, period=plan.period, region=plan.region,
        business_line=plan.business_line, status=BatchStatus.RELEASED, created_by="t")
    foreign = PaymentBatch.objects.create(
        number="PB-FOREIGN", plan=plan, bank=pay.world.orgs["paying_bank2"], policy=plan.policy,
        period=plan.period, region=plan.region, business_line=plan.business_line, status=BatchStatus.RELEASED,
        created_by="t")
    bank = pay.scope("paying_bank")
    assert set(batches_visible(bank)) == {released}
    assert set(batches_visible(pay.scope("paying_bank2"))) == {foreign}
    with pytest.raises(DomainError):
        batch_get(bank, prepared.pk)
    with pytest.raises(DomainError):
        batch_get(bank, foreign.pk)
    assert set(batches_visible(pay.scope("civil"))) == {prepared, released, foreign}
    assert set(batches_visible(pay.scope("finance"))) == {prepared, released, foreign}
    assert not batches_visible(pay.scope("agri")).exists()
    assert not batches_visible(pay.scope("fl_civil")).exists()
    with pytest.raises(ScopeError):
        batches_visible(pay.scope("card_bank"))


def test_an_item_released_from_hold_while_the_plan_is_paying_goes_out_in_the_next_batch(pay):
    from yikatong.payments.services.corrections import item_hold, item_unhold

    civil = pay.scope("civil")
    plan = build_plan(pay)  # vouchered, 5 × 300.00 committed
    held = plan.items.order_by("id").first()
    item_hold(actor=civil, item_id=held.pk, reason="待核实银行卡")
    first = batch_create(actor=civil, plan_id=plan.pk)
    assert first.item_count == 4
    batch_release(actor=civil, batch_id=first.pk)
    item_unhold(actor=civil, item_id=held.pk, reason="核实无误")
    held.refresh_from_db()
    assert held.status == ItemStatus.PENDING
    before = _indicator(pay)
    second = batch_create(actor=civil, plan_id=plan.pk)
    assert second.kind == BatchKind.RESEND and second.item_count == 1 and second.total_amount == Decimal("300.00")
    after = _indicator(pay)
    assert after.committed_total == before.committed_total  # its money was committed already: not twice
    batch_release(actor=civil, batch_id=second.pk)
    assert _indicator(pay).paid_total == Decimal("1500.00")
