"""Calendar and time-limit administration: services (permission, validation, audit) and the two pages."""

import datetime as dt

import pytest

from yikatong.core import time_limits, workdays
from yikatong.core.audit import verify_chain
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent, CalendarOverride, TimeLimit
from yikatong.core.scope import Scope
from yikatong.core.services import calendar as services

D = dt.date.fromisoformat


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    workdays.clear_caches()
    yield
    workdays.clear_caches()


@pytest.fixture
def admin(world):
    return Scope.for_user(world.users["admin"])


@pytest.fixture
def admin_client(client, world):
    client.force_login(world.users["admin"])
    return client


# ---------------------------------------------------------------------------------------------------------
# Services: overrides
# ---------------------------------------------------------------------------------------------------------

def test_override_turns_holiday_into_working_day_and_back(admin):
    day = D("2025-10-02")
    assert not workdays.is_working_day(day)
    services.calendar_override_set(actor=admin, day=day, is_working_day=True, reason="防汛值班，全员上班")
    assert workdays.is_working_day(day)
    assert workdays.add_working_days(D("2025-09-30"), 1) == day
    assert workdays.describe_day(day).reason == "管理员调整：防汛值班，全员上班"

    services.calendar_override_set(actor=admin, day=day, is_working_day=False, reason="值班取消")
    assert not workdays.is_working_day(day)
    assert CalendarOverride.objects.get(day=day).reason == "值班取消"

    services.calendar_override_set(actor=admin, day=day, is_working_day=True, reason="再次值班")
    services.calendar_override_remove(actor=admin, day=day, reason="按法定安排执行")
    assert not CalendarOverride.objects.filter(day=day).exists()
    assert not workdays.is_working_day(day)
    assert workdays.add_working_days(D("2025-09-30"), 1) == D("2025-10-09")


def test_override_changes_are_audited_with_before_and_after(admin):
    day = D("2026-10-09")
    override = services.calendar_override_set(actor=admin, day=day, is_working_day=False, reason="台风停工")
    services.calendar_override_set(actor=admin, day=day, is_working_day=True, reason="台风改道，恢复上班")
    services.calendar_override_remove(actor=admin, day=day, reason="无需调整")

    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.action for e in events] == [
        "calendar_override.set", "calendar_override.set", "calendar_override.remove",
    ]
    created, updated, removed = events
    assert created.before is None
    assert created.after == {"day": "2026-10-09", "is_working_day": False, "reason": "台风停工"}
    assert created.object_type == "core.calendaroverride" and created.object_id == str(override.pk)
    assert created.actor_username == "t_admin" and created.reason == "台风停工"
    assert updated.before == created.after
    assert updated.after["is_working_day"] is True
    assert removed.before == updated.after and removed.after is None
    assert removed.object_id == str(override.pk) and removed.reason == "无需调整"
    assert verify_chain() is None


@pytest.mark.parametrize("role", ["finance", "supervisor", "collector", "paying_bank"])
def test_override_refused_for_non_admin_roles(world, role):
    scope = Scope.for_user(world.users[role])
    with pytest.raises(ScopeError):
        services.calendar_override_set(actor=scope, day=D("2026-10-09"), is_working_day=False, reason="想放假")
    CalendarOverride.objects.create(day=D("2026-10-12"), is_working_day=False, reason="既有调整")
    with pytest.raises(ScopeError):
        services.calendar_override_remove(actor=scope, day=D("2026-10-12"), reason="删掉")
    assert list(CalendarOverride.objects.values_list("day", flat=True)) == [D("2026-10-12")]
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("reason", ["", "   ", None, "长" * 201])
def test_override_needs_a_reason(admin, reason):
    with pytest.raises(DomainError) as info:
        services.calendar_override_set(actor=admin, day=D("2026-10-09"), is_working_day=False, reason=reason)
    assert info.value.field == "reason"
    assert not CalendarOverride.objects.exists()
    assert not AuditEvent.objects.exists()


def test_override_validates_day_and_flag(admin):
    with pytest.raises(DomainError, match="日期无效"):
        services.calendar_override_set(actor=admin, day="2026-10-09", is_working_day=False, reason="x")
    with pytest.raises(DomainError, match="工作日还是休息日"):
        services.calendar_override_set(actor=admin, day=D("2026-10-09"), is_working_day="no", reason="x")
    assert not CalendarOverride.objects.exists()


def test_remove_without_override_is_refused(admin):
    with pytest.raises(DomainError, match="没有工作日调整记录"):
        services.calendar_override_remove(actor=admin, day=D("2026-10-09"), reason="清理")
    with pytest.raises(DomainError, match="原因"):
        services.calendar_override_remove(actor=admin, day=D("2026-10-09"), reason=" ")
    assert not AuditEvent.objects.exists()


def test_system_scope_may_manage_calendar(db):
    services.calendar_override_set(actor=Scope.system(), day=D("2099-01-01"), is_working_day=False,
                                   reason="元旦（导入放假通知）")
    assert not workdays.is_working_day(D("2099-01-01"))
    assert AuditEvent.objects.get().actor_username == "system"


