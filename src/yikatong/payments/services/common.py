"""Helpers every payments service uses: numbers, locks, state moves with their history, ledger entries.

Services (one module per concern, see docs/payments.md) import from here; nothing here checks business rules
beyond the transition table and scope, which every write needs."""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.db.models import BigIntegerField, Count, F, Sum
from django.db.models.functions import Cast, Round

from yikatong.core import audit, clock, workdays
from yikatong.core.errors import DomainError
from yikatong.core.money import from_fen
from yikatong.core.scope import Scope

from .. import workflow
from ..models import (
    DisbursementEntry,
    DisbursementPlan,
    ItemEvent,
    PaymentBatch,
    PaymentItem,
    PlanEvent,
)


def next_number(prefix: str, model, *, field: str = "number", on: dt.date | None = None) -> str:
    """`prefix` + YYYYMMDD + a 5-digit sequence of the day, e.g. FA2026031000001. Call inside the transaction
    that inserts the row; the unique constraint on `field` refuses a racing duplicate (the caller retries)."""
    day = (on or clock.today()).strftime("%Y%m%d")
    stem = f"{prefix}{day}"
    last = (model.objects.filter(**{f"{field}__startswith": stem}).order_by(f"-{field}")
            .values_list(field, flat=True).first())
    seq = int(last[len(stem):]) + 1 if last else 1
    return f"{stem}{seq:05d}"


def deadline(step: str, start: dt.date | None = None) -> dt.date | None:
    """The deadline of a time-limit step starting on `start` (default today), from the working-day calendar."""
    if not step:
        return None
    return workdays.deadline_for(step, start or clock.today())


def lock_plan(plan_id) -> DisbursementPlan:
    try:
        return DisbursementPlan.objects.select_for_update().select_related("policy", "region").get(pk=plan_id)
    except (DisbursementPlan.DoesNotExist, ValueError, TypeError):
        raise DomainError("发放方案不存在。", code="not_found") from None


def lock_batch(batch_id) -> PaymentBatch:
    try:
        return PaymentBatch.objects.select_for_update().select_related("plan", "policy").get(pk=batch_id)
    except (PaymentBatch.DoesNotExist, ValueError, TypeError):
        raise DomainError("代发批次不存在。", code="not_found") from None


def require_plan_scope(actor: Scope, plan: DisbursementPlan, permission: str) -> None:
    """Write access to a plan: the permission, the plan's region, its business line (departments), and for a
    department only its own organization's plans."""
    actor.require_write(permission)
    actor.require_object(region_code=plan.region_id, business_line=plan.business_line)
    if not actor.is_system and permission == "payment.plan" and actor.organization_id != plan.organization_id:
        from yikatong.core.errors import ScopeError

        raise ScopeError("只能办理本部门编制的发放方案。")


def plan_snapshot(plan: DisbursementPlan) -> dict:
    return {"number": plan.number, "status": plan.status, "item_count": plan.item_count,
            "total_amount": str(plan.total_amount), "committed_amount": str(plan.committed_amount)}


def move_plan(actor: Scope, plan: DisbursementPlan, action: str, *, reason: str = "",
              extra_fields: Iterable[str] = ()) -> DisbursementPlan:
    """Perform a plan transition (already locked): checks the table, sets the step deadline, writes the plan's
    history and the audit event. Extra changed fields of the caller are saved with it."""
    tr = workflow.plan_transition(action, plan.status)
    before = plan_snapshot(plan)
    old = plan.status
    plan.status = tr.target
    plan.step_started_on = clock.today()
    plan.step_deadline = deadline(tr.step)
    plan.save(update_fields=["status", "step_started_on", "step_deadline", "updated_at", *extra_fields])
    PlanEvent.objects.create(plan=plan, action=action, from_status=old, to_status=plan.status,
                             actor=actor.username, at=clock.now(), reason=reason or "")
    audit.record(actor=actor, action=f"payment_plan.{action}", obj=plan, before=before,
                 after=plan_snapshot(plan), reason=reason or "")
    return plan


def move_item(actor: Scope, item: PaymentItem, action: str, *, reason: str = "", changes: dict | None = None,
              extra_fields: Iterable[str] = ()) -> PaymentItem:
    """One item's human transition (hold, correct, remove …) with its history and audit event."""
    tr = workflow.item_transition(action, item.status)
    old = item.status
    item.status = tr.target
    if tr.step == workflow.FAILURE_CORRECTION:
        item.correction_deadline = deadline(tr.step)
    item.save(update_fields=["status", "correction_deadline", "updated_at", *extra_fields])
    ItemEvent.objects.create(item=item, action=action, from_status=old, to_status=item.status,
                             actor=actor.username, at=clock.now(), reason=reason or "", changes=changes or {})
    audit.record(actor=actor, action=f"payment_item.{action}", obj=item, region_code=item.region_id,
                 before={"status": old}, after={"status": item.status, **(changes or {})}, reason=reason or "")
    return item


def book(*, actor: Scope, plan: DisbursementPlan, kind: str, amount, batch: PaymentBatch | None = None,
         attempt_id=None, indicator_id=None, on: dt.date | None = None, note: str = "") -> DisbursementEntry:
    """Append one disbursement ledger entry (aggregate entries; per-attempt entries are inserted set-based by
    the batch and result services)."""
    return DisbursementEntry.objects.create(
        plan=plan, batch=batch, attempt_id=attempt_id, indicator_id=indicator_id or plan.indicator_id, kind=kind,
        amount=amount, booked_on=on or clock.today(), created_at=clock.now(), actor=actor.username,
        note=note[:200])


def fen_of(field: str = "amount"):
    """A money column in integer fen. Sum money in fen: SQLite keeps decimals as floating point and its sums
    drift; integers add exactly on SQLite and PostgreSQL alike."""
    return Cast(Round(F(field) * 100), BigIntegerField())


def money_sum(queryset, field: str = "amount") -> Decimal:
    """The exact sum of a money column of `queryset`, computed by the database."""
    return from_fen(int(queryset.aggregate(fen=Sum(fen_of(field)))["fen"] or 0))


def count_and_sum(queryset, field: str = "amount") -> tuple[int, Decimal]:
    row = queryset.aggregate(n=Count("pk"), fen=Sum(fen_of(field)))
    return row["n"] or 0, from_fen(int(row["fen"] or 0))


def plan_item_totals(plan_id, statuses=None) -> tuple[int, Decimal]:
    """(count, total) of a plan's items (optionally in `statuses`), computed by the database."""
    qs = PaymentItem.objects.filter(plan_id=plan_id)
    if statuses is not None:
        qs = qs.filter(status__in=list(statuses))
    return count_and_sum(qs)


def on_commit(fn) -> None:
    """Side effects (files, SMS, tasks) start only when the transaction commits."""
    transaction.on_commit(fn)


