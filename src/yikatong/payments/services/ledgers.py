"""Daily close (日清), the clearing voucher (清算凭证) and the stored reconciliation report; ledger exports.

- daily_close: the county's finance bureau (payment.close) freezes one day's totals per entry kind, computed from
  DisbursementEntry, with the reconciliation's verdict and differences. Once per county and day (unique
  constraint); a second close is refused. `require_day_open` lets a booking refuse a closed day.
- clearing_voucher: one PDF per batch (paid to the beneficiaries, returned to the treasury, amounts in words),
  kept as PaymentDocument kind `clearing`.
- reconciliation_document: the reconciliation report of a plan as XLSX and PDF, kept as PaymentDocument kind
  `reconcile`.
- detail_ledger_export: the detail ledger streamed to CSV or written to an XLSX (core.tabular), audited.
"""

import datetime as dt
import hashlib
import io
import tempfile

from django.db import IntegrityError, transaction

from yikatong.core import audit, clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Organization, Region
from yikatong.core.models.orgs import OrgKind
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_store
from yikatong.core.tabular import csv_streaming_response, xlsx_writer

from .. import ledger_files
from ..models import AttemptStatus, BatchStatus, DailyClose, DocumentKind, PaymentDocument
from ..selectors import ledgers as sel
from .common import next_number
from .reconciliation import reconcile, report_json

DIFFERENCES_KEPT = 200


# -- daily close -------------------------------------------------------------------------------------------------
def require_day_open(region_code: str, day: dt.date) -> None:
    """Refuse a booking on a day the county has already closed."""
    county = county_of(region_code)
    if county and DailyClose.objects.filter(region_id=county, day=day).exists():
        raise DomainError(f"{day} 已日结（日清），不能再记入当日台账：请于下一日办理。", code="day_closed")


def county_of(region_code: str) -> str | None:
    """The county (12-digit code) of a region at or below county level; None above."""
    try:
        code = region_rules.normalize_code(region_code)
        if region_rules.level_of(code) < region_rules.COUNTY:
            return None
        return region_rules.prefix_of(code)[:6].ljust(12, "0")
    except region_rules.RegionCodeError:
        return None


def _day(value) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise DomainError(f"日期“{value}”无效，应为 YYYY-MM-DD。", field="day") from None


def daily_close(*, actor: Scope, region_code: str, day) -> DailyClose:
    """Close `day` for a county: its totals per kind frozen, with the reconciliation's verdict."""
    actor.require_write("payment.close")
    day = _day(day)
    region = Region.objects.filter(code=str(region_code or "").strip()).first()
    if region is None or region.level != region_rules.COUNTY:
        raise DomainError("日清按县级区划办理：请选择县（区）。", field="region_code")
    actor.require_region(region.code)
    if not actor.is_system and actor.region_code != region.code:
        raise ScopeError("日清须由本县（区）财政部门办理。")
    if day > clock.today():
        raise DomainError(f"不能对未来日期 {day} 日结。", field="day")
    totals = {k: {"count": v["count"], "amount": f"{v['amount']:.2f}"}
              for k, v in sel.entries_on(region.code, day).items()}
    report = reconcile(actor=actor, region_code=region.code)
    differences = report_json(report)["differences"]
    try:
        with transaction.atomic():
            if DailyClose.objects.select_for_update().filter(region=region, day=day).exists():
                raise DomainError(f"{region.name} {day} 已日结，不能重复日结。", code="closed_already")
            close = DailyClose.objects.create(
                region=region, day=day, totals=totals, balanced=report["balanced"],
                differences=differences[:DIFFERENCES_KEPT], closed_by=actor.username, closed_at=clock.now())
            audit.record(actor=actor, action="payment.daily_close", obj=close, region_code=region.code,
                         after={"day": day.isoformat(), "totals": totals, "balanced": report["balanced"],
                                "differences": len(differences)})
    except IntegrityError:
        raise DomainError(f"{region.name} {day} 已日结，不能重复日结。", code="closed_already") from None
    return close


def daily_closes(scope: Scope, *, region_code: str | None = None, limit: int = 60):
    scope.require("payment.view")
    qs = scope.filter(DailyClose.objects.select_related("region"))
    if region_code:
        qs = qs.filter(region_id=region_code)
    return qs.order_by("-day", "region_id")[:limit]


# -- documents ---------------------------------------------------------------------------------------------------
def _keep(actor: Scope, *, plan, batch, kind: str, number: str, name: str, content: bytes, count: int = 0,
          total=0, content_type: str) -> PaymentDocument:
    stored = file_store(actor=actor, fileobj=io.BytesIO(content), original_name=name, purpose=f"payment-{kind}",
                        region_code=plan.region_id, content_type=content_type)
    return PaymentDocument.objects.create(plan=plan, batch=batch, kind=kind, number=number, file=stored,
                                          digest=hashlib.sha256(content).hexdigest(), item_count=count,
                                          total_amount=total, created_by=actor.username)