# ---------------------------------------------------------------------------------------------------------
# Services: time limits
# ---------------------------------------------------------------------------------------------------------

def test_time_limit_set_changes_deadline_and_is_audited(admin):
    start = D("2026-09-30")
    assert workdays.deadline_for("finance_review", start) == D("2026-10-13")
    row = services.time_limit_set(actor=admin, step="finance_review", days=3, reason="省财政厅通知压缩时限")
    assert (row.days, row.unit, row.label, row.source) == (3, "wd", "财政部门审核资金申请", "003 §20")
    assert time_limits.limit_for("finance_review") == (3, "wd")
    assert workdays.deadline_for("finance_review", start) == D("2026-10-10")

    services.time_limit_set(actor=admin, step="finance_review", days=4, reason="再调整")
    services.time_limit_reset(actor=admin, step="finance_review", reason="恢复文件规定")
    assert not TimeLimit.objects.exists()
    assert workdays.deadline_for("finance_review", start) == D("2026-10-13")

    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.action for e in events] == ["time_limit.set", "time_limit.set", "time_limit.reset"]
    assert events[0].before == {"step": "finance_review", "days": 5, "unit": "wd", "configured": False}
    assert events[0].after == {"step": "finance_review", "days": 3, "unit": "wd", "configured": True}
    assert events[1].before["days"] == 3 and events[1].after["days"] == 4
    assert events[2].before["days"] == 4 and events[2].after == events[0].before
    assert events[0].reason == "省财政厅通知压缩时限"
    assert verify_chain() is None


def test_calendar_day_unit_is_kept(admin):
    row = services.time_limit_set(actor=admin, step="central_funds_allocation", days=20, reason="试行")
    assert row.unit == "cd"
    assert workdays.deadline_for("central_funds_allocation", D("2026-06-01")) == D("2026-06-22")  # 21st is Sunday


@pytest.mark.parametrize("days", [0, -3, 366, 2.5, "5", True])
def test_time_limit_days_must_be_a_sensible_integer(admin, days):
    with pytest.raises(DomainError, match="1 至 365"):
        services.time_limit_set(actor=admin, step="bank_payment", days=days, reason="调整")
    assert not TimeLimit.objects.exists()
    assert not AuditEvent.objects.exists()


def test_time_limit_unknown_step_and_missing_reason(admin):
    with pytest.raises(DomainError, match="未知的办理环节：bogus"):
        services.time_limit_set(actor=admin, step="bogus", days=3, reason="调整")
    with pytest.raises(DomainError, match="原因"):
        services.time_limit_set(actor=admin, step="bank_payment", days=3, reason="")
    with pytest.raises(DomainError, match="已是默认时限"):
        services.time_limit_reset(actor=admin, step="bank_payment", reason="恢复")
    assert not TimeLimit.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", ["finance", "civil", "supervisor"])
def test_time_limit_refused_for_non_admin(world, role):
    scope = Scope.for_user(world.users[role])
    with pytest.raises(ScopeError):
        services.time_limit_set(actor=scope, step="bank_payment", days=5, reason="想延长")
    TimeLimit.objects.create(step="bank_payment", label="银行", days=1, unit="wd")
    with pytest.raises(ScopeError):
        services.time_limit_reset(actor=scope, step="bank_payment", reason="恢复")
    assert TimeLimit.objects.get().days == 1
    assert not AuditEvent.objects.exists()


# ---------------------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------------------

def test_calendar_page_shows_month_with_reasons(admin_client):
    response = admin_client.get("/calendar/?year=2025&month=10")
    assert response.status_code == 200
    html = response.content.decode()
    assert "2025 年 10 月" in html
    assert 'data-day="2025-10-01" data-working="0" data-kind="holiday"' in html
    assert 'data-day="2025-10-11" data-working="1" data-kind="adjusted_workday"' in html
    assert 'data-day="2025-10-12" data-working="0" data-kind="weekend"' in html
    assert "国庆节假期" in html and "国庆节调休上班" in html
    # October 2025: 23 weekdays − 6 holiday weekdays + Sat 10-11 = 18 working days
    assert '<strong data-testid="working-count">18</strong>' in html
    assert 'data-testid="uncovered"' not in html


def test_calendar_page_warns_for_uncovered_year(admin_client):
    html = admin_client.get("/calendar/?year=2099&month=1").content.decode()
    assert 'data-testid="uncovered"' in html
    assert "2099 年尚无法定节假日数据" in html


def test_calendar_page_bad_query_falls_back_to_today(admin_client, settings):
    settings.YIKATONG_TODAY = "2026-02-10"
    response = admin_client.get("/calendar/?year=abc&month=99")
    assert response.status_code == 200
    assert "2026 年 2 月" in response.content.decode()


