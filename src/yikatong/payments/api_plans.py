"""API of disbursement plans and their payment documents (joined into /api/payments/ by payments.api: /api/payments/plans…).

Thin: the session user's scope, reads through selectors.plans, writes through services.plans /
services.documents. Amounts are decimal strings. Refusals: 400 with the service's Chinese message, 403 for
scope and permission, 404 for a plan or document outside the reader's scope.
"""

import datetime as dt
import uuid
from decimal import Decimal

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError

from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from .models import DisbursementPlan, PaymentDocument
from .selectors import plans as sel
from .services.documents import plan_issue_vouchers
from .services.plans import (
    payable_totals,
    plan_approve,
    plan_build,
    plan_cancel,
    plan_mount,
    plan_return,
    plan_review_ok,
    plan_submit,
)
from .tasks_plans import plan_vouchers_enqueue, vouchers_in_background

router = Router(tags=["发放方案与支付凭证"])
MAX_LIMIT = 500


def _scope(request: HttpRequest) -> Scope:
    return Scope.for_user(request.user)


def _plan(scope: Scope, pk: int) -> DisbursementPlan:
    try:
        return sel.plan_get(scope, pk)
    except DomainError as exc:
        raise HttpError(404, exc.message) from exc


def _money(value) -> str:
    return format(Decimal(value), "f")


# -- schemas ------------------------------------------------------------------------------------------
class PlanOut(Schema):
    id: int
    number: str
    title: str
    policy: str
    policy_name: str
    period: str
    fiscal_year: int
    region: str
    region_name: str
    business_line: str
    organization: str
    bank: str
    bank_name: str
    status: str
    status_label: str
    step_started_on: dt.date
    step_deadline: dt.date | None
    deadline_state: str | None
    item_count: int
    held_count: int
    total_amount: str
    payable_count: int | None = None
    payable_amount: str | None = None
    indicator: int | None
    indicator_doc_no: str
    committed_amount: str
    review_note: str
    returned_reason: str
    created_by: str
    actions: list[str] = []


class PlanPage(Schema):
    count: int
    items: list[PlanOut]


class ItemOut(Schema):
    id: int
    payee_name: str
    account_masked: str
    bank_name: str
    amount: str
    region: str
    status: str
    hold_reason: str


class ItemPage(Schema):
    count: int
    items: list[ItemOut]


class EventOut(Schema):
    action: str
    from_status: str
    to_status: str
    actor: str
    at: dt.datetime
    reason: str


class DocumentOut(Schema):
    id: int
    kind: str
    kind_label: str
    number: str
    file_name: str
    digest: str
    item_count: int
    total_amount: str
    created_at: dt.datetime


class BuildIn(Schema):
    policy_code: str
    period: str
    region_code: str
    bank_code: str
    title: str = ""


class NoteIn(Schema):
    note: str = ""


class ReasonIn(Schema):
    reason: str = ""


class MountIn(Schema):
    indicator_id: int


class Error(Schema):
    detail: str
    code: str | None = None
    field: str | None = None


def plan_out(scope: Scope, plan: DisbursementPlan, *, detail: bool = False) -> dict:
    deadline = sel.deadline_state(plan)
    out = {
        "id": plan.pk, "number": plan.number, "title": plan.title, "policy": plan.policy.code,
        "policy_name": plan.policy.name, "period": plan.period, "fiscal_year": plan.fiscal_year,
        "region": plan.region_id, "region_name": plan.region.name, "business_line": plan.business_line,
        "organization": plan.organization.name, "bank": plan.bank.code, "bank_name": plan.bank.name,
        "status": plan.status, "status_label": plan.get_status_display(), "step_started_on": plan.step_started_on,
        "step_deadline": plan.step_deadline, "deadline_state": deadline["state"] if deadline else None,
        "item_count": plan.item_count, "held_count": plan.held_count, "total_amount": _money(plan.total_amount),
        "indicator": plan.indicator_id, "indicator_doc_no": plan.indicator.doc_no if plan.indicator_id else "",
        "committed_amount": _money(plan.committed_amount), "review_note": plan.review_note,
        "returned_reason": plan.returned_reason, "created_by": plan.created_by,
    }
    if detail:
        count, amount = payable_totals(plan.pk)
        out.update(payable_count=count, payable_amount=_money(amount), actions=sel.plan_actions(scope, plan))
    return out


def _detail(scope: Scope, pk: int) -> dict:
    return plan_out(scope, _plan(scope, pk), detail=True)


ERRORS = {400: Error, 403: Error, 404: Error}


# -- reads --------------------------------------------------------------------------------------------
@router.get("/plans", response=PlanPage, summary="发放方案列表")
def list_plans(request, status: str = "", policy: str = "", period: str = "", q: str = "",
               limit: int = Query(50, ge=1, le=MAX_LIMIT), offset: int = Query(0, ge=0)):
    scope = _scope(request)
    qs = sel.plans_visible(scope, status=status or None, policy_code=policy or None, period=period or None,
                           q=q or None)
    return {"count": qs.count(), "items": [plan_out(scope, p) for p in qs[offset:offset + limit]]}


@router.get("/plans/{int:pk}", response={200: PlanOut, **ERRORS}, summary="发放方案详情")
def get_plan(request, pk: int):
    return _detail(_scope(request), pk)


