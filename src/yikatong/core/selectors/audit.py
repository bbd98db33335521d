"""Reads of the audit log, scoped: an administrator sees every event; supervisors and finance see the
events whose region lies in their own region (events without a region are platform events and stay
with the administrator)."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from django.db.models import QuerySet
from django.utils import timezone

from yikatong.core.errors import DomainError
from yikatong.core.models import AuditEvent, AuditHead, Role
from yikatong.core.regions import RegionCodeError, normalize_code, subtree_range
from yikatong.core.scope import Scope

PERMISSION = "audit.view"
COUNT_CAP = 10000


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""  # an action or its prefix: "batch." matches batch.submit, batch.pay, …
    actor: str = ""  # username, exact
    object_type: str = ""
    object_id: str = ""
    region: str = ""  # the region and everything below it
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive

    def __post_init__(self):
        for name in ("action", "actor", "object_type", "object_id", "region"):
            object.__setattr__(self, name, (getattr(self, name) or "").strip())
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise DomainError("起始日期不能晚于截止日期，请调整日期范围。", field="date_from")
        if self.region:
            try:
                object.__setattr__(self, "region", normalize_code(self.region))
            except RegionCodeError as exc:
                raise DomainError(str(exc), field="region") from exc

    def as_dict(self) -> dict:
        """The filters that are set, as plain JSON values (for the export's own audit event)."""
        out = {}
        for key, value in asdict(self).items():
            if value:
                out[key] = value.isoformat() if isinstance(value, dt.date) else value
        return out


def events_visible(scope: Scope) -> QuerySet[AuditEvent]:
    scope.require(PERMISSION)
    qs = AuditEvent.objects.all()
    if scope.is_system or scope.role == Role.ADMIN:
        return qs
    # Range on region_code: an empty region_code is below every range, so platform events stay hidden.
    return qs.filter(scope.region_q("region_code"))


def event_list(scope: Scope, filters: AuditFilters | None = None) -> QuerySet[AuditEvent]:
    """Events in scope matching the filters, newest first."""
    filters = filters or AuditFilters()
    qs = events_visible(scope)
    if filters.action:
        qs = qs.filter(action__startswith=filters.action)
    if filters.actor:
        qs = qs.filter(actor_username=filters.actor)
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.object_id:
        qs = qs.filter(object_id=filters.object_id)
    if filters.region:
        lo, hi = subtree_range(filters.region)
        qs = qs.filter(region_code__gte=lo, region_code__lte=hi)
    if filters.date_from:
        qs = qs.filter(occurred_at__gte=_start_of(filters.date_from))
    if filters.date_to:
        qs = qs.filter(occurred_at__lt=_start_of(filters.date_to + dt.timedelta(days=1)))
    return qs.order_by("-seq")


def event_get(scope: Scope, seq: int) -> AuditEvent:
    """One event in scope; raises AuditEvent.DoesNotExist when absent or out of scope."""
    return events_visible(scope).get(seq=seq)


def count_capped(qs: QuerySet, cap: int | None = None) -> tuple[int, bool]:
    """(count, capped): counting stops after `cap` rows so a huge log never slows the page down."""
    cap = cap or COUNT_CAP
    n = qs.order_by()[: cap + 1].count()
    return min(n, cap), n > cap


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    older: int | None  # pass as `before` for the next (older) page
    newer: int | None  # pass as `after` for the previous (newer) page
    total: int
    total_capped: bool


def event_page(
    scope: Scope, filters: AuditFilters | None = None, *, before: int | None = None, after: int | None = None,
    size: int = 50,
) -> EventPage:
    """A keyset page, newest first: events older than `before`, or newer than `after`."""
    qs = event_list(scope, filters)
    total, capped = count_capped(qs)
    if after is not None:
        events = list(reversed(qs.filter(seq__gt=after).order_by("seq")[: size + 1]))
        has_newer = len(events) > size
        events = events[-size:] if has_newer else events
        has_older = bool(events) and qs.filter(seq__lt=events[-1].seq).exists()
    else:
        page_qs = qs.filter(seq__lt=before) if before is not None else qs
        events = list(page_qs[: size + 1])
        has_older = len(events) > size
        events = events[:size]
        has_newer = before is not None and bool(events) and qs.filter(seq__gt=events[0].seq).exists()
    return EventPage(
        events=events,
        older=events[-1].seq if events and has_older else None,
        newer=events[0].seq if events and has_newer else None,
        total=total,
        total_capped=capped,
    )


def iter_events(scope: Scope, filters: AuditFilters | None = None, *, upto_seq: int | None = None,
                chunk_size: int = 2000) -> Iterator[AuditEvent]:
    """Every matching event, newest first, read in keyset chunks (constant memory, for exports)."""
    qs = event_list(scope, filters)
    if upto_seq is not None:
        qs = qs.filter(seq__lte=upto_seq)
    last = None
    while True:
        chunk_qs = qs.filter(seq__lt=last) if last is not None else qs
        chunk = list(chunk_qs[:chunk_size])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq


def current_head() -> tuple[int, str]:
    """(seq, hash) of the chain head as recorded; not verified (see core.audit.check_chain)."""
    head = AuditHead.objects.filter(id=1).first()
    return (head.seq, head.hash) if head else (0, "0" * 64)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())
