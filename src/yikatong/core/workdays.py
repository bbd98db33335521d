"""The working-day calendar: which days count for time limits, and deadline arithmetic.

How a day is decided (first rule that applies wins):
  1. an administrator's override (CalendarOverride row: this day is / is not a working day, with a reason);
  2. the `chinesecalendar` package: statutory holidays and adjusted working days (调休) of the State Council;
  3. for a year the package has no data for: Monday–Friday are working days, Saturday/Sunday are not, and a
     WARNING is logged once per year per process — administrators must then enter that year's holidays as
     overrides.

Deadline semantics (all dates are local calendar dates; a deadline means "by the end of that day"):
  * `add_working_days(D, N)`, N >= 1: the N-th working day strictly after D. D itself never counts, whether
    or not it is a working day. A step started on day D with a limit of N working days is due at the end of
    `add_working_days(D, N)`. Example: started Friday 2025-09-26, 3 wd → Sun 09-28 (调休 working day) = 1,
    Mon 09-29 = 2, Tue 09-30 = 3 → due 2025-09-30.
  * `add_working_days(D, 0)`: D when D is a working day, otherwise the next working day.
  * `working_days_between(A, B)`: the number of working days d with A < d <= B; negative (and symmetric,
    `working_days_between(B, A) == -working_days_between(A, B)`) when B < A. For N >= 1,
    `working_days_between(D, add_working_days(D, N)) == N`.
  * `deadline_status(deadline, today)`: "overdue" when today is after the deadline day; "due_soon" when the
    deadline is today or on the next working day (at most 1 working day left); otherwise "ok".
  * `days_overdue(deadline, today)`: working days elapsed after the deadline, up to and including today
    (0 when not overdue — and also 0 on the weekend straight after a missed Friday deadline, while the status
    is already "overdue").
  * Calendar-day limits (unit "cd"): D + N calendar days; when that day is not a working day the deadline
    moves to the next working day (民法典 第二百零三条: a period ending on a statutory rest day ends on the
    first day after it).

"Today" always comes from yikatong.core.clock.today().

Performance: the public functions each run one cheap query ("SELECT max(updated_at), count(*)" on the
overrides table) to see whether the override cache of this process is still current, and reload the overrides
only when it is not. For loops over many items, take one snapshot with `calendar()` and call its methods:
they never touch the database.
"""

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import chinese_calendar

from yikatong.core import clock

log = logging.getLogger("yikatong.calendar")

# No working day within this many days means the calendar is misconfigured (e.g. a year of overrides).
_MAX_SCAN_DAYS = 800

OK, DUE_SOON, OVERDUE = "ok", "due_soon", "overdue"
STATUS_LABELS = {OK: "正常", DUE_SOON: "即将到期", OVERDUE: "已超期"}


# --------------------------------------------------------------------------------------------------------
# Base calendar: chinesecalendar, else weekends
# --------------------------------------------------------------------------------------------------------

_warned_years: set[int] = set()
_warn_lock = threading.Lock()


def _holiday_name_zh(name: str | None) -> str:
    if not name:
        return ""
    try:
        return chinese_calendar.Holiday(name).chinese
    except ValueError:
        return name


@lru_cache(maxsize=65536)
def _base_detail(day: dt.date) -> tuple[bool, str, bool]:
    """(is working day, Chinese holiday name or "", year covered by chinesecalendar)."""
    try:
        is_rest, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        _warn_uncovered(day.year)
        return day.weekday() < 5, "", False
    return not is_rest, _holiday_name_zh(name), True


def _warn_uncovered(year: int) -> None:
    with _warn_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    log.warning(
        "year %s not covered by chinesecalendar; using weekends plus overrides — add overrides for that "
        "year's holidays", year,
    )


