"""API of corrections, ledgers, reconciliation and daily close (mounted under /api/payments/ by payments.api).
Thin: the same selectors and services as the pages; money and dates as strings."""

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError

from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from .selectors import corrections as corr_sel
from .selectors import ledgers as sel
from .services import corrections as corr
from .services import ledgers as svc
from .services.reconciliation import reconcile, report_json

router = Router(tags=["更正、台账与对账"])
MAX_LIMIT = 500


def _scope(request: HttpRequest) -> Scope:
    return Scope.for_user(request.user)


class LedgerFilters(Schema):
    region_code: str | None = None
    plan_id: int | None = None
    batch_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _filters(f: LedgerFilters, *, batch: bool = True) -> dict:
    data = {k: v for k, v in f.dict().items() if v not in (None, "")}
    if not batch:
        data.pop("batch_id", None)
    return data


@router.get("/ledgers/general", summary="发放总账（按日、按方案批次）")
def ledger_general(request, filters: Query[LedgerFilters]):
    scope = _scope(request)
    f = _filters(filters)
    return report_json({"by_day": sel.general_ledger_by_day(scope, **f),
                        "by_batch": sel.general_ledger_by_batch(scope, **f)})


@router.get("/ledgers/detail", summary="发放明细账（脱敏）")
def ledger_detail(request, filters: Query[LedgerFilters], status: str = "", limit: int = 100, offset: int = 0):
    scope = _scope(request)
    limit = max(1, min(limit, MAX_LIMIT))
    qs = sel.detail_ledger(scope, status=status or None, **_filters(filters))
    rows = [sel.detail_row(r) for r in qs[offset:offset + limit]]
    return report_json({"count": qs.count(), "items": rows})


@router.get("/ledgers/plans/{int:pk}/indicator", summary="方案的指标台账")
def ledger_indicator(request, pk: int):
    try:
        ledger = sel.plan_indicator_ledger(_scope(request), pk)
    except DomainError as exc:
        raise HttpError(404, exc.message) from exc
    plan = ledger.pop("plan")
    return report_json({"plan": plan.number, **ledger})


@router.get("/ledgers/finance", summary="资金拨付台账（按指标、方案）")
def ledger_finance(request, region_code: str = "", indicator_id: int | None = None):
    rows = sel.disbursement_ledger(_scope(request), region_code=region_code or None, indicator_id=indicator_id)
    return report_json([{"plan": r["plan"].number, "indicator": r["indicator"].doc_no, "ledger": r["ledger"],
                         "indicator_sums": r["indicator_sums"], "net_paid": r["net_paid"],
                         "outstanding": r["outstanding"]} for r in rows])


@router.get("/reconcile", summary="清算对账报告")
def reconcile_report(request, filters: Query[LedgerFilters]):
    return report_json(reconcile(actor=_scope(request), **_filters(filters)))


class CloseIn(Schema):
    region_code: str
    day: dt.date


@router.post("/ledgers/close", response={201: dict}, summary="日清")
def close_day(request, payload: CloseIn):
    close = svc.daily_close(actor=_scope(request), region_code=payload.region_code, day=payload.day)
    return Status(201, report_json({"region_code": close.region_id, "day": close.day, "totals": close.totals,
                             "balanced": close.balanced, "differences": close.differences}))


@router.post("/batches/{int:pk}/clearing", response={201: dict}, summary="生成清算凭证（PDF）")
def clearing(request, pk: int):
    doc = svc.clearing_voucher(actor=_scope(request), batch_id=pk)
    return Status(201, {"number": doc.number, "document_id": doc.pk, "file_id": str(doc.file_id),
                        "paid": f"{doc.total_amount:.2f}"})


@router.get("/corrections", summary="发放失败待更正明细")
def corrections(request, status: str = "failed", overdue: bool = False, limit: int = 100):
    rows = corr_sel.failed_items(_scope(request), status=status, overdue=overdue,
                                 limit=max(1, min(limit, MAX_LIMIT)))
    return report_json([{k: v for k, v in r.items() if k != "item"} for r in rows])


class CorrectIn(Schema):
    reason: str
    account_number: str | None = None
    bank_name: str | None = None
    payee_name: str | None = None


@router.post("/items/{int:pk}/correct", summary="更正发放失败明细")
def correct(request, pk: int, payload: CorrectIn):
    item = corr.item_correct(actor=_scope(request), item_id=pk, **payload.dict())
    return {"item_id": item.pk, "status": item.status, "account_masked": item.account_masked,
            "bank_name": item.bank_name}


class BulkIn(Schema):
    action: str
    ids: list[int]
    reason: str


BULK = {"correct": corr.items_correct, "hold": corr.items_hold, "unhold": corr.items_unhold,
        "remove": corr.items_remove}


@router.post("/items/bulk", summary="批量更正、暂缓、恢复、剔除")
def bulk(request, payload: BulkIn):
    fn = BULK.get(payload.action)
    if fn is None:
        raise HttpError(400, f"处理方式“{payload.action}”无效，可选：{'、'.join(BULK)}。")
    results = fn(actor=_scope(request), item_ids=payload.ids, reason=payload.reason)
    return {"done": sum(r.ok for r in results), "results": [r.as_dict() for r in results]}
