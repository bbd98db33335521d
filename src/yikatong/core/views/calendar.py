"""Administrator pages: the working-day calendar (工作日历) and the time limits (办理时限)."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse

from yikatong.core import clock
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.navigation import NavEntry, register
from yikatong.core.scope import Scope
from yikatong.core.selectors import calendar as selectors
from yikatong.core.services import calendar as services

PERMISSION = "calendar.manage"


def register_nav() -> None:
    register(
        NavEntry("系统管理", "工作日历", "core:calendar", PERMISSION, order=910),
        NavEntry("系统管理", "办理时限", "core:time-limits", PERMISSION, order=911),
    )


class OverrideForm(forms.Form):
    day = forms.DateField(label="日期", input_formats=["%Y-%m-%d"],
                          error_messages={"required": "请填写日期。", "invalid": "日期格式应为 YYYY-MM-DD。"})
    is_working_day = forms.TypedChoiceField(
        label="调整为", choices=[("1", "工作日（上班）"), ("0", "休息日（不上班）")],
        coerce=lambda value: value == "1", error_messages={"required": "请选择工作日或休息日。"},
    )
    reason = forms.CharField(label="原因", max_length=200, error_messages={"required": "请填写调整原因。"})


class RemoveOverrideForm(forms.Form):
    day = forms.DateField(input_formats=["%Y-%m-%d"], error_messages={"invalid": "日期格式应为 YYYY-MM-DD。"})
    reason = forms.CharField(max_length=200, error_messages={"required": "请填写删除原因。"})


class TimeLimitForm(forms.Form):
    step = forms.CharField(max_length=50)
    days = forms.IntegerField(required=False, error_messages={"invalid": "时限应为整数天数。"})
    reason = forms.CharField(max_length=200, error_messages={"required": "请填写修改原因。"})


def _first_error(form: forms.Form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return "输入有误，请检查后重试。"


def _scope(request) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require(PERMISSION)
    return scope


@login_required
def calendar_page(request):
    scope = _scope(request)
    today = clock.today()
    form = OverrideForm()
    error = ""
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "set")
        form_class = RemoveOverrideForm if action == "remove" else OverrideForm
        bound = form_class(request.POST)
        if bound.is_valid():
            data = bound.cleaned_data
            try:
                if action == "remove":
                    services.calendar_override_remove(actor=scope, day=data["day"], reason=data["reason"])
                    messages.success(request, f"已删除 {data['day'].isoformat()} 的调整，该日恢复按法定安排计算。")
                else:
                    services.calendar_override_set(
                        actor=scope, day=data["day"], is_working_day=data["is_working_day"], reason=data["reason"],
                    )
                    kind = "工作日" if data["is_working_day"] else "休息日"
                    messages.success(request, f"已将 {data['day'].isoformat()} 设为{kind}。")
                day: dt.date = data["day"]
                return redirect(f"{reverse('core:calendar')}?year={day.year}&month={day.month}")
            except ScopeError:
                raise
            except DomainError as exc:
                error = exc.message
        else:
            error = _first_error(bound)
        if action != "remove":
            form = bound
        status = 400
    year, month = selectors.valid_year_month(
        request.POST.get("year") or request.GET.get("year", today.year),
        request.POST.get("month") or request.GET.get("month"), today,
    )
    weeks = selectors.month_weeks(scope, year, month)
    first = dt.date(year, month, 1)
    prev_month = (first - dt.timedelta(days=1)).replace(day=1)
    next_month = (first + dt.timedelta(days=32)).replace(day=1)
    context = {
        "title": "工作日历",
        "year": year,
        "month": month,
        "weeks": weeks,
        "summary": selectors.month_summary(weeks),
        "year_covered": selectors.year_is_covered(year),
        "overrides": [(o, "一二三四五六日"[o.day.weekday()]) for o in selectors.overrides_for_year(scope, year)],
        "prev_month": prev_month,
        "next_month": next_month,
        "today": today,
        "form": form,
        "error": error,
        "weekday_labels": "一二三四五六日",
    }
    return render(request, "core/calendar/calendar.html", context, status=status)


@login_required
def time_limits_page(request):
    scope = _scope(request)
    error = ""
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "set")
        bound = TimeLimitForm(request.POST)
        if bound.is_valid():
            data = bound.cleaned_data
            try:
                if action == "reset":
                    services.time_limit_reset(actor=scope, step=data["step"], reason=data["reason"])
                    messages.success(request, "已恢复为文件规定的默认时限。")
                else:
                    if data["days"] is None:
                        raise DomainError("请填写时限天数。", field="days")
                    services.time_limit_set(actor=scope, step=data["step"], days=data["days"],
                                            reason=data["reason"])
                    messages.success(request, "办理时限已修改。")
                return redirect("core:time-limits")
            except ScopeError:
                raise
            except DomainError as exc:
                error = exc.message
        else:
            error = _first_error(bound)
        status = 400
    context = {"title": "办理时限", "limits": selectors.limits(scope), "error": error}
    return render(request, "core/calendar/time_limits.html", context, status=status)
