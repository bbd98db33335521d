"""The audit chain: every business action appends one event, chained by SHA-256 to the one before.

`record()` is called by services inside their transaction. It locks the single AuditHead row, so events
get contiguous sequence numbers in commit order on PostgreSQL and SQLite alike. `verify_chain()`
recomputes every hash and names the first event that was altered, removed or inserted.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from yikatong.core import context
from yikatong.core.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _jsonable(value):
    """Round-trip through JSON so what we hash is exactly what the database gives back."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def event_hash(fields: dict, prev_hash: str) -> str:
    payload = json.dumps(
        {**fields, "prev_hash": prev_hash}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hashed_fields(event: AuditEvent) -> dict:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_username": event.actor_username,
        "organization_code": event.organization_code,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "region_code": event.region_code,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "client_ip": event.client_ip,
    }


def record(
    *,
    actor,
    action: str,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    region_code: str = "",
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one event. `actor` is a User, a Scope, or None (the platform itself).

    Must run inside the caller's transaction (services are atomic), so the event commits or rolls back
    with the change it describes.
    """
    from django.utils import timezone

    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        region_code = region_code or (getattr(obj, "region_id", "") or "")
    actor_id, username, org_code = _actor_fields(actor)
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        event = AuditEvent(
            seq=head.seq + 1,
            occurred_at=timezone.now(),  # real time, never the demo clock: the audit trail tells the truth
            actor_id=actor_id,
            actor_username=username,
            organization_code=org_code,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            region_code=region_code or "",
            before=_jsonable(before),
            after=_jsonable(after),
            reason=reason or "",
            client_ip=context.current().client_ip,
            prev_hash=head.hash,
        )
        event.hash = event_hash(_hashed_fields(event), head.hash)
        event.save(force_insert=True)
        head.seq, head.hash = event.seq, event.hash
        head.save(update_fields=["seq", "hash"])
    return event


def _actor_fields(actor) -> tuple[int | None, str, str]:
    if actor is None:
        return None, "system", ""
    # A Scope carries the same facts as its user.
    if hasattr(actor, "organization_code") and hasattr(actor, "username"):
        return actor.user_id, actor.username, actor.organization_code
    org = getattr(actor, "organization", None)
    return actor.pk, actor.get_username(), org.code if org else ""


@dataclass
class ChainProblem:
    seq: int
    kind: str  # altered | removed | inserted | head
    detail: str


def verify_chain(*, chunk_size: int = 5000, progress=None) -> ChainProblem | None:
    """Recompute the chain in sequence order; return the first problem found, or None when intact."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    for event in _iter_events(chunk_size):
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                return ChainProblem(expected_seq, "removed", f"第 {expected_seq} 号事件缺失（下一个为第 {event.seq} 号）")
            return ChainProblem(event.seq, "inserted", f"第 {event.seq} 号事件序号重复或顺序错乱")
        if event.prev_hash != expected_prev:
            return ChainProblem(event.seq, "inserted", f"第 {event.seq} 号事件的前序哈希与链不符（插入或替换）")
        if event_hash(_hashed_fields(event), event.prev_hash) != event.hash:
            return ChainProblem(event.seq, "altered", f"第 {event.seq} 号事件内容被篡改（哈希不符）")
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
        if progress and checked % chunk_size == 0:
            progress(checked)
    head = AuditHead.objects.filter(id=1).first()
    last_seq = expected_seq - 1
    if head and (head.seq != last_seq or head.hash != expected_prev):
        if head.seq > last_seq:
            return ChainProblem(last_seq + 1, "removed", f"链尾事件缺失：应有 {head.seq} 个事件，实有 {last_seq} 个")
        return ChainProblem(head.seq, "head", "链头记录与事件不一致")
    return None


def _iter_events(chunk_size: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        batch = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq")[:chunk_size])
        if not batch:
            return
        yield from batch
        last = batch[-1].seq
