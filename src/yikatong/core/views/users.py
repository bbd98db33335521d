"""Administration pages for user accounts (用户管理).

Admins create users, reset passwords, deactivate/activate and clear login lockouts; supervisors and
finance read ("user.view"). The export needs "user.view" and "export.data" and is audited.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from yikatong.core import audit
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Role, User
from yikatong.core.scope import Scope
from yikatong.core.selectors import orgs as org_selectors
from yikatong.core.selectors import users as selectors
from yikatong.core.services import users as services
from yikatong.core.views.orgs import apply_domain_error, csv_response, filter_query, page_of, scope_for

_REQUIRED = {"required": "此项为必填项。"}
ORG_CHOICES_LIMIT = 2000


class UserFilterForm(forms.Form):
    organization = forms.CharField(label="机构编码", max_length=32, required=False)
    role = forms.ChoiceField(label="角色", choices=[("", "全部角色"), *Role.choices], required=False)
    q = forms.CharField(label="用户名或姓名", max_length=50, required=False)
    active = forms.ChoiceField(label="状态", choices=[("", "全部"), ("1", "启用"), ("0", "已停用")], required=False)

    def selector_args(self) -> dict:
        data = self.cleaned_data if self.is_valid() else {}
        active = data.get("active")
        return {
            "organization_code": data.get("organization", ""), "role": data.get("role", ""),
            "q": data.get("q", ""), "active": None if not active else active == "1",
        }


class PasswordPairMixin:
    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", "两次输入的密码不一致。")
        return data


class UserForm(PasswordPairMixin, forms.Form):
    username = forms.CharField(label="用户名", max_length=150, error_messages=_REQUIRED,
                               help_text="登录用，字母、数字和 @ . + - _")
    full_name = forms.CharField(label="姓名", max_length=50, required=False)
    organization_code = forms.CharField(label="所属机构编码", max_length=32, error_messages=_REQUIRED,
                                        widget=forms.TextInput(attrs={"list": "org-choices"}))
    role = forms.ChoiceField(label="角色", choices=[("", "请选择"), *Role.choices], error_messages=_REQUIRED,
                             help_text="须与机构类型相符")
    phone = forms.CharField(label="办公电话", max_length=20, required=False)
    password1 = forms.CharField(label="初始密码", widget=forms.PasswordInput, error_messages=_REQUIRED,
                                help_text="至少 10 位，不能全是数字，不能是常见密码")
    password2 = forms.CharField(label="再次输入密码", widget=forms.PasswordInput, error_messages=_REQUIRED)


class SetPasswordForm(PasswordPairMixin, forms.Form):
    password1 = forms.CharField(label="新密码", widget=forms.PasswordInput, error_messages=_REQUIRED)
    password2 = forms.CharField(label="再次输入新密码", widget=forms.PasswordInput, error_messages=_REQUIRED)


class ReasonForm(forms.Form):
    reason = forms.CharField(label="停用原因", max_length=200, error_messages={"required": "请填写停用原因。"})


_FIELD_MAP = {"password": "password1"}


@login_required
def user_list(request):
    scope = scope_for(request, "user.view")
    filters = UserFilterForm(request.GET or None)
    users = selectors.user_list(scope, **(filters.selector_args() if request.GET else {}))
    context = {
        "title": "用户管理",
        "filters": filters,
        "page": page_of(request, users),
        "can_manage": scope.can("user.manage") and not scope.read_only,
        "can_export": scope.can("export.data"),
        "query": filter_query(request),
        "filter_query": filter_query(request),
    }
    return render(request, "core/users/list.html", context)


@login_required
def user_export(request):
    scope = scope_for(request, "user.view")
    scope.require("export.data")
    filters = UserFilterForm(request.GET or None)
    args = filters.selector_args() if request.GET else {}
    users = selectors.user_list(scope, **args)
    audit.record(actor=scope, action="user.export", object_type="core.user",
                 region_code=scope.region_code, after={"filters": args})
    header = ["用户名", "姓名", "机构编码", "机构名称", "区划代码", "角色", "办公电话", "状态", "最近登录"]
    rows = (
        [u.username, u.full_name, u.organization.code, u.organization.name, u.organization.region_id,
         u.get_role_display(), u.phone, "启用" if u.is_active else "已停用",
         timezone.localtime(u.last_login).strftime("%Y-%m-%d %H:%M") if u.last_login else ""]
        for u in users.iterator(chunk_size=2000)
    )
    return csv_response(f"用户列表-{timezone.localdate():%Y%m%d}.csv", header, rows)


def _org_choices(scope: Scope):
    if not scope.can("org.view"):
        return []
    return (org_selectors.organization_list(scope, active=True).select_related(None)
            .only("code", "name")[:ORG_CHOICES_LIMIT])


@login_required
def user_create(request):
    scope = scope_for(request)
    scope.require_write("user.manage")
    status = 200
    if request.method == "POST":
        form = UserForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = services.user_create(
                    actor=scope, username=data["username"], password=data["password1"],
                    organization_code=data["organization_code"], role=data["role"],
                    full_name=data["full_name"], phone=data["phone"],
                )
            except ScopeError as exc:
                apply_domain_error(form, exc, _FIELD_MAP)
                status = 403
            except DomainError as exc:
                apply_domain_error(form, exc, _FIELD_MAP)
                status = 400
            else:
                messages.success(request, f"已新建用户 {user.username}。请把初始密码当面告知本人，并提醒其登录后修改。")
                return redirect("core:user-detail", username=user.username)
        else:
            status = 400
    else:
        form = UserForm(initial={"organization_code": request.GET.get("org", "")})
    context = {"title": "新建用户", "form": form, "org_choices": _org_choices(scope)}
    return render(request, "core/users/form.html", context, status=status)


def _visible_user(scope: Scope, username: str) -> User:
    try:
        return selectors.user_get(scope, username)
    except User.DoesNotExist as exc:
        raise Http404("用户不存在或不在您的管辖范围内。") from exc


@login_required
def user_detail(request, username: str):
    scope = scope_for(request, "user.view")
    target = _visible_user(scope, username)
    can_manage = scope.can("user.manage") and not scope.read_only
    context = {
        "title": f"用户 {target.username}",
        "target": target,
        "can_manage": can_manage,
        "lockout": selectors.user_lockout_state(target.username),
        "password_form": SetPasswordForm() if can_manage else None,
        "reason_form": ReasonForm() if can_manage else None,
        "is_self": target.pk == request.user.pk,
    }
    return render(request, "core/users/detail.html", context)


def _manage(request, username: str) -> tuple[Scope, User]:
    scope = scope_for(request)
    scope.require_write("user.manage")
    return scope, _visible_user(scope, username)


def _run(request, action, success: str) -> None:
    try:
        action()
        messages.success(request, success)
    except ScopeError:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)


@login_required
@require_POST
def user_deactivate(request, username: str):
    scope, target = _manage(request, username)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写停用原因。")
    else:
        _run(request, lambda: services.user_deactivate(actor=scope, username=target.username,
                                                       reason=form.cleaned_data["reason"]),
             f"用户 {target.username} 已停用，不能再登录。")
    return redirect("core:user-detail", username=target.username)


@login_required
@require_POST
def user_activate(request, username: str):
    scope, target = _manage(request, username)
    _run(request, lambda: services.user_activate(actor=scope, username=target.username),
         f"用户 {target.username} 已启用。")
    return redirect("core:user-detail", username=target.username)


@login_required
@require_POST
def user_unlock(request, username: str):
    scope, target = _manage(request, username)
    _run(request, lambda: services.user_unlock(actor=scope, username=target.username),
         f"已解除用户 {target.username} 的登录锁定，可以重新登录。")
    return redirect("core:user-detail", username=target.username)


@login_required
@require_POST
def user_set_password(request, username: str):
    scope, target = _manage(request, username)
    form = SetPasswordForm(request.POST)
    if form.is_valid():
        try:
            services.user_set_password(actor=scope, username=target.username, password=form.cleaned_data["password1"])
        except ScopeError:
            raise
        except DomainError as exc:
            apply_domain_error(form, exc, _FIELD_MAP)
        else:
            messages.success(request, f"已为用户 {target.username} 设置新密码。")
            return redirect("core:user-detail", username=target.username)
    context = {
        "title": f"用户 {target.username}",
        "target": target,
        "can_manage": True,
        "lockout": selectors.user_lockout_state(target.username),
        "password_form": form,
        "reason_form": ReasonForm(),
        "is_self": target.pk == request.user.pk,
    }
    return render(request, "core/users/detail.html", context, status=400)
