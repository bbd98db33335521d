"""Bank payment files of a batch (代发明细): written by banks/formats.py, kept with file_store, recorded as
PaymentDocument (kind bank_csv / bank_xlsx / pain001, with the file's SHA-256, item count and total).

payment_files_generate(batch_id, formats=…)  used by batch_release (after commit), the bank API and the UI.
    Only for batches from `released` on (the files carry full account numbers and are for the bank). A format
    already generated for the batch is kept, not written again (unless regenerate=True, which adds a new
    document and keeps the old one). Each generation is audited (who, which batch, digest, count, total).
    The written rows' count and total must equal the batch's database totals, else nothing is recorded.
    pain.001 files are validated against the XSD (xmlschema, offline) up to settings.YIKATONG_PAIN001_VALIDATE_LIMIT
    transactions (default 50,000): above that the writer's per-row checks and the totals guard the file and the
    XSD validation is skipped (it is slow in pure Python) — recorded in the audit event.
payment_files_start(actor, batch)  the same as a background job (core.jobs) with a progress bar.
"""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.db import transaction

from yikatong.banks import formats as bank_formats
from yikatong.core import audit
from yikatong.core.errors import DomainError
from yikatong.core.jobs import job_create, job_enqueue, job_task, no_progress
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_store

from ..models import BatchStatus, DocumentKind, PaymentBatch, PaymentDocument

FORMATS = {
    "csv": (DocumentKind.BANK_FILE_CSV, bank_formats.write_payment_csv, "csv", "text/csv"),
    "xlsx": (DocumentKind.BANK_FILE_XLSX, bank_formats.write_payment_xlsx, "xlsx",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pain001": (DocumentKind.BANK_FILE_PAIN001, bank_formats.write_payment_pain001, "xml", "application/xml"),
}
ALL_FORMATS = ("csv", "xlsx", "pain001")
FILE_STATUSES = (BatchStatus.RELEASED, BatchStatus.FETCHED, BatchStatus.PARTIAL, BatchStatus.COMPLETED)
KIND_TO_FORMAT = {kind: name for name, (kind, *_rest) in FORMATS.items()}


def validate_limit() -> int:
    return int(getattr(settings, "YIKATONG_PAIN001_VALIDATE_LIMIT", 50000))


def default_formats(batch: PaymentBatch) -> tuple[str, ...]:
    """Every format the batch can have (XLSX only while it fits one sheet)."""
    if batch.item_count > bank_formats.XLSX_MAX_ROWS:
        return ("csv", "pain001")
    return ALL_FORMATS


def file_name(batch: PaymentBatch, fmt: str) -> str:
    ext = FORMATS[fmt][2]
    suffix = "_pain001" if fmt == "pain001" else ""
    return f"代发明细_{batch.number}{suffix}.{ext}"


def payment_files_generate(batch_id, formats: tuple[str, ...] | None = None, *, actor: Scope | None = None,
                           regenerate: bool = False, progress=no_progress) -> list[PaymentDocument]:
    """Generate (or return the existing) bank files of a batch (default: every format it can have); see the
    module doc. Returns the documents in the order of the formats."""
    wanted = formats
    batch = PaymentBatch.objects.select_related("plan__organization", "policy", "bank").filter(pk=batch_id).first()
    if batch is None:
        raise DomainError("代发批次不存在。", code="not_found")
    wanted = tuple(wanted or default_formats(batch))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise DomainError(f"不支持的文件格式：{', '.join(unknown)}（可选 csv、xlsx、pain001）。", field="formats")
    if batch.status not in FILE_STATUSES:
        raise DomainError(f"批次 {batch.number} 当前状态为“{batch.get_status_display()}”，发送银行后才能生成代发文件。",
                          code="bad_state")
    actor = actor or Scope.system(reason="task:payment-files")
    documents = []
    for index, fmt in enumerate(wanted):
        progress(index, len(wanted))
        kind = FORMATS[fmt][0]
        existing = PaymentDocument.objects.filter(batch_id=batch.pk, kind=kind).order_by("-id").first()
        if existing is not None and not regenerate:
            documents.append(existing)
            continue
        documents.append(_generate_one(actor, batch, fmt))
    progress(len(wanted), len(wanted))
    return documents


def _generate_one(actor: Scope, batch: PaymentBatch, fmt: str) -> PaymentDocument:
    kind, writer, _ext, content_type = FORMATS[fmt]
    validated = None
    with tempfile.TemporaryFile() as tmp:
        totals = writer(batch, tmp)
        if totals.count != batch.item_count or totals.total != batch.total_amount:
            raise DomainError(f"批次 {batch.number} 写出的明细（{totals.count} 笔，{totals.total} 元）与批次合计"
                              f"（{batch.item_count} 笔，{batch.total_amount} 元）不符，未保存文件。",
                              code="totals_mismatch")
        if fmt == "pain001" and totals.count <= validate_limit():
            tmp.seek(0)
            bank_formats.validate_pain001(tmp)
            validated = True
        elif fmt == "pain001":
            validated = False
        tmp.seek(0)
        with transaction.atomic():
            stored = file_store(actor=actor, fileobj=tmp, original_name=file_name(batch, fmt), purpose="bank-files",
                                region_code=batch.region_id, organization_id=batch.bank_id,
                                content_type=content_type)
            document = PaymentDocument.objects.create(
                plan_id=batch.plan_id, batch=batch, kind=kind, number=f"{batch.number}-{fmt}", file=stored,
                digest=stored.sha256, item_count=totals.count, total_amount=totals.total,
                created_by=actor.username)
            audit.record(actor=actor, action="payment_batch.file", obj=batch, after={
                "format": fmt, "document": document.pk, "file": str(stored.pk), "sha256": stored.sha256,
                "item_count": totals.count, "total_amount": str(totals.total), "full_accounts": True,
                "xsd_validated": validated})
    return document


def batch_documents(batch: PaymentBatch) -> dict[str, PaymentDocument]:
    """The latest bank file of each format of a batch: {"csv": doc, …}."""
    latest: dict[str, PaymentDocument] = {}
    for doc in PaymentDocument.objects.filter(batch_id=batch.pk, kind__in=list(KIND_TO_FORMAT)).select_related(
            "file").order_by("id"):
        latest[KIND_TO_FORMAT[doc.kind]] = doc
    return latest


# -- background ------------------------------------------------------------------------------------------------
@job_task
def payment_files_task(reporter, *, batch_id: int, formats: list[str] | None = None):
    documents = payment_files_generate(batch_id, tuple(formats or ()) or None, progress=reporter)
    return {doc.get_kind_display(): f"{doc.item_count} 笔，{doc.total_amount} 元" for doc in documents}


def payment_files_start(*, actor: Scope, batch: PaymentBatch, formats: tuple[str, ...] | None = None):
    """Queue the generation as a background job (inside the caller's transaction: the job starts when it
    commits). Returns the JobProgress."""
    job = job_create(actor=actor, kind="payment.files", label=f"生成代发文件：{batch.number}",
                     region_code=batch.region_id)
    return job_enqueue(payment_files_task, job=job, batch_id=batch.pk, formats=list(formats or ()))
