"""API of budget indicators and performance targets (mounted at /api/indicators/).

Thin: the session user's scope, reads through selectors_indicators, writes through services.indicators /
services.targets. Amounts and target values are decimal strings in and out. Refusals: 400 with the
services' Chinese message (403 for scope); an indicator or target outside the reader's scope is 404.

Not exposed here on purpose: commit / release / pay / return (indicator_commit, indicator_release,
indicator_pay, indicator_return). Money moves on an indicator only when the payments module's own services
call them, inside the same transaction as the plan, request or bank result that causes the movement.

Routes with a fixed first segment (warnings, progress, monitoring, targets) are declared before /{pk}.
"""

import datetime as dt
from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError

from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from . import selectors_indicators as sel
from .models import BudgetIndicator, IndicatorEntry, PerformanceTarget
from .services import (
    indicator_allocate,
    indicator_allocation_complete,
    indicator_close,
    indicator_proposal_submit,
    indicator_receive,
    target_record_actual,
    target_set,
)

router = Router(tags=["预算指标与绩效目标"])

STATE_ORDER = {"overdue": 0, "due_soon": 1, "ok": 2, "done": 3}
MAX_LIMIT = 500


def _scope(request: HttpRequest) -> Scope:
    return Scope.for_user(request.user)


def _found(call, *args, **kwargs):
    """Run a selector; its "not found or not in your scope" refusal becomes a 404."""
    try:
        return call(*args, **kwargs)
    except DomainError as exc:
        if exc.code == "not_found":
            raise HttpError(404, exc.message) from exc
        raise


def _money(value) -> str:
    return format(Decimal(value), "f")


def _opt(value) -> str | None:
    return None if value is None else format(Decimal(value), "f")


# -- schemas ------------------------------------------------------------------------------------------
class DeadlineOut(Schema):
    step: str
    label: str
    who: str
    who_label: str
    start: dt.date
    deadline: dt.date
    done_on: dt.date | None
    state: str
    state_label: str
    late: bool
    days_overdue: int


class WarningOut(DeadlineOut):
    indicator: int
    doc_no: str
    policy: str
    region: str
    holder: str


class IndicatorOut(Schema):
    id: int
    doc_no: str
    fiscal_year: int
    policy: str
    policy_name: str
    region: str
    region_name: str
    holder: str
    holder_name: str
    source_level: str
    tag: str
    parent: int | None
    received_on: dt.date
    central_document_date: dt.date | None
    direct_to_county: bool
    status: str
    amount: str
    received_total: str
    allocated_out_total: str
    committed_total: str
    paid_total: str
    returned_total: str
    available: str
    proposal_submitted_on: dt.date | None
    allocation_done_on: dt.date | None
    closed_reason: str
    deadline: dt.date | None
    deadline_state: str | None


class EntryOut(Schema):
    id: int
    kind: str
    kind_label: str
    amount: str
    ref_type: str
    ref_id: str
    booked_on: dt.date
    created_at: dt.datetime
    actor: str
    note: str


class IndicatorDetailOut(IndicatorOut):
    entries: list[EntryOut]
    children: list[IndicatorOut]
    deadlines: list[DeadlineOut]


class IndicatorPage(Schema):
    count: int
    items: list[IndicatorOut]


class IndicatorFilter(Schema):
    fiscal_year: int | None = None
    policy: str = ""
    region: str = ""
    source_level: str = ""
    status: str = ""
    deadline: str = ""
    limit: int = 100
    offset: int = 0


class ReceiveIn(Schema):
    doc_no: str
    received_on: str
    amount: str
    source_level: str
    policy: str
    fiscal_year: int | str
    central_document_date: str | None = None
    direct_to_county: bool = False
    note: str = ""


class PartIn(Schema):
    region: str
    holder: str
    amount: str
    doc_no: str
    direct_to_county: bool = False


class AllocateIn(Schema):
    parts: list[PartIn]
    complete: bool = False
    note: str = ""


class NoteIn(Schema):
    note: str = ""


class ReasonIn(Schema):
    reason: str


class ProposalIn(Schema):
    note: str


class ProgressOut(Schema):
    policy: str
    policy_name: str
    region: str
    region_name: str
    allocated: str
    committed: str
    paid: str
    ratio: str | None


class ProgressQuery(Schema):
    fiscal_year: int
    policy: str = ""
    region: str = ""
    on: dt.date | None = None


