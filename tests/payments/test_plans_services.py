"""Disbursement plans: build, approve, submit, finance review/return, mount, cancel (services/plans.py)."""

from decimal import Decimal

import pytest

from yikatong.core.errors import DomainError, ScopeError, TransitionError
from yikatong.payments.models import (
    DisbursementEntry,
    DisbursementPlan,
    EntryKind,
    ItemStatus,
    PaymentItem,
    PlanEvent,
    PlanStatus,
)
from yikatong.payments.services.plans import (
    plan_approve,
    plan_build,
    plan_cancel,
    plan_mount,
    plan_return,
    plan_review_ok,
    plan_submit,
)
from yikatong.policies.models import IndicatorEntry

WANZHOU = "500101000000"


def build(pay, key="civil", **kwargs):
    args = {"policy_code": "WZ-001", "period": "2026-03", "region_code": WANZHOU, "bank_code": "WZ-NSH"}
    args.update(kwargs)
    return plan_build(actor=pay.scope(key), **args)


def test_build_copies_register(pay):
    plan = build(pay)
    assert plan.status == PlanStatus.DRAFT
    assert plan.number.startswith("FA20260310")
    assert plan.item_count == 5 and plan.total_amount == Decimal("1500.00") and plan.held_count == 0
    items = list(PaymentItem.objects.filter(plan=plan).order_by("id"))
    assert {i.payee_name for i in items} == {"王一", "王二", "王三", "王四", "王五"}
    assert all(i.status == ItemStatus.PENDING and i.account_masked and i.account_digest for i in items)


def to_reviewed(pay, plan):
    plan_approve(actor=pay.scope("civil"), plan_id=plan.pk)
    plan_submit(actor=pay.scope("civil"), plan_id=plan.pk)
    return plan_review_ok(actor=pay.scope("finance"), plan_id=plan.pk, note="同意支付")


def test_happy_path_every_transition(pay):
    civil, finance = pay.scope("civil"), pay.scope("finance")
    plan = build(pay, title="2026年3月临时生活补助")
    assert plan.title == "2026年3月临时生活补助"
    plan = plan_approve(actor=civil, plan_id=plan.pk, note="局长审批")
    assert plan.status == PlanStatus.APPROVED
    plan = plan_submit(actor=civil, plan_id=plan.pk)
    assert plan.status == PlanStatus.SUBMITTED
    assert str(plan.step_deadline) == "2026-03-17"  # 5 working days from Tue 2026-03-10
    plan = plan_review_ok(actor=finance, plan_id=plan.pk, note="同意")
    assert plan.status == PlanStatus.REVIEWED
    assert plan.review_note.startswith("同意\n审核通过：应付 5 笔 1,500.00 元")
    plan = plan_mount(actor=civil, plan_id=plan.pk, indicator_id=pay.indicator.pk)
    assert plan.status == PlanStatus.MOUNTED and plan.committed_amount == Decimal("1500.00")
    pay.indicator.refresh_from_db()
    assert pay.indicator.committed_total == Decimal("1500.00")
    assert pay.indicator.available == Decimal("98500.00")
    entry = IndicatorEntry.objects.get(ref_type="payment_plan", ref_id=plan.number)
    assert entry.kind == "committed" and entry.amount == Decimal("1500.00")
    booked = DisbursementEntry.objects.get(plan=plan)
    assert booked.kind == EntryKind.COMMITTED and booked.amount == Decimal("1500.00")
    assert booked.indicator_id == pay.indicator.pk
    actions = list(PlanEvent.objects.filter(plan=plan).values_list("action", flat=True))
    assert actions == ["approve", "submit", "review_ok", "mount"]


def test_return_and_resubmit(pay):
    civil, finance = pay.scope("civil"), pay.scope("finance")
    plan = build(pay)
    plan_approve(actor=civil, plan_id=plan.pk)
    plan_submit(actor=civil, plan_id=plan.pk)
    with pytest.raises(DomainError, match="退回原因"):
        plan_return(actor=finance, plan_id=plan.pk, reason="  ")
    plan = plan_return(actor=finance, plan_id=plan.pk, reason="补贴期间与指标文件不符")
    assert plan.status == PlanStatus.RETURNED and plan.returned_reason == "补贴期间与指标文件不符"
    with pytest.raises(TransitionError):
        plan_mount(actor=civil, plan_id=plan.pk, indicator_id=pay.indicator.pk)
    plan = plan_submit(actor=civil, plan_id=plan.pk, note="已核对")
    assert plan.status == PlanStatus.SUBMITTED
    plan = plan_review_ok(actor=finance, plan_id=plan.pk)
    assert plan.status == PlanStatus.REVIEWED and plan.returned_reason == ""
    assert list(plan.events.values_list("action", flat=True)) == ["approve", "submit", "return", "submit",
                                                                  "review_ok"]


