"""Disbursement plans (发放方案) and their payment request to finance (资金支付申请) [003 §19-20; SPEC §3.6].

    plan_build      department of the policy's line in the county: the approved register of a policy and period
                    → one plan whose items are inserted by ONE `INSERT … SELECT` (set-based, any size)
    plan_approve    department: draft → approved
    plan_submit     department: approved | returned → submitted (finance review, 5 working days)
    plan_review_ok  finance of the county: submitted → reviewed, when an indicator of the policy/year in the
                    county has an available balance covering the plan's payable total
    plan_return     finance of the county: submitted → returned, with the reason the department sees
    plan_mount      department: reviewed → mounted, committing the payable total on one indicator
                    (policies.services.indicators.indicator_commit, which never overdraws)
    plan_cancel     department: draft | approved | returned → cancelled, with a reason; the plan's items are
                    released (deleted — they never reached a batch or the ledger) so the applications can be
                    planned again

"Payable" = items neither held nor removed. Every service is atomic, locks the plan (common.lock_plan),
checks scope (common.require_plan_scope) and moves it through common.move_plan (history + audit).
"""

import re
from decimal import Decimal

from django.db import IntegrityError, connection, transaction

from yikatong.applications.models import Application
from yikatong.applications.models import Status as ApplicationStatus
from yikatong.core import audit, clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Organization, OrgKind
from yikatong.core.money import format_yuan
from yikatong.core.scope import Scope
from yikatong.core.selectors.regions import existing_code
from yikatong.policies.models import BudgetIndicator, IndicatorStatus, Policy
from yikatong.policies.services.indicators import indicator_commit
from yikatong.policies.services.library import library_require
from yikatong.registry.models import Beneficiary, PayeeAccount
from yikatong.registry.models.accounts import UNPAYABLE_CARD_STATUSES, CardStatus

from .. import workflow
from ..models import (
    DisbursementPlan,
    EntryKind,
    ItemEvent,
    ItemStatus,
    PaymentItem,
    PlanStatus,
)
from .common import book, lock_plan, move_plan, next_number, plan_item_totals, require_plan_scope

PERIOD_RE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])|Q[1-4])?$")
# Items that count for the money of a plan (committed on mount, shown on the vouchers).
UNPAYABLE_ITEM_STATUSES = (ItemStatus.HELD, ItemStatus.REMOVED)
PAYABLE_ITEM_STATUSES = tuple(s for s in ItemStatus.values if s not in UNPAYABLE_ITEM_STATUSES)

HOLD_NO_ACCOUNT = "无有效收款账户：请先登记社会保障卡银行账户后恢复发放。"
_CARD_LABELS = dict(CardStatus.choices)


def hold_reason_for_card(status: str) -> str:
    return f"社会保障卡金融功能状态为“{_CARD_LABELS.get(status, status)}”，不能发放：请核实激活后恢复发放。"


# -- helpers -----------------------------------------------------------------------------------------
def _text(value, what: str, *, max_length: int = 2000) -> str:
    text = str(value or "").strip()
    if not text:
        raise DomainError(f"请填写{what}。", field="reason")
    if len(text) > max_length:
        raise DomainError(f"{what}过长（最多 {max_length} 个字）。", field="reason")
    return text


def _policy(code: str) -> Policy:
    policy = Policy.objects.filter(code=str(code or "").strip()).first()
    if policy is None:
        raise DomainError(f"补贴项目 {code} 不存在。", field="policy")
    return policy


def _county(code: str) -> str:
    code = existing_code(code, field="region")
    if region_rules.level_of(code) != region_rules.COUNTY:
        raise DomainError(f"发放方案按县（区）编制：区划 {code} 不是县级区划。", field="region")
    return code


def _period(value: str) -> str:
    period = str(value or "").strip()
    if not PERIOD_RE.match(period):
        raise DomainError(f"补贴期间“{value}”格式不正确，应为 2026、2026Q1 或 2026-03。", field="period")
    return period


def _bank(code: str, county: str) -> Organization:
    bank = Organization.objects.filter(code=str(code or "").strip()).first()
    if bank is None:
        raise DomainError(f"代发银行 {code} 不存在。", field="bank")
    if bank.kind != OrgKind.PAYING_BANK or not bank.active:
        raise DomainError(f"{bank.name}不是有效的代发银行。", field="bank")
    if not (region_rules.is_within(county, bank.region_id) or region_rules.is_within(bank.region_id, county)):
        raise DomainError(f"{bank.name}不在本县（区）服务范围内，请选择本地代发银行。", field="bank")
    return bank


