"""The payment documents of a mounted plan (SPEC §3.6 step 2; 003 §20):

    资金支付申请 (DocumentKind.PAYMENT_APPLICATION)   PDF + XLSX
    国库集中支付凭证 (TREASURY_VOUCHER)               PDF + XLSX — payer: the finance bureau holding the indicator
                                                    (国库单一账户), payee: the paying bank, amount in 大写
    国库集中支付批量业务支付明细 (BATCH_DETAILS)        PDF (masked accounts; at most voucher_pdf.DETAIL_PDF_LIMIT
                                                    rows listed) + XLSX (every payable item, FULL account numbers,
                                                    for the treasury and the paying bank — an audit event says so)

`plan_issue_vouchers` refuses any plan that is not mounted (not approved by finance, no indicator committed),
generates all six files, stores them (core.services.files.file_store), records them as PaymentDocument rows
(kind, number, SHA-256, count, total) and moves the plan to `vouchered`. The amounts on every document are the
payable total computed by the database and checked against the sum streamed into the details, to the fen.
The details stream from the database (`.iterator(chunk_size)`) into a write-only XLSX, so memory does not grow
with the plan. Files are written before the transaction commits; if it rolls back, they stay on disk
unreferenced (never served: downloads go through PaymentDocument).
"""

import tempfile

from django.conf import settings
from django.db import transaction

from yikatong.core import audit, clock
from yikatong.core.crypto import decrypt_text
from yikatong.core.errors import DomainError
from yikatong.core.money import format_yuan, to_chinese_uppercase
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_store

from .. import voucher_pdf, voucher_xlsx
from ..models import DisbursementPlan, DocumentKind, PaymentDocument, PaymentItem, PlanStatus
from .common import lock_plan, move_plan, next_number, require_plan_scope
from .plans import PAYABLE_ITEM_STATUSES, payable_totals

CHUNK = 5000
PURPOSE = "payment_document"
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PREFIXES = {DocumentKind.PAYMENT_APPLICATION: "ZFSQ", DocumentKind.TREASURY_VOUCHER: "GKZF",
            DocumentKind.BATCH_DETAILS: "PLMX"}


def _refuse_unless_mounted(plan: DisbursementPlan) -> None:
    if plan.status == PlanStatus.MOUNTED and plan.indicator_id:
        return
    label = PlanStatus(plan.status).label
    if plan.status in (PlanStatus.VOUCHERED, PlanStatus.PAYING, PlanStatus.COMPLETED):
        raise DomainError(f"发放方案 {plan.number} 已生成支付凭证（当前状态：{label}），不能重复生成。",
                          code="already_issued")
    raise DomainError(
        f"发放方案 {plan.number} 当前状态为“{label}”，不能生成支付凭证：须经主管部门审批、财政部门审核通过"
        "并挂接预算指标后，才能生成资金支付申请、国库集中支付凭证和批量业务支付明细。", code="not_mounted")


def _payable_items(plan: DisbursementPlan):
    return (PaymentItem.objects.filter(plan_id=plan.pk, status__in=PAYABLE_ITEM_STATUSES).order_by("id"))


def _store(actor: Scope, plan: DisbursementPlan, *, kind: str, number: str, path, name: str,
           content_type: str, count: int, total) -> PaymentDocument:
    with open(path, "rb") as fh:
        stored = file_store(actor=actor, fileobj=fh, original_name=name, purpose=PURPOSE,
                            region_code=plan.region_id, organization_id=plan.organization_id,
                            content_type=content_type)
    return PaymentDocument.objects.create(plan=plan, kind=kind, number=number, file=stored, digest=stored.sha256,
                                          item_count=count, total_amount=total, created_by=actor.username)


def _store_bytes(actor, plan, *, kind, number, data: bytes, name, count, total) -> PaymentDocument:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
        tmp.write(data)
        tmp.flush()
        return _store(actor, plan, kind=kind, number=number, path=tmp.name, name=name, content_type=PDF,
                      count=count, total=total)


