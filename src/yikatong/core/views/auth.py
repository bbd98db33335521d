"""Login, logout and password change. Lockout after repeated failures is django-axes' job (settings.AXES_*):
a locked-out login is answered by axes with core/locked_out.html (HTTP 429)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import render
from django.urls import reverse_lazy

# Not a credential: only remembers that this browser had logged in, so that a redirect to the login
# page after 30 minutes of inactivity can say "you were logged out automatically".
LOGGED_IN_COOKIE = "yikatong_logged_in"


def lockout_minutes() -> int:
    """How long a locked account stays locked, in whole minutes (settings.AXES_COOLOFF_TIME is in hours)."""
    from axes.helpers import get_cool_off

    cool_off = get_cool_off()
    return int(cool_off.total_seconds() // 60) if cool_off else 0


def remaining_attempts(request, username: str) -> int | None:
    """Failed logins left before the account name is locked; None when axes cannot tell."""
    if not username:
        return None
    from axes.handlers.proxy import AxesProxyHandler

    try:
        failures = AxesProxyHandler.get_failures(request, {"username": username})
    except Exception:  # never let the bookkeeping break the login page
        return None
    return max(settings.AXES_FAILURE_LIMIT - failures, 0)


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "用户名或密码错误，请重新输入。",
        "inactive": "该账号已停用，请联系系统管理员。",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "用户名"
        self.fields["password"].label = "密码"

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.organization_id or not user.role:
            raise ValidationError("该账号未绑定机构或角色，暂不能登录，请联系系统管理员。", code="no_org")


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        request = self.request
        form = context["form"]
        context["failure_limit"] = settings.AXES_FAILURE_LIMIT
        context["lockout_minutes"] = lockout_minutes()
        if request.method == "POST" and form.errors:
            context["remaining_attempts"] = remaining_attempts(request, request.POST.get("username", "").strip())
        context["session_expired"] = self._session_expired()
        context["session_minutes"] = settings.SESSION_COOKIE_AGE // 60
        return context

    def _session_expired(self) -> bool:
        # Sent to the login page from a protected page while the browser still says it was logged in
        # (and never logged out): the session timed out. The session cookie itself is gone by then.
        request = self.request
        return (
            request.method == "GET"
            and bool(request.GET.get("next"))
            and request.COOKIES.get(LOGGED_IN_COOKIE) == "1"
            and not request.user.is_authenticated
        )

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if self._session_expired():
            response.delete_cookie(LOGGED_IN_COOKIE)  # say it once
        return response

    def form_valid(self, form):
        response = super().form_valid(form)
        response.set_cookie(LOGGED_IN_COOKIE, "1", max_age=12 * 3600, httponly=True, samesite="Lax",
                            secure=settings.SESSION_COOKIE_SECURE)
        return response


class LogoutView(auth_views.LogoutView):
    """Logout is POST only (a link or an image tag must not be able to log someone out)."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "您已安全退出系统。")
        response.delete_cookie(LOGGED_IN_COOKIE)
        return response

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = render(
            request,
            "core/error.html",
            {"title": "请使用“退出”按钮", "message": "为安全起见，退出登录必须通过页面右上角的“退出”按钮提交。"},
            status=405,
        )
        response["Allow"] = "POST"
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "core/password_change.html"
    form_class = PasswordChangeForm
    success_url = reverse_lazy("core:home")

    def form_valid(self, form):
        from yikatong.core.audit import record

        with transaction.atomic():
            response = super().form_valid(form)
            record(actor=self.request.user, action="user.password_change", obj=self.request.user)
        messages.success(self.request, "密码已修改。")
        return response
