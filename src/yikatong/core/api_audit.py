"""API for the audit log (mounted at /api/audit/). Thin: scope from the session user, reads through
core.selectors.audit, chain verification through core.audit."""

import datetime as dt
from typing import Any

from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from yikatong.core.audit import check_chain
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope
from yikatong.core.selectors import audit as selectors

router = Router(tags=["审计"])
MAX_LIMIT = 500


class EventOut(Schema):
    seq: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor_username: str
    organization_code: str
    action: str
    object_type: str
    object_id: str
    region_code: str
    before: Any = None
    after: Any = None
    reason: str
    client_ip: str
    prev_hash: str
    hash: str


class EventsOut(Schema):
    count: int = Field(description="符合条件的事件数；超过上限时为上限值，并且 count_capped 为 true")
    count_capped: bool
    limit: int
    offset: int
    items: list[EventOut]


class EventFilter(Schema):
    action: str = Field("", description="动作或其前缀，如 batch.")
    actor: str = Field("", description="操作人用户名")
    object_type: str = ""
    object_id: str = ""
    region: str = Field("", description="区划代码（含下级）")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0)


class ProblemOut(Schema):
    seq: int | None
    kind: str
    detail: str


class VerifyOut(Schema):
    ok: bool
    count: int
    head_seq: int
    head_hash: str
    problem: ProblemOut | None


@router.get("/events", response=EventsOut, summary="审计事件列表（按管辖范围，新的在前）")
def events(request, params: Query[EventFilter]):
    scope = Scope.for_user(request.user)
    data = params.dict()
    limit, offset = data.pop("limit"), data.pop("offset")
    qs = selectors.event_list(scope, selectors.AuditFilters(**data))
    count, capped = selectors.count_capped(qs)
    return {
        "count": count, "count_capped": capped, "limit": limit, "offset": offset,
        "items": list(qs[offset: offset + limit]),
    }


@router.get("/events/{seq}", response=EventOut, summary="单个审计事件")
def event(request, seq: int):
    scope = Scope.for_user(request.user)
    try:
        return selectors.event_get(scope, seq)
    except AuditEvent.DoesNotExist as exc:
        raise HttpError(404, "审计事件不存在或不在您的管辖范围内。") from exc


@router.get("/verify", response=VerifyOut, summary="校验审计链完整性（仅系统管理员）")
def verify(request):
    scope = Scope.for_user(request.user)
    scope.require("audit.verify")
    report = check_chain()
    return {
        "ok": report.ok,
        "count": report.count,
        "head_seq": report.head_seq,
        "head_hash": report.head_hash,
        "problem": report.problem.as_dict() if report.problem else None,
    }
