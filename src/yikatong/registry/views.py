"""Registry pages: the beneficiary list (masked), one beneficiary with its accounts and versions, the
registration forms (person, organization), correction, the payee account change, the card status (HR)
and the logged full view of one personal identifier. Thin: every read is a selector, every write a
service; a service's refusal is shown next to the field it names."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope

from . import rules, selectors, services
from .forms import (
    AccountForm,
    BeneficiaryEditForm,
    BeneficiaryFilterForm,
    CardStatusForm,
    OrganizationForm,
    PersonForm,
    RevealForm,
)
from .models import AccountKind, Beneficiary, BeneficiaryKind

PAGE_SIZE = 50
# A service names the identifier "account"; the account form shows it as "account_number".
FIELD_MAP = {"account": "account_number", "source": "reason"}


# -- helpers -------------------------------------------------------------------------------------------
def scope_for(request, permission: str | None = None) -> Scope:
    scope = Scope.for_user(request.user)
    if permission:
        scope.require(permission)
    return scope


def show_error(form: forms.Form, exc: DomainError) -> int:
    """Put a service's refusal under its field (or on top); the HTTP status to answer with."""
    field = FIELD_MAP.get(exc.field, exc.field)
    form.add_error(field if field and field in form.fields else None, exc.message)
    return 403 if isinstance(exc, ScopeError) else 400


def _get(scope: Scope, pk) -> Beneficiary:
    try:
        return selectors.beneficiary_get(scope, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _can(scope: Scope, permission: str) -> bool:
    return scope.can(permission) and not scope.read_only


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def _warn_card(request, account) -> None:
    warning = rules.card_status_warning(account.kind, account.card_status)
    if warning:
        messages.warning(request, warning)


# -- list ----------------------------------------------------------------------------------------------
@login_required
def beneficiary_list(request):
    scope = scope_for(request, "beneficiary.view")
    filters = BeneficiaryFilterForm(request.GET or None)
    try:
        qs = selectors.beneficiary_list(scope, **filters.selector_args())
    except DomainError as exc:
        show_error(filters, exc)
        qs = Beneficiary.objects.none()
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "title": "补贴对象",
        "filters": filters,
        "page": Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page")),
        "filter_query": query.urlencode(),
        "can_manage": _can(scope, "beneficiary.manage"),
    }
    if request.htmx and request.htmx.target == "beneficiary-results":
        return render(request, "registry/_results.html", context)
    return render(request, "registry/list.html", context)


# -- registration --------------------------------------------------------------------------------------
def _register(request, *, form_class, service, template_title: str, kind: str):
    scope = scope_for(request)
    scope.require_write("beneficiary.manage")
    choices = selectors.region_choices(scope)
    status = 200
    if request.method == "POST":
        form = form_class(request.POST, region_choices=choices)
        if form.is_valid():
            try:
                b = service(actor=scope, **form.cleaned_data)
            except DomainError as exc:
                status = show_error(form, exc)
            else:
                if b.registered_now:
                    messages.success(request, f"已登记{b.get_kind_display()} {b.name}；请登记收款账户。")
                    return redirect("registry:account-change", pk=b.pk)
                messages.info(request, f"{b.name} 已登记过，未重复登记；填写的新信息已更新。")
                return redirect("registry:beneficiary-detail", pk=b.pk)
        else:
            status = 400
    else:
        initial = {"region_code": choices[0][0]} if len(choices) == 1 else {}
        form = form_class(initial=initial, region_choices=choices)
    context = {"title": template_title, "form": form, "kind": kind}
    return render(request, "registry/register.html", context, status=status)


@login_required
def person_register(request):
    return _register(request, form_class=PersonForm, service=services.beneficiary_register_person,
                     template_title="登记个人补贴对象", kind=BeneficiaryKind.PERSON)


@login_required
def org_register(request):
    return _register(request, form_class=OrganizationForm, service=services.beneficiary_register_organization,
                     template_title="登记单位补贴对象", kind=BeneficiaryKind.ORGANIZATION)


# -- one beneficiary -----------------------------------------------------------------------------------
def _detail_context(scope: Scope, b: Beneficiary, **extra) -> dict:
    history = list(selectors.account_history(scope, b.pk))
    active = next((a for a in history if a.is_active), None)
    can_reveal = scope.can("pii.view_full")
    context = {
        "title": b.name,
        "b": b,
        "active": active,
        "card_warning": rules.card_status_warning(active.kind, active.card_status) if active else "",
        "history": history,
        "versions": selectors.beneficiary_versions(scope, b.pk),
        "can_manage": _can(scope, "beneficiary.manage"),
        "can_account": _can(scope, "account.manage"),
        "can_reveal": can_reveal,
        "reveal_form": RevealForm(auto_id="reveal_%s") if can_reveal else None,
        "card_form": (CardStatusForm(auto_id="card_%s", initial={"status": active.card_status})
                      if active and active.kind == AccountKind.SSC_CARD and _can(scope, "card_status.update")
                      else None),
        "revealed": None,
    }
    context.update(extra)
    return context


