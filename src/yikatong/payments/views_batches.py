"""Pages of payment batches (joined into /payments/ by payments.urls, namespace `payments`).

  /payments/batches/                      list with status filter and pay-deadline badges
  /payments/batches/new/                  POST plan_id: the plan's next batch (first or 补发)
  /payments/batches/<id>/                 detail: totals, counts paid/failed/pending, bank files, attempts (paginated)
  /payments/batches/<id>/act/<action>/    POST release | cancel (reason) | files (generate the bank files)
  /payments/batches/<id>/files/<fmt>/     download a bank file (full accounts; audited)
Thin: reads through selectors.batches, writes through services.batches / services.batch_files.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from yikatong.core import audit
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Role
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_abspath
from yikatong.core.tabular import attachment_header

from . import workflow
from .models import AttemptStatus, BatchStatus, PaymentBatch
from .selectors import batches as sel
from .services import batch_files
from .services.batches import batch_cancel, batch_create, batch_release

PAGE_SIZE = 50
ATTEMPT_PAGE_SIZE = 100


def scope_for(request) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require("payment.view")
    return scope


def visible_batch(scope: Scope, pk) -> PaymentBatch:
    try:
        return sel.batch_get(scope, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def can_download(scope: Scope, batch: PaymentBatch) -> bool:
    """Bank files carry full account numbers: the department (payment.plan, pii.view_full) and the batch's own
    paying bank (bank.exchange; the selector already limits it to its batches)."""
    if scope.read_only or batch.status not in batch_files.FILE_STATUSES:
        return False
    if scope.role == Role.PAYING_BANK:
        return scope.can("bank.exchange") and batch.bank_id == scope.organization_id
    return scope.can("payment.plan") and scope.can("pii.view_full")


def file_response(scope: Scope, batch: PaymentBatch, fmt: str) -> FileResponse:
    """The bank file of `batch` in `fmt` (generated now if missing); every download is an audit event."""
    if fmt not in batch_files.FORMATS:
        raise Http404("没有这种文件格式。")
    if not can_download(scope, batch):
        raise ScopeError("无权下载代发文件：文件含完整账号，仅主管部门经办人员和代发银行可下载。")
    document = batch_files.payment_files_generate(batch.pk, (fmt,), actor=Scope.system(reason="payment-files"))[0]
    try:
        handle = open(file_abspath(document.file), "rb")  # noqa: SIM115 — FileResponse closes it
    except FileNotFoundError as exc:
        raise Http404("文件已丢失，请联系系统管理员。") from exc
    audit.record(actor=scope, action="payment_batch.file_download", obj=batch,
                 after={"format": fmt, "document": document.pk, "sha256": document.digest,
                        "item_count": document.item_count, "full_accounts": True})
    response = FileResponse(handle, content_type=document.file.content_type or "application/octet-stream")
    response["Content-Disposition"] = attachment_header(document.file.original_name)
    response["Cache-Control"] = "private, no-store"
    return response


def _can_act(scope: Scope, batch: PaymentBatch) -> bool:
    return (scope.can("payment.plan") and not scope.read_only and scope.organization_id == batch.plan.organization_id)


@login_required
def batch_list(request):
    scope = scope_for(request)
    status = request.GET.get("status", "")
    status = status if status in BatchStatus.values else ""
    plan = request.GET.get("plan", "").strip()[:40]
    qs = sel.batch_list(scope, status=status, plan_number=plan)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for batch in page.object_list:
        batch.deadline_state = sel.deadline_state(batch)
    return render(request, "payments/batch_list.html", {
        "page": page, "status": status, "plan": plan, "statuses": BatchStatus.choices,
        "filter_query": urlencode({k: v for k, v in {"status": status, "plan": plan}.items() if v}),
        "can_create": scope.can("payment.plan") and not scope.read_only, "title": "代发批次"})


@login_required
@require_POST
def batch_new(request):
    scope = scope_for(request)
    plan_id = request.POST.get("plan_id", "")
    try:
        batch = batch_create(actor=scope, plan_id=int(plan_id) if str(plan_id).isdigit() else None)
    except ScopeError:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
        if str(plan_id).isdigit():
            return redirect("payments:plan-detail", pk=int(plan_id))
        return redirect("payments:batch-list")
    messages.success(request, f"已生成代发批次 {batch.number}：{batch.item_count} 笔，{batch.total_amount} 元。")
    return redirect("payments:batch-detail", pk=batch.pk)


def _render_detail(request, scope: Scope, batch: PaymentBatch, *, status: int = 200):
    attempt_status = request.GET.get("status", "")
    attempt_status = attempt_status if attempt_status in AttemptStatus.values else ""
    query = request.GET.get("q", "").strip()[:40]
    attempts = sel.batch_attempts(scope, batch, status=attempt_status, query=query)
    page = Paginator(attempts, ATTEMPT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [sel.attempt_row(scope, a) for a in page.object_list]
    actions = [tr.action for tr in workflow.actions_for("batch", batch.status)
               if tr.action in ("release", "cancel")] if _can_act(scope, batch) else []
    downloads = can_download(scope, batch)
    return render(request, "payments/batch_detail.html", {
        "batch": batch, "counts": sel.batch_counts(batch), "deadline_state": sel.deadline_state(batch),
        "page": page, "rows": rows, "attempt_status": attempt_status, "q": query,
        "attempt_statuses": AttemptStatus.choices, "actions": actions, "can_download": downloads,
        "documents": batch_files.batch_documents(batch) if downloads or _can_act(scope, batch) else {},
        "formats": [("csv", "CSV"), ("xlsx", "XLSX"), ("pain001", "ISO 20022 pain.001")],
        "filter_query": urlencode({k: v for k, v in {"status": attempt_status, "q": query}.items() if v}),
        "title": f"代发批次 {batch.number}"}, status=status)


@login_required
def batch_detail(request, pk: int):
    scope = scope_for(request)
    return _render_detail(request, scope, visible_batch(scope, pk))


@login_required
@require_POST
def batch_act(request, pk: int, action: str):
    scope = scope_for(request)
    batch = visible_batch(scope, pk)
    try:
        if action == "release":
            batch = batch_release(actor=scope, batch_id=batch.pk)
            done = f"批次 {batch.number} 已发送银行，银行应于 {batch.pay_deadline} 前完成支付。"
        elif action == "cancel":
            batch = batch_cancel(actor=scope, batch_id=batch.pk, reason=request.POST.get("reason", ""))
            done = f"批次 {batch.number} 已撤销，明细已退回待发放。"
        elif action == "files":
            if not can_download(scope, batch):
                raise ScopeError("无权生成代发文件。")
            if batch.item_count > batch_files.bank_formats.XLSX_MAX_ROWS or batch.item_count > 20000:
                batch_files.payment_files_start(actor=scope, batch=batch)
                done = "代发文件正在后台生成，请稍后刷新本页。"
            else:
                batch_files.payment_files_generate(batch.pk, actor=Scope.system(reason="payment-files"))
                done = "代发文件已生成。"
        else:
            raise Http404("没有这个操作。")
    except ScopeError:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
        return _render_detail(request, scope, visible_batch(scope, pk), status=400)
    messages.success(request, done)
    return redirect("payments:batch-detail", pk=batch.pk)


@login_required
def batch_file(request, pk: int, fmt: str):
    scope = scope_for(request)
    return file_response(scope, visible_batch(scope, pk), fmt)
