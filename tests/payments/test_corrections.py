"""Correcting failed items (3 wd, one person one card), hold/unhold/remove and what a removal releases."""

from decimal import Decimal

import pytest

from tests.applications.conftest import luhn_account
from tests.payments.factory import build_batch, build_plan
from tests.payments.money_helpers import apply_result, item_of
from yikatong.core.errors import DomainError, ScopeError, TransitionError
from yikatong.payments.models import DisbursementEntry, EntryKind, ItemEvent, ItemStatus, PlanStatus
from yikatong.payments.selectors.corrections import failed_items, overdue_corrections
from yikatong.payments.services.corrections import (
    item_correct,
    item_hold,
    item_remove,
    item_unhold,
    items_hold,
    items_remove,
)
from yikatong.payments.services.reconciliation import reconcile
from yikatong.policies.models import IndicatorEntry
from yikatong.registry.models import PayeeAccount

NEW_ACCOUNT = luhn_account("622848000000000123")


@pytest.fixture
def failed(pay):
    """A released plan: p1 failed (money returned), p2 paid, p3..p5 in flight."""
    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    attempts = {a.item.beneficiary_id: a for a in batch.attempts.select_related("item")}
    apply_result(pay, attempts[pay.people["p1"].pk], ok=False, reason="账户已销户")
    apply_result(pay, attempts[pay.people["p2"].pk], ok=True)
    return plan


def test_department_corrects_with_a_new_account_through_the_registry(pay, failed):
    item = item_of(pay, "p1")
    old_digest = item.account_digest
    item = item_correct(actor=pay.scope("civil"), item_id=item.pk, reason="更换为新社保卡账户",
                        account_number=NEW_ACCOUNT, bank_name="中国农业银行")
    assert item.status == ItemStatus.CORRECTED
    active = PayeeAccount.objects.get(beneficiary=pay.people["p1"], is_active=True)
    assert active.account_digest == item.account_digest != old_digest
    assert item.payee_account_id == active.pk and item.bank_name == "中国农业银行"
    assert PayeeAccount.objects.filter(beneficiary=pay.people["p1"], is_active=False).count() == 1
    event = ItemEvent.objects.filter(item=item, action="correct").get()
    assert event.from_status == "failed" and event.to_status == "corrected"
    assert event.changes["account_masked"]["to"].endswith(NEW_ACCOUNT[-4:])
    assert NEW_ACCOUNT not in str(event.changes) and event.changes["overdue"] is False


def test_collector_of_the_township_corrects_without_new_data(pay, failed):
    item = item_correct(actor=pay.scope("collector"), item_id=item_of(pay, "p1").pk, reason="核实账户正常，重新发放")
    assert item.status == ItemStatus.CORRECTED
    # a second correction of a corrected item is allowed and kept in the history
    item_correct(actor=pay.scope("collector"), item_id=item.pk, reason="再次核实")
    assert ItemEvent.objects.filter(item=item, action="correct").count() == 2


@pytest.mark.parametrize("who", ["finance", "agri", "collector2", "fl_civil", "paying_bank", "supervisor"])
def test_wrong_role_line_or_region_is_refused(pay, failed, who):
    item = item_of(pay, "p1")
    with pytest.raises(ScopeError):
        item_correct(actor=pay.scope(who), item_id=item.pk, reason="更正")
    item.refresh_from_db()
    assert item.status == ItemStatus.FAILED and not ItemEvent.objects.filter(item=item).exists()


def test_unpayable_card_is_refused_until_activated(pay, failed):
    item = item_of(pay, "p1")
    PayeeAccount.objects.filter(beneficiary=pay.people["p1"], is_active=True).update(card_status="not_activated")
    with pytest.raises(DomainError) as exc:
        item_correct(actor=pay.scope("civil"), item_id=item.pk, reason="重新发放")
    assert exc.value.code == "card_unpayable" and "未激活" in exc.value.message
    PayeeAccount.objects.filter(beneficiary=pay.people["p1"], is_active=True).update(card_status="activated")
    assert item_correct(actor=pay.scope("civil"), item_id=item.pk, reason="卡已激活").status == "corrected"


def test_only_failed_items_and_a_reason(pay, failed):
    with pytest.raises(DomainError, match="只有发放失败"):
        item_correct(actor=pay.scope("civil"), item_id=item_of(pay, "p3").pk, reason="更正")
    with pytest.raises(DomainError, match="请填写原因"):
        item_correct(actor=pay.scope("civil"), item_id=item_of(pay, "p1").pk, reason=" ")
    with pytest.raises(DomainError, match="不存在"):
        item_correct(actor=pay.scope("civil"), item_id=999999, reason="更正")


def test_late_correction_is_allowed_but_flagged_and_listed_as_overdue(pay, failed):
    item = item_of(pay, "p1")
    assert item.correction_deadline is not None
    civil = pay.scope("civil")
    assert [i["id"] for i in failed_items(civil)] == [item.pk]
    assert overdue_corrections(civil).count() == 0
    pay.set_today((item.correction_deadline.replace(day=item.correction_deadline.day + 1)).isoformat())
    assert [i.pk for i in overdue_corrections(civil)] == [item.pk]
    assert overdue_corrections(pay.scope("collector2")).count() == 0
    item = item_correct(actor=civil, item_id=item.pk, reason="逾期补正")
    event = ItemEvent.objects.get(item=item, action="correct")
    assert event.changes["overdue"] is True and "逾期" in event.reason


