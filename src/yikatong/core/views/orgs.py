"""Administration pages for organizations (机构管理) and their API credentials.

Admins create and edit; supervisors, finance, departments and regulators read ("org.view"). The export
needs "org.view" and "export.data" (a bulk copy is more than looking) and is audited.
"""

import csv
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from yikatong.core import audit
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import ApiCredential, BusinessLine, Organization, OrgKind
from yikatong.core.navigation import NavEntry, register
from yikatong.core.roles import API_INTERFACES
from yikatong.core.scope import Scope
from yikatong.core.selectors import orgs as selectors
from yikatong.core.selectors import users as user_selectors
from yikatong.core.services import apikeys as apikey_services
from yikatong.core.services import orgs as services

PAGE_SIZE = 50


def register_nav() -> None:
    """Called from CoreConfig.ready()."""
    register(
        NavEntry("系统管理", "机构管理", "core:orgs", "org.view", order=900),
        NavEntry("系统管理", "用户管理", "core:users", "user.view", order=901),
    )


# -- helpers shared with views.users ---------------------------------------------------------------
def scope_for(request, permission: str | None = None) -> Scope:
    """The request user's scope; ScopeError (→ 403 page) without the permission."""
    scope = Scope.for_user(request.user)
    if permission:
        scope.require(permission)
    return scope


def apply_domain_error(form: forms.Form, exc: DomainError, field_map: dict[str, str] | None = None) -> None:
    """Show a service's refusal on the form: under its field when the form has it, else on top."""
    field = (field_map or {}).get(exc.field, exc.field)
    form.add_error(field if field in form.fields else None, exc.message)