class TargetOut(Schema):
    id: int
    policy: str
    policy_name: str
    fiscal_year: int
    region: str
    category: str
    category_label: str
    name: str
    direction: str
    target_value: str
    unit: str
    actual_value: str | None
    met: bool | None
    evaluated_at: dt.datetime | None
    evaluated_by: str
    evaluation_note: str


class TargetRowOut(Schema):
    id: int
    category: str
    category_label: str
    name: str
    direction: str
    target_value: str
    unit: str
    actual_value: str | None
    met: bool | None


class MonitoringOut(Schema):
    policy: str
    policy_name: str
    region: str
    allocated: str
    committed: str
    paid: str
    ratio: str | None
    time_progress: str
    behind_schedule: bool
    targets: list[TargetRowOut]
    targets_total: int
    targets_evaluated: int
    targets_met: int
    achievement: str | None


class MonitoringQuery(Schema):
    fiscal_year: int
    region: str = ""
    on: dt.date | None = None


class TargetQuery(Schema):
    fiscal_year: int | None = None
    policy: str = ""
    region: str = ""


class TargetIn(Schema):
    policy: str
    fiscal_year: int | str
    category: str
    name: str
    target_value: str
    unit: str = ""
    direction: str = "gte"
    region: str | None = None


class ActualIn(Schema):
    actual_value: str
    note: str = ""


# -- converters ---------------------------------------------------------------------------------------
def _deadline(row: dict) -> dict:
    return {k: row[k] for k in ("step", "label", "who", "who_label", "start", "deadline", "done_on", "state",
                                "state_label", "late", "days_overdue")}


def _summary(scope: Scope, fiscal_year: int | None = None) -> dict[int, dict]:
    """The most urgent clock of each visible indicator (running before finished, overdue first)."""
    summary: dict[int, dict] = {}
    for row in sel.indicators_with_deadlines(scope, fiscal_year=fiscal_year):
        pk = row["indicator"].pk
        current = summary.get(pk)
        if current is None or (STATE_ORDER[row["state"]], row["deadline"]) < (
                STATE_ORDER[current["state"]], current["deadline"]):
            summary[pk] = row
    return summary


def _indicator(ind: BudgetIndicator, summary: dict | None = None) -> dict:
    clock_row = (summary or {}).get(ind.pk)
    return {
        "id": ind.pk, "doc_no": ind.doc_no, "fiscal_year": ind.fiscal_year, "policy": ind.policy.code,
        "policy_name": ind.policy.name, "region": ind.region_id, "region_name": ind.region.name,
        "holder": ind.holder.code, "holder_name": ind.holder.name, "source_level": ind.source_level, "tag": ind.tag,
        "parent": ind.parent_id, "received_on": ind.received_on, "central_document_date": ind.central_document_date,
        "direct_to_county": ind.direct_to_county, "status": ind.status, "amount": _money(ind.amount),
        "received_total": _money(ind.received_total), "allocated_out_total": _money(ind.allocated_out_total),
        "committed_total": _money(ind.committed_total), "paid_total": _money(ind.paid_total),
        "returned_total": _money(ind.returned_total), "available": _money(ind.available),
        "proposal_submitted_on": ind.proposal_submitted_on, "allocation_done_on": ind.allocation_done_on,
        "closed_reason": ind.closed_reason,
        "deadline": clock_row["deadline"] if clock_row else None,
        "deadline_state": clock_row["state"] if clock_row else None,
    }


def _entry(entry: IndicatorEntry) -> dict:
    return {"id": entry.pk, "kind": entry.kind, "kind_label": entry.get_kind_display(), "amount": _money(entry.amount),
            "ref_type": entry.ref_type, "ref_id": entry.ref_id, "booked_on": entry.booked_on,
            "created_at": entry.created_at, "actor": entry.actor, "note": entry.note}


def _detail(scope: Scope, pk: int) -> dict:
    ind = _found(sel.indicator_get, scope, pk)
    clocks = [r for r in sel.indicators_with_deadlines(scope, fiscal_year=ind.fiscal_year)
              if r["indicator"].pk == ind.pk]
    summary = _summary(scope, ind.fiscal_year)
    return {
        **_indicator(ind, summary),
        "entries": [_entry(e) for e in sel.indicator_entries(scope, ind.pk)],
        "children": [_indicator(c, summary) for c in sel.indicator_children(scope, ind.pk)],
        "deadlines": [_deadline(r) for r in clocks],
    }


