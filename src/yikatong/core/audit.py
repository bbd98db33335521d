"""The audit chain: every business action appends one event, chained by SHA-256 to the one before.

`record()` is called by services inside their transaction. It locks the single AuditHead row, so events
get contiguous sequence numbers in commit order on PostgreSQL and SQLite alike. `check_chain()` recomputes
every hash in constant memory and names the first event that was altered, removed, inserted or moved;
`verify_chain()` is the short form that returns only the problem. See docs/audit.md.

What is hashed is a canonical text of the event (sorted keys, numbers in one normal form, times in UTC),
so an event hashes the same after a round trip through SQLite text or PostgreSQL jsonb — jsonb reorders
keys and rewrites numbers (1e+16 comes back as 10000000000000000, -0.0 as 0.0).
"""

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from yikatong.core import context
from yikatong.core.models import AuditEvent, AuditHead

GENESIS = "0" * 64
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")


# -- canonical form -------------------------------------------------------------------------------
def _jsonable(value):
    """Round-trip through JSON so what we hash is exactly what the database gives back.

    Decimal, date and datetime become strings (DjangoJSONEncoder); NaN and infinities are refused,
    because neither JSON nor PostgreSQL can store them.
    """
    if value is None:
        return None
    try:
        text = json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"审计内容不能包含 NaN 或无穷大数值：{exc}") from exc
    return json.loads(text)


