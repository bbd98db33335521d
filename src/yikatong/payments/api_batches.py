"""API of payment batches (joined into /api/payments/ by payments.api; staff session):

  GET  /api/payments/batches                          list (status, plan, kind, period; limit/offset)
  GET  /api/payments/batches/{id}                     one batch with counts per result
  GET  /api/payments/batches/{id}/attempts            attempts, masked (status, q; limit/offset)
  POST /api/payments/batches                          {"plan_id"} → the plan's next batch (first or 补发)
  POST /api/payments/batches/{id}/release             send to the bank
  POST /api/payments/batches/{id}/cancel              {"reason"}
  GET  /api/payments/batches/{id}/files/{fmt}         the bank file (csv | xlsx | pain001; full accounts, audited)

Banks use their own API (banks/api.py, X-API-Key). Refusals: 400 with the Chinese message, 403 for scope and
role, 404 for a batch outside the reader's scope.
"""

import datetime as dt
from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError

from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from .models import PaymentBatch
from .selectors import batches as sel
from .services.batches import batch_cancel, batch_create, batch_release

router = Router(tags=["代发批次"])
MAX_LIMIT = 500


class Error(Schema):
    detail: str
    code: str | None = None
    field: str | None = None


ERRORS = {400: Error, 403: Error, 404: Error}


class BatchOut(Schema):
    id: int
    number: str
    kind: str
    kind_label: str
    plan_id: int
    plan_number: str
    bank: str
    policy: str
    policy_name: str
    period: str
    region: str
    status: str
    status_label: str
    item_count: int
    total_amount: str
    paid_count: int
    paid_amount: str
    failed_count: int
    failed_amount: str
    released_at: dt.datetime | None
    pay_deadline: dt.date | None
    deadline_state: str
    created_by: str
    created_at: dt.datetime


class BatchDetailOut(BatchOut):
    counts: dict
    files: dict


class BatchPage(Schema):
    count: int
    items: list[BatchOut]


class AttemptOut(Schema):
    id: int
    seq: int
    attempt_no: int
    item_id: int
    payee_name: str
    account_masked: str
    bank_name: str
    amount: str
    status: str
    status_label: str
    result_on: dt.date | None
    failure_reason: str


class AttemptPage(Schema):
    count: int
    items: list[AttemptOut]


class CreateIn(Schema):
    plan_id: int


class CancelIn(Schema):
    reason: str


def _scope(request: HttpRequest) -> Scope:
    return Scope.for_user(request.user)


def _money(value) -> str:
    return format(Decimal(value or 0).quantize(Decimal("0.01")), "f")


def _batch(scope: Scope, pk: int) -> PaymentBatch:
    try:
        return sel.batch_get(scope, pk)
    except DomainError as exc:
        raise HttpError(404, exc.message) from exc


def batch_out(batch: PaymentBatch) -> dict:
    return {
        "id": batch.pk, "number": batch.number, "kind": batch.kind, "kind_label": batch.get_kind_display(),
        "plan_id": batch.plan_id, "plan_number": batch.plan.number, "bank": batch.bank.name,
        "policy": batch.policy.code, "policy_name": batch.policy.name, "period": batch.period,
        "region": batch.region_id, "status": batch.status, "status_label": batch.get_status_display(),
        "item_count": batch.item_count, "total_amount": _money(batch.total_amount), "paid_count": batch.paid_count,
        "paid_amount": _money(batch.paid_amount), "failed_count": batch.failed_count,
        "failed_amount": _money(batch.failed_amount), "released_at": batch.released_at,
        "pay_deadline": batch.pay_deadline, "deadline_state": sel.deadline_state(batch),
        "created_by": batch.created_by, "created_at": batch.created_at,
    }


def _detail(scope: Scope, batch: PaymentBatch) -> dict:
    from .services.batch_files import batch_documents

    counts = {k: {"count": v["count"], "amount": _money(v["amount"])} for k, v in sel.batch_counts(batch).items()}
    files = {fmt: {"document": d.pk, "digest": d.digest, "item_count": d.item_count,
                   "total_amount": _money(d.total_amount)} for fmt, d in batch_documents(batch).items()}
    return {**batch_out(batch), "counts": counts, "files": files}


@router.get("/batches", response=BatchPage, summary="代发批次列表")
def list_batches(request, status: str = "", plan: str = "", kind: str = "", period: str = "",
                 limit: int = Query(50, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0)):
    qs = sel.batch_list(_scope(request), status=status, plan_number=plan, kind=kind, period=period)
    return {"count": qs.count(), "items": [batch_out(b) for b in qs[offset:offset + limit]]}


@router.get("/batches/{int:pk}", response={200: BatchDetailOut, **ERRORS}, summary="代发批次详情")
def get_batch(request, pk: int):
    scope = _scope(request)
    return _detail(scope, _batch(scope, pk))


@router.get("/batches/{int:pk}/attempts", response={200: AttemptPage, **ERRORS}, summary="批次明细（脱敏）")
def list_attempts(request, pk: int, status: str = "", q: str = "", limit: int = Query(100, ge=1, le=MAX_LIMIT),
                  offset: int = Query(0, ge=0)):
    scope = _scope(request)
    qs = sel.batch_attempts(scope, _batch(scope, pk), status=status, query=q)
    rows = [sel.attempt_row(scope, a) for a in qs[offset:offset + limit]]
    return {"count": qs.count(), "items": [{**r, "amount": _money(r["amount"])} for r in rows]}


@router.post("/batches", response={201: BatchDetailOut, **ERRORS}, summary="生成代发批次（首次或补发）")
def create_batch(request, data: CreateIn):
    scope = _scope(request)
    batch = batch_create(actor=scope, plan_id=data.plan_id)
    return Status(201, _detail(scope, sel.batch_get(scope, batch.pk)))


@router.post("/batches/{int:pk}/release", response={200: BatchDetailOut, **ERRORS}, summary="发送银行")
def release_batch(request, pk: int):
    scope = _scope(request)
    batch = batch_release(actor=scope, batch_id=_batch(scope, pk).pk)
    return _detail(scope, sel.batch_get(scope, batch.pk))


@router.post("/batches/{int:pk}/cancel", response={200: BatchDetailOut, **ERRORS}, summary="撤销批次")
def cancel_batch(request, pk: int, data: CancelIn):
    scope = _scope(request)
    batch = batch_cancel(actor=scope, batch_id=_batch(scope, pk).pk, reason=data.reason)
    return _detail(scope, sel.batch_get(scope, batch.pk))


@router.get("/batches/{int:pk}/files/{fmt}", response={400: Error, 403: Error, 404: Error},
            summary="下载代发文件（完整账号，留痕）")
def download_file(request, pk: int, fmt: str):
    from .views_batches import file_response

    scope = _scope(request)
    return file_response(scope, _batch(scope, pk), fmt)