def test_calendar_page_add_and_remove_override(admin_client):
    response = admin_client.post("/calendar/", {
        "action": "set", "day": "2025-10-02", "is_working_day": "1", "reason": "集中办理补贴发放",
    })
    assert response.status_code == 302
    assert response["Location"] == "/calendar/?year=2025&month=10"
    override = CalendarOverride.objects.get(day=D("2025-10-02"))
    assert override.is_working_day and override.reason == "集中办理补贴发放"

    html = admin_client.get(response["Location"]).content.decode()
    assert 'data-day="2025-10-02" data-working="1" data-kind="override"' in html
    assert "管理员调整：集中办理补贴发放" in html
    assert "已将 2025-10-02 设为工作日" in html
    assert '<tr data-day="2025-10-02">' in html and "<td>周四</td>" in html  # listed among the year's overrides

    response = admin_client.post("/calendar/", {"action": "remove", "day": "2025-10-02", "reason": "安排取消"})
    assert response.status_code == 302
    assert not CalendarOverride.objects.exists()
    assert [e.action for e in AuditEvent.objects.order_by("seq")] == [
        "calendar_override.set", "calendar_override.remove",
    ]
    assert AuditEvent.objects.order_by("seq").last().client_ip == "127.0.0.1"


@pytest.mark.parametrize("data, message", [
    ({"action": "set", "day": "2025-10-02", "is_working_day": "1", "reason": ""}, "请填写调整原因"),
    ({"action": "set", "day": "2025-10-02", "is_working_day": "1", "reason": "   "}, "请填写调整原因"),
    ({"action": "set", "day": "2025/10/02", "is_working_day": "1", "reason": "x"}, "日期格式应为"),
    ({"action": "set", "day": "2025-10-02", "is_working_day": "", "reason": "x"}, "请选择工作日或休息日"),
    ({"action": "remove", "day": "2025-10-03", "reason": "清理"}, "没有工作日调整记录"),
])
def test_calendar_page_rejects_bad_input_readably(admin_client, data, message):
    response = admin_client.post("/calendar/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CalendarOverride.objects.exists()
    assert not AuditEvent.objects.exists()


def test_time_limits_page_lists_and_edits(admin_client):
    response = admin_client.get("/time-limits/")
    assert response.status_code == 200
    html = response.content.decode()
    for step in time_limits.DEFAULTS:
        assert f'data-step="{step}"' in html
    assert 'data-step="department_approval" data-days="10" data-configured="0"' in html
    assert "003 §18" in html

    response = admin_client.post("/time-limits/", {
        "action": "set", "step": "department_approval", "days": "8", "reason": "区政府要求提速",
    })
    assert response.status_code == 302
    assert TimeLimit.objects.get(step="department_approval").days == 8
    html = admin_client.get("/time-limits/").content.decode()
    assert 'data-step="department_approval" data-days="8" data-configured="1"' in html

    response = admin_client.post("/time-limits/", {"action": "reset", "step": "department_approval",
                                                   "reason": "恢复"})
    assert response.status_code == 302
    assert not TimeLimit.objects.exists()
    assert [e.action for e in AuditEvent.objects.order_by("seq")] == ["time_limit.set", "time_limit.reset"]


@pytest.mark.parametrize("data, message", [
    ({"action": "set", "step": "bank_payment", "days": "0", "reason": "x"}, "1 至 365"),
    ({"action": "set", "step": "bank_payment", "days": "abc", "reason": "x"}, "时限应为整数天数"),
    ({"action": "set", "step": "bank_payment", "days": "", "reason": "x"}, "请填写时限天数"),
    ({"action": "set", "step": "bank_payment", "days": "3", "reason": ""}, "请填写修改原因"),
    ({"action": "set", "step": "bogus", "days": "3", "reason": "x"}, "未知的办理环节"),
])
def test_time_limits_page_rejects_bad_input(admin_client, data, message):
    response = admin_client.post("/time-limits/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TimeLimit.objects.exists()


@pytest.mark.parametrize("url", ["/calendar/", "/time-limits/"])
def test_pages_forbidden_for_finance(client, world, url):
    client.force_login(world.users["finance"])
    assert client.get(url).status_code == 403
    response = client.post(url, {"action": "set", "day": "2025-10-02", "is_working_day": "1",
                                 "step": "bank_payment", "days": "9", "reason": "越权"})
    assert response.status_code == 403
    assert "无权" in response.content.decode()
    assert not CalendarOverride.objects.exists() and not TimeLimit.objects.exists()


@pytest.mark.parametrize("url", ["/calendar/", "/time-limits/"])
def test_pages_require_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_navigation_shows_entries_to_admin_only(client, world):
    client.force_login(world.users["admin"])
    html = client.get("/").content.decode()
    assert 'data-nav="core:calendar"' in html and 'data-nav="core:time-limits"' in html
    client.force_login(world.users["finance"])
    html = client.get("/").content.decode()
    assert 'data-nav="core:calendar"' not in html and 'data-nav="core:time-limits"' not in html
