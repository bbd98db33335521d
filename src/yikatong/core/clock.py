"""The one clock of the platform. Tests and demos set "today" with the YIKATONG_TODAY setting or
environment variable (YYYY-MM-DD); everything that needs the date or time asks here."""

import datetime as dt
import os

from django.conf import settings
from django.utils import timezone


def _fixed_today() -> dt.date | None:
    value = getattr(settings, "YIKATONG_TODAY", "") or os.environ.get("YIKATONG_TODAY", "")
    if not value:
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def today() -> dt.date:
    fixed = _fixed_today()
    return fixed if fixed else timezone.localdate()


def now() -> dt.datetime:
    """Aware current time; on a fixed day, that day at the current local time of day."""
    current = timezone.localtime()
    fixed = _fixed_today()
    if fixed:
        current = current.replace(year=fixed.year, month=fixed.month, day=fixed.day)
    return current