def _form_xlsx(actor, plan, *, kind, number, rows, count, total) -> PaymentDocument:
    label = DocumentKind(kind).label
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as tmp:
        voucher_xlsx.write_form(tmp.name, [("单据", label), ("编号", number), *rows], sheet_title=label)
        return _store(actor, plan, kind=kind, number=number, path=tmp.name, name=f"{label}_{number}.xlsx",
                      content_type=XLSX, count=count, total=total)


def _facts(plan: DisbursementPlan, count: int, total) -> dict:
    indicator = plan.indicator
    return {
        "plan": f"{plan.number} {plan.title}",
        "policy": f"{plan.policy.code} {plan.policy.name}",
        "department": plan.organization.name,
        "region": f"{plan.region.name}（{plan.region_id}）",
        "bank": plan.bank.name,
        "indicator": f"{indicator.doc_no}（{indicator.fiscal_year} 年度，{indicator.get_source_level_display()}）",
        "finance": indicator.holder.name,
        "count": count, "total": total, "upper": to_chinese_uppercase(total),
    }


def _application(actor, plan, f, today) -> list[PaymentDocument]:
    kind = DocumentKind.PAYMENT_APPLICATION
    number = next_number(PREFIXES[kind], PaymentDocument)
    fields = [("申请单位", f["department"]), ("发放方案", f["plan"]), ("补贴项目", f["policy"]),
              ("补贴期间", plan.period), ("发放区划", f["region"]),
              ("发放人数", f"{f['count']} 人（另暂缓 {plan.held_count} 人，不在本次申请内）"),
              ("预算指标", f["indicator"]), ("代发银行", f["bank"]),
              ("财政审核意见", plan.review_note or "—"), ("申请日期", today.isoformat())]
    pdf = voucher_pdf.render_form_pdf(title=kind.label, number=number, fields=fields, amount=f["total"],
                                      amount_upper=f["upper"], signatures=[f["department"], f["finance"]])
    rows = [*fields, ("金额（小写）", f["total"]), ("金额（大写）", f"人民币{f['upper']}")]
    return [_store_bytes(actor, plan, kind=kind, number=number, data=pdf, name=f"{kind.label}_{number}.pdf",
                         count=f["count"], total=f["total"]),
            _form_xlsx(actor, plan, kind=kind, number=number, rows=rows, count=f["count"], total=f["total"])]


def _voucher(actor, plan, f, today, details_number: str) -> list[PaymentDocument]:
    kind = DocumentKind.TREASURY_VOUCHER
    number = next_number(PREFIXES[kind], PaymentDocument)
    treasury = getattr(settings, "YIKATONG_TREASURY_ACCOUNT", "") or "国库单一账户"
    fields = [("凭证日期", today.isoformat()), ("付款人全称", f"{f['finance']}（国库单一账户）"),
              ("付款人账号", treasury), ("收款人全称", f"{f['bank']}（代发专户）"),
              ("收款人账号", "代发专户（批量业务）"), ("预算单位", f["department"]), ("预算指标文号", f["indicator"]),
              ("补贴项目", f["policy"]), ("资金用途", f"{plan.policy.name} {plan.period} 补贴资金代发"),
              ("支付方式", "财政直接支付（批量代发）"),
              ("附件", f"国库集中支付批量业务支付明细 {details_number}，{f['count']} 笔"),
              ("发放方案", f["plan"])]
    pdf = voucher_pdf.render_form_pdf(title=kind.label, number=number, fields=fields, amount=f["total"],
                                      amount_upper=f["upper"], signatures=[f["finance"], "国库支付机构", f["bank"]],
                                      note="本凭证金额与所附批量业务支付明细合计一致，明细逐笔代发至补贴对象社会保障卡银行账户。")
    rows = [*fields, ("金额（小写）", f["total"]), ("金额（大写）", f"人民币{f['upper']}")]
    return [_store_bytes(actor, plan, kind=kind, number=number, data=pdf, name=f"{kind.label}_{number}.pdf",
                         count=f["count"], total=f["total"]),
            _form_xlsx(actor, plan, kind=kind, number=number, rows=rows, count=f["count"], total=f["total"])]