def payable_totals(plan_id) -> tuple[int, Decimal]:
    """(count, amount) of the plan's payable items (neither held nor removed), computed by the database."""
    return plan_item_totals(plan_id, statuses=PAYABLE_ITEM_STATUSES)


def refresh_totals(plan: DisbursementPlan) -> DisbursementPlan:
    """Recompute item_count / total_amount / held_count from the items (one aggregate query)."""
    from django.db.models import Count, Q, Sum

    row = PaymentItem.objects.filter(plan_id=plan.pk).exclude(status=ItemStatus.REMOVED).aggregate(
        n=Count("id"), total=Sum("amount"), held=Count("id", filter=Q(status=ItemStatus.HELD)))
    plan.item_count = row["n"] or 0
    plan.total_amount = row["total"] or Decimal("0.00")
    plan.held_count = row["held"] or 0
    return plan


def eligible_indicators(plan: DisbursementPlan):
    """Indicators the plan may be mounted on: active, of its policy and fiscal year, held in its county."""
    return (BudgetIndicator.objects.filter(policy_id=plan.policy_id, fiscal_year=plan.fiscal_year,
                                           region_id=plan.region_id, status=IndicatorStatus.ACTIVE)
            .select_related("holder").order_by("-available", "id"))


# -- build -------------------------------------------------------------------------------------------
def _insert_items(plan: DisbursementPlan, lo: str, hi: str) -> int:
    """INSERT … SELECT the approved applications not yet in any payment item; returns rows inserted.

    The payee snapshot comes from the beneficiary's one active PayeeAccount (an application's account that
    has since been superseded is never paid). No active account or an unpayable card → the item is held with
    the reason. ON CONFLICT DO NOTHING: an application itemized by a concurrent build is skipped, never
    duplicated (unique key payment_item_once)."""
    item, app = PaymentItem._meta.db_table, Application._meta.db_table
    person, acct = Beneficiary._meta.db_table, PayeeAccount._meta.db_table
    unpayable = list(UNPAYABLE_CARD_STATUSES)
    marks = ", ".join(["%s"] * len(unpayable))
    card_cases = " ".join(["WHEN pa.card_status = %s THEN %s"] * len(unpayable))
    now = connection.ops.adapt_datetimefield_value(clock.now())
    sql = f"""
        INSERT INTO {item} (plan_id, application_id, beneficiary_id, policy_id, period, region_id, amount,
            payee_account_id, payee_name, account_enc, account_digest, account_masked, bank_name, status,
            hold_reason, attempt_count, last_failure_reason, created_at, updated_at)
        SELECT %s, a.id, a.beneficiary_id, a.policy_id, a.period, a.region_id, a.amount,
            pa.id, b.name, COALESCE(pa.account_enc, %s), COALESCE(pa.account_digest, ''),
            COALESCE(pa.account_masked, ''), COALESCE(pa.bank_name, ''),
            CASE WHEN pa.id IS NULL OR pa.card_status IN ({marks}) THEN %s ELSE %s END,
            CASE WHEN pa.id IS NULL THEN %s {card_cases} ELSE '' END,
            0, '', %s, %s
        FROM {app} a
        JOIN {person} b ON b.id = a.beneficiary_id
        LEFT JOIN {acct} pa ON pa.beneficiary_id = a.beneficiary_id AND pa.is_active = %s
        WHERE a.policy_id = %s AND a.period = %s AND a.status = %s AND a.region_id >= %s AND a.region_id <= %s
          AND NOT EXISTS (SELECT 1 FROM {item} i WHERE i.beneficiary_id = a.beneficiary_id
                          AND i.policy_id = a.policy_id AND i.period = a.period)
        ORDER BY a.region_id, a.id
        ON CONFLICT DO NOTHING"""
    params = [plan.pk, b"", *unpayable, ItemStatus.HELD.value, ItemStatus.PENDING.value, HOLD_NO_ACCOUNT]
    for status in unpayable:
        params += [status, hold_reason_for_card(status)]
    params += [now, now, True, plan.policy_id, plan.period, ApplicationStatus.APPROVED.value, lo, hi]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@transaction.atomic
