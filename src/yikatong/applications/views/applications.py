"""Application pages: the list with filters, checkboxes and the batch bar; one application with its history,
deadline, notice, objections and the actions its state allows; the typed entry form that checks as you type
(person lookup by ID, the policy's standard as the amount's upper bound)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from yikatong.core import clock
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.identity import validate_resident_id
from yikatong.core.scope import Scope
from yikatong.policies.rules import max_amount
from yikatong.policies.selectors import policies_visible
from yikatong.registry import selectors as registry_selectors
from yikatong.registry.models import PayeeAccount
from yikatong.registry.services import beneficiary_lookup

from .. import rules, selectors, services, workflow
from ..forms import (
    BATCH_ACTIONS,
    ApplicationFilterForm,
    BatchForm,
    CorrectForm,
    EntryForm,
    NoteForm,
    ReasonForm,
)
from ..models import Application
from ..services.entry import OUT_OF_SCOPE, application_enter
from ..services.online import application_documents
from ._common import (
    can,
    filter_query,
    not_found,
    page_of,
    policy_choices,
    safe_next,
    scope_for,
    show_error,
)

BATCH_SESSION_KEY = "applications_batch_results"
BATCH_SERVICES = {
    "verify": (services.application_verify_batch, "note"),
    "return": (services.application_return_batch, "reason"),
    "withdraw": (services.application_withdraw_batch, "reason"),
    "approve": (services.application_approve_batch, "note"),
    "reject": (services.application_reject_batch, "reason"),
}
# Actions offered on one application's page (publishing and submitting happen on the notice pages).
DETAIL_ACTIONS = ("verify", "correct", "return", "withdraw", "approve", "reject")


# -- the list --------------------------------------------------------------------------------------------
def batch_actions_for(scope: Scope, only: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The batch actions the reader's role can perform, as (action, label)."""
    if scope.read_only:
        return []
    actions = []
    for action, (label, permission) in BATCH_ACTIONS.items():
        if only and action not in only:
            continue
        if permission and not scope.can(permission):
            continue
        if not permission and not any(scope.can(t.permission) for t in workflow.transitions_for(action)):
            continue
        actions.append((action, label))
    return actions


def overdue_only(qs: QuerySet) -> QuerySet:
    return qs.filter(status__in=workflow.DEADLINE_STATES, step_deadline__lt=clock.today())


def pop_batch_results(request) -> dict | None:
    return request.session.pop(BATCH_SESSION_KEY, None)


@login_required
def application_list(request):
    scope = scope_for(request, "application.view")
    filters = ApplicationFilterForm(request.GET or None, policy_choices=policy_choices(scope))
    try:
        qs = selectors.applications_list(scope, **filters.selector_args())
        if filters.overdue_only:
            qs = overdue_only(qs)
    except DomainError as exc:
        show_error(filters, exc, {"region_code": "region"})
        qs = Application.objects.none()
    page = page_of(request, qs)
    context = {
        "title": "补贴申报",
        "filters": filters,
        "page": page,
        "rows": selectors.application_rows(page.object_list),
        "filter_query": filter_query(request),
        "batch_actions": batch_actions_for(scope),
        "batch_results": pop_batch_results(request),
        "can_collect": can(scope, "application.collect"),
        "next_url": request.get_full_path(),
    }
    if request.htmx and request.htmx.target == "application-results":
        return render(request, "applications/_results.html", context)
    return render(request, "applications/list.html", context)