def is_year_covered(year: int) -> bool:
    """Whether chinesecalendar has the State Council holiday schedule for this year."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


# --------------------------------------------------------------------------------------------------------
# The calendar (pure: overrides are given, no database access)
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Override:
    is_working_day: bool
    reason: str


@dataclass(frozen=True)
class DayInfo:
    day: dt.date
    is_working_day: bool
    kind: str  # override | holiday | adjusted_workday | weekend | weekday
    reason: str  # why, in Chinese, for the UI
    holiday_name: str  # Chinese holiday name from chinesecalendar, "" if none
    covered: bool  # False when chinesecalendar has no data for the year (weekends-only fallback)

    @property
    def weekday_label(self) -> str:
        return "一二三四五六日"[self.day.weekday()]


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        from django.utils import timezone

        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"expected a date, got {type(value).__name__}: {value!r}")


class WorkCalendar:
    """Working-day arithmetic over a fixed set of overrides. Cheap to create; safe to share read-only."""

    def __init__(self, overrides: Mapping[dt.date, Override] | None = None):
        self.overrides: Mapping[dt.date, Override] = overrides or {}

    # -- single days -------------------------------------------------------------------------------------
    def is_working_day(self, day) -> bool:
        day = _as_date(day)
        override = self.overrides.get(day)
        if override is not None:
            return override.is_working_day
        return _base_detail(day)[0]

    def describe(self, day) -> DayInfo:
        day = _as_date(day)
        base_working, holiday, covered = _base_detail(day)
        override = self.overrides.get(day)
        if override is not None:
            return DayInfo(day, override.is_working_day, "override", f"管理员调整：{override.reason}",
                           holiday, covered)
        weekend = day.weekday() >= 5
        if holiday and base_working:
            return DayInfo(day, True, "adjusted_workday", f"{holiday}调休上班", holiday, covered)
        if holiday:
            return DayInfo(day, False, "holiday", f"{holiday}假期", holiday, covered)
        suffix = "" if covered else "（该年无法定节假日数据，仅按周末计算）"
        if weekend:
            return DayInfo(day, False, "weekend", "周末" + suffix, "", covered)
        return DayInfo(day, True, "weekday", "工作日" + suffix, "", covered)

    # -- arithmetic ---------------------------------------------------------------------------------------
    def next_working_day(self, day) -> dt.date:
        """The first working day strictly after `day`."""
        day = _as_date(day)
        for offset in range(1, _MAX_SCAN_DAYS + 1):
            candidate = day + dt.timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days after {day}; check calendar overrides")

    def add_working_days(self, start, n: int) -> dt.date:
        """n >= 1: the n-th working day strictly after `start`; n == 0: `start` if it is a working day,
        else the next working day. A step started on D with a limit of N working days is due at the end
        of add_working_days(D, N)."""
        start = _as_date(start)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        if n == 0:
            return start if self.is_working_day(start) else self.next_working_day(start)
        day = start
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def add_calendar_days(self, start, n: int) -> dt.date:
        """start + n calendar days, moved to the next working day when that day is a rest day."""
        start = _as_date(start)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        day = start + dt.timedelta(days=n)
        return day if self.is_working_day(day) else self.next_working_day(day)

    def working_days_between(self, start, end) -> int:
        """Working days d with start < d <= end; the negated count of end < d <= start when end < start."""
        start, end = _as_date(start), _as_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        day = start + dt.timedelta(days=1)
        one = dt.timedelta(days=1)
        while day <= end:
            if self.is_working_day(day):
                count += 1
            day += one
        return count

    def deadline(self, start, days: int, unit: str) -> dt.date:
        from yikatong.core.time_limits import CALENDAR_DAYS, WORKING_DAYS

        if unit == WORKING_DAYS:
            return self.add_working_days(start, days)
        if unit == CALENDAR_DAYS:
            return self.add_calendar_days(start, days)
        raise ValueError(f"unknown time-limit unit {unit!r}")

    def days_overdue(self, deadline, today=None) -> int:
        today = _as_date(today) if today is not None else clock.today()
        return max(0, self.working_days_between(_as_date(deadline), today))

    def deadline_status(self, deadline, today=None) -> str:
        deadline = _as_date(deadline)
        today = _as_date(today) if today is not None else clock.today()
        if today > deadline:
            return OVERDUE
        if self.working_days_between(today, deadline) <= 1:
            return DUE_SOON
        return OK

    def month(self, year: int, month: int) -> list[DayInfo]:
        first = dt.date(year, month, 1)
        days = []
        day = first
        while day.month == month:
            days.append(self.describe(day))
            day += dt.timedelta(days=1)
        return days


# --------------------------------------------------------------------------------------------------------
# Overrides from the database, cached per process
# --------------------------------------------------------------------------------------------------------

class _OverrideCache:
    def __init__(self):
        self.lock = threading.Lock()
        self.signature = None
        self.valid = False
        self.overrides: dict[dt.date, Override] = {}


_cache = _OverrideCache()


def _signature():
    from django.db.models import Count, Max

    from yikatong.core.models import CalendarOverride

    agg = CalendarOverride.objects.aggregate(latest=Max("updated_at"), n=Count("id"))
    return agg["latest"], agg["n"]


def _load_overrides() -> dict[dt.date, Override]:
    from yikatong.core.models import CalendarOverride

    return {
        day: Override(is_working, reason)
        for day, is_working, reason in CalendarOverride.objects.values_list("day", "is_working_day", "reason")
    }


def current_overrides() -> Mapping[dt.date, Override]:
    """All overrides, reloaded only when the table changed (checked with one aggregate query)."""
    signature = _signature()
    with _cache.lock:
        if _cache.valid and _cache.signature == signature:
            return _cache.overrides
    # Read after the signature: the data is at least as new as the signature we store with it.
    overrides = _load_overrides()
    with _cache.lock:
        _cache.overrides, _cache.signature, _cache.valid = overrides, signature, True
    return overrides


def invalidate() -> None:
    """Forget the cached overrides of this process (the services call this after a change)."""
    with _cache.lock:
        _cache.valid = False


def clear_caches() -> None:
    """Forget everything cached, including which uncovered years were already warned about (tests)."""
    invalidate()
    _base_detail.cache_clear()
    with _warn_lock:
        _warned_years.clear()


def calendar() -> WorkCalendar:
    """A snapshot of the calendar with the current overrides; use it for loops over many dates."""
    return WorkCalendar(current_overrides())


# --------------------------------------------------------------------------------------------------------
# Public functions (each checks the overrides are current)
# --------------------------------------------------------------------------------------------------------

def is_working_day(day) -> bool:
    return calendar().is_working_day(day)


def describe_day(day) -> DayInfo:
    return calendar().describe(day)


def next_working_day(day) -> dt.date:
    return calendar().next_working_day(day)


def add_working_days(start, n: int) -> dt.date:
    """n >= 1: the n-th working day strictly after `start` (start itself never counts); n == 0: `start` if it
    is a working day, else the next working day. A step started on day D with a limit of N working days is
    due at the end of add_working_days(D, N)."""
    return calendar().add_working_days(start, n)


def working_days_between(start, end) -> int:
    """Working days d with start < d <= end; negative (symmetric) when end < start."""
    return calendar().working_days_between(start, end)


def deadline_for(step: str, start) -> dt.date:
    """The deadline of a step started on `start`, from its effective time limit (working or calendar days).

    Raises KeyError for an unknown step."""
    from yikatong.core.time_limits import limit_for

    days, unit = limit_for(step)
    return calendar().deadline(start, days, unit)


def days_overdue(deadline, today=None) -> int:
    """Working days after `deadline` up to and including today (clock.today() when not given); 0 if not late."""
    return calendar().days_overdue(deadline, today)


def deadline_status(deadline, today=None) -> str:
    """'overdue' (today after the deadline), 'due_soon' (at most 1 working day left) or 'ok'."""
    return calendar().deadline_status(deadline, today)