@router.get("/plans/{int:pk}/items", response={200: ItemPage, **ERRORS}, summary="发放明细（脱敏）")
def list_items(request, pk: int, status: str = "", limit: int = Query(100, ge=1, le=MAX_LIMIT),
               offset: int = Query(0, ge=0)):
    scope = _scope(request)
    qs = sel.plan_items(scope, _plan(scope, pk), status=status or None)
    items = [{"id": i.pk, "payee_name": i.payee_name, "account_masked": i.account_masked,
              "bank_name": i.bank_name, "amount": _money(i.amount), "region": i.region.name, "status": i.status,
              "hold_reason": i.hold_reason} for i in qs[offset:offset + limit]]
    return {"count": qs.count(), "items": items}


@router.get("/plans/{int:pk}/events", response={200: list[EventOut], **ERRORS}, summary="办理记录")
def list_events(request, pk: int):
    scope = _scope(request)
    return list(sel.plan_events(scope, _plan(scope, pk)))


def _doc_out(doc: PaymentDocument) -> dict:
    return {"id": doc.pk, "kind": doc.kind, "kind_label": doc.get_kind_display(), "number": doc.number,
            "file_name": doc.file.original_name, "digest": doc.digest, "item_count": doc.item_count,
            "total_amount": _money(doc.total_amount), "created_at": doc.created_at}


@router.get("/plans/{int:pk}/documents", response={200: list[DocumentOut], **ERRORS}, summary="支付凭证与明细")
def list_documents(request, pk: int):
    scope = _scope(request)
    return [_doc_out(d) for d in sel.plan_documents(scope, _plan(scope, pk))]


@router.get("/plans/{int:pk}/documents/{int:doc_id}/download", response={403: Error, 404: Error},
            summary="下载单据文件")
def download_document(request, pk: int, doc_id: int):
    from .views_plans import document_response

    scope = _scope(request)
    try:
        doc = sel.plan_document_get(scope, pk, doc_id)
    except DomainError as exc:
        raise HttpError(404, exc.message) from exc
    return document_response(scope, doc)


# -- writes -------------------------------------------------------------------------------------------
@router.post("/plans", response={201: PlanOut, **ERRORS}, summary="编制发放方案")
def build_plan(request, data: BuildIn):
    scope = _scope(request)
    plan = plan_build(actor=scope, policy_code=data.policy_code, period=data.period, region_code=data.region_code,
                      bank_code=data.bank_code, title=data.title)
    return Status(201, _detail(scope, plan.pk))


@router.post("/plans/{int:pk}/approve", response={200: PlanOut, **ERRORS}, summary="审批发放方案")
def approve(request, pk: int, data: NoteIn):
    scope = _scope(request)
    plan_approve(actor=scope, plan_id=_plan(scope, pk).pk, note=data.note)
    return _detail(scope, pk)


@router.post("/plans/{int:pk}/submit", response={200: PlanOut, **ERRORS}, summary="报送财政审核")
def submit(request, pk: int, data: NoteIn):
    scope = _scope(request)
    plan_submit(actor=scope, plan_id=_plan(scope, pk).pk, note=data.note)
    return _detail(scope, pk)


@router.post("/plans/{int:pk}/review", response={200: PlanOut, **ERRORS}, summary="财政审核通过")
def review_ok(request, pk: int, data: NoteIn):
    scope = _scope(request)
    plan_review_ok(actor=scope, plan_id=_plan(scope, pk).pk, note=data.note)
    return _detail(scope, pk)


@router.post("/plans/{int:pk}/return", response={200: PlanOut, **ERRORS}, summary="财政审核退回")
def return_plan(request, pk: int, data: ReasonIn):
    scope = _scope(request)
    plan_return(actor=scope, plan_id=_plan(scope, pk).pk, reason=data.reason)
    return _detail(scope, pk)


@router.post("/plans/{int:pk}/cancel", response={200: PlanOut, **ERRORS}, summary="作废发放方案")
def cancel(request, pk: int, data: ReasonIn):
    scope = _scope(request)
    plan_cancel(actor=scope, plan_id=_plan(scope, pk).pk, reason=data.reason)
    return _detail(scope, pk)


@router.post("/plans/{int:pk}/mount", response={200: PlanOut, **ERRORS}, summary="挂接预算指标")
def mount(request, pk: int, data: MountIn):
    scope = _scope(request)
    plan_mount(actor=scope, plan_id=_plan(scope, pk).pk, indicator_id=data.indicator_id)
    return _detail(scope, pk)


class VoucherJobOut(Schema):
    job_id: uuid.UUID
    status: str
    label: str
    plan_id: int


@router.post("/plans/{int:pk}/vouchers", response={201: list[DocumentOut], 202: VoucherJobOut, **ERRORS},
             summary="生成资金支付申请、国库集中支付凭证和批量业务支付明细",
             description="201 with the documents; for a plan above YIKATONG_VOUCHER_SYNC_MAX_ITEMS items 202 with "
                         "the background job (the plan turns `vouchered` and its documents are listed when done).")
def vouchers(request, pk: int):
    scope = _scope(request)
    plan = _plan(scope, pk)
    if vouchers_in_background(plan):
        job = plan_vouchers_enqueue(actor=scope, plan=plan)
        return Status(202, {"job_id": job.pk, "status": job.status, "label": job.label, "plan_id": plan.pk})
    docs = plan_issue_vouchers(actor=scope, plan_id=plan.pk)
    return Status(201, [_doc_out(d) for d in docs])
