"""Pages of disbursement plans (发放方案) and the payment request to finance: the list with filters and deadline
badges, the build form, one plan with totals, items (paginated, masked), history, the action forms of its
state (approve, submit, finance review / return, mount with the eligible indicators, vouchers, cancel) and the
document downloads.

Thin: reads through selectors.plans (scoped), writes through services.plans / services.documents. A page or
action without the permission is a 403 page; a plan outside the reader's scope a 404; a service's refusal is
shown in Chinese on the page (400) and nothing is written.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yikatong.core import audit
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Organization, OrgKind
from yikatong.core.money import format_yuan
from yikatong.core.regions import is_within
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_abspath
from yikatong.core.tabular import attachment_header
from yikatong.policies.models import PolicyStatus
from yikatong.policies.selectors import policies_visible

from . import workflow
from .forms_plans import BuildForm, MountForm, NoteForm, PlanFilterForm, ReasonForm
from .models import DisbursementPlan, DocumentKind, ItemStatus, PaymentDocument, PlanStatus
from .selectors import plans as sel
from .services.documents import plan_issue_vouchers
from .services.plans import (
    payable_totals,
    plan_approve,
    plan_build,
    plan_cancel,
    plan_mount,
    plan_return,
    plan_review_ok,
    plan_submit,
)
from .tasks_plans import plan_vouchers_enqueue, vouchers_in_background

PAGE_SIZE = 50
ACTION_LABELS = {tr.action: tr.label for tr in workflow.PLAN_TRANSITIONS}
STATUS_LABELS = dict(PlanStatus.choices)
ITEM_PAGE_SIZE = 100
BADGES = {"overdue": "badge-danger", "due_soon": "badge-warn", "ok": "badge-info"}
STATUS_BADGES = {"draft": "badge-muted", "approved": "badge-info", "submitted": "badge-warn",
                 "returned": "badge-danger", "reviewed": "badge-info", "mounted": "badge-info",
                 "vouchered": "badge-ok", "paying": "badge-ok", "completed": "badge-ok", "cancelled": "badge-muted"}
# action → (form class, label shown on the button, success message)
ACTIONS = {
    "approve": (NoteForm, "审批方案", "发放方案已审批。"),
    "submit": (NoteForm, "报送财政审核", "已报送财政部门审核（5 个工作日内办结）。"),
    "review_ok": (NoteForm, "审核通过", "财政审核通过，请主管部门挂接预算指标。"),
    "return": (ReasonForm, "退回主管部门", "已退回主管部门。"),
    "mount": (MountForm, "挂接指标", "已挂接预算指标。"),
    "issue": (None, "生成支付凭证", "已生成资金支付申请、国库集中支付凭证和批量业务支付明细。"),
    "cancel": (ReasonForm, "作废方案", "发放方案已作废，方案中的对象可重新编入发放方案。"),
}


def scope_for(request, permission: str = "payment.view") -> Scope:
    scope = Scope.for_user(request.user)
    scope.require(permission)
    return scope


def visible_plan(scope: Scope, pk: int) -> DisbursementPlan:
    try:
        return sel.plan_get(scope, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _deadline(plan):
    state = sel.deadline_state(plan)
    return {**state, "badge": BADGES[state["state"]]} if state else None


def document_response(scope: Scope, doc: PaymentDocument) -> FileResponse:
    """Download one plan document; the details XLSX carries full account numbers: pii.view_full and an audit
    event for every download."""
    full = doc.kind == DocumentKind.BATCH_DETAILS and doc.file.original_name.endswith(".xlsx")
    if full:
        scope.require("pii.view_full")
    try:
        handle = open(file_abspath(doc.file), "rb")  # noqa: SIM115 — FileResponse closes it
    except FileNotFoundError as exc:
        raise Http404("文件已丢失，请联系系统管理员。") from exc
    audit.record(actor=scope, action="payment_document.download", obj=doc, region_code=doc.plan.region_id,
                 after={"number": doc.number, "kind": doc.kind, "file": doc.file.original_name,
                        "full_accounts": full})
    response = FileResponse(handle, content_type=doc.file.content_type or "application/octet-stream")
    response["Content-Disposition"] = attachment_header(doc.file.original_name)
    response["Cache-Control"] = "private, no-store"
    return response


# -- list --------------------------------------------------------------------------------------------
@login_required
def plan_list(request):
    scope = scope_for(request)
    policies = list(policies_visible(scope)) if scope.can("policy.view") else []
    filters = PlanFilterForm(request.GET or None, policies=policies)
    args = filters.values()
    plans = sel.plans_visible(scope, status=args.get("status"), policy_code=args.get("policy"),
                              period=args.get("period"), q=args.get("q"))
    page = Paginator(plans, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "title": "发放方案", "filters": filters, "page": page, "filter_query": query.urlencode(),
        "rows": [{"plan": p, "deadline": _deadline(p), "badge": STATUS_BADGES.get(p.status, "")}
                 for p in page.object_list],
        "can_build": scope.can("payment.plan") and not scope.read_only,
    }
    return render(request, "payments/plan_list.html", context)


# -- build -------------------------------------------------------------------------------------------
def _build_choices(scope: Scope):
    policies = [p for p in policies_visible(scope).exclude(status=PolicyStatus.RETIRED)
                if is_within(scope.region_code, p.region_id)]
    banks = [b for b in Organization.objects.filter(kind=OrgKind.PAYING_BANK, active=True).order_by("code")
             if is_within(b.region_id, scope.region_code) or is_within(scope.region_code, b.region_id)]
    return policies, banks


@login_required
def plan_build_view(request):
    scope = scope_for(request)
    scope.require_write("payment.plan")
    policies, banks = _build_choices(scope)
    status = 200
    if request.method == "POST":
        form = BuildForm(request.POST, policies=policies, banks=banks)
        if form.is_valid():
            data = form.cleaned_data
            try:
                plan = plan_build(actor=scope, policy_code=data["policy"], period=data["period"],
                                  region_code=scope.region_code, bank_code=data["bank"], title=data["title"])
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = 403 if isinstance(exc, ScopeError) else 400
            else:
                messages.success(request, f"已编制发放方案 {plan.number}：{plan.item_count} 人，"
                                          f"{format_yuan(plan.total_amount)} 元（暂缓 {plan.held_count} 人）。")
                return redirect("payments:plan-detail", pk=plan.pk)
        else:
            status = 400
    else:
        form = BuildForm(policies=policies, banks=banks)
    return render(request, "payments/plan_build.html", {"title": "编制发放方案", "form": form}, status=status)


# -- one plan ----------------------------------------------------------------------------------------
def _action_forms(scope: Scope, plan: DisbursementPlan, bound: dict) -> list[dict]:
    forms = []
    for action in sel.plan_actions(scope, plan):
        form_class, label, _done = ACTIONS[action]
        form = bound.get(action)
        extra = {}
        if form_class is MountForm:
            indicators = sel.eligible_indicators(scope, plan) if scope.can("indicator.view") else []
            form = form or MountForm(indicators=indicators)
            extra["indicators"] = indicators
        elif form_class is not None:
            form = form or form_class()
        forms.append({"action": action, "label": label, "form": form, **extra,
                      "danger": action in ("cancel", "return")})
    return forms


def _render_detail(request, scope: Scope, plan: DisbursementPlan, *, status: int = 200, bound=None):
    item_status = request.GET.get("item_status") or None
    if item_status not in (None, *ItemStatus.values):
        item_status = None
    items = Paginator(sel.plan_items(scope, plan, status=item_status), ITEM_PAGE_SIZE).get_page(
        request.GET.get("page"))
    count, payable = payable_totals(plan.pk)
    docs = list(sel.plan_documents(scope, plan))
    actions = _action_forms(scope, plan, bound or {})
    shown = {a["action"] for a in actions}
    # a refusal of an action no longer offered in this state is shown on top of the page
    errors = [e for action, form in (bound or {}).items() if action not in shown and form is not None
              for errs in form.errors.values() for e in errs]
    context = {
        "title": f"发放方案 {plan.number}", "plan": plan, "deadline": _deadline(plan),
        "status_badge": STATUS_BADGES.get(plan.status, ""), "payable_count": count, "payable_amount": payable,
        "items": items, "item_status": item_status or "", "item_statuses": ItemStatus.choices,
        "events": [{"e": e, "label": ACTION_LABELS.get(e.action, e.action),
                    "from": STATUS_LABELS.get(e.from_status, e.from_status), "to": STATUS_LABELS.get(e.to_status)}
                   for e in sel.plan_events(scope, plan)],
        "documents": docs,
        "can_full_details": scope.can("pii.view_full"),
        "actions": actions, "errors": errors,
        "batches": list(plan.batches.order_by("id")),
        "can_create_batch": (scope.can("payment.plan") and not scope.read_only
                             and plan.status in (PlanStatus.VOUCHERED, PlanStatus.PAYING)),
    }
    return render(request, "payments/plan_detail.html", context, status=status)


@login_required
def plan_detail(request, pk: int):
    scope = scope_for(request)
    return _render_detail(request, scope, visible_plan(scope, pk))


def _call(scope: Scope, plan: DisbursementPlan, action: str, data: dict):
    if action == "approve":
        return plan_approve(actor=scope, plan_id=plan.pk, note=data["note"])
    if action == "submit":
        return plan_submit(actor=scope, plan_id=plan.pk, note=data["note"])
    if action == "review_ok":
        return plan_review_ok(actor=scope, plan_id=plan.pk, note=data["note"])
    if action == "return":
        return plan_return(actor=scope, plan_id=plan.pk, reason=data["reason"])
    if action == "mount":
        return plan_mount(actor=scope, plan_id=plan.pk, indicator_id=data["indicator"])
    if action == "cancel":
        return plan_cancel(actor=scope, plan_id=plan.pk, reason=data["reason"])
    return plan_issue_vouchers(actor=scope, plan_id=plan.pk)


@login_required
@require_POST
def plan_act(request, pk: int, action: str):
    scope = scope_for(request)
    plan = visible_plan(scope, pk)
    if action not in ACTIONS:
        raise Http404("没有这个操作。")
    form_class, _label, done = ACTIONS[action]
    if form_class is MountForm:
        indicators = sel.eligible_indicators(scope, plan) if scope.can("indicator.view") else []
        form = MountForm(request.POST, indicators=indicators)
    else:
        form = form_class(request.POST) if form_class else None
    if action == "issue" and vouchers_in_background(plan):
        try:
            job = plan_vouchers_enqueue(actor=scope, plan=plan)
        except ScopeError:
            raise
        except DomainError as exc:
            messages.error(request, exc.message)
            return _render_detail(request, scope, visible_plan(scope, pk), status=400)
        messages.info(request, f"方案共 {plan.item_count} 笔明细，支付凭证正在后台生成，完成后可在方案页下载。")
        return redirect("core:job-detail", job_id=job.pk)
    if form is None or form.is_valid():
        try:
            _call(scope, plan, action, form.cleaned_data if form else {})
        except ScopeError:
            raise
        except DomainError as exc:
            if form is None:
                messages.error(request, exc.message)
                return _render_detail(request, scope, visible_plan(scope, pk), status=400)
            form.add_error(None, exc.message)
        else:
            messages.success(request, done)
            return redirect("payments:plan-detail", pk=plan.pk)
    return _render_detail(request, scope, visible_plan(scope, pk), status=400, bound={action: form})


@login_required
def plan_document_download(request, pk: int, doc_id: int):
    scope = scope_for(request)
    try:
        doc = sel.plan_document_get(scope, pk, doc_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    return document_response(scope, doc)