@login_required
def beneficiary_detail(request, pk: int):
    scope = scope_for(request, "beneficiary.view")
    b = _get(scope, pk)
    return render(request, "registry/detail.html", _detail_context(scope, b))


@login_required
@require_POST
def beneficiary_reveal(request, pk: int):
    """Show one identifier in full, this once (never stored, not cached); the view is logged."""
    scope = scope_for(request, "beneficiary.view")
    scope.require("pii.view_full")
    b = _get(scope, pk)
    form = RevealForm(request.POST, auto_id="reveal_%s")
    revealed, status = None, 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            value = selectors.beneficiary_full_view(scope, b.pk, data["field"], data["reason"],
                                                    account_id=data.get("account_id"))
        except DomainError as exc:
            status = show_error(form, exc)
        else:
            label = dict(form.fields["field"].choices)[data["field"]]
            revealed = {"label": label, "value": value or "（未登记）"}
    else:
        status = 400
    if request.htmx:
        response = render(request, "registry/_reveal.html",
                          {"b": b, "reveal_form": form, "revealed": revealed}, status=status)
    else:
        response = render(request, "registry/detail.html",
                          _detail_context(scope, b, reveal_form=form, revealed=revealed), status=status)
    return _no_store(response)


@login_required
def beneficiary_edit(request, pk: int):
    scope = scope_for(request, "beneficiary.view")
    scope.require_write("beneficiary.manage")
    b = _get(scope, pk)
    is_person = b.kind == BeneficiaryKind.PERSON
    choices = selectors.region_choices(scope)
    if b.region_id not in dict(choices):
        choices = [(b.region_id, f"{b.region.name}（{b.region_id}）"), *choices]
    status = 200
    if request.method == "POST":
        form = BeneficiaryEditForm(request.POST, region_choices=choices, is_person=is_person)
        if form.is_valid():
            data = dict(form.cleaned_data)
            reason = data.pop("reason")
            if is_person:
                clear = data.pop("clear_phone")
                if clear:
                    data["phone"] = ""
                elif not data["phone"].strip():
                    data.pop("phone")  # blank: keep the registered number
            try:
                services.beneficiary_update(actor=scope, beneficiary_id=b.pk, reason=reason, **data)
            except DomainError as exc:
                status = show_error(form, exc)
            else:
                messages.success(request, "补贴对象信息已保存。")
                return redirect("registry:beneficiary-detail", pk=b.pk)
        else:
            status = 400
    else:
        initial = {"name": b.name, "region_code": b.region_id, "address": b.address,
                   "household_number": b.household.number if b.household_id else ""}
        form = BeneficiaryEditForm(initial=initial, region_choices=choices, is_person=is_person)
    return render(request, "registry/edit.html", {"title": f"修改 {b.name}", "b": b, "form": form}, status=status)


@login_required
def account_change(request, pk: int):
    scope = scope_for(request, "beneficiary.view")
    scope.require_write("account.manage")
    b = _get(scope, pk)
    active = selectors.active_account(scope, b.pk)
    status = 200
    if request.method == "POST":
        form = AccountForm(request.POST, beneficiary_kind=b.kind)
        if form.is_valid():
            data = form.cleaned_data
            try:
                account = services.payee_account_set(
                    actor=scope, beneficiary_id=b.pk, kind=data["kind"], bank_name=data["bank_name"],
                    account_number=data["account_number"], card_status=data.get("card_status") or None,
                    exception_reason=data.get("exception_reason", ""), reason=data["reason"],
                )
            except DomainError as exc:
                status = show_error(form, exc)
            else:
                if active is not None and account.pk == active.pk:
                    messages.info(request, "填写的账户与当前收款账户相同，未生成新版本。")
                else:
                    messages.success(request, f"收款账户已保存（第 {account.version} 版）。")
                _warn_card(request, account)
                return redirect("registry:beneficiary-detail", pk=b.pk)
        else:
            status = 400
    else:
        form = AccountForm(beneficiary_kind=b.kind)
    context = {"title": f"{b.name} 的收款账户", "b": b, "active": active, "form": form,
               "card_warning_text": rules.CARD_NOT_ACTIVATED_WARNING}
    return render(request, "registry/account_form.html", context, status=status)


@login_required
@require_POST
def card_status_change(request, pk: int):
    scope = scope_for(request, "beneficiary.view")
    scope.require_write("card_status.update")
    b = _get(scope, pk)
    active = selectors.active_account(scope, b.pk)
    if active is None:
        raise Http404("该补贴对象还没有收款账户。")
    form = CardStatusForm(request.POST)
    if form.is_valid():
        try:
            account = services.card_status_update(actor=scope, account_id=active.pk, status=form.cleaned_data["status"],
                                                  source=form.cleaned_data["source"])
        except ScopeError:
            raise
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"金融功能状态已更新为“{account.get_card_status_display()}”。")
            _warn_card(request, account)
    else:
        messages.error(request, "请选择金融功能状态。")
    return redirect("registry:beneficiary-detail", pk=b.pk)
