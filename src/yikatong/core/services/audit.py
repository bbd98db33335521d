"""Writes about the audit trail itself (the export of events is an audited action)."""

from django.db import transaction

from yikatong.core import audit
from yikatong.core.scope import Scope
from yikatong.core.selectors import audit as selectors

EXPORT_PERMISSION = "export.data"


def audit_export_start(*, actor: Scope, filters) -> tuple[int, int]:
    """Record an export of audit events before any row leaves the platform.

    Returns (upto_seq, rows): the export covers events up to the current head, so what is streamed
    matches what was recorded even while new events are appended.
    """
    actor.require("audit.view")
    actor.require(EXPORT_PERMISSION)
    with transaction.atomic():
        upto_seq, _ = selectors.current_head()
        rows = selectors.event_list(actor, filters).filter(seq__lte=upto_seq).count()
        audit.record(
            actor=actor, action="audit.export", object_type="core.auditevent", object_id="",
            region_code=actor.region_code,
            after={"filters": filters.as_dict(), "upto_seq": upto_seq, "rows": rows, "format": "csv"},
        )
    return upto_seq, rows