def _target(target: PerformanceTarget) -> dict:
    row = sel.target_row(target)
    return {
        "id": target.pk, "policy": target.policy.code, "policy_name": target.policy.name,
        "fiscal_year": target.fiscal_year, "region": target.region_id, "category": target.category,
        "category_label": row["category_label"], "name": target.name, "direction": target.direction,
        "target_value": _money(target.target_value), "unit": target.unit, "actual_value": _opt(target.actual_value),
        "met": row["met"], "evaluated_at": target.evaluated_at, "evaluated_by": target.evaluated_by,
        "evaluation_note": target.evaluation_note,
    }


def _target_row(row: dict) -> dict:
    return {"id": row["id"], "category": row["category"], "category_label": row["category_label"],
            "name": row["name"], "direction": row["direction"], "target_value": _money(row["target_value"]),
            "unit": row["unit"], "actual_value": _opt(row["actual_value"]), "met": row["met"]}


def _visible_target(scope: Scope, pk: int) -> PerformanceTarget:
    target = sel.targets_visible(scope).filter(pk=pk).first()
    if target is None:
        raise HttpError(404, f"绩效目标 {pk} 不存在或不在您的查看范围内。")
    return target


# -- fixed routes first -----------------------------------------------------------------------------
@router.get("/warnings", response=list[WarningOut], summary="指标预警：临期、超期的分配时限（最紧急的在前）")
def warnings(request: HttpRequest, fiscal_year: int | None = None):
    scope = _scope(request)
    rows = sel.indicator_warnings(scope, fiscal_year=fiscal_year)
    return [{**_deadline(r), "indicator": r["indicator"].pk, "doc_no": r["indicator"].doc_no,
             "policy": r["indicator"].policy.code, "region": r["indicator"].region_id,
             "holder": r["indicator"].holder.code} for r in rows]


@router.get("/progress", response=list[ProgressOut], summary="预算执行进度（由台账计算，截至 on，含当日）")
def progress(request: HttpRequest, query: Query[ProgressQuery]):
    scope = _scope(request)
    rows = sel.budget_execution_progress(scope, fiscal_year=query.fiscal_year, policy_code=query.policy or None,
                                         region_code=query.region or None, on=query.on)
    return [{**r, "allocated": _money(r["allocated"]), "committed": _money(r["committed"]), "paid": _money(r["paid"]),
             "ratio": _opt(r["ratio"])} for r in rows]


@router.get("/monitoring", response=list[MonitoringOut], summary="绩效目标与预算执行双监控")
def monitoring(request: HttpRequest, query: Query[MonitoringQuery]):
    scope = _scope(request)
    rows = sel.dual_monitoring(scope, query.fiscal_year, region_code=query.region or None, on=query.on)
    return [{**r, "allocated": _money(r["allocated"]), "committed": _money(r["committed"]), "paid": _money(r["paid"]),
             "ratio": _opt(r["ratio"]), "time_progress": _money(r["time_progress"]),
             "achievement": _opt(r["achievement"]), "targets": [_target_row(t) for t in r["targets"]]}
            for r in rows]


@router.get("/targets", response=list[TargetOut], summary="绩效目标列表（按项目、年度、区划）")
def targets(request: HttpRequest, query: Query[TargetQuery]):
    scope = _scope(request)
    qs = sel.targets_visible(scope, fiscal_year=query.fiscal_year, policy_code=query.policy or None,
                             region_code=query.region or None)
    return [_target(t) for t in qs]


@router.post("/targets", response=TargetOut, summary="设定或修改绩效目标（评价前）")
def target_set_endpoint(request: HttpRequest, payload: TargetIn):
    scope = _scope(request)
    target = target_set(actor=scope, policy_code=payload.policy, fiscal_year=payload.fiscal_year,
                        region_code=payload.region or scope.region_code, category=payload.category,
                        name=payload.name, target_value=payload.target_value, unit=payload.unit,
                        direction=payload.direction)
    return _target(target)


@router.post("/targets/{pk}/actual", response=TargetOut, summary="记录绩效目标实际完成值（更正须填说明）")
def target_actual(request: HttpRequest, pk: int, payload: ActualIn):
    scope = _scope(request)
    target = _visible_target(scope, pk)
    target = target_record_actual(actor=scope, target_id=target.pk, actual_value=payload.actual_value,
                                  note=payload.note)
    return _target(target)