def plan_build(*, actor: Scope, policy_code: str, period: str, region_code: str, bank_code: str,
               title: str = "") -> DisbursementPlan:
    """Build a plan from the approved applications of `policy_code`/`period` in the county `region_code` that
    are in no payment item yet. Refused unless the actor is a department of the policy's business line in
    that county, the policy is in the year's project library there, and there is something to pay."""
    actor.require_write("payment.plan")
    policy = _policy(policy_code)
    county = _county(region_code)
    period = _period(period)
    actor.require_region(county)
    actor.require_business_line(policy.business_line)
    if not actor.is_system and actor.region_code != county:
        raise ScopeError("发放方案须由本县（区）的主管部门编制。")
    bank = _bank(bank_code, county)
    year = int(period[:4])
    library_require(policy=policy, region_code=county, year=year)
    organization_id = actor.organization_id or policy.department_id
    title = str(title or "").strip()[:200] or f"{policy.name} {period} 发放方案"
    lo, hi = region_rules.subtree_range(county)
    try:
        with transaction.atomic():
            plan = DisbursementPlan.objects.create(
                number=next_number("FA", DisbursementPlan), title=title, policy=policy, period=period,
                fiscal_year=year, region_id=county, business_line=policy.business_line,
                organization_id=organization_id, bank=bank, status=PlanStatus.DRAFT,
                step_started_on=clock.today(), created_by=actor.username)
    except IntegrityError:  # a concurrent build took the same number: the caller may simply retry
        raise DomainError("方案编号冲突（有人同时编制发放方案），请重试。", code="conflict") from None
    inserted = _insert_items(plan, lo, hi)
    if inserted <= 0:
        raise DomainError(
            f"没有可发放的对象：{county} 补贴项目 {policy.code} {period} 没有审核通过且尚未列入发放方案的申报。"
            "已列入其他发放方案的对象不会重复发放。", code="nothing_to_pay")
    refresh_totals(plan)
    plan.save(update_fields=["item_count", "total_amount", "held_count"])
    count, payable = payable_totals(plan.pk)
    audit.record(actor=actor, action="payment_plan.build", obj=plan, after={
        "number": plan.number, "policy": policy.code, "period": period, "bank": bank.code,
        "item_count": plan.item_count, "total_amount": str(plan.total_amount), "held_count": plan.held_count,
        "payable_count": count, "payable_amount": str(payable)})
    return plan


# -- department steps --------------------------------------------------------------------------------
@transaction.atomic
def plan_approve(*, actor: Scope, plan_id, note: str = "") -> DisbursementPlan:
    plan = lock_plan(plan_id)
    require_plan_scope(actor, plan, "payment.plan")
    workflow.plan_transition("approve", plan.status)
    if payable_totals(plan.pk)[0] == 0:
        raise DomainError("方案中没有可发放的明细（全部暂缓或剔除），不能审批。请恢复发放或作废方案。")
    return move_plan(actor, plan, "approve", reason=str(note or "").strip())


@transaction.atomic
def plan_submit(*, actor: Scope, plan_id, note: str = "") -> DisbursementPlan:
    """Report the payment request to finance (first time or again after a return): 5 working days."""
    plan = lock_plan(plan_id)
    require_plan_scope(actor, plan, "payment.plan")
    workflow.plan_transition("submit", plan.status)
    library_require(policy=plan.policy, region_code=plan.region_id, year=plan.fiscal_year)
    count, _ = payable_totals(plan.pk)
    if count == 0:
        raise DomainError("方案中没有可发放的明细，不能报送财政审核。")
    refresh_totals(plan)
    plan.review_note = ""
    return move_plan(actor, plan, "submit", reason=str(note or "").strip(),
                     extra_fields=["item_count", "total_amount", "held_count", "review_note"])


@transaction.atomic
def plan_cancel(*, actor: Scope, plan_id, reason: str) -> DisbursementPlan:
    plan = lock_plan(plan_id)
    require_plan_scope(actor, plan, "payment.plan")
    reason = _text(reason, "作废原因")
    workflow.plan_transition("cancel", plan.status)
    count, total = plan_item_totals(plan.pk)
    # The items never reached a batch or the ledger (cancel is allowed only before mount): releasing them
    # frees the unique key (beneficiary, policy, period) for a new plan. Their history goes with them; the
    # audit event keeps the count and total.
    items = PaymentItem.objects.filter(plan_id=plan.pk)
    ItemEvent.objects.filter(item__plan_id=plan.pk).delete()
    items.delete()
    plan.item_count, plan.total_amount, plan.held_count = 0, Decimal("0.00"), 0
    move_plan(actor, plan, "cancel", reason=reason, extra_fields=["item_count", "total_amount", "held_count"])
    audit.record(actor=actor, action="payment_plan.release_items", obj=plan, reason=reason,
                 after={"released_items": count, "released_amount": str(total)})
    return plan


