"""The working-day calendar and time limits: real holiday data, overrides, fallback, deadlines."""

import datetime as dt
import logging

import chinese_calendar
import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from yikatong.core import time_limits, workdays
from yikatong.core.models import CalendarOverride, TimeLimit
from yikatong.core.workdays import Override, WorkCalendar

D = dt.date.fromisoformat


@pytest.fixture(autouse=True)
def _fresh_calendar_cache():
    workdays.clear_caches()
    yield
    workdays.clear_caches()


# ---------------------------------------------------------------------------------------------------------
# Real data from chinesecalendar (no database: pure WorkCalendar without overrides)
# ---------------------------------------------------------------------------------------------------------

PURE = WorkCalendar({})


def test_package_data_is_what_the_tests_assume():
    # Guard: if the package's data changes, these are the facts the tests below rely on.
    assert chinese_calendar.get_holiday_detail(D("2025-10-01")) == (True, "National Day")
    assert chinese_calendar.get_holiday_detail(D("2025-09-28")) == (False, "National Day")
    assert chinese_calendar.get_holiday_detail(D("2025-10-11")) == (False, "National Day")
    assert chinese_calendar.get_holiday_detail(D("2026-02-16")) == (True, "Spring Festival")
    assert chinese_calendar.get_holiday_detail(D("2026-02-14")) == (False, "Spring Festival")


def test_national_day_2025_is_eight_rest_days():
    for offset in range(8):
        day = D("2025-10-01") + dt.timedelta(days=offset)
        assert not PURE.is_working_day(day), day
    assert PURE.is_working_day(D("2025-10-09"))
    assert PURE.describe(D("2025-10-03")).reason == "国庆节假期"


def test_adjusted_working_days_2025_count_as_working():
    sunday, saturday = D("2025-09-28"), D("2025-10-11")
    assert sunday.weekday() == 6 and saturday.weekday() == 5
    assert PURE.is_working_day(sunday)
    assert PURE.is_working_day(saturday)
    info = PURE.describe(saturday)
    assert info.kind == "adjusted_workday" and info.reason == "国庆节调休上班"
    # an ordinary weekend next to them stays a rest day
    assert not PURE.is_working_day(D("2025-10-12"))
    assert PURE.describe(D("2025-10-12")).kind == "weekend"


def test_spring_festival_2026():
    for offset in range(9):  # 2026-02-15 (Sun) .. 2026-02-23 (Mon)
        day = D("2026-02-15") + dt.timedelta(days=offset)
        assert not PURE.is_working_day(day), day
        assert PURE.describe(day).holiday_name == "春节"
    assert PURE.is_working_day(D("2026-02-14"))  # Saturday, 调休
    assert PURE.is_working_day(D("2026-02-28"))  # Saturday, 调休
    assert PURE.is_working_day(D("2026-02-24"))
    assert not PURE.is_working_day(D("2026-01-01"))
    assert PURE.is_working_day(D("2026-01-04"))  # Sunday, 元旦调休


def test_add_working_days_across_national_day_week():
    assert PURE.add_working_days(D("2025-09-30"), 1) == D("2025-10-09")
    assert PURE.add_working_days(D("2025-09-30"), 2) == D("2025-10-10")
    assert PURE.add_working_days(D("2025-09-30"), 3) == D("2025-10-11")  # the adjusted Saturday counts
    assert PURE.add_working_days(D("2025-09-30"), 4) == D("2025-10-13")
    # the example in the module docstring: Friday + 3 → Sun 9-28 (调休), Mon 9-29, Tue 9-30
    assert PURE.add_working_days(D("2025-09-26"), 3) == D("2025-09-30")


def test_add_working_days_across_spring_festival():
    assert PURE.add_working_days(D("2026-02-13"), 1) == D("2026-02-14")
    assert PURE.add_working_days(D("2026-02-13"), 2) == D("2026-02-24")
    # Thu 02-12 + 10: 13, Sat 14 (调休), 24, 25, 26, 27, Sat 28 (调休), 03-02, 03-03, 03-04
    assert PURE.add_working_days(D("2026-02-12"), 10) == D("2026-03-04")


