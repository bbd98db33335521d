"""The bank API (mounted at /api/bank/). Every call carries the bank's own credential in the X-API-Key header
(a credential allowed the "bank" interface, issued with `yikatong create-apikey --interface bank`); the bank
is the credential's organization and sees only its own batches once they were released to it.

  GET  /api/bank/batches?status=released,fetched        my batches
  GET  /api/bank/batches/{number}                       one batch (header, counts)
  GET  /api/bank/batches/{number}/items?after_seq=&limit=  payment details with FULL account numbers (audited;
                                                        the first download marks the batch fetched)
  GET  /api/bank/batches/{number}/file?format=csv|xlsx|pain001   the payment file (also marks it fetched)
  POST /api/bank/results                                results of one batch (idempotent)
  POST /api/bank/accounts/verify                        is this the person's current payee account?

Paying banks use all of it; card banks (社保卡合作银行) only the account verification. See docs/banks.md.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.http import FileResponse, HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from yikatong.core.apikey_auth import ApiKeyAuth
from yikatong.core.services.files import file_abspath
from yikatong.core.tabular import attachment_header
from yikatong.payments.models import PaymentBatch

from . import selectors, services

router = Router(tags=["银行接口"], auth=ApiKeyAuth("bank"))

DEFAULT_RATE_LIMITS = {"verify": (600, 60)}  # calls per window (seconds) per credential


class BatchOut(Schema):
    number: str
    kind: str
    kind_label: str
    policy_code: str
    policy_name: str
    period: str
    department: str
    voucher_number: str
    item_count: int
    total_amount: Decimal
    paid_count: int
    paid_amount: Decimal
    failed_count: int
    failed_amount: Decimal
    open_count: int
    status: str
    status_label: str
    released_at: dt.datetime | None
    pay_deadline: dt.date | None
    fetched_at: dt.datetime | None
    completed_on: dt.date | None

    @staticmethod
    def resolve_kind_label(obj: PaymentBatch) -> str:
        return obj.get_kind_display()

    @staticmethod
    def resolve_policy_code(obj: PaymentBatch) -> str:
        return obj.policy.code

    @staticmethod
    def resolve_policy_name(obj: PaymentBatch) -> str:
        return obj.policy.name

    @staticmethod
    def resolve_department(obj: PaymentBatch) -> str:
        return obj.plan.organization.name

    @staticmethod
    def resolve_open_count(obj: PaymentBatch) -> int:
        return selectors.open_count(obj)

    @staticmethod
    def resolve_status_label(obj: PaymentBatch) -> str:
        return obj.get_status_display()


class ItemOut(Schema):
    seq: int
    payee_name: str
    account: str
    bank_name: str
    amount: Decimal
    policy_code: str
    policy_name: str
    period: str
    summary: str
    status: str = Field(description="sent 待回盘 / paid 成功 / failed 失败")
    result_on: dt.date | None
    failure_reason: str


class ItemPageOut(Schema):
    batch: str
    status: str
    item_count: int
    total_amount: Decimal
    offset: int
    after_seq: int | None
    next_after_seq: int | None
    limit: int
    items: list[ItemOut]


class ResultIn(Schema):
    # Loose types on purpose: a malformed line is stored for review by the result import (like a bad line of
    # a result file), it does not make the whole posting disappear with a 422.
    seq: int | str
    account: str = ""
    amount: Decimal | str
    outcome: str = Field(description="成功 或 失败")
    reason: str = ""
    processed_on: dt.date | str = Field(description="YYYY-MM-DD")


class ResultsIn(Schema):
    batch: str
    results: list[ResultIn]


class RejectedLineOut(Schema):
    line_no: int
    seq: str
    disposition: str
    disposition_label: str
    message: str


class ResultImportOut(Schema):
    id: uuid.UUID
    status: str
    message: str
    line_count: int
    applied_count: int
    duplicate_count: int
    rejected_count: int
    rejected: list[RejectedLineOut]


class VerifyIn(Schema):
    id_number: str = ""
    name: str
    account: str


class VerifyOut(Schema):
    matched: bool
    card_status: str | None
    card_status_label: str | None
    payable: bool
    message: str


def _scope(request: HttpRequest):
    return request.api_scope


def _not_found(exc: selectors.BatchNotFound):
    return HttpError(404, exc.message)


def _rate_limited(request: HttpRequest, bucket: str) -> bool:
    """Count one call of this credential for `bucket`; True when over the limit of the window."""
    limits = {**DEFAULT_RATE_LIMITS, **getattr(settings, "YIKATONG_BANK_RATE_LIMITS", {})}
    count, seconds = limits[bucket]
    key = f"yikatong:bank:{bucket}:{request.api_credential.pk}"
    cache.add(key, 0, timeout=seconds)
    try:
        calls = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        calls = 1
    return calls > count


@router.get("/batches", response=list[BatchOut], summary="本行的代发批次")
def batch_list(request: HttpRequest, status: str = ""):
    statuses = tuple(s.strip() for s in status.split(",") if s.strip())
    return list(selectors.bank_batches(_scope(request), statuses=statuses or None)[:500])


@router.get("/batches/{number}", response=BatchOut, summary="批次信息")
def batch_detail(request: HttpRequest, number: str):
    try:
        return selectors.bank_batch(_scope(request), number)
    except selectors.BatchNotFound as exc:
        raise _not_found(exc) from None


@router.get("/batches/{number}/items", response=ItemPageOut, summary="代发明细（完整账号，分页）")
def batch_items(request: HttpRequest, number: str, offset: int = 0, limit: int = 1000, after_seq: int | None = None):
    try:
        page = services.batch_items_read(actor=_scope(request), number=number, offset=offset, limit=limit,
                                         after_seq=after_seq)
    except selectors.BatchNotFound as exc:
        raise _not_found(exc) from None
    b = page.batch
    # Written directly in the documented shape (ItemPageOut): validating 10,000 lines through a response model
    # costs ~0.5 s; the lines are built by the service from typed columns.
    items = [{**item, "amount": f"{item['amount']:.2f}",
              "result_on": item["result_on"].isoformat() if item["result_on"] else None} for item in page.items]
    body = {"batch": b.number, "status": b.status, "item_count": b.item_count,
            "total_amount": f"{b.total_amount:.2f}", "offset": page.offset, "after_seq": page.after_seq,
            "next_after_seq": page.next_after_seq, "limit": page.limit, "items": items}
    return HttpResponse(json.dumps(body, ensure_ascii=False), content_type="application/json")


@router.get("/batches/{number}/file", summary="代发文件（CSV / XLSX / pain.001，完整账号）")
def batch_file(request: HttpRequest, number: str, format: str = "csv"):  # noqa: A002 - the query name
    try:
        document = services.batch_file_get(actor=_scope(request), number=number, fmt=format)
    except selectors.BatchNotFound as exc:
        raise _not_found(exc) from None
    stored = document.file
    response = FileResponse(open(file_abspath(stored), "rb"), content_type=stored.content_type or None)  # noqa: SIM115
    response["Content-Disposition"] = attachment_header(stored.original_name)
    response["X-Item-Count"] = str(document.item_count)
    response["X-Total-Amount"] = f"{document.total_amount:.2f}"
    response["X-Content-SHA256"] = document.digest
    return response


@router.post("/results", response=ResultImportOut, summary="回传处理结果（幂等）")
def results_post(request: HttpRequest, payload: ResultsIn):
    try:
        imp = services.bank_results_post(actor=_scope(request), batch_number=payload.batch,
                                         results=[r.dict() for r in payload.results])
    except selectors.BatchNotFound as exc:
        raise _not_found(exc) from None
    rejected = [{"line_no": line.line_no, "seq": line.seq, "disposition": line.disposition,
                 "disposition_label": line.get_disposition_display(), "message": line.message}
                for line in imp.lines.order_by("line_no")[:1000]]
    return {"id": imp.id, "status": imp.status, "message": imp.message, "line_count": imp.line_count,
            "applied_count": imp.applied_count, "duplicate_count": imp.duplicate_count,
            "rejected_count": imp.rejected_count, "rejected": rejected}


@router.post("/accounts/verify", response={200: VerifyOut, 429: dict}, summary="账户核验")
def account_verify(request: HttpRequest, payload: VerifyIn):
    if _rate_limited(request, "verify"):
        return Status(429, {"detail": "核验请求过于频繁，请稍后再试。", "code": "rate_limited"})
    return services.account_verify(actor=_scope(request), name=payload.name, account=payload.account,
                                   id_number=payload.id_number)
