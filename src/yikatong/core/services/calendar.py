"""Writes to the working-day calendar and the time limits (permission "calendar.manage", audited)."""

import datetime as dt

from django.db import transaction

from yikatong.core import audit, time_limits, workdays
from yikatong.core.errors import DomainError
from yikatong.core.models import CalendarOverride, TimeLimit
from yikatong.core.scope import Scope

PERMISSION = "calendar.manage"
MAX_LIMIT_DAYS = 365
_REASON_MAX = CalendarOverride._meta.get_field("reason").max_length


def _clean_reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("请填写调整原因（例如所依据的国务院办公厅放假通知文号）。", field="reason")
    if len(reason) > _REASON_MAX:
        raise DomainError(f"原因过长：最多 {_REASON_MAX} 个字，请精简。", field="reason")
    return reason


def _clean_day(day) -> dt.date:
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise DomainError("日期无效：请按 YYYY-MM-DD 格式填写日期。", field="day")
    return day


def _override_dict(override: CalendarOverride | None) -> dict | None:
    if override is None:
        return None
    return {"day": override.day.isoformat(), "is_working_day": override.is_working_day, "reason": override.reason}


def _invalidate_after_commit() -> None:
    # Now for this process (reads inside the transaction see the change), and again once committed.
    workdays.invalidate()
    transaction.on_commit(workdays.invalidate)


def calendar_override_set(*, actor: Scope, day: dt.date, is_working_day: bool, reason: str) -> CalendarOverride:
    """Make `day` a working day or a rest day, whatever the holiday schedule says (create or update)."""
    actor.require_write(PERMISSION)
    day = _clean_day(day)
    reason = _clean_reason(reason)
    if not isinstance(is_working_day, bool):
        raise DomainError("请选择该日是工作日还是休息日。", field="is_working_day")
    with transaction.atomic():
        override = CalendarOverride.objects.select_for_update().filter(day=day).first()
        before = _override_dict(override)
        if override is None:
            override = CalendarOverride(day=day)
        override.is_working_day = is_working_day
        override.reason = reason
        override.save()
        audit.record(
            actor=actor, action="calendar_override.set", obj=override, before=before,
            after=_override_dict(override), reason=reason,
        )
        _invalidate_after_commit()
    return override


def calendar_override_remove(*, actor: Scope, day: dt.date, reason: str) -> None:
    """Delete the override of `day`: the day follows the holiday schedule again."""
    actor.require_write(PERMISSION)
    day = _clean_day(day)
    reason = _clean_reason(reason)
    with transaction.atomic():
        override = CalendarOverride.objects.select_for_update().filter(day=day).first()
        if override is None:
            raise DomainError(f"{day.isoformat()} 没有工作日调整记录，无需删除。", field="day")
        before = _override_dict(override)
        object_id = str(override.pk)
        override.delete()
        audit.record(
            actor=actor, action="calendar_override.remove", object_type="core.calendaroverride",
            object_id=object_id, before=before, after=None, reason=reason,
        )
        _invalidate_after_commit()


def _limit_dict(step: str, row: TimeLimit | None) -> dict:
    default = time_limits.DEFAULTS[step]
    if row is None:
        return {"step": step, "days": default.days, "unit": default.unit, "configured": False}
    return {"step": step, "days": row.days, "unit": row.unit, "configured": True}


def _known_step(step) -> time_limits.StepLimit:
    try:
        return time_limits.DEFAULTS[step]
    except (KeyError, TypeError):
        raise DomainError(f"未知的办理环节：{step}。请从办理时限列表中选择。", field="step") from None


def time_limit_set(*, actor: Scope, step: str, days: int, reason: str) -> TimeLimit:
    """Set the number of days of a step's time limit (the unit stays the documented one)."""
    actor.require_write(PERMISSION)
    default = _known_step(step)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_LIMIT_DAYS:
        raise DomainError(f"时限必须是 1 至 {MAX_LIMIT_DAYS} 之间的整数天数。", field="days")
    reason = _clean_reason(reason)
    with transaction.atomic():
        row = TimeLimit.objects.select_for_update().filter(step=step).first()
        before = _limit_dict(step, row)
        if row is None:
            row = TimeLimit(step=step, unit=default.unit)
        row.label, row.source, row.days = default.label, default.source, days
        row.save()
        audit.record(
            actor=actor, action="time_limit.set", obj=row, before=before, after=_limit_dict(step, row),
            reason=reason,
        )
    return row


def time_limit_reset(*, actor: Scope, step: str, reason: str) -> None:
    """Drop the administrator's setting of a step: the documented default applies again."""
    actor.require_write(PERMISSION)
    _known_step(step)
    reason = _clean_reason(reason)
    with transaction.atomic():
        row = TimeLimit.objects.select_for_update().filter(step=step).first()
        if row is None:
            raise DomainError("该环节使用的已是默认时限，无需恢复。", field="step")
        before = _limit_dict(step, row)
        object_id = str(row.pk)
        row.delete()
        audit.record(
            actor=actor, action="time_limit.reset", object_type="core.timelimit", object_id=object_id,
            before=before, after=_limit_dict(step, None), reason=reason,
        )