def _detail_rows(plan, *, full: bool):
    fields = ("id", "payee_name", "account_enc" if full else "account_masked", "bank_name", "amount",
              "region__name")
    for item_id, name, account, bank, amount, region in (
            _payable_items(plan).values_list(*fields).iterator(chunk_size=CHUNK)):
        yield item_id, name, decrypt_text(account) if full else account, bank, amount, region


def _details(actor, plan, f, number: str) -> list[PaymentDocument]:
    kind = DocumentKind.BATCH_DETAILS
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as tmp:
        count, total = voucher_xlsx.write_details(tmp.name, _detail_rows(plan, full=True),
                                                  policy=f["policy"], period=plan.period)
        if count != f["count"] or total != f["total"]:
            raise DomainError(f"批量业务支付明细合计（{count} 笔，{format_yuan(total)} 元）与方案应付"
                              f"（{f['count']} 笔，{format_yuan(f['total'])} 元）不一致，已停止生成，请重试。")
        xlsx = _store(actor, plan, kind=kind, number=number, path=tmp.name, name=f"{kind.label}_{number}.xlsx",
                      content_type=XLSX, count=count, total=total)
    audit.record(actor=actor, action="payment_document.full_accounts", obj=xlsx, region_code=plan.region_id,
                 after={"plan": plan.number, "number": number, "items": count, "sha256": xlsx.digest},
                 reason="国库集中支付批量业务支付明细（XLSX）含完整收款账号，供国库和代发银行逐笔核对")
    rows = ((seq, name, bank, masked, region, amount) for seq, (_id, name, masked, bank, amount, region)
            in enumerate(_detail_rows(plan, full=False), start=1))
    facts = [("发放方案", f["plan"]), ("补贴项目", f["policy"]), ("补贴期间", plan.period),
             ("付款人", f"{f['finance']}（国库单一账户）"), ("代发银行", f["bank"]), ("预算指标", f["indicator"])]
    pdf, _listed = voucher_pdf.render_details_pdf(title=kind.label, number=number, facts=facts, rows=rows,
                                                  count=count, total=total, total_upper=f["upper"],
                                                  xlsx_digest=xlsx.digest)
    return [_store_bytes(actor, plan, kind=kind, number=number, data=pdf, name=f"{kind.label}_{number}.pdf",
                         count=count, total=total), xlsx]


def plan_vouchers_precheck(*, actor: Scope, plan_id) -> None:
    """What plan_issue_vouchers refuses before generating anything (scope, plan not mounted), without a lock:
    the background path checks it before queueing the work."""
    plan = DisbursementPlan.objects.get(pk=plan_id)
    require_plan_scope(actor, plan, "payment.plan")
    _refuse_unless_mounted(plan)


@transaction.atomic
def plan_issue_vouchers(*, actor: Scope, plan_id) -> list[PaymentDocument]:
    """Generate the payment application, the treasury voucher and the batch details of a mounted plan."""
    plan = lock_plan(plan_id)
    require_plan_scope(actor, plan, "payment.plan")
    _refuse_unless_mounted(plan)
    plan = (DisbursementPlan.objects.select_related("policy", "region", "organization", "bank", "indicator__holder")
            .get(pk=plan.pk))
    count, total = payable_totals(plan.pk)
    if count == 0:
        raise DomainError("方案中没有可发放的明细，不能生成支付凭证。")
    if total > plan.committed_amount:
        raise DomainError(f"方案应付 {format_yuan(total)} 元超过已挂接指标金额 {format_yuan(plan.committed_amount)} 元，"
                          "不能生成支付凭证：请先核对暂缓/恢复的明细。", code="insufficient")
    today = clock.today()
    f = _facts(plan, count, total)
    details_number = next_number(PREFIXES[DocumentKind.BATCH_DETAILS], PaymentDocument)
    docs = _details(actor, plan, f, details_number)
    docs = _application(actor, plan, f, today) + _voucher(actor, plan, f, today, details_number) + docs
    move_plan(actor, plan, "issue", reason="、".join(f"{d.get_kind_display()} {d.number}" for d in docs[::2]))
    return docs