# -- indicators -------------------------------------------------------------------------------------
@router.get("/", response=IndicatorPage, summary="预算指标列表（可见范围内，可筛选，分页）")
def indicator_list(request: HttpRequest, filters: Query[IndicatorFilter]):
    scope = _scope(request)
    qs = sel.indicators_visible(scope, fiscal_year=filters.fiscal_year, policy_code=filters.policy or None,
                                region_code=filters.region or None, status=filters.status or None)
    if filters.source_level:
        qs = qs.filter(source_level=filters.source_level)
    summary = _summary(scope, filters.fiscal_year)
    if filters.deadline == "none":
        qs = qs.exclude(pk__in=list(summary))
    elif filters.deadline:
        if filters.deadline not in STATE_ORDER:
            raise DomainError(f"分配时限状态“{filters.deadline}”无效，可选：overdue、due_soon、ok、done、none。",
                              field="deadline")
        qs = qs.filter(pk__in=[pk for pk, row in summary.items() if row["state"] == filters.deadline])
    limit = min(max(filters.limit, 1), MAX_LIMIT)
    offset = max(filters.offset, 0)
    return {"count": qs.count(), "items": [_indicator(i, summary) for i in qs[offset:offset + limit]]}


@router.post("/", response={201: IndicatorDetailOut}, summary="登记收到的预算指标（本部门为持有部门）")
def indicator_receive_endpoint(request: HttpRequest, payload: ReceiveIn):
    scope = _scope(request)
    indicator = indicator_receive(
        actor=scope, doc_no=payload.doc_no, received_on=payload.received_on, amount=payload.amount,
        source_level=payload.source_level, policy_code=payload.policy, fiscal_year=payload.fiscal_year,
        region_code=scope.region_code, central_document_date=payload.central_document_date,
        direct_to_county=payload.direct_to_county, note=payload.note)
    return Status(201, _detail(scope, indicator.pk))


@router.get("/{pk}", response=IndicatorDetailOut, summary="预算指标详情（含台账分录、下级指标、分配时限）")
def indicator_get(request: HttpRequest, pk: int):
    return _detail(_scope(request), pk)


@router.post("/{pk}/allocate", response={201: list[IndicatorOut]},
             summary="分配下达到下级财政部门（多项，全部成功或全部不下达）")
def indicator_allocate_endpoint(request: HttpRequest, pk: int, payload: AllocateIn):
    scope = _scope(request)
    parent = _found(sel.indicator_get, scope, pk)
    parts = [{"region_code": p.region, "holder_code": p.holder, "amount": p.amount, "doc_no": p.doc_no,
              "direct_to_county": p.direct_to_county} for p in payload.parts]
    children = indicator_allocate(actor=scope, parent_id=parent.pk, parts=parts, complete=payload.complete,
                                  note=payload.note)
    fresh = BudgetIndicator.objects.select_related("policy", "region", "holder").filter(
        pk__in=[c.pk for c in children]).order_by("pk")
    return Status(201, [_indicator(c) for c in fresh])


@router.post("/{pk}/complete", response=IndicatorDetailOut, summary="确认分配下达完成（停止分配时限计时）")
def indicator_complete_endpoint(request: HttpRequest, pk: int, payload: NoteIn | None = None):
    scope = _scope(request)
    indicator = _found(sel.indicator_get, scope, pk)
    indicator_allocation_complete(actor=scope, indicator_id=indicator.pk, note=payload.note if payload else "")
    return _detail(scope, indicator.pk)


@router.post("/{pk}/close", response=IndicatorDetailOut, summary="关闭预算指标（须填原因；有已挂接未支付资金时不能关闭）")
def indicator_close_endpoint(request: HttpRequest, pk: int, payload: ReasonIn):
    scope = _scope(request)
    indicator = _found(sel.indicator_get, scope, pk)
    indicator_close(actor=scope, indicator_id=indicator.pk, reason=payload.reason)
    return _detail(scope, indicator.pk)


@router.post("/{pk}/proposal", response=IndicatorDetailOut, summary="主管部门报送资金分配建议方案")
def indicator_proposal_endpoint(request: HttpRequest, pk: int, payload: ProposalIn):
    scope = _scope(request)
    indicator = _found(sel.indicator_get, scope, pk)
    indicator_proposal_submit(actor=scope, indicator_id=indicator.pk, note=payload.note)
    return _detail(scope, indicator.pk)

