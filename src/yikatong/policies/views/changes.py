"""Change request pages (《惠民惠农财政补贴项目调整变更申请表》): the list, the form with attachments, one
request with its chain of steps and the current step's deadline, and the reviewer's inbox (待我审批)."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from yikatong.core import clock, workdays
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_store

from .. import rules, selectors
from ..forms import ChangeFilterForm, ChangeRequestForm, ChangeReviseForm, OpinionForm, ReasonForm
from ..models import ChangeRequest, ChangeStatus, ChangeType, PolicyStatus
from ..selectors import display_value
from ..services import (
    change_request_approve,
    change_request_create,
    change_request_return,
    change_request_revise,
    change_request_submit,
    change_request_withdraw,
)
from ._common import error_status, filter_query, flash_error, not_found, page_of, scope_for

# The documents set no time limit for a change request step [003 §14]; the platform applies the time limit
# of a department's approval (configurable on the 办理时限 page) so that a waiting step shows a deadline.
REVIEW_TIME_LIMIT_STEP = "department_approval"
DEADLINE_BADGE = {"ok": ("badge-ok", "未到期"), "due_soon": ("badge-warn", "即将到期"),
                  "overdue": ("badge-danger", "已逾期")}
OPEN = (ChangeStatus.DRAFT, ChangeStatus.RETURNED)


def _chain(cr: ChangeRequest):
    return rules.change_chain(cr.region.level)


def current_step_label(cr: ChangeRequest) -> str:
    if cr.status != ChangeStatus.IN_REVIEW:
        return ""
    return _chain(cr)[cr.current_step].label


def step_deadline(cr: ChangeRequest) -> dict | None:
    """Deadline of the step a request in review is waiting at: the time limit counted from when it arrived
    there (the submission or the previous approval)."""
    if cr.status != ChangeStatus.IN_REVIEW:
        return None
    last = cr.steps.filter(round=cr.round).order_by("-decided_at", "-id").first()
    arrived = timezone.localdate(last.decided_at) if last else clock.today()
    deadline = workdays.deadline_for(REVIEW_TIME_LIMIT_STEP, arrived)
    state = workdays.deadline_status(deadline, clock.today())
    badge, label = DEADLINE_BADGE[state]
    return {"date": deadline, "arrived": arrived, "state": state, "badge": badge, "label": label,
            "overdue_days": workdays.days_overdue(deadline, clock.today())}


def may_review(scope: Scope, cr: ChangeRequest) -> bool:
    if cr.status != ChangeStatus.IN_REVIEW or scope.read_only or not scope.can("change.review"):
        return False
    step = _chain(cr)[cr.current_step]
    return rules.step_refusal(step, role=scope.role, actor_region_code=scope.region_code,
                              actor_line=scope.business_line, request_region_code=cr.region_id,
                              policy_line=cr.policy.business_line) is None


def is_applicant(scope: Scope, cr: ChangeRequest) -> bool:
    return (not scope.read_only and scope.can("change.request") and scope.organization_id == cr.applicant_id)


def _get(scope: Scope, pk: int) -> ChangeRequest:
    try:
        return selectors.change_request_detail(scope, pk)
    except DomainError as exc:
        raise not_found(exc) from exc


@login_required
def change_list(request):
    scope = scope_for(request, "policy.view")
    form = ChangeFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.change_requests(scope, status=data.get("status") or None, year=data.get("year") or None)
    page = page_of(request, qs)
    for cr in page.object_list:
        cr.step_label = current_step_label(cr)
    context = {
        "title": "调整变更申请",
        "filters": form,
        "page": page,
        "filter_query": filter_query(request),
        "can_create": scope.can("change.request") and not scope.read_only,
        "awaiting": len(selectors.change_requests_awaiting(scope)) if scope.can("change.review") else 0,
    }
    return render(request, "policies/changes/list.html", context)


def _form_choices(scope: Scope) -> dict:
    today = clock.today()
    region_name = selectors.region_name(scope.region_code) if scope.region_code else ""
    policies = selectors.policies_visible(scope).exclude(status=PolicyStatus.RETIRED)
    return {"regions": [(scope.region_code, f"{region_name}（{scope.region_code}）")],
            "years": [today.year, today.year + 1], "policies": policies}


# A service names these fields; the form shows them here.
CREATE_FIELD_MAP = {"new_standard": "new_standard_type", "documents": "documents", "year": "year"}


def _create_field(exc: DomainError) -> str | None:
    if exc.field in ("standard_type", "standard_amount", "unit_name", "tiers", "cycle", "target_group", "min_age",
                     "max_age", "valid_from", "valid_to", "means_tested"):
        return f"new_{exc.field}"
    return CREATE_FIELD_MAP.get(exc.field, exc.field)


@login_required
def change_create(request):
    scope = scope_for(request, "policy.view")
    scope.require_write("change.request")
    choices = _form_choices(scope)
    status = 200
    if request.method == "POST":
        form = ChangeRequestForm(request.POST, request.FILES, **choices)
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():  # attachments are kept only with the request they belong to
                    files = [file_store(actor=scope, fileobj=f, original_name=f.name, purpose="change-request",
                                        region_code=data["region"], organization_id=scope.organization_id,
                                        content_type=getattr(f, "content_type", "") or "")
                             for f in data["documents"]]
                    cr = change_request_create(
                        actor=scope, region_code=data["region"], year=data["year"], policy_code=data["policy"],
                        change_type=data["change_type"], content=data["content"], reason=data["reason"],
                        amount_impact=data["amount_impact"] or 0,
                        new_standard=form.new_standard() if data["change_type"] == ChangeType.MODIFY else None,
                        documents=files,
                    )
            except DomainError as exc:
                field = _create_field(exc)
                form.add_error(field if field in form.fields else None, exc.message)
                status = error_status(exc)
            else:
                messages.success(request, f"已填报调整变更申请 {cr.number}（草稿），核对无误后请提交。")
                return redirect("policies:change-detail", pk=cr.pk)
        else:
            status = 400
    else:
        form = ChangeRequestForm(initial={"region": scope.region_code, "year": clock.today().year,
                                          "policy": request.GET.get("policy", "")}, **choices)
    return render(request, "policies/changes/form.html", {"title": "填报调整变更申请", "form": form},
                  status=status)


def _new_standard_rows(cr: ChangeRequest) -> list[tuple[str, str, str]]:
    """(label, current, requested) for the attributes a modify request changes."""
    from ..services.policy_fields import FIELD_LABELS, snapshot

    current = snapshot(cr.policy)
    return [(FIELD_LABELS.get(k, k), display_value(k, current.get(k)), display_value(k, v))
            for k, v in cr.new_standard.items()]


def _chain_rows(cr: ChangeRequest) -> list[dict]:
    rows = []
    for index, step in enumerate(_chain(cr)):
        if cr.status == ChangeStatus.APPROVED:
            state = "done"
        elif cr.status == ChangeStatus.IN_REVIEW:
            state = "done" if index < cr.current_step else ("current" if index == cr.current_step else "pending")
        else:
            state = "pending"
        rows.append({"index": index + 1, "label": step.label, "state": state})
    return rows


@login_required
def change_detail(request, pk: int):
    scope = scope_for(request, "policy.view")
    cr = _get(scope, pk)
    applicant = is_applicant(scope, cr)
    context = {
        "title": f"调整变更申请 {cr.number}",
        "cr": cr,
        "chain": _chain_rows(cr),
        "steps": cr.steps.select_related("actor_organization").order_by("id"),
        "documents": cr.documents.all(),
        "standard_rows": _new_standard_rows(cr) if cr.new_standard else [],
        "step_label": current_step_label(cr),
        "deadline": step_deadline(cr),
        "can_review": may_review(scope, cr),
        "can_submit": applicant and cr.status in OPEN,
        "can_withdraw": applicant and cr.status in OPEN,
        "revise_form": ChangeReviseForm(initial={"content": cr.content, "reason": cr.reason,
                                                 "amount_impact": str(cr.amount_impact)})
        if applicant and cr.status in OPEN else None,
        "opinion_form": OpinionForm(),
        "reason_form": ReasonForm(),
    }
    return render(request, "policies/changes/detail.html", context)


def _act(request, pk: int, action, success, *, back: str = "detail"):
    scope = scope_for(request, "policy.view")
    cr = _get(scope, pk)
    try:
        cr = action(scope, cr)
    except ScopeError:
        raise
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, success(cr))
    if back == "inbox":
        return redirect("policies:change-inbox")
    return redirect("policies:change-detail", pk=cr.pk)


def _back(request) -> str:
    return "inbox" if request.POST.get("back") == "inbox" else "detail"


@login_required
@require_POST
def change_submit_view(request, pk: int):
    return _act(request, pk, lambda scope, cr: change_request_submit(actor=scope, pk=cr.pk),
                lambda cr: f"申请 {cr.number} 已提交，等待“{current_step_label(cr)}”。")


@login_required
@require_POST
def change_approve_view(request, pk: int):
    opinion = OpinionForm(request.POST)
    text = opinion.cleaned_data["opinion"] if opinion.is_valid() else ""

    def success(cr):
        if cr.status == ChangeStatus.APPROVED:
            return f"申请 {cr.number} 已审批同意并生效。"
        return f"已同意申请 {cr.number}，转“{current_step_label(cr)}”。"

    return _act(request, pk, lambda scope, cr: change_request_approve(actor=scope, pk=cr.pk, opinion=text),
                success, back=_back(request))


@login_required
@require_POST
def change_return_view(request, pk: int):
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _act(request, pk, lambda scope, cr: change_request_return(actor=scope, pk=cr.pk, reason=reason),
                lambda cr: f"申请 {cr.number} 已退回申请部门。", back=_back(request))


@login_required
@require_POST
def change_withdraw_view(request, pk: int):
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _act(request, pk, lambda scope, cr: change_request_withdraw(actor=scope, pk=cr.pk, reason=reason),
                lambda cr: f"申请 {cr.number} 已撤回。")


@login_required
@require_POST
def change_revise_view(request, pk: int):
    form = ChangeReviseForm(request.POST)
    if not form.is_valid():
        scope = scope_for(request, "policy.view")
        cr = _get(scope, pk)
        for errors in form.errors.values():
            messages.error(request, errors[0])
        return redirect("policies:change-detail", pk=cr.pk)
    data = form.cleaned_data
    return _act(request, pk, lambda scope, cr: change_request_revise(
        actor=scope, pk=cr.pk, content=data["content"], reason=data["reason"],
        amount_impact=data["amount_impact"] or "0"), lambda cr: f"申请 {cr.number} 已修改。")


@login_required
def change_inbox(request):
    scope = scope_for(request, "policy.view")
    scope.require("change.review")
    awaiting = selectors.change_requests_awaiting(scope)
    for cr in awaiting:
        cr.step_label = current_step_label(cr)
        cr.deadline = step_deadline(cr)
    awaiting.sort(key=lambda cr: cr.deadline["date"] if cr.deadline else dt.date.max)
    return render(request, "policies/changes/inbox.html",
                  {"title": "待我审批", "awaiting": awaiting, "reason_form": ReasonForm(),
                   "opinion_form": OpinionForm()})