def _require_writer(actor: Scope, plan) -> None:
    """Finance (payment.close) or the plan's department (payment.plan) of the plan's region and line."""
    if not (actor.can("payment.close") or actor.can("payment.plan")):
        raise ScopeError("无权执行此操作：清算与对账单据由财政部门或主管部门生成。", code="forbidden")
    if actor.read_only:
        raise ScopeError("监督、监管角色只能查看，不能修改数据。", code="read_only")
    actor.require_object(region_code=plan.region_id, business_line=plan.business_line)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def reconciliation_document(*, actor: Scope, plan_id, batch_id=None) -> list[PaymentDocument]:
    """The reconciliation report of a plan (optionally one batch) kept as XLSX and PDF."""
    plan = sel.plan_get(actor, plan_id)
    _require_writer(actor, plan)
    report = reconcile(actor=actor, plan_id=plan.pk, batch_id=batch_id)
    with transaction.atomic():
        number = next_number("RC", PaymentDocument)
        title = f"发放资金对账报告　{plan.number} {plan.title}"
        batch = None
        if batch_id:
            batch = plan.batches.filter(pk=batch_id).first()
        xlsx = ledger_files.reconciliation_xlsx(report, title)
        pdf = ledger_files.reconciliation_pdf(report, number=number, title=title)
        total = report["totals"]["paid"]
        docs = [_keep(actor, plan=plan, batch=batch, kind=DocumentKind.RECONCILIATION, number=number,
                      name=f"对账报告_{number}.xlsx", content=xlsx, total=total, content_type=XLSX),
                _keep(actor, plan=plan, batch=batch, kind=DocumentKind.RECONCILIATION, number=number,
                      name=f"对账报告_{number}.pdf", content=pdf, total=total, content_type="application/pdf")]
        audit.record(actor=actor, action="payment.reconcile_report", obj=plan,
                     after={"number": number, "balanced": report["balanced"],
                            "differences": len(report["differences"])})
    return docs


def clearing_figures(batch) -> dict:
    """{figure: (count, amount)} of one batch from its attempts (one GROUP BY)."""
    from django.db.models import Count, Q, Sum

    zero = sel.ZERO
    out = {k: (0, zero) for k in ("sent", "paid", "failed", "returned", "awaiting_return", "in_flight")}
    rows = (batch.attempts.exclude(status=AttemptStatus.WITHDRAWN)
            .values("status", back=Q(returned_on__isnull=False)).annotate(n=Count("id"), s=Sum("amount")).order_by())
    for r in rows:
        n, s = r["n"], r["s"] or zero
        out["sent"] = (out["sent"][0] + n, out["sent"][1] + s)
        key = {"paid": "paid", "sent": "in_flight"}.get(r["status"])
        if r["status"] == AttemptStatus.FAILED:
            key = "returned" if r["back"] else "awaiting_return"
            out["failed"] = (out["failed"][0] + n, out["failed"][1] + s)
        if key:
            out[key] = (out[key][0] + n, out[key][1] + s)
    return out


def clearing_voucher(*, actor: Scope, batch_id) -> PaymentDocument:
    """The clearing voucher of a released batch, kept as PDF (PaymentDocument kind clearing)."""
    batch = sel.batches_visible(actor).select_related("plan", "plan__policy", "bank").filter(
        pk=sel._int(batch_id)).first()
    if batch is None:
        raise DomainError("代发批次不存在或不在您的管辖范围内。", code="not_found")
    plan = batch.plan
    _require_writer(actor, plan)
    if batch.status in (BatchStatus.PREPARED, BatchStatus.CANCELLED):
        raise DomainError(f"批次 {batch.number} 尚未发送银行（{batch.get_status_display()}），不能生成清算凭证。",
                          code="not_released")
    figures = clearing_figures(batch)
    finance = Organization.objects.filter(kind=OrgKind.FINANCE, region_id=plan.region_id).first()
    with transaction.atomic():
        number = next_number("QS", PaymentDocument)
        pdf = ledger_files.clearing_voucher_pdf(
            number=number, batch=batch, plan=plan, payer=finance.name if finance else plan.region.name + "财政",
            payee_bank=batch.bank.name, figures=figures, made_by=actor.username, made_on=clock.today())
        doc = _keep(actor, plan=plan, batch=batch, kind=DocumentKind.CLEARING_VOUCHER, number=number,
                    name=f"清算凭证_{batch.number}.pdf", content=pdf, count=figures["paid"][0],
                    total=figures["paid"][1], content_type="application/pdf")
        audit.record(actor=actor, action="payment.clearing_voucher", obj=batch, region_code=plan.region_id,
                     after={"number": number, "paid": f"{figures['paid'][1]:.2f}",
                            "returned": f"{figures['returned'][1]:.2f}"})
    return doc


# -- exports -----------------------------------------------------------------------------------------------------
def detail_ledger_export(*, actor: Scope, fmt: str = "csv", **filters):
    """The detail ledger as a download: CSV streamed, XLSX written to a temporary file (constant memory)."""
    actor.require("payment.view")
    qs = sel.detail_ledger(actor, **filters)
    audit.record(actor=actor, action="payment.ledger_export", object_type="payments.detail_ledger",
                 after={"format": fmt, **{k: str(v) for k, v in filters.items() if v}})
    name = f"发放明细账_{clock.today():%Y%m%d}"
    if fmt == "xlsx":
        from django.http import FileResponse

        tmp = tempfile.TemporaryFile()
        with xlsx_writer(tmp, sel.DETAIL_HEADERS, sheet_title="发放明细账") as out:
            out.write_rows(sel.detail_export_rows(qs))
        tmp.seek(0)
        return FileResponse(tmp, as_attachment=True, filename=f"{name}.xlsx", content_type=XLSX)
    if fmt != "csv":
        raise DomainError("导出格式只能是 csv 或 xlsx。", field="fmt")
    return csv_streaming_response(f"{name}.csv", sel.DETAIL_HEADERS, sel.detail_export_rows(qs))
