"""What every application service shares: locking, scope, moving along the workflow, history, batches."""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction

from yikatong.core import audit, clock, workdays
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from .. import workflow
from ..models import Application, ApplicationEvent


def snapshot(app: Application) -> dict:
    """What the audit trail keeps of an application (no personal data: ids and masked values only)."""
    return {
        "number": app.number,
        "status": app.status,
        "beneficiary_id": app.beneficiary_id,
        "policy_id": app.policy_id,
        "period": app.period,
        "region": app.region_id,
        "amount": str(app.amount),
        "quantity": None if app.quantity is None else str(app.quantity),
        "tier": app.tier,
        "payee_account_id": app.payee_account_id,
        "sampled": app.sampled,
        "step_deadline": app.step_deadline.isoformat() if app.step_deadline else None,
    }


def lock_application(application_id) -> Application:
    try:
        pk = int(application_id)
    except (TypeError, ValueError):
        raise DomainError(f"申报编号“{application_id}”无效。", code="not_found") from None
    app = Application.objects.select_for_update().filter(pk=pk).first()
    if app is None:
        raise DomainError(f"申报 {application_id} 不存在。", code="not_found")
    return app


def require_in_scope(actor: Scope, app: Application) -> None:
    actor.require_object(region_code=app.region_id, business_line=app.business_line)


def deadline_of(step: str, start: dt.date) -> dt.date | None:
    if not step or step == workflow.KEEP:
        return None
    return workdays.deadline_for(step, start)


def move(
    actor: Scope,
    app: Application,
    transition: workflow.Transition,
    *,
    reason: str = "",
    changes: dict | None = None,
    deadline: dt.date | None = None,
    started_on: dt.date | None = None,
    extra_fields: Iterable[str] = (),
    before: dict | None = None,
) -> Application:
    """Put `app` (locked, in scope) into the transition's target state: the step's start and deadline, one
    ApplicationEvent and one audit event. `deadline` overrides the computed one (the end of a notice)."""
    before = before or snapshot(app)
    from_status = app.status
    app.status = str(transition.target)
    if transition.step != workflow.KEEP:
        app.step_started_on = started_on or clock.today()
        app.step_deadline = deadline if deadline is not None else deadline_of(transition.step, app.step_started_on)
    app.save(update_fields=["status", "step_started_on", "step_deadline", "updated_at", *extra_fields])
    ApplicationEvent.objects.create(
        application=app, from_status=from_status, to_status=app.status, actor=actor.username,
        reason=reason or transition.label, changes=changes or {},
    )
    audit.record(actor=actor, action=f"application.{transition.action}", obj=app, before=before,
                 after=snapshot(app), reason=reason)
    return app


def need_text(value, message: str, field: str = "reason") -> str:
    text = str(value or "").strip()
    if not text:
        raise DomainError(message, field=field)
    return text


# -- batches -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item of a batch action."""

    application_id: int | str
    ok: bool
    message: str = ""
    number: str = ""
    status: str = ""

    def as_dict(self) -> dict:
        return {"application_id": self.application_id, "ok": self.ok, "message": self.message,
                "number": self.number, "status": self.status}


def as_key(raw):
    """An id as given by a form or API ("12" or 12) → 12; anything else is kept to be reported."""
    try:
        return int(raw)
    except (TypeError, ValueError):
        return raw


def run_batch(ids, one: Callable[..., Application], *, refused: dict | None = None, **kwargs) -> list[ItemResult]:
    """Apply `one(application_id=…, **kwargs)` to each id in its own transaction: an item is applied whole or
    not at all, and a refusal (DomainError) is reported for that item while the others go on. `refused`
    maps ids to a message for items refused before they are tried (e.g. open blocking findings)."""
    results = []
    for raw in dict.fromkeys(as_key(raw) for raw in ids or []):
        message = (refused or {}).get(raw)
        if message:
            results.append(ItemResult(raw, False, message))
            continue
        try:
            with transaction.atomic():
                app = one(application_id=raw, **kwargs)
        except DomainError as exc:
            results.append(ItemResult(raw, False, exc.message))
            continue
        results.append(ItemResult(app.pk, True, "", app.number, str(app.status)))
    return results