class _Echo:
    def write(self, value):
        return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Spreadsheet-safe text: a leading formula character is neutralised (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_response(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    """Stream a UTF-8 CSV (with BOM, so Excel opens Chinese text correctly), row by row."""
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "no-store"
    return response


def filter_query(request) -> str:
    """The list's filters as a query string, without the page number."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def page_of(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


# -- forms -------------------------------------------------------------------------------------------
_REQUIRED = {"required": "此项为必填项。"}
KIND_CHOICES = [("", "全部类型"), *OrgKind.choices]
LINE_CHOICES = [("", "全部条线"), *BusinessLine.choices]


class OrgFilterForm(forms.Form):
    kind = forms.ChoiceField(label="机构类型", choices=KIND_CHOICES, required=False)
    line = forms.ChoiceField(label="业务条线", choices=LINE_CHOICES, required=False)
    region = forms.CharField(label="区划代码", max_length=12, required=False,
                             help_text="6、9 或 12 位，含下级")
    q = forms.CharField(label="名称或编码", max_length=50, required=False)
    active = forms.ChoiceField(label="状态", choices=[("", "全部"), ("1", "有效"), ("0", "已停用")], required=False)

    def selector_args(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        active = data.get("active")
        return {
            "kind": data.get("kind", ""), "business_line": data.get("line", ""),
            "region_code": data.get("region", ""), "q": data.get("q", ""),
            "active": None if not active else active == "1",
        }


class OrgForm(forms.Form):
    code = forms.CharField(label="机构编码", max_length=32, error_messages=_REQUIRED,
                           help_text="字母、数字、短横线，如 WZ-CZJ；建立后不能修改")
    name = forms.CharField(label="机构名称", max_length=200, error_messages=_REQUIRED)
    kind = forms.ChoiceField(label="机构类型", choices=[("", "请选择"), *OrgKind.choices], error_messages=_REQUIRED)
    business_line = forms.ChoiceField(label="业务条线", choices=[("", "（无）"), *BusinessLine.choices],
                                      required=False, help_text="主管部门必须选择")
    region_code = forms.CharField(label="所在区划代码", max_length=12, error_messages=_REQUIRED,
                                  help_text="12 位统计用区划代码，须在您的管辖范围内")
    credit_code = forms.CharField(label="统一社会信用代码", max_length=18, required=False)
    bank_code = forms.CharField(label="银行代码", max_length=20, required=False, help_text="银行机构填写行别代码")


class OrgEditForm(OrgForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["code"]


class ReasonForm(forms.Form):
    reason = forms.CharField(label="原因", max_length=200, error_messages={"required": "请填写原因。"})


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="凭证名称", max_length=100, error_messages=_REQUIRED)
    interfaces = forms.MultipleChoiceField(
        label="可用接口", choices=list(API_INTERFACES.items()), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "请至少选择一个可用接口。"},
    )
    expires_at = forms.DateField(label="有效期至", required=False, input_formats=["%Y-%m-%d"],
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                 error_messages={"invalid": "日期格式应为 YYYY-MM-DD。"})


# -- pages -------------------------------------------------------------------------------------------
@login_required
def org_list(request):
    scope = scope_for(request, "org.view")
    filters = OrgFilterForm(request.GET or None)
    try:
        orgs = selectors.organization_list(scope, **(filters.selector_args() if request.GET else {}))
    except DomainError as exc:
        apply_domain_error(filters, exc)
        orgs = Organization.objects.none()
    context = {
        "title": "机构管理",
        "filters": filters,
        "page": page_of(request, orgs),
        "can_manage": scope.can("org.manage") and not scope.read_only,
        "can_export": scope.can("export.data"),
        "query": filter_query(request),
        "filter_query": filter_query(request),
    }
    return render(request, "core/orgs/list.html", context)


@login_required
def org_export(request):
    scope = scope_for(request, "org.view")
    scope.require("export.data")
    filters = OrgFilterForm(request.GET or None)
    args = filters.selector_args() if request.GET else {}
    orgs = selectors.organization_list(scope, **args)
    audit.record(actor=scope, action="org.export", object_type="core.organization",
                 region_code=scope.region_code, after={"filters": args})
    header = ["机构编码", "机构名称", "机构类型", "业务条线", "区划代码", "区划名称", "统一社会信用代码", "银行代码", "状态"]
    rows = (
        [o.code, o.name, o.get_kind_display(), o.get_business_line_display(), o.region_id, o.region.name,
         o.credit_code, o.bank_code, "有效" if o.active else "已停用"]
        for o in orgs.iterator(chunk_size=2000)
    )
    return csv_response(f"机构列表-{timezone.localdate():%Y%m%d}.csv", header, rows)


@login_required
def org_create(request):
    scope = scope_for(request)
    scope.require_write("org.manage")
    status = 200
    if request.method == "POST":
        form = OrgForm(request.POST)
        if form.is_valid():
            try:
                org = services.organization_create(actor=scope, **form.cleaned_data)
            except ScopeError as exc:
                apply_domain_error(form, exc)
                status = 403
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = 400
            else:
                messages.success(request, f"已新建机构 {org.code}（{org.name}）。")
                return redirect("core:org-detail", code=org.code)
        else:
            status = 400
    else:
        form = OrgForm(initial={"region_code": scope.region_code})
    return render(request, "core/orgs/form.html", {"title": "新建机构", "form": form}, status=status)


def _visible_org(scope: Scope, code: str) -> Organization:
    try:
        return selectors.organization_get(scope, code)
    except Organization.DoesNotExist as exc:
        raise Http404("机构不存在或不在您的管辖范围内。") from exc


def _org_initial(org: Organization) -> dict:
    return {
        "name": org.name, "kind": org.kind, "business_line": org.business_line, "region_code": org.region_id,
        "credit_code": org.credit_code, "bank_code": org.bank_code,
    }


@login_required
def org_detail(request, code: str):
    scope = scope_for(request, "org.view")
    org = _visible_org(scope, code)
    can_manage = scope.can("org.manage") and not scope.read_only
    status = 200
    form = OrgEditForm(initial=_org_initial(org)) if can_manage else None
    if request.method == "POST":
        scope.require_write("org.manage")
        form = OrgEditForm(request.POST)
        if form.is_valid():
            try:
                services.organization_update(actor=scope, code=org.code, **form.cleaned_data)
            except ScopeError as exc:
                apply_domain_error(form, exc)
                status = 403
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = 400
            else:
                messages.success(request, "机构信息已保存。")
                return redirect("core:org-detail", code=org.code)
        else:
            status = 400
    users = user_selectors.user_list(scope, organization_code=org.code) if scope.can("user.view") else None
    can_keys = scope.can("apikey.manage") and not scope.read_only
    context = {
        "title": org.name,
        "org": org,
        "form": form,
        "can_manage": can_manage,
        "users": users,
        "credentials": org.api_credentials.order_by("-created_at") if can_keys else None,
        "apikey_form": ApiKeyForm(auto_id="key_%s") if can_keys else None,
        "reason_form": ReasonForm(),
    }
    return render(request, "core/orgs/detail.html", context, status=status)


@login_required
@require_POST
def org_deactivate(request, code: str):
    scope = scope_for(request)
    scope.require_write("org.manage")
    org = _visible_org(scope, code)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写停用原因。")
    else:
        try:
            services.organization_deactivate(actor=scope, code=org.code, reason=form.cleaned_data["reason"])
            messages.success(request, f"机构 {org.code} 已停用；其用户不能再登录办理业务，接口凭证不再可用。")
        except ScopeError:
            raise
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("core:org-detail", code=org.code)


@login_required
@require_POST
def org_activate(request, code: str):
    scope = scope_for(request)
    scope.require_write("org.manage")
    org = _visible_org(scope, code)
    try:
        services.organization_update(actor=scope, code=org.code, active=True)
        messages.success(request, f"机构 {org.code} 已启用。")
    except ScopeError:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("core:org-detail", code=org.code)


@login_required
@require_POST
def apikey_create(request, code: str):
    scope = scope_for(request)
    scope.require_write("apikey.manage")
    org = _visible_org(scope, code)
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        try:
            cred, key = apikey_services.apikey_create(
                actor=scope, organization_code=org.code, name=form.cleaned_data["name"],
                interfaces=form.cleaned_data["interfaces"], expires_at=form.cleaned_data["expires_at"],
            )
        except ScopeError:
            raise
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            # The key is shown this once, on this response; it is never stored or shown again.
            response = render(request, "core/orgs/apikey_created.html",
                              {"title": "接口凭证已发放", "org": org, "cred": cred, "key": key})
            response["Cache-Control"] = "no-store"
            return response
    else:
        for errors in form.errors.values():
            messages.error(request, errors[0])
    return redirect(reverse("core:org-detail", kwargs={"code": org.code}) + "#apikeys")


@login_required
@require_POST
def apikey_revoke(request, key_id: int):
    scope = scope_for(request)
    scope.require_write("apikey.manage")
    cred = ApiCredential.objects.select_related("organization").filter(pk=key_id).first()
    if cred is None or not scope.covers_region(cred.organization.region_id):
        raise Http404("接口凭证不存在或不在您的管辖范围内。")
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写吊销原因。")
    else:
        try:
            apikey_services.apikey_revoke(actor=scope, key_id=cred.pk, reason=form.cleaned_data["reason"])
            messages.success(request, f"接口凭证 {cred.key_prefix}… 已吊销，立即失效。")
        except ScopeError:
            raise
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect(reverse("core:org-detail", kwargs={"code": cred.organization.code}) + "#apikeys")