def _normalized(value):
    """The value with every number in one form: integral numbers as int (1.0, 1e+16, -0.0 → 1,
    10000000000000000, 0), others as float — exactly what a JSON parser gives back from any spelling."""
    if isinstance(value, dict):
        return {str(key): _normalized(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalized(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("审计内容不能包含 NaN 或无穷大数值")
        # An integral float becomes the integer its JSON text denotes (1.5e+300 → 15 × 10**299), which
        # is what PostgreSQL gives back — not int(value), the float's exact binary expansion.
        return int(Decimal(repr(value))) if value.is_integer() else value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("审计内容不能包含 NaN 或无穷大数值")
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot hash a value of type {type(value).__name__}")


def canonical_json(value) -> str:
    """Compact JSON with sorted keys and normalized numbers; the text that is hashed."""
    return json.dumps(
        _normalized(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def event_hash(fields: dict, prev_hash: str) -> str:
    payload = canonical_json({**fields, "prev_hash": prev_hash})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _utc_text(moment: dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.isoformat(timespec="microseconds")


def _hashed_fields(event: AuditEvent, *, seq: int | None = None) -> dict:
    return {
        "seq": event.seq if seq is None else seq,
        "occurred_at": _utc_text(event.occurred_at),
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


def _recomputed(event: AuditEvent, *, seq: int | None = None) -> str:
    return event_hash(_hashed_fields(event, seq=seq), event.prev_hash)


# -- writing --------------------------------------------------------------------------------------
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
    with the change it describes. `obj` fills object type/id and the region (from `region_id` or
    `region_code`) unless they are given.
    """
    from django.utils import timezone

    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        region_code = region_code or getattr(obj, "region_id", "") or getattr(obj, "region_code", "") or ""
    actor_id, username, org_code = _actor_fields(actor)
    before, after = _jsonable(before), _jsonable(after)
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
            before=before,
            after=after,
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


# -- verifying ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainProblem:
    seq: int | None
    kind: str  # altered | removed | inserted | reordered | head | anchor
    detail: str

    def as_dict(self) -> dict:
        return {"seq": self.seq, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class ChainReport:
    count: int  # events checked (up to the first problem)
    head_seq: int  # last event that verified
    head_hash: str
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def anchor(self) -> str:
        """What an operator writes down to check later with `verify-audit --expect-head`."""
        return f"{self.head_seq}:{self.head_hash}"


def parse_anchor(text: str) -> tuple[int | None, str]:
    """'SEQ:HASH' or 'HASH' → (seq or None, hash). Raises ValueError with a readable message."""
    raw = (text or "").strip().lower()
    seq_text, _, hash_text = raw.rpartition(":")
    seq = None
    if seq_text:
        if not seq_text.isdigit() or int(seq_text) < 1:
            raise ValueError(f"锚定值“{text}”无效：序号应为正整数，格式为 序号:哈希 或 哈希。")
        seq = int(seq_text)
    if not _HASH_RE.match(hash_text):
        raise ValueError(f"锚定值“{text}”无效：哈希应为64位十六进制字符，格式为 序号:哈希 或 哈希。")
    return seq, hash_text


def check_chain(
    *,
    chunk_size: int = 5000,
    progress: Callable[[int], None] | None = None,
    progress_every: int | None = None,
    expect_head: str | tuple[int | None, str] | None = None,
) -> ChainReport:
    """Recompute the chain in sequence order, `chunk_size` events at a time (constant memory).

    Returns the count and the last verified seq/hash, and the first problem (None when intact).
    `progress(n)` is called every `progress_every` events (default: every chunk). `expect_head` is an
    anchor written down earlier ('SEQ:HASH' or 'HASH'): the chain must still contain it.
    """
    anchor = parse_anchor(expect_head) if isinstance(expect_head, str) else expect_head
    every = progress_every or chunk_size
    walk = _Walk()
    problem = walk.run(chunk_size, progress, every)
    # Events appended while we walked are fine: catch up until the walk reaches the head it reads.
    for _ in range(1000):
        if problem is not None:
            break
        head = AuditHead.objects.filter(id=1).first()
        if head is None or head.seq <= walk.last_seq:
            problem = _head_problem(head, walk)
            break
        reached = walk.last_seq
        problem = walk.run(chunk_size, progress, every)
        if problem is None and walk.last_seq == reached:
            problem = _head_problem(head, walk)
    if problem is None and anchor is not None:
        problem = _anchor_problem(anchor, walk)
    return ChainReport(count=walk.checked, head_seq=walk.last_seq, head_hash=walk.prev, problem=problem)


def verify_chain(*, chunk_size: int = 5000, progress=None, expect_head=None) -> ChainProblem | None:
    """The first problem of the chain, or None when intact."""
    return check_chain(chunk_size=chunk_size, progress=progress, expect_head=expect_head).problem


class _Walk:
    """State of one pass along the chain: the last verified event and the one before it."""

    def __init__(self):
        self.prev = GENESIS  # hash of the last verified event
        self.prev_prev: str | None = None  # hash of the event before it (None before event 2)
        self.last_seq = 0
        self.checked = 0

    def run(self, chunk_size: int, progress, every: int) -> ChainProblem | None:
        for event in _iter_events(self.last_seq, chunk_size):
            expected = self.last_seq + 1
            if event.seq != expected:
                return _gap_problem(expected, event)
            if event.prev_hash != self.prev or _recomputed(event) != event.hash:
                return _diagnose(event, self)
            self.prev_prev, self.prev = self.prev, event.hash
            self.last_seq = event.seq
            self.checked += 1
            if progress and self.checked % every == 0:
                progress(self.checked)
        return None


_ROW_FIELDS = ["id", "seq", "occurred_at", "actor_id", "actor_username", "organization_code", "action",
               "object_type", "object_id", "region_code", "before", "after", "reason", "client_ip", "prev_hash",
               "hash"]


def _iter_events(after_seq: int, chunk_size: int) -> Iterator:
    """Events as light rows (named tuples with the model's field names), `chunk_size` per query."""
    last = after_seq
    qs = AuditEvent.objects.order_by("seq").values_list(*_ROW_FIELDS, named=True)
    while True:
        batch = list(qs.filter(seq__gt=last)[:chunk_size])
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def _gap_problem(expected: int, event: AuditEvent) -> ChainProblem:
    if expected == 1:
        detail = f"第 1 号事件缺失：链从第 {event.seq} 号事件开始（开头的事件被删除）"
    elif event.seq == expected + 1:
        detail = f"第 {expected} 号事件缺失：第 {expected - 1} 号之后直接是第 {event.seq} 号（事件被删除）"
    else:
        detail = f"第 {expected} 号至第 {event.seq - 1} 号事件缺失：第 {expected - 1} 号之后直接是第 {event.seq} 号（事件被删除）"
    return ChainProblem(expected, "removed", detail)


def _diagnose(event: AuditEvent, walk: _Walk) -> ChainProblem:
    """Name what happened at the first event that does not fit the chain."""
    s = event.seq
    if event.prev_hash == walk.prev:  # linked correctly, so its own content changed
        return ChainProblem(s, "altered", f"第 {s} 号事件被篡改：内容与其哈希不符")
    if walk.prev_prev is not None and event.prev_hash == walk.prev_prev:
        return ChainProblem(
            s - 1, "inserted",
            f"第 {s - 1} 号事件是插入的：第 {s} 号事件的前序哈希跳过它，直接指向"
            + (f"第 {s - 2} 号事件" if s > 2 else "链的起点"),
        )
    pred = AuditEvent.objects.filter(hash=event.prev_hash).exclude(pk=event.id).values_list("seq", flat=True).first()
    if pred is not None and pred >= s:
        return ChainProblem(s, "reordered", f"第 {s} 号事件顺序被调换：它本应排在现第 {pred} 号事件之后")
    # Another event links to the last good one: that is the real successor, so this one was put in.
    successor = AuditEvent.objects.filter(prev_hash=walk.prev).exclude(pk=event.id).exists()
    if successor:
        return ChainProblem(
            s, "inserted", f"第 {s} 号事件是插入的伪造事件：原链中第 {s - 1} 号事件的后继是另一条事件"
        )
    own_hash_ok = _recomputed(event) == event.hash
    if pred is not None:  # it links to an earlier event, skipping the ones between
        if own_hash_ok:  # made to follow that event, yet numbered elsewhere: not an original
            return ChainProblem(
                s, "inserted", f"第 {s} 号事件是插入的伪造事件：其前序哈希指向第 {pred} 号事件，而不是第 {s - 1} 号"
            )
        if _recomputed(event, seq=pred + 1) == event.hash:  # an original, renumbered around insertions
            return ChainProblem(
                pred + 1, "inserted",
                f"第 {pred + 1} 号事件是插入的：原第 {pred + 1} 号事件被挪到第 {s} 号，中间的事件不属于原链",
            )
    if not own_hash_ok:
        if _recomputed(event, seq=s + 1) == event.hash:
            return ChainProblem(s, "removed", f"第 {s} 号事件缺失：其后的事件被重新编号（现第 {s} 号原为第 {s + 1} 号）")
        return ChainProblem(s, "altered", f"第 {s} 号事件被篡改：内容与哈希不符，且前序哈希与链不符")
    # A self-consistent event that links to a hash nobody has.
    head = AuditHead.objects.filter(id=1).first()
    if s == 1 or head is None or s > head.seq:
        return ChainProblem(s, "inserted", f"第 {s} 号事件是插入的伪造事件：其前序哈希不指向第 {s - 1} 号事件")
    return ChainProblem(
        s - 1, "altered",
        f"第 {s - 1} 号事件被篡改：其哈希已被重新计算，与第 {s} 号事件记录的前序哈希不符",
    )


def _head_problem(head: AuditHead | None, walk: _Walk) -> ChainProblem | None:
    last = walk.last_seq
    if head is None:
        if last == 0:
            return None
        return ChainProblem(None, "head", f"链头记录缺失：共有 {last} 条事件，但链头记录被删除")
    if head.seq > last:
        first = last + 1
        which = f"第 {first} 号事件" if first == head.seq else f"第 {first} 号至第 {head.seq} 号事件"
        return ChainProblem(
            first, "removed",
            f"{which}缺失：链头记录共有 {head.seq} 条事件，实际只到第 {last} 号（链尾事件被删除）",
        )
    if head.seq < last:
        return ChainProblem(
            head.seq + 1, "inserted",
            f"第 {head.seq + 1} 号事件是插入的：链头记录只有 {head.seq} 条事件，之后的事件不属于原链",
        )
    if head.hash != walk.prev:
        return ChainProblem(
            last, "head",
            f"链头记录与第 {last} 号事件不符：该事件被改写并重新计算了哈希，或链头记录被篡改",
        )
    return None


def _anchor_problem(anchor: tuple[int | None, str], walk: _Walk) -> ChainProblem | None:
    seq, expected_hash = anchor
    if seq is None:
        found = AuditEvent.objects.filter(hash=expected_hash, seq__lte=walk.last_seq).exists()
        if found:
            return None
        return ChainProblem(
            None, "anchor",
            f"锚定的链头哈希 {expected_hash} 已不在链中：链尾被截断后链头被改写，或锚定之前的事件被整体重写",
        )
    if seq > walk.last_seq:
        return ChainProblem(
            seq, "anchor",
            f"锚定的第 {seq} 号事件已不存在：链现在只到第 {walk.last_seq} 号（链尾被截断，链头被改写）",
        )
    actual = AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()
    if actual != expected_hash:
        return ChainProblem(
            seq, "anchor",
            f"第 {seq} 号事件的哈希与锚定值不符：锚定之后链被截断并重写，或该事件及其之前的链被整体重写",
        )
    return None
