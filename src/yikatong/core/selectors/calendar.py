"""Reads for the calendar administration pages. The calendar and time limits are platform-wide reference
data (no region), so the scope check is the permission itself."""

import calendar as std_calendar
import datetime as dt

from yikatong.core import time_limits, workdays
from yikatong.core.models import CalendarOverride
from yikatong.core.scope import Scope

PERMISSION = "calendar.manage"


def overrides_for_year(scope: Scope, year: int):
    scope.require(PERMISSION)
    return CalendarOverride.objects.filter(day__year=year).order_by("day")


def month_weeks(scope: Scope, year: int, month: int) -> list[list[workdays.DayInfo | None]]:
    """The month as weeks Monday..Sunday; cells outside the month are None."""
    scope.require(PERMISSION)
    days = {info.day: info for info in workdays.calendar().month(year, month)}
    weeks = std_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    return [[days.get(day) for day in week] for week in weeks]


def month_summary(weeks: list[list[workdays.DayInfo | None]]) -> dict:
    infos = [info for week in weeks for info in week if info is not None]
    return {
        "working": sum(1 for info in infos if info.is_working_day),
        "rest": sum(1 for info in infos if not info.is_working_day),
        "covered": all(info.covered for info in infos),
    }


def limits(scope: Scope) -> list[time_limits.EffectiveLimit]:
    scope.require(PERMISSION)
    return time_limits.effective_limits()


def year_is_covered(year: int) -> bool:
    return workdays.is_year_covered(year)


def valid_year_month(year, month, today: dt.date) -> tuple[int, int]:
    """Parse ?year=&month= from a request, falling back to today's month on anything unusable."""
    try:
        year = int(year)
        month = int(month) if month not in (None, "") else today.month
    except (TypeError, ValueError):
        return today.year, today.month
    if not (1900 <= year <= 2999 and 1 <= month <= 12):
        return today.year, today.month
    return year, month
