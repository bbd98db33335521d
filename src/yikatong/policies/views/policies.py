"""Policy pages: the catalogue with filters, one policy with its documents and versions, the side-by-side
comparison of two versions, create / edit (reason required) / activate / retire (reason required)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yikatong.core import clock
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Organization, OrgKind
from yikatong.core.scope import Scope
from yikatong.core.selectors import orgs as org_selectors
from yikatong.core.services.files import file_store
from yikatong.core.tabular import attachment_header

from .. import selectors, xlsx
from ..forms import PolicyFilterForm, PolicyForm, ReasonForm, VersionPairForm, tiers_text
from ..models import Policy, PolicyStatus, StandardType
from ..services import policy_activate, policy_create, policy_retire, policy_update
from ._common import error_status, filter_query, flash_error, not_found, page_of, scope_for, show_error

# A service names "documents" or "region"/"business_line"; the form shows them as these fields.
FIELD_MAP = {"documents": "document_file", "region": "department", "business_line": "department"}


def can_manage(scope: Scope, policy: Policy | None = None) -> bool:
    """Whether to offer the edit buttons (the services check again)."""
    if scope.read_only or not scope.can("policy.manage"):
        return False
    if policy is None:
        return True
    try:
        scope.require_object(region_code=policy.region_id, business_line=policy.business_line)
    except ScopeError:
        return False
    return True


def _get_policy(scope: Scope, code: str) -> Policy:
    try:
        return selectors.policy_get(scope, code)
    except DomainError as exc:
        raise not_found(exc) from exc


def _filtered(scope: Scope, form: PolicyFilterForm):
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.policies_visible(scope, status=data.get("status") or None,
                                    business_line=data.get("line") or None)
    if data.get("level"):
        qs = qs.filter(level_set=data["level"])
    if data.get("cycle"):
        qs = qs.filter(cycle=data["cycle"])
    if data.get("means_tested"):
        qs = qs.filter(means_tested=data["means_tested"] == "1")
    if data.get("q"):
        q = data["q"].strip()
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q))
    return qs


@login_required
def policy_list(request):
    scope = scope_for(request, "policy.view")
    form = PolicyFilterForm(request.GET or None)
    context = {
        "title": "补贴政策",
        "filters": form,
        "page": page_of(request, _filtered(scope, form)),
        "filter_query": filter_query(request),
        "can_manage": can_manage(scope),
    }
    if request.htmx and request.htmx.target == "policy-results":
        return render(request, "policies/policies/_results.html", context)
    return render(request, "policies/policies/list.html", context)


@login_required
def policy_export(request):
    """The catalogue (with the filters of the list page) as XLSX."""
    scope = scope_for(request, "policy.view")
    form = PolicyFilterForm(request.GET or None)
    content = xlsx.export_catalogue(scope, _filtered(scope, form))
    response = HttpResponse(content, content_type=xlsx.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = attachment_header(f"补贴政策目录-{clock.today():%Y%m%d}.xlsx")
    response["Cache-Control"] = "no-store"
    return response


def _department_choices(scope: Scope) -> list[tuple[str, str]]:
    """Active competent departments this user could name: in scope, and of the user's line for departments."""
    if not scope.can("org.view"):
        return []
    orgs = org_selectors.organization_list(scope, kind=OrgKind.DEPARTMENT, active=True)
    if not scope.sees_all_lines:
        orgs = orgs.filter(business_line=scope.business_line)
    return [(o.code, f"{o.name}（{o.get_business_line_display()}，{o.region.name}）") for o in orgs]


def _initial(policy: Policy) -> dict:
    return {
        "name": policy.name, "department": policy.department.code, "level_set": policy.level_set,
        "funding_sources": policy.funding_sources, "legal_basis": policy.legal_basis,
        "target_group": policy.target_group, "standard_type": policy.standard_type,
        "standard_amount": "" if policy.standard_type == StandardType.TIERED else str(policy.standard_amount),
        "unit_name": policy.unit_name, "tiers": tiers_text(policy.tiers), "cycle": policy.cycle,
        "means_tested": policy.means_tested, "direct_funds": policy.direct_funds, "valid_from": policy.valid_from,
        "valid_to": policy.valid_to, "is_public": policy.is_public, "online_application": policy.online_application,
        "notice_public": policy.notice_public, "min_age": policy.min_age, "max_age": policy.max_age,
        "exclusive_with": "、".join(policy.exclusive_with.order_by("code").values_list("code", flat=True)),
    }


def _documents_value(scope: Scope, form: PolicyForm, existing, region_code: str) -> list[dict]:
    """Existing documents minus those ticked for removal, plus the uploaded one (stored first)."""
    removed = set(form.cleaned_data.get("remove_documents") or [])
    documents = [{"file": str(d.file_id), "title": d.title} for d in existing if str(d.file_id) not in removed]
    upload = form.cleaned_data.get("document_file")
    if upload:
        stored = file_store(actor=scope, fileobj=upload, original_name=upload.name, purpose="policy-document",
                            region_code=region_code, organization_id=scope.organization_id,
                            content_type=getattr(upload, "content_type", "") or "")
        documents.append({"file": str(stored.pk), "title": form.cleaned_data["document_title"].strip()})
    return documents