def test_add_working_days_zero_and_start_on_rest_day():
    assert PURE.add_working_days(D("2025-09-30"), 0) == D("2025-09-30")
    assert PURE.add_working_days(D("2025-10-01"), 0) == D("2025-10-09")
    # the start day never counts, even a rest day: 1 wd after a holiday is the first working day
    assert PURE.add_working_days(D("2025-10-04"), 1) == D("2025-10-09")
    assert PURE.next_working_day(D("2025-10-04")) == D("2025-10-09")
    assert PURE.next_working_day(D("2025-10-09")) == D("2025-10-10")


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_add_working_days_refuses_bad_n(bad):
    with pytest.raises(ValueError):
        PURE.add_working_days(D("2025-09-30"), bad)


def test_add_working_days_refuses_non_dates():
    with pytest.raises(TypeError):
        PURE.add_working_days("2025-09-30", 1)


def test_working_days_between_is_exclusive_start_inclusive_end_and_antisymmetric():
    assert PURE.working_days_between(D("2025-09-30"), D("2025-10-09")) == 1
    assert PURE.working_days_between(D("2025-10-09"), D("2025-09-30")) == -1
    assert PURE.working_days_between(D("2025-10-01"), D("2025-10-08")) == 0
    assert PURE.working_days_between(D("2025-09-30"), D("2025-09-30")) == 0
    # Sat 9-27 (rest) → Tue 9-30: Sun (调休), Mon, Tue
    assert PURE.working_days_between(D("2025-09-27"), D("2025-09-30")) == 3
    # a whole year: 2025 has 261 weekdays, 18 of them holidays, plus 5 adjusted weekend working days = 248
    assert PURE.working_days_between(D("2024-12-31"), D("2025-12-31")) == 248


@hyp_settings(max_examples=200, deadline=None)
@given(start=st.dates(min_value=D("2024-01-01"), max_value=D("2026-11-30")), n=st.integers(1, 40))
def test_add_and_between_are_inverse(start, n):
    end = PURE.add_working_days(start, n)
    assert PURE.is_working_day(end)
    assert PURE.working_days_between(start, end) == n
    assert PURE.working_days_between(end, start) == -n
    # and no earlier day already reaches n
    assert PURE.working_days_between(start, end - dt.timedelta(days=1)) == n - 1


def test_calendar_day_deadline_rolls_forward_off_rest_days():
    assert PURE.add_calendar_days(D("2026-06-01"), 15) == D("2026-06-16")
    assert PURE.add_calendar_days(D("2026-09-16"), 15) == D("2026-10-08")  # 10-01 is a holiday


def test_deadline_status_and_days_overdue_with_explicit_today():
    deadline = D("2025-09-30")
    assert PURE.deadline_status(deadline, D("2025-09-26")) == "ok"  # 3 wd left: Sun 9-28 (调休), Mon, Tue
    assert PURE.deadline_status(deadline, D("2025-09-29")) == "due_soon"  # 1 wd left
    assert PURE.deadline_status(deadline, D("2025-09-30")) == "due_soon"  # due today
    assert PURE.deadline_status(deadline, D("2025-10-01")) == "overdue"
    assert PURE.days_overdue(deadline, D("2025-10-05")) == 0  # overdue, but no working day has passed
    assert PURE.days_overdue(deadline, D("2025-10-09")) == 1
    assert PURE.days_overdue(deadline, D("2025-10-13")) == 4
    assert PURE.days_overdue(deadline, D("2025-09-29")) == 0
    # Friday deadline, seen on Saturday and on Monday
    assert PURE.deadline_status(D("2025-10-10"), D("2025-10-09")) == "due_soon"
    assert PURE.deadline_status(D("2025-10-13"), D("2025-10-12")) == "due_soon"  # Sun → Mon 13 is 1 wd
    assert PURE.deadline_status(D("2025-10-14"), D("2025-10-12")) == "ok"  # Tue 14 is 2 wd


def test_pure_override_wins_over_package():
    cal = WorkCalendar({D("2025-10-02"): Override(True, "值班"), D("2025-09-29"): Override(False, "停电")})
    assert cal.is_working_day(D("2025-10-02"))
    assert not cal.is_working_day(D("2025-09-29"))
    assert cal.describe(D("2025-10-02")).reason == "管理员调整：值班"
    assert cal.describe(D("2025-10-02")).holiday_name == "国庆节"
    assert cal.add_working_days(D("2025-09-30"), 1) == D("2025-10-02")