@login_required
@require_POST
def application_batch(request):
    """Apply one action to the checked applications; each item is done whole or refused with its reason.
    The per-item results are shown once on the page the batch came from."""
    scope = scope_for(request, "application.view")
    form = BatchForm(request.POST)
    next_url = safe_next(request, request.POST.get("next", ""), reverse("applications:list"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(next_url)
    action = form.cleaned_data["action"]
    if action not in dict(batch_actions_for(scope)):
        raise ScopeError(f"无权执行此操作：您的角色不能办理“{BATCH_ACTIONS[action][0]}”。", code="forbidden")
    service, text_field = BATCH_SERVICES[action]
    ids = form.cleaned_data["ids"]
    results = service(actor=scope, application_ids=ids, **{text_field: form.cleaned_data[text_field]})
    numbers = dict(selectors.applications_visible(scope).filter(pk__in=ids).values_list("pk", "number"))
    items = [{**r.as_dict(), "number": r.number or numbers.get(r.application_id, f"#{r.application_id}"),
              "status_label": workflow.STATUS_LABELS.get(r.status, "")} for r in results]
    done = sum(1 for r in results if r.ok)
    label = BATCH_ACTIONS[action][0]
    request.session[BATCH_SESSION_KEY] = {"action": label, "items": items, "done": done,
                                          "refused": len(results) - done}
    if done == len(results):
        messages.success(request, f"{label}：{done} 件全部办理成功。")
    else:
        messages.warning(request, f"{label}：成功 {done} 件，未办理 {len(results) - done} 件，原因见下方结果。")
    return redirect(next_url)


# -- one application -------------------------------------------------------------------------------------
def _get(scope: Scope, pk) -> Application:
    try:
        return selectors.application_get(scope, pk)
    except DomainError as exc:
        raise not_found(exc) from exc


def _actions(scope: Scope, app: Application) -> list[str]:
    if scope.read_only:
        return []
    possible = workflow.allowed_actions(app.status)
    actions = []
    for action in DETAIL_ACTIONS:
        if action not in possible:
            continue
        transition = workflow.find_transition(action, app.status)
        if transition is not None and scope.can(transition.permission):
            actions.append(action)
    return actions


def _correct_initial(app: Application) -> dict:
    return {"amount": app.amount, "quantity": "" if app.quantity is None else app.quantity, "tier": app.tier,
            "remarks": app.remarks}


def _events(scope: Scope, app: Application) -> list:
    events = list(selectors.application_history(scope, app.pk))
    for event in events:
        event.from_label = workflow.STATUS_LABELS.get(event.from_status, event.from_status)
        event.to_label = workflow.STATUS_LABELS.get(event.to_status, event.to_status)
    return events


def _detail_context(scope: Scope, app: Application, **forms) -> dict:
    row = selectors.application_rows([app])[0]
    actions = _actions(scope, app)
    entries = list(app.notice_entries.select_related("notice").order_by("-notice_id"))
    context = {
        "title": f"申报 {app.number}",
        "app": app,
        "row": row,
        "events": _events(scope, app),
        "entries": entries,
        "objections": list(app.objections.select_related("notice").order_by("created_at", "pk")),
        "documents": list(application_documents(app)),
        "finding": services.findings_gate([app.pk]).get(app.pk, ""),
        "actions": actions,
        "forms": {
            "verify": NoteForm(auto_id="verify_%s"),
            "approve": NoteForm(auto_id="approve_%s"),
            "return": ReasonForm(auto_id="return_%s"),
            "withdraw": ReasonForm(auto_id="withdraw_%s"),
            "reject": ReasonForm(auto_id="reject_%s"),
            "correct": CorrectForm(auto_id="correct_%s", initial=_correct_initial(app)),
        },
        "labels": workflow.ACTION_LABELS,
    }
    context["forms"].update(forms)
    return context


@login_required
def application_detail(request, pk: int):
    scope = scope_for(request, "application.view")
    app = _get(scope, pk)
    return render(request, "applications/detail.html", _detail_context(scope, app))


def _args_verify(data):
    return {"note": data["note"]}


def _args_reason(data):
    return {"reason": data["reason"]}


def _args_correct(data):
    return {"amount": data["amount"], "quantity": data["quantity"], "tier": data["tier"],
            "remarks": data["remarks"], "reason": data["reason"]}


ONE_ACTIONS = {
    "verify": (NoteForm, services.application_verify, _args_verify, "已入户核实"),
    "approve": (NoteForm, services.application_approve, _args_verify, "已审核通过"),
    "return": (ReasonForm, services.application_return, _args_reason, "已退回修改"),
    "withdraw": (ReasonForm, services.application_withdraw, _args_reason, "已撤回"),
    "reject": (ReasonForm, services.application_reject, _args_reason, "已审核不通过"),
    "correct": (CorrectForm, services.application_correct, _args_correct, "已更正"),
}


@login_required
@require_POST
def application_act(request, pk: int, action: str):
    """One action on one application (the forms on its page)."""
    scope = scope_for(request, "application.view")
    if action not in ONE_ACTIONS:
        raise not_found(DomainError("没有这个操作。"))
    app = _get(scope, pk)
    form_class, service, args, done = ONE_ACTIONS[action]
    form = form_class(request.POST, auto_id=f"{action}_%s")
    status = 400
    if form.is_valid():
        try:
            app = service(actor=scope, application_id=app.pk, **args(form.cleaned_data))
        except ScopeError:
            raise
        except DomainError as exc:
            status = show_error(form, exc)
            if action not in _actions(scope, _get(scope, pk)):
                messages.error(request, exc.message)  # the state changed: its form is not on the page
        else:
            messages.success(request, f"申报 {app.number} {done}，当前状态：{app.get_status_display()}。")
            return redirect("applications:detail", pk=app.pk)
    app = _get(scope, pk)
    return render(request, "applications/detail.html", _detail_context(scope, app, **{action: form}), status=status)


# -- typed entry -----------------------------------------------------------------------------------------
def _entry_form(scope: Scope, data=None) -> EntryForm:
    return EntryForm(data, region_choices=registry_selectors.region_choices(scope),
                     policy_choices=policy_choices(scope))


def person_for(scope: Scope, id_number: str) -> dict:
    """What the entry form shows for an ID number: the registered person (masked), a refusal, or a
    note that the person will be registered."""
    try:
        resident = validate_resident_id(id_number)
    except DomainError as exc:
        return {"state": "invalid", "message": exc.message}
    person = beneficiary_lookup(id_number=resident.number)
    if person is None:
        return {"state": "new"}
    if not scope.covers_region(person.region_id):
        return {"state": "invalid", "message": OUT_OF_SCOPE}
    account = PayeeAccount.objects.filter(beneficiary=person, is_active=True).first()
    return {"state": "registered", "person": person, "account": account}


@login_required
def application_create(request):
    scope = scope_for(request, "application.view")
    scope.require_write("application.collect")
    status = 200
    if request.method == "POST":
        form = _entry_form(scope, request.POST)
        if form.is_valid():
            try:
                app = application_enter(actor=scope, **form.cleaned_data)
            except DomainError as exc:
                status = show_error(form, exc)
            else:
                messages.success(
                    request,
                    f"已保存申报 {app.number}：{app.beneficiary.name}，{app.policy.name} {app.period}，"
                    f"补贴金额 {app.amount} 元；请在 {app.step_deadline} 前完成入户核实。",
                )
                return redirect("applications:detail", pk=app.pk)
        else:
            status = 400
    else:
        form = _entry_form(scope)
    id_number = form.data.get("id_number", "") if form.is_bound else ""
    person = person_for(scope, id_number) if id_number else {"state": ""}
    context = {"title": "录入申报", "form": form, "person": person}
    return render(request, "applications/entry.html", context, status=status)


@login_required
@require_GET
def entry_lookup(request):
    """htmx: the person panel of the entry form for the ID number typed so far."""
    scope = scope_for(request, "application.view")
    scope.require_write("application.collect")
    id_number = request.GET.get("id_number", "")
    person = person_for(scope, id_number) if id_number.strip() else {"state": ""}
    return render(request, "applications/_person_panel.html", {"person": person})


@login_required
@require_GET
def entry_standard(request):
    """htmx: the policy's standard for the quantity/tier typed so far — the amount's upper bound."""
    scope = scope_for(request, "application.view")
    code = request.GET.get("policy_code", "").strip()
    policy = policies_visible(scope).filter(code=code).first() if code else None
    context = {"policy": policy, "standard": None, "message": ""}
    if policy is not None:
        context["cycle_hint"] = rules.PERIOD_KIND_LABELS[rules.CYCLE_PERIOD_KIND[policy.cycle]]
        try:
            quantity = rules.clean_quantity(request.GET.get("quantity"))
            context["standard"] = max_amount(policy, quantity, request.GET.get("tier", "").strip() or None)
        except DomainError as exc:
            context["message"] = exc.message
    return render(request, "applications/_standard.html", context)

