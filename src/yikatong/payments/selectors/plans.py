"""Reads of disbursement plans, their items, history and documents — always scoped.

Who sees a plan: departments of its business line in its region (and above), finance / supervisor / regulator /
admin of its region and above (all lines). Banks see no plans: they see their batches (selectors of the batch
module). Collectors (township) lie below the county a plan belongs to, so they see none either.
"""

import datetime as dt

from django.db.models import Q, QuerySet

from yikatong.core import clock, workdays
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from .. import workflow
from ..models import DisbursementPlan, PaymentDocument, PaymentItem, PlanEvent, PlanStatus
from ..services.plans import eligible_indicators as _eligible

# States whose clock (step_deadline) is running and someone must act.
OPEN_STATES = (PlanStatus.DRAFT, PlanStatus.APPROVED, PlanStatus.SUBMITTED, PlanStatus.RETURNED,
               PlanStatus.REVIEWED, PlanStatus.MOUNTED)
DEADLINE_LABELS = {"overdue": "已超期", "due_soon": "即将到期", "ok": "期限内"}


def plans_visible(scope: Scope, *, status: str | None = None, policy_code: str | None = None,
                  period: str | None = None, q: str | None = None) -> QuerySet[DisbursementPlan]:
    scope.require("payment.view")
    if scope.own_org_only:
        return DisbursementPlan.objects.none()
    qs = scope.filter(DisbursementPlan.objects.all(), region_field="region_id", business_line_field="business_line")
    if status:
        qs = qs.filter(status=status)
    if policy_code:
        qs = qs.filter(policy__code=policy_code)
    if period:
        qs = qs.filter(period=period)
    if q:
        qs = qs.filter(Q(number__icontains=q.strip()) | Q(title__icontains=q.strip()))
    return qs.select_related("policy", "region", "bank", "organization", "indicator").order_by("-id")


def plan_get(scope: Scope, pk) -> DisbursementPlan:
    """The plan if visible; DomainError(code="not_found") when it does not exist or is out of scope."""
    try:
        return plans_visible(scope).get(pk=pk)
    except (DisbursementPlan.DoesNotExist, ValueError, TypeError):
        raise DomainError("发放方案不存在或不在您的查看范围内。", code="not_found") from None


def plan_items(scope: Scope, plan: DisbursementPlan, *, status: str | None = None) -> QuerySet[PaymentItem]:
    """Items of a visible plan (masked columns only are meant for display)."""
    plan_get(scope, plan.pk)
    qs = PaymentItem.objects.filter(plan_id=plan.pk)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("region").order_by("id")


def plan_events(scope: Scope, plan: DisbursementPlan) -> QuerySet[PlanEvent]:
    plan_get(scope, plan.pk)
    return PlanEvent.objects.filter(plan_id=plan.pk).order_by("id")


def plan_documents(scope: Scope, plan: DisbursementPlan) -> QuerySet[PaymentDocument]:
    """The plan's own documents (application, voucher, details); batch files belong to the batch pages."""
    plan_get(scope, plan.pk)
    kinds = ("application", "voucher", "details")
    return PaymentDocument.objects.filter(plan_id=plan.pk, kind__in=kinds).select_related("file").order_by("id")


def plan_document_get(scope: Scope, plan_pk, doc_pk) -> PaymentDocument:
    plan = plan_get(scope, plan_pk)
    doc = plan_documents(scope, plan).filter(pk=doc_pk).first()
    if doc is None:
        raise DomainError("单据不存在或不在您的查看范围内。", code="not_found")
    return doc


def eligible_indicators(scope: Scope, plan: DisbursementPlan):
    """Indicators the plan may be mounted on, with their available balance (for the mount form)."""
    plan_get(scope, plan.pk)
    scope.require("indicator.view")
    return list(_eligible(plan))


def deadline_state(plan: DisbursementPlan, today: dt.date | None = None) -> dict | None:
    """{state, label, days_overdue} of the plan's running clock, None when it has none."""
    if plan.status not in OPEN_STATES or plan.step_deadline is None:
        return None
    today = today or clock.today()
    state = workdays.deadline_status(plan.step_deadline, today)
    return {"state": state, "label": DEADLINE_LABELS[state], "deadline": plan.step_deadline,
            "days_overdue": workdays.days_overdue(plan.step_deadline, today) if state == "overdue" else 0}


def plan_actions(scope: Scope, plan: DisbursementPlan) -> list[str]:
    """The actions this reader may take on the plan now (for buttons), by the transition table, the
    permission and the scope rules of the services (a department acts on its own organization's plans, finance
    only of its own county). The services check again."""
    if scope.read_only:
        return []
    allowed = []
    for tr in workflow.actions_for("plan", plan.status):
        if tr.action in ("pay", "complete") or not scope.can(tr.permission):
            continue
        if tr.permission == "payment.plan" and not scope.is_system and scope.organization_id != plan.organization_id:
            continue
        if tr.permission == "payment.review" and not scope.is_system and scope.region_code != plan.region_id:
            continue
        allowed.append(tr.action)
    return allowed