# ---------------------------------------------------------------------------------------------------------
# Fallback for years the package does not cover
# ---------------------------------------------------------------------------------------------------------

def test_uncovered_year_falls_back_to_weekends_and_warns_once(caplog):
    caplog.set_level(logging.WARNING, logger="yikatong.calendar")
    assert not workdays.is_year_covered(2099)
    assert workdays.is_year_covered(2026)
    assert PURE.is_working_day(D("2099-01-01"))  # a Thursday; New Year unknown without data
    assert not PURE.is_working_day(D("2099-01-03"))  # Saturday
    assert PURE.add_working_days(D("2099-01-02"), 1) == D("2099-01-05")
    assert PURE.describe(D("2099-01-05")).covered is False
    warnings = [r for r in caplog.records if r.name == "yikatong.calendar" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2099 not covered by chinesecalendar" in warnings[0].getMessage()
    PURE.is_working_day(D("2098-06-01"))
    warnings = [r for r in caplog.records if r.name == "yikatong.calendar"]
    assert [("2098" in r.getMessage()) for r in warnings] == [False, True]


def test_uncovered_year_uses_overrides(db):
    CalendarOverride.objects.create(day=D("2099-01-01"), is_working_day=False, reason="元旦（2099 年放假通知）")
    assert not workdays.is_working_day(D("2099-01-01"))
    assert workdays.add_working_days(D("2098-12-31"), 1) == D("2099-01-02")


# ---------------------------------------------------------------------------------------------------------
# Overrides from the database and the per-process cache
# ---------------------------------------------------------------------------------------------------------

def test_override_written_elsewhere_is_seen_without_explicit_invalidation(db):
    """Another process writes the table: the signature check notices, no stale answer."""
    assert not workdays.is_working_day(D("2025-10-02"))
    row = CalendarOverride.objects.create(day=D("2025-10-02"), is_working_day=True, reason="加班")
    assert workdays.is_working_day(D("2025-10-02"))
    assert workdays.add_working_days(D("2025-09-30"), 1) == D("2025-10-02")
    row.is_working_day = False
    row.save()
    assert not workdays.is_working_day(D("2025-10-02"))
    row.delete()
    assert not workdays.is_working_day(D("2025-10-02"))
    assert workdays.add_working_days(D("2025-09-30"), 1) == D("2025-10-09")


def test_overrides_are_cached_not_queried_per_day(db, django_assert_num_queries):
    CalendarOverride.objects.create(day=D("2025-10-02"), is_working_day=True, reason="加班")
    workdays.is_working_day(D("2025-01-01"))  # warm the cache
    with django_assert_num_queries(1):  # only the signature check
        assert workdays.working_days_between(D("2024-12-31"), D("2025-12-31")) == 249
    with django_assert_num_queries(1):
        snapshot = workdays.calendar()
    with django_assert_num_queries(0):
        for offset in range(500):
            snapshot.add_working_days(D("2025-01-01") + dt.timedelta(days=offset), 10)


def test_invalidate_forces_reload(db, django_assert_num_queries):
    workdays.is_working_day(D("2025-01-01"))
    workdays.invalidate()
    with django_assert_num_queries(2):  # signature + reload
        workdays.is_working_day(D("2025-01-01"))


# ---------------------------------------------------------------------------------------------------------
# The clock
# ---------------------------------------------------------------------------------------------------------

def test_today_comes_from_the_clock_setting(db, settings):
    settings.YIKATONG_TODAY = "2025-10-09"
    assert workdays.deadline_status(D("2025-09-30")) == "overdue"
    assert workdays.days_overdue(D("2025-09-30")) == 1
    assert workdays.deadline_status(D("2025-10-10")) == "due_soon"
    assert workdays.deadline_status(D("2025-10-14")) == "ok"
    settings.YIKATONG_TODAY = "2025-09-29"
    assert workdays.deadline_status(D("2025-09-30")) == "due_soon"
    assert workdays.days_overdue(D("2025-09-30")) == 0


# ---------------------------------------------------------------------------------------------------------
# Time limits
# ---------------------------------------------------------------------------------------------------------

def test_defaults_follow_spec_section_4():
    expected = {
        "initial_verification": (3, "wd", "003 §16"),
        "public_notice": (3, "wd", "003 §17"),
        "department_approval": (10, "wd", "003 §18"),
        "finance_review": (5, "wd", "003 §20"),
        "bank_payment": (2, "wd", "003 §21"),
        "unpaid_return": (1, "wd", "003 §9"),
        "failure_correction": (3, "wd", "003 §6"),
        "result_publication": (5, "wd", "003 §23"),
        "central_funds_proposal": (15, "cd", "003 §15"),
        "central_funds_allocation": (30, "cd", "003 §15"),
        "prefecture_direct_allocation": (15, "cd", "003 §15"),
        "prefecture_allocation": (30, "cd", "003 §15"),
    }
    actual = {step: (d.days, d.unit, d.source) for step, d in time_limits.DEFAULTS.items()}
    assert actual == expected
    assert time_limits.DEFAULTS["public_notice"].is_minimum


def test_limit_for_prefers_configured_row(db):
    assert time_limits.limit_for("finance_review") == (5, "wd")
    TimeLimit.objects.create(step="finance_review", label="财政审核", days=3, unit="wd")
    assert time_limits.limit_for("finance_review") == (3, "wd")


def test_limit_for_unknown_step_names_it(db):
    with pytest.raises(KeyError, match="no_such_step"):
        time_limits.limit_for("no_such_step")
    with pytest.raises(KeyError, match="no_such_step"):
        workdays.deadline_for("no_such_step", D("2026-01-05"))


def test_deadline_for_default_vs_configured(db):
    # 2026-09-30 + 5 wd: 10-01..07 National Day, Thu 10-08, Fri 10-09, Sat 10-10 (调休), Mon 10-12, Tue 10-13
    assert workdays.deadline_for("finance_review", D("2026-09-30")) == D("2026-10-13")
    TimeLimit.objects.create(step="finance_review", label="财政审核", days=3, unit="wd")
    assert workdays.deadline_for("finance_review", D("2026-09-30")) == D("2026-10-10")
    assert workdays.deadline_for("unpaid_return", D("2025-09-30")) == D("2025-10-09")
    # calendar days, landing on a holiday → next working day
    assert workdays.deadline_for("central_funds_proposal", D("2026-09-16")) == D("2026-10-08")
    assert workdays.deadline_for("central_funds_allocation", D("2026-06-01")) == D("2026-07-01")


def test_effective_limits_lists_every_step_once(db):
    TimeLimit.objects.create(step="bank_payment", label="银行支付", days=1, unit="wd")
    limits = {item.step: item for item in time_limits.effective_limits()}
    assert set(limits) == set(time_limits.DEFAULTS)
    assert limits["bank_payment"].days == 1 and limits["bank_payment"].configured
    assert limits["bank_payment"].default_days == 2
    assert limits["finance_review"].days == 5 and not limits["finance_review"].configured


def test_register_refuses_bad_limits():
    with pytest.raises(ValueError):
        time_limits.register(time_limits.StepLimit("x_step", "x", 0, "wd", ""))
    with pytest.raises(ValueError):
        time_limits.register(time_limits.StepLimit("x_step", "x", 3, "weeks", ""))
    assert "x_step" not in time_limits.DEFAULTS


# ---------------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------------

def test_cli_add_prints_the_day(db, capsys):
    call_command("workdays", "add", "2026-09-30", "5")
    assert capsys.readouterr().out.strip() == "2026-10-13"


def test_cli_deadline_and_between(db, capsys):
    call_command("workdays", "deadline", "finance_review", "2026-09-30")
    call_command("workdays", "between", "2025-09-30", "2025-10-09")
    out = capsys.readouterr().out
    assert "2026-10-13" in out and "共 1 个工作日" in out


@pytest.mark.parametrize("args, message", [
    (["add", "2026-13-01", "1"], "日期无效"),
    (["add", "2026-09-30", "x"], "工作日数无效"),
    (["add", "2026-09-30", "-2"], "工作日数无效"),
    (["deadline", "nope", "2026-09-30"], "未知的办理环节"),
    (["month", "2026-13"], "月份无效"),
])
def test_cli_bad_input_is_a_command_error(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("workdays", *args)