@login_required
def policy_create_view(request):
    scope = scope_for(request)
    scope.require_write("policy.manage")
    departments = _department_choices(scope)
    status = 200
    if request.method == "POST":
        form = PolicyForm(request.POST, request.FILES, departments=departments)
        if form.is_valid():
            fields = {**form.policy_values(), "code": form.cleaned_data["code"], "status": form.cleaned_data["status"]}
            try:
                with transaction.atomic():  # an uploaded document is kept only with the policy it belongs to
                    region = _department_region(fields["department"]) or scope.region_code
                    fields["documents"] = _documents_value(scope, form, [], region)
                    policy = policy_create(actor=scope, fields=fields)
            except DomainError as exc:
                show_error(form, exc, FIELD_MAP)
                status = error_status(exc)
            else:
                messages.success(request, f"已登记补贴项目 {policy.code}（{policy.name}），版本 1。")
                return redirect("policies:policy-detail", code=policy.code)
        else:
            status = 400
    else:
        form = PolicyForm(departments=departments, initial={"department": scope.organization_code,
                                                            "valid_from": clock.today()})
    return render(request, "policies/policies/form.html",
                  {"title": "登记补贴政策", "form": form, "editing": False}, status=status)


def _department_region(code: str) -> str:
    org = Organization.objects.filter(code=code).only("region_id").first()
    return org.region_id if org else ""


@login_required
def policy_edit(request, code: str):
    scope = scope_for(request, "policy.view")
    scope.require_write("policy.manage")
    policy = _get_policy(scope, code)
    if not can_manage(scope, policy):
        raise ScopeError("无权修改该补贴项目：不属于您管理的区划或业务条线。")
    documents = list(policy.policy_documents.order_by("id"))
    departments = _department_choices(scope)
    if policy.department.code not in dict(departments):
        departments.append((policy.department.code, policy.department.name))
    status = 200
    if request.method == "POST":
        form = PolicyForm(request.POST, request.FILES, departments=departments, documents=documents, editing=True)
        if form.is_valid():
            changes = form.policy_values()
            try:
                with transaction.atomic():
                    changes["documents"] = _documents_value(scope, form, documents, policy.region_id)
                    policy = policy_update(actor=scope, code=policy.code, changes=changes,
                                           reason=form.cleaned_data["reason"])
            except DomainError as exc:
                show_error(form, exc, FIELD_MAP)
                status = error_status(exc)
            else:
                messages.success(request, f"已保存补贴项目 {policy.code} 的修改，当前为第 {policy.version} 版。")
                return redirect("policies:policy-detail", code=policy.code)
        else:
            status = 400
    else:
        form = PolicyForm(departments=departments, documents=documents, editing=True, initial=_initial(policy))
    return render(request, "policies/policies/form.html",
                  {"title": f"修改补贴政策 {policy.code}", "form": form, "policy": policy, "editing": True},
                  status=status)


@login_required
def policy_detail(request, code: str):
    scope = scope_for(request, "policy.view")
    policy = _get_policy(scope, code)
    versions = list(selectors.policy_versions(scope, policy.code))
    context = {
        "title": policy.name,
        "policy": policy,
        "documents": policy.policy_documents.select_related("file").order_by("id"),
        "exclusive": policy.exclusive_with.order_by("code"),
        "funding": selectors.display_value("funding_sources", policy.funding_sources),
        "versions": versions,
        "can_manage": can_manage(scope, policy),
        "reason_form": ReasonForm(),
        "latest": versions[0].version if versions else 1,
        "previous": versions[1].version if len(versions) > 1 else None,
    }
    return render(request, "policies/policies/detail.html", context)


@login_required
def policy_compare(request, code: str):
    scope = scope_for(request, "policy.view")
    policy = _get_policy(scope, code)
    versions = list(selectors.policy_versions(scope, policy.code))
    form = VersionPairForm(request.GET or None)
    rows, status = None, 200
    if form.is_valid():
        v1, v2 = sorted([form.cleaned_data["v1"], form.cleaned_data["v2"]])
        try:
            rows = selectors.policy_versions_compare(scope, policy.code, v1, v2)
        except DomainError as exc:
            show_error(form, exc)
            status = 400
        else:
            form = VersionPairForm(initial={"v1": v1, "v2": v2})
    elif request.GET:
        status = 400
    by_number = {v.version: v for v in versions}
    context = {
        "title": f"{policy.name} 版本对比",
        "policy": policy,
        "versions": versions,
        "form": form,
        "rows": rows,
        "changed_count": sum(1 for r in rows if r.changed) if rows else 0,
        "old": by_number.get(form.initial.get("v1")) if rows else None,
        "new": by_number.get(form.initial.get("v2")) if rows else None,
    }
    return render(request, "policies/policies/compare.html", context, status=status)


@login_required
@require_POST
def policy_retire_view(request, code: str):
    scope = scope_for(request, "policy.view")
    scope.require_write("policy.manage")
    policy = _get_policy(scope, code)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写停止执行的原因。")
    else:
        try:
            policy_retire(actor=scope, code=policy.code, reason=form.cleaned_data["reason"])
        except ScopeError:
            raise
        except DomainError as exc:
            flash_error(request, exc)
        else:
            messages.success(request, f"补贴项目 {policy.code} 已停止执行；此后不能再列入清单或发放。")
    return redirect("policies:policy-detail", code=policy.code)


@login_required
@require_POST
def policy_activate_view(request, code: str):
    scope = scope_for(request, "policy.view")
    scope.require_write("policy.manage")
    policy = _get_policy(scope, code)
    if policy.status != PolicyStatus.DRAFT:
        messages.error(request, f"补贴项目 {policy.code} 不是草稿，无需启用。")
        return redirect("policies:policy-detail", code=policy.code)
    try:
        policy_activate(actor=scope, code=policy.code)
    except ScopeError:
        raise
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"补贴项目 {policy.code} 已启用。")
    return redirect("policies:policy-detail", code=policy.code)
