"""Login, lockout, session expiry, logout, admin access, error pages and the home page (Django test client)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.template import Template
from django.urls import include, path
from django.utils import timezone

from tests.world import PASSWORD
from yikatong.core import navigation
from yikatong.core.models import AuditEvent, User
from yikatong.core.views import errors, home
from yikatong.core.views.auth import LOGGED_IN_COOKIE


def _boom(request):
    raise RuntimeError("simulated failure")


def _forbidden(request):
    raise PermissionDenied


def _forbidden_with_reason(request):
    raise PermissionDenied("只有财政部门可以审核支付申请。")


# A URLconf for the error-page tests: the real one plus views that fail on purpose.
urlpatterns = [
    path("test-boom/", _boom),
    path("test-forbidden/", _forbidden),
    path("test-forbidden-reason/", _forbidden_with_reason),
    path("", include("yikatong.urls")),
]
handler403 = "yikatong.core.views.errors.forbidden"
handler404 = "yikatong.core.views.errors.not_found"
handler500 = "yikatong.core.views.errors.server_error"


def post_login(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password, **extra})


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


# -- login ------------------------------------------------------------------------------------------
def test_login_page_is_chinese_and_explains_the_lockout_rule(client, db):
    body = client.get("/login/").content.decode()
    assert "用户登录" in body
    assert "连续输错密码 5 次，账号将被锁定 30 分钟" in body
    assert 'lang="zh-hans"' in body
    assert 'data-testid="nav"' not in body  # no navigation before login


def test_wrong_password_is_refused_in_chinese_with_attempts_left(client, world):
    response = post_login(client, "t_finance", "not-the-password")
    assert response.status_code == 200
    body = response.content.decode()
    assert "用户名或密码错误，请重新输入。" in body
    assert "再输错 4 次，账号将被锁定 30 分钟。" in body
    assert not logged_in(client)


def test_unknown_user_gets_the_same_message_as_a_wrong_password(client, world):
    body = post_login(client, "no_such_user", "whatever-123").content.decode()
    assert "用户名或密码错误，请重新输入。" in body


def test_empty_form_shows_inline_field_errors(client, world):
    body = post_login(client, "", "").content.decode()
    assert body.count('class="field-error"') == 2
    assert 'aria-invalid="true"' in body


def test_right_password_logs_in_and_lands_on_the_home_page(client, world):
    response = post_login(client, "t_finance", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert response.cookies[LOGGED_IN_COOKIE].value == "1"
    body = client.get("/").content.decode()
    assert "工作台" in body
    assert "万州区财政局" in body
    assert "财政部门" in body


def test_login_follows_next_but_not_to_another_site(client, world):
    response = post_login(client, "t_finance", PASSWORD, next="/password/")
    assert response["Location"] == "/password/"
    client.post("/logout/")
    response = post_login(client, "t_finance", PASSWORD, next="https://evil.example.com/")
    assert response["Location"] == "/"


def test_inactive_user_cannot_log_in(client, world):
    User.objects.filter(username="t_civil").update(is_active=False)
    body = post_login(client, "t_civil", PASSWORD).content.decode()
    assert "用户名或密码错误" in body
    assert not logged_in(client)


def test_user_without_organization_cannot_log_in(client, world):
    user = User(username="orphan", role="")
    user.set_password(PASSWORD)
    user.save()
    body = post_login(client, "orphan", PASSWORD).content.decode()
    assert "未绑定机构或角色" in body
    assert not logged_in(client)


def test_logged_in_user_visiting_login_goes_home(client, world):
    client.force_login(world.users["civil"])
    response = client.get("/login/")
    assert response.status_code == 302
    assert response["Location"] == "/"


# -- lockout (django-axes) ---------------------------------------------------------------------------
def test_five_failures_lock_the_account_even_for_the_right_password(client, world):
    for left in (4, 3, 2, 1):
        response = post_login(client, "t_hr", "wrong-password")
        assert response.status_code == 200
        assert f"再输错 {left} 次" in response.content.decode()
    response = post_login(client, "t_hr", "wrong-password")
    assert response.status_code == 429
    body = response.content.decode()
    assert "账号已锁定" in body
    assert "连续 5 次登录失败" in body
    assert "30 分钟" in body
    assert "t_hr" in body

    response = post_login(client, "t_hr", PASSWORD)
    assert response.status_code == 429
    assert "账号已锁定" in response.content.decode()
    assert not logged_in(client)

    # Only that account name is locked: a colleague at the same address still logs in.
    assert post_login(client, "t_finance", PASSWORD).status_code == 302


def test_lockout_ends_after_the_cool_off_time(client, world):
    for _ in range(5):
        post_login(client, "t_hr", "wrong-password")
    assert post_login(client, "t_hr", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
    assert post_login(client, "t_hr", PASSWORD).status_code == 302
    assert logged_in(client)


def test_success_resets_the_failure_count(client, world):
    for _ in range(4):
        post_login(client, "t_hr", "wrong-password")
    assert post_login(client, "t_hr", PASSWORD).status_code == 302
    client.post("/logout/")
    body = post_login(client, "t_hr", "wrong-password").content.decode()
    assert "再输错 4 次" in body


def test_lockout_page_states_the_configured_duration(client, world, settings):
    settings.AXES_COOLOFF_TIME = 1  # hours
    for _ in range(5):
        response = post_login(client, "t_hr", "wrong-password")
    assert response.status_code == 429
    assert "60 分钟" in response.content.decode()


# -- session ---------------------------------------------------------------------------------------
def test_session_settings_end_idle_sessions_after_30_minutes():
    assert django_settings.SESSION_COOKIE_AGE == 1800
    assert django_settings.SESSION_SAVE_EVERY_REQUEST is True


def test_activity_pushes_the_session_expiry_forward(client, world):
    assert post_login(client, "t_finance", PASSWORD).status_code == 302
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=5))
    assert client.get("/").status_code == 200
    expiry = Session.objects.get().expire_date
    assert expiry > timezone.now() + timedelta(minutes=29)


def test_expired_session_sends_back_to_login_with_a_notice(client, world):
    assert post_login(client, "t_finance", PASSWORD).status_code == 302
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"
    first = client.get(response["Location"]).content.decode()
    assert "您已自动退出" in first
    assert "30 分钟" in first
    again = client.get("/login/?next=/").content.decode()  # said once, not forever
    assert "您已自动退出" not in again


def test_plain_visit_to_login_page_shows_no_timeout_notice(client, world):
    assert "您已自动退出" not in client.get("/login/?next=/").content.decode()


# -- logout ----------------------------------------------------------------------------------------
def test_logout_requires_post(client, world):
    client.force_login(world.users["finance"])
    response = client.get("/logout/")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "退出" in response.content.decode()
    assert logged_in(client)

    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert not logged_in(client)
    assert "您已安全退出系统" in client.get("/login/").content.decode()


def test_logout_forgets_the_logged_in_marker(client, world):
    post_login(client, "t_finance", PASSWORD)
    response = client.post("/logout/")
    assert response.cookies[LOGGED_IN_COOKIE].value == ""
    assert "您已自动退出" not in client.get("/login/?next=/").content.decode()


# -- password change ------------------------------------------------------------------------------
def test_password_change_enforces_the_validators_in_chinese(client, world):
    client.force_login(world.users["collector"])
    response = client.post("/password/", {
        "old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678",
    })
    assert response.status_code == 200
    body = response.content.decode()
    assert "密码长度太短：至少需要 10 个字符。" in body  # MinimumLengthValidator (see core/locale)
    assert "密码只包含数字。" in body                   # NumericPasswordValidator
    assert "This password" not in body
    user = User.objects.get(pk=world.users["collector"].pk)
    assert user.check_password(PASSWORD)


def test_password_change_with_wrong_old_password_is_refused(client, world):
    client.force_login(world.users["collector"])
    body = client.post("/password/", {
        "old_password": "nope", "new_password1": "Anders#Sicher2026", "new_password2": "Anders#Sicher2026",
    }).content.decode()
    assert "旧密码不正确" in body


def test_password_change_succeeds_keeps_session_and_is_audited(client, world):
    client.force_login(world.users["collector"])
    response = client.post("/password/", {
        "old_password": PASSWORD, "new_password1": "Anders#Sicher2026", "new_password2": "Anders#Sicher2026",
    })
    assert response.status_code == 302
    assert logged_in(client)
    user = User.objects.get(pk=world.users["collector"].pk)
    assert user.check_password("Anders#Sicher2026")
    event = AuditEvent.objects.get(action="user.password_change")
    assert event.actor_username == "t_collector"
    assert "Anders" not in str(event.after)


def test_password_page_needs_login(client, db):
    response = client.get("/password/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# -- Django admin -----------------------------------------------------------------------------------
def test_django_admin_is_for_administrators_only(client, world):
    finance = world.users["finance"]
    User.objects.filter(pk=finance.pk).update(is_staff=True, is_superuser=True)
    client.force_login(User.objects.get(pk=finance.pk))
    for url in ("/admin/", "/admin/core/user/", "/admin/core/organization/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/"), url

    client.force_login(world.users["admin"])
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "一卡通平台 · 系统管理" in response.content.decode()
    assert client.get("/admin/core/user/").status_code == 200  # may look ...
    assert client.get("/admin/core/user/add/").status_code == 403  # ... but changes go through the services


def test_admin_role_without_staff_flag_cannot_open_django_admin(client, world):
    admin = world.users["admin"]
    User.objects.filter(pk=admin.pk).update(is_staff=False)
    client.force_login(User.objects.get(pk=admin.pk))
    assert client.get("/admin/").status_code == 302


# -- error pages ----------------------------------------------------------------------------------
def test_404_page_is_chinese(client, world):
    client.force_login(world.users["finance"])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "页面不存在" in body
    assert "回到工作台" in body
    assert 'data-testid="nav"' in body  # the layout stays, so the user can move on


def test_404_page_for_anonymous_visitor(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


@pytest.mark.urls("tests.core.test_auth")
def test_403_page_is_chinese(client, world):
    client.force_login(world.users["finance"])
    response = client.get("/test-forbidden/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "无权访问" in body
    assert "您没有访问该页面的权限" in body
    response = client.get("/test-forbidden-reason/")
    assert response.status_code == 403
    assert "只有财政部门可以审核支付申请。" in response.content.decode()


@pytest.mark.urls("tests.core.test_auth")
def test_500_page_is_chinese(client, world):
    client.raise_request_exception = False
    client.force_login(world.users["finance"])
    response = client.get("/test-boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "系统内部错误" in body
    assert "simulated failure" not in body  # never leak internals


def test_500_page_survives_a_broken_template(rf, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(errors, "render", broken)
    response = errors.server_error(rf.get("/"))
    assert response.status_code == 500
    assert "系统内部错误" in response.content.decode()


def test_csrf_failure_page_is_chinese(client, world):
    csrf_client = client.__class__(enforce_csrf_checks=True)
    response = csrf_client.post("/login/", {"username": "t_finance", "password": PASSWORD})
    assert response.status_code == 403
    response = errors.csrf_failure(csrf_client.get("/login/").wsgi_request)
    assert response.status_code == 403
    assert "页面已过期" in response.content.decode()


# -- home page (工作台) --------------------------------------------------------------------------------
def test_home_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_home_shows_identity_region_and_navigation_cards(client, world):
    client.force_login(world.users["collector"])
    body = client.get("/").content.decode()
    assert "高笋塘街道办事处" in body
    assert "采集经办" in body
    assert "重庆市 › 市辖区 › 万州区 › 高笋塘街道" in body
    assert "500101001000" in body
    expected = [link["name"] for s in navigation.entries_for("collector") for link in s["links"]]
    for name in expected:
        assert f'data-nav="{name}"' in body
        if name != "core:home":
            assert f'data-card="{name}"' in body
    assert 'data-nav="admin:index"' not in body


def test_home_of_department_names_its_business_line(client, world):
    client.force_login(world.users["civil"])
    body = client.get("/").content.decode()
    assert "业务条线" in body
    assert "民政" in body


def test_admin_navigation_has_system_management(client, world):
    client.force_login(world.users["admin"])
    body = client.get("/").content.decode()
    assert 'data-section="系统管理"' in body
    assert 'data-nav="admin:index"' in body


def test_top_bar_shows_org_role_user_and_a_post_logout(client, world):
    client.force_login(world.users["paying_bank"])
    body = client.get("/").content.decode()
    assert 'data-testid="who-org" title="所属机构">重庆农商行万州分行<' in body
    assert 'data-testid="who-role"' in body and "代发银行" in body
    assert 't_paying_bank' in body
    assert '<form method="post" action="/logout/"' in body


def test_home_widgets_show_only_to_roles_with_the_permission(client, world):
    widget = home.HomeWidget(
        name="test-widget", title="测试小组件", permission="user.manage",
        template=Template("<p class='w'>待办 {{ widget_context.count }} 件</p>"),
        context=lambda request: {"count": 7},
    )
    home.register_widget(widget)
    try:
        client.force_login(world.users["admin"])
        body = client.get("/").content.decode()
        assert "测试小组件" in body
        assert "待办 7 件" in body
        client.force_login(world.users["collector"])
        assert "测试小组件" not in client.get("/").content.decode()
    finally:
        home._WIDGETS.pop("test-widget", None)