# -- finance review ----------------------------------------------------------------------------------
def _require_county_finance(actor: Scope, plan: DisbursementPlan) -> None:
    require_plan_scope(actor, plan, "payment.review")
    if not actor.is_system and actor.region_code != plan.region_id:
        raise ScopeError("资金支付申请须由本县（区）财政部门审核。")


def _best_indicator(plan: DisbursementPlan):
    return eligible_indicators(plan).first()


@transaction.atomic
def plan_review_ok(*, actor: Scope, plan_id, note: str = "") -> DisbursementPlan:
    """Finance approves the payment request when one indicator of the policy/year in the county has an
    available balance covering the payable total; the result is written into the review note."""
    plan = lock_plan(plan_id)
    _require_county_finance(actor, plan)
    workflow.plan_transition("review_ok", plan.status)
    library_require(policy=plan.policy, region_code=plan.region_id, year=plan.fiscal_year)
    count, payable = payable_totals(plan.pk)
    best = _best_indicator(plan)
    available = best.available if best else Decimal("0.00")
    if best is None or available < payable:
        raise DomainError(
            f"指标余额不足：补贴项目 {plan.policy.code} {plan.fiscal_year} 年度在本县（区）可用的预算指标"
            f"{'最高余额为 ' + format_yuan(available) + ' 元（' + best.doc_no + '）' if best else '不存在'}，"
            f"本方案应付 {format_yuan(payable)} 元（{count} 笔）。请追加或调剂指标后再审核，或退回主管部门。",
            code="insufficient")
    result = (f"审核通过：应付 {count} 笔 {format_yuan(payable)} 元；"
              f"可用指标 {best.doc_no} 余额 {format_yuan(available)} 元。")
    note = str(note or "").strip()
    plan.review_note = f"{note}\n{result}" if note else result
    plan.returned_reason = ""
    return move_plan(actor, plan, "review_ok", reason=plan.review_note,
                     extra_fields=["review_note", "returned_reason"])


@transaction.atomic
def plan_return(*, actor: Scope, plan_id, reason: str) -> DisbursementPlan:
    plan = lock_plan(plan_id)
    _require_county_finance(actor, plan)
    reason = _text(reason, "退回原因")
    workflow.plan_transition("return", plan.status)
    plan.returned_reason = reason
    return move_plan(actor, plan, "return", reason=reason, extra_fields=["returned_reason"])


# -- mount -------------------------------------------------------------------------------------------
@transaction.atomic
def plan_mount(*, actor: Scope, plan_id, indicator_id) -> DisbursementPlan:
    """Commit the plan's payable total on an indicator (ref payment_plan:<number>) and book COMMITTED."""
    plan = lock_plan(plan_id)
    require_plan_scope(actor, plan, "payment.plan")
    workflow.plan_transition("mount", plan.status)
    count, payable = payable_totals(plan.pk)
    if count == 0:
        raise DomainError("方案中没有可发放的明细，不能挂接指标。")
    indicator = BudgetIndicator.objects.filter(pk=indicator_id).select_related("policy").first()
    if indicator is None:
        raise DomainError(f"预算指标 {indicator_id} 不存在。", field="indicator", code="not_found")
    if indicator.region_id != plan.region_id:
        raise DomainError(f"预算指标 {indicator.doc_no} 不属于本县（区），不能挂接。", field="indicator")
    indicator_commit(actor=actor, indicator_id=indicator.pk, amount=payable, ref_type="payment_plan",
                     ref_id=plan.number, policy_code=plan.policy.code, fiscal_year=plan.fiscal_year,
                     region_code=plan.region_id, note=f"发放方案 {plan.number} 挂接指标")
    plan.indicator_id, plan.committed_amount = indicator.pk, payable
    move_plan(actor, plan, "mount", reason=f"挂接指标 {indicator.doc_no}，金额 {format_yuan(payable)} 元",
              extra_fields=["indicator", "committed_amount"])
    book(actor=actor, plan=plan, kind=EntryKind.COMMITTED, amount=payable, indicator_id=indicator.pk,
         note=f"挂接指标 {indicator.doc_no}（{count} 笔）")
    return plan