def test_remove_pending_item_releases_its_commitment(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    item = item_of(pay, "p4")
    pay.indicator.refresh_from_db()
    available = pay.indicator.available
    item_remove(actor=pay.scope("civil"), item_id=item.pk, reason="死亡注销")
    item.refresh_from_db()
    assert item.status == ItemStatus.REMOVED
    pay.indicator.refresh_from_db()
    assert pay.indicator.available == available + Decimal("300.00")
    assert IndicatorEntry.objects.filter(ref_id=plan.number, kind="released").get().amount == Decimal("300.00")
    assert DisbursementEntry.objects.filter(plan=plan, kind=EntryKind.RELEASED).get().amount == Decimal("300.00")
    plan.refresh_from_db()
    assert plan.committed_amount == Decimal("1200.00")
    assert reconcile(actor=pay.scope("finance"), plan_id=plan.pk)["balanced"]


def test_remove_failed_returned_item_releases_nothing(pay, failed):
    item_remove(actor=pay.scope("civil"), item_id=item_of(pay, "p1").pk, reason="放弃领取")
    assert not DisbursementEntry.objects.filter(plan=failed, kind=EntryKind.RELEASED).exists()
    assert not IndicatorEntry.objects.filter(ref_id=failed.number, kind="released").exists()
    assert reconcile(actor=pay.scope("finance"), plan_id=failed.pk)["balanced"]


def test_remove_of_an_item_at_the_bank_is_refused(pay, failed):
    with pytest.raises(TransitionError):
        item_remove(actor=pay.scope("civil"), item_id=item_of(pay, "p3").pk, reason="剔除")
    with pytest.raises(ScopeError):
        item_remove(actor=pay.scope("collector"), item_id=item_of(pay, "p1").pk, reason="剔除")


def test_hold_unhold_and_bulk_results(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    civil = pay.scope("civil")
    ids = [item_of(pay, k).pk for k in ("p1", "p2")]
    results = items_hold(actor=civil, item_ids=[*ids, ids[0], 999999], reason="卡片待核实")
    assert [r.ok for r in results] == [True, True, False]
    plan.refresh_from_db()
    assert plan.held_count == 2
    assert item_of(pay, "p1").hold_reason == "卡片待核实"
    with pytest.raises(TransitionError):
        item_hold(actor=civil, item_id=ids[0], reason="再次暂缓")
    item_unhold(actor=civil, item_id=ids[0], reason="已核实")
    plan.refresh_from_db()
    assert plan.held_count == 1 and item_of(pay, "p1").status == ItemStatus.PENDING
    removed = items_remove(actor=civil, item_ids=ids, reason="不再符合条件")
    assert all(r.ok for r in removed)
    plan.refresh_from_db()
    assert plan.held_count == 0 and plan.committed_amount == Decimal("900.00")
    assert reconcile(actor=civil, plan_id=plan.pk)["balanced"]


def test_removing_the_last_unpaid_item_completes_the_plan(pay, failed):
    from tests.payments.money_helpers import resend

    civil = pay.scope("civil")
    for key in ("p3", "p4", "p5"):
        attempt = item_of(pay, key).attempts.get(status="sent")
        apply_result(pay, attempt, ok=True)
    item_remove(actor=civil, item_id=item_of(pay, "p1").pk, reason="放弃领取")
    failed.refresh_from_db()
    assert failed.status == PlanStatus.COMPLETED
    assert resend(pay, failed) is None


def test_a_failed_item_released_from_hold_is_failed_again_and_resent_only_once_corrected(pay, failed):
    """Its money went back to the treasury: released from hold it must not look pending (a pending item of a
    paying plan is resent as if its money were still committed), so it is failed again; corrected, its
    follow-up batch commits the money again — the indicator is never paid more than was committed."""
    from yikatong.payments.services.batches import batch_create, batch_release

    civil = pay.scope("civil")
    item = item_of(pay, "p1")
    assert item.status == ItemStatus.FAILED
    item_hold(actor=civil, item_id=item.pk, reason="暂缓核实")
    item_unhold(actor=civil, item_id=item.pk, reason="恢复")
    item.refresh_from_db()
    assert item.status == ItemStatus.FAILED
    assert list(ItemEvent.objects.filter(item=item).values_list("action", flat=True).order_by("id"))[-2:] == [
        "hold", "unhold_failed"]
    with pytest.raises(DomainError):  # nothing to resend before the correction
        batch_create(actor=civil, plan_id=failed.pk)
    item_correct(actor=civil, item_id=item.pk, reason="核实后补发")
    item_hold(actor=civil, item_id=item.pk, reason="再次暂缓")
    item_unhold(actor=civil, item_id=item.pk, reason="恢复")
    item.refresh_from_db()
    assert item.status == ItemStatus.CORRECTED
    batch = batch_create(actor=civil, plan_id=failed.pk)
    assert list(batch.attempts.values_list("item_id", flat=True)) == [item.pk]
    batch_release(actor=civil, batch_id=batch.pk)  # refused if it paid more than was committed
    assert reconcile(actor=civil, plan_id=failed.pk)["balanced"]
