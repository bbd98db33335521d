"""The failed-items work list (发放失败待更正) and the overdue corrections (warnings), scoped.

Departments see their business line in their region, collectors their township (all lines), finance and
supervisors their region; banks nothing here."""

from django.db.models import QuerySet

from yikatong.core import clock, masking, workdays
from yikatong.core.scope import Scope

from ..models import ItemStatus, PaymentItem

WORKLIST_STATUSES = (ItemStatus.FAILED, ItemStatus.CORRECTED, ItemStatus.HELD)
STATUS_LABELS = dict(ItemStatus.choices)


def items_visible(scope: Scope) -> QuerySet:
    scope.require("payment.view")
    if scope.own_org_only:
        return PaymentItem.objects.none()
    return scope.filter(PaymentItem.objects.all(), region_field="region_id",
                        business_line_field="plan__business_line")


def failed_items(scope: Scope, *, status: str | None = None, plan_id=None, region_code: str | None = None,
                 overdue: bool = False, limit: int | None = None) -> list[dict]:
    """The work list: failed (default), corrected or held items with reason, deadline and its badge."""
    statuses = [status] if status in WORKLIST_STATUSES else [ItemStatus.FAILED]
    qs = items_visible(scope).filter(status__in=statuses)
    if plan_id:
        qs = qs.filter(plan_id=plan_id)
    if region_code:
        qs = qs.filter(scope_region_q(region_code))
    if overdue:
        qs = qs.filter(correction_deadline__lt=clock.today())
    qs = qs.select_related("plan", "region", "policy").order_by("correction_deadline", "id")
    if limit:
        qs = qs[:limit]
    today = clock.today()
    rows = []
    for item in qs:
        state = ""
        if item.status == ItemStatus.FAILED and item.correction_deadline:
            state = workdays.deadline_status(item.correction_deadline, today)
        rows.append({
            "id": item.pk, "item": item, "plan_number": item.plan.number, "plan_id": item.plan_id,
            "policy": item.policy.name, "period": item.period, "village": item.region.name,
            "payee": masking.mask_name(item.payee_name), "account": item.account_masked, "bank": item.bank_name,
            "amount": item.amount, "reason": item.last_failure_reason, "hold_reason": item.hold_reason,
            "deadline": item.correction_deadline, "deadline_state": state, "attempts": item.attempt_count,
            "status": item.status, "status_label": STATUS_LABELS.get(item.status, item.status),
        })
    return rows


def scope_region_q(region_code: str):
    from django.db.models import Q

    from yikatong.core import regions as region_rules

    lo, hi = region_rules.subtree_range(region_code)
    return Q(region_id__gte=lo, region_id__lte=hi)


def overdue_corrections(scope: Scope) -> QuerySet:
    """Failed items past their correction deadline (3 wd) — the warnings list."""
    return items_visible(scope).filter(status=ItemStatus.FAILED, correction_deadline__lt=clock.today()).order_by(
        "correction_deadline", "id")


def item_history(scope: Scope, item_id) -> dict | None:
    """One item with its attempts and human events (for the correction form)."""
    item = items_visible(scope).select_related("plan", "region", "policy").filter(pk=item_id).first()
    if item is None:
        return None
    attempts = list(item.attempts.select_related("batch").order_by("attempt_no"))
    events = list(item.events.order_by("id"))
    return {"item": item, "payee": masking.mask_name(item.payee_name), "attempts": attempts, "events": events}