def test_cancel_releases_items_for_a_new_plan(pay):
    civil = pay.scope("civil")
    plan = build(pay)
    with pytest.raises(DomainError, match="作废原因"):
        plan_cancel(actor=civil, plan_id=plan.pk, reason="")
    plan = plan_cancel(actor=civil, plan_id=plan.pk, reason="代发银行变更")
    assert plan.status == PlanStatus.CANCELLED and plan.item_count == 0
    assert not PaymentItem.objects.filter(plan=plan).exists()
    again = build(pay, bank_code="WZ-ICBC")
    assert again.item_count == 5 and again.bank.code == "WZ-ICBC"
    plan_approve(actor=civil, plan_id=again.pk)
    plan_submit(actor=civil, plan_id=again.pk)
    with pytest.raises(TransitionError, match="不能作废方案"):
        plan_cancel(actor=civil, plan_id=again.pk, reason="x")


@pytest.mark.parametrize("key", ["collector", "agri", "fl_civil", "paying_bank", "finance", "supervisor"])
def test_build_refused_for_wrong_role(pay, key):
    with pytest.raises(ScopeError):
        build(pay, key)
    assert not DisbursementPlan.objects.exists() and not PaymentItem.objects.exists()


@pytest.mark.parametrize("key", ["collector", "agri", "fl_civil", "paying_bank", "finance"])
def test_department_steps_refused_for_others(pay, key):
    plan = build(pay)
    for call in (plan_approve, plan_submit):
        with pytest.raises(ScopeError):
            call(actor=pay.scope(key), plan_id=plan.pk)
    with pytest.raises(ScopeError):
        plan_cancel(actor=pay.scope(key), plan_id=plan.pk, reason="x")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT and not plan.events.exists()


@pytest.mark.parametrize("key", ["civil", "agri", "collector", "paying_bank", "finance_other", "supervisor"])
def test_review_refused_for_all_but_county_finance(pay, key):
    plan = build(pay)
    plan_approve(actor=pay.scope("civil"), plan_id=plan.pk)
    plan_submit(actor=pay.scope("civil"), plan_id=plan.pk)
    with pytest.raises(ScopeError):
        plan_review_ok(actor=pay.scope(key), plan_id=plan.pk)
    with pytest.raises(ScopeError):
        plan_return(actor=pay.scope(key), plan_id=plan.pk, reason="不同意")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SUBMITTED


def test_mount_refused_for_others(pay):
    plan = to_reviewed(pay, build(pay))
    for key in ("agri", "finance", "fl_civil", "paying_bank", "collector"):
        with pytest.raises(ScopeError):
            plan_mount(actor=pay.scope(key), plan_id=plan.pk, indicator_id=pay.indicator.pk)
    pay.indicator.refresh_from_db()
    assert pay.indicator.committed_total == 0
    assert not DisbursementEntry.objects.exists()


def drain_indicator(pay, leave="1000.00"):
    """Commit all but `leave` of the indicator for another reference."""
    from yikatong.policies.services.indicators import indicator_commit

    pay.indicator.refresh_from_db()
    indicator_commit(actor=pay.scope("civil"), indicator_id=pay.indicator.pk,
                     amount=pay.indicator.available - Decimal(leave), ref_type="payment_plan", ref_id="OTHER",
                     policy_code="WZ-001", fiscal_year=2026)


def test_review_over_indicator_balance_refused(pay):
    plan = build(pay)
    plan_approve(actor=pay.scope("civil"), plan_id=plan.pk)
    plan_submit(actor=pay.scope("civil"), plan_id=plan.pk)
    drain_indicator(pay)
    events = plan.events.count()
    with pytest.raises(DomainError, match="指标余额不足") as exc:
        plan_review_ok(actor=pay.scope("finance"), plan_id=plan.pk)
    assert "1,000.00" in exc.value.message and "1,500.00" in exc.value.message
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SUBMITTED and plan.events.count() == events and plan.review_note == ""


def test_mount_over_indicator_balance_refused_and_nothing_changed(pay):
    plan = to_reviewed(pay, build(pay))
    drain_indicator(pay)
    pay.indicator.refresh_from_db()
    before = (pay.indicator.committed_total, pay.indicator.available)
    with pytest.raises(DomainError, match="指标余额不足"):
        plan_mount(actor=pay.scope("civil"), plan_id=plan.pk, indicator_id=pay.indicator.pk)
    plan.refresh_from_db()
    pay.indicator.refresh_from_db()
    assert plan.status == PlanStatus.REVIEWED and plan.indicator_id is None and plan.committed_amount == 0
    assert (pay.indicator.committed_total, pay.indicator.available) == before
    assert not DisbursementEntry.objects.exists()
    assert not IndicatorEntry.objects.filter(ref_id=plan.number).exists()


def test_policy_not_in_library_refused(pay):
    with pytest.raises(DomainError, match="不在 2026 年度") as exc:
        build(pay, policy_code="WZ-OUT")
    assert exc.value.code == "not_in_library"
    assert not DisbursementPlan.objects.exists()


def test_bad_inputs_refused(pay):
    with pytest.raises(DomainError, match="补贴期间"):
        build(pay, period="2026/03")
    with pytest.raises(DomainError, match="不是县级区划"):
        build(pay, region_code="500101001000")
    with pytest.raises(DomainError, match="不是有效的代发银行"):
        build(pay, bank_code="WZ-SSKYH")
    with pytest.raises(DomainError, match="不存在"):
        build(pay, policy_code="NOPE")
    with pytest.raises(DomainError, match="没有可发放的对象") as exc:
        build(pay, period="2026-04")
    assert exc.value.code == "nothing_to_pay"
    assert not DisbursementPlan.objects.exists()


def test_unpayable_card_and_missing_account_are_held(pay):
    from yikatong.registry.models import PayeeAccount

    PayeeAccount.objects.filter(beneficiary=pay.people["p2"], is_active=True).update(card_status="lost")
    PayeeAccount.objects.filter(beneficiary=pay.people["p3"], is_active=True).update(is_active=False)
    plan = build(pay)
    assert plan.item_count == 5 and plan.held_count == 2 and plan.total_amount == Decimal("1500.00")
    lost = PaymentItem.objects.get(plan=plan, beneficiary=pay.people["p2"])
    assert lost.status == ItemStatus.HELD and "挂失" in lost.hold_reason
    assert lost.account_masked  # the snapshot is kept for when the card is fixed
    none = PaymentItem.objects.get(plan=plan, beneficiary=pay.people["p3"])
    assert none.status == ItemStatus.HELD and "无有效收款账户" in none.hold_reason
    assert none.payee_account_id is None and none.account_masked == ""
    plan = to_reviewed(pay, plan)
    plan = plan_mount(actor=pay.scope("civil"), plan_id=plan.pk, indicator_id=pay.indicator.pk)
    assert plan.committed_amount == Decimal("900.00")


def test_rebuild_skips_itemized_applications(pay):
    from tests.payments.factory import build_plan

    first = build_plan(pay, status=PlanStatus.DRAFT, applications=pay.applications[:2])
    plan = build(pay)
    assert plan.item_count == 3 and plan.total_amount == Decimal("900.00")
    assert PaymentItem.objects.count() == 5
    with pytest.raises(DomainError, match="没有可发放的对象"):
        build(pay)
    assert DisbursementPlan.objects.count() == 2 and first.items.count() == 2


def test_mount_refuses_foreign_indicator(pay):
    from yikatong.policies.services.indicators import indicator_receive

    plan = to_reviewed(pay, build(pay))
    other = indicator_receive(actor=pay.scope("finance"), doc_no="万州财社〔2026〕9号", received_on="2026-03-06",
                              amount="5000.00", source_level="county", policy_code="WZ-PRIV", fiscal_year=2026,
                              region_code=WANZHOU)
    with pytest.raises(DomainError, match="不能用于补贴项目 WZ-001"):
        plan_mount(actor=pay.scope("civil"), plan_id=plan.pk, indicator_id=other.pk)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.REVIEWED
