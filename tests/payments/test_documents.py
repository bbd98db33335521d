"""Payment documents of a mounted plan (services/documents.py): refused before mount, six files after,
PDF and XLSX really open, totals match the items to the fen, full accounts only in the audited XLSX."""

import io
from decimal import Decimal

import openpyxl
import pytest

from tests.applications.conftest import luhn_account
from tests.payments.factory import build_plan
from yikatong.core.audit import AuditEvent
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.services.files import file_abspath
from yikatong.payments import voucher_pdf
from yikatong.payments.models import DocumentKind, ItemStatus, PaymentDocument, PlanStatus
from yikatong.payments.services.documents import plan_issue_vouchers
from yikatong.payments.services.plans import plan_approve, plan_build, plan_mount, plan_review_ok, plan_submit


def mounted(pay):
    civil = pay.scope("civil")
    plan = plan_build(actor=civil, policy_code="WZ-001", period="2026-03", region_code="500101000000",
                      bank_code="WZ-NSH")
    plan_approve(actor=civil, plan_id=plan.pk)
    plan_submit(actor=civil, plan_id=plan.pk)
    plan_review_ok(actor=pay.scope("finance"), plan_id=plan.pk)
    return plan_mount(actor=civil, plan_id=plan.pk, indicator_id=pay.indicator.pk)


def content(doc) -> bytes:
    return file_abspath(doc.file).read_bytes()


def xlsx_rows(doc) -> list[tuple]:
    book = openpyxl.load_workbook(io.BytesIO(content(doc)), read_only=True)
    return list(book.active.iter_rows(values_only=True))


@pytest.mark.parametrize("status", [PlanStatus.DRAFT, PlanStatus.APPROVED, PlanStatus.SUBMITTED,
                                    PlanStatus.RETURNED, PlanStatus.REVIEWED, PlanStatus.CANCELLED])
def test_vouchers_refused_before_mount(pay, status):
    plan = build_plan(pay, status=status)
    with pytest.raises(DomainError, match="不能生成支付凭证：须经主管部门审批、财政部门审核通过并挂接预算指标") as exc:
        plan_issue_vouchers(actor=pay.scope("civil"), plan_id=plan.pk)
    assert exc.value.code == "not_mounted"
    plan.refresh_from_db()
    assert plan.status == status and not PaymentDocument.objects.exists()


def test_vouchers_refused_for_other_roles(pay):
    plan = mounted(pay)
    for key in ("finance", "agri", "fl_civil", "paying_bank", "collector"):
        with pytest.raises(ScopeError):
            plan_issue_vouchers(actor=pay.scope(key), plan_id=plan.pk)
    assert not PaymentDocument.objects.exists()


def test_issue_vouchers(pay):
    plan = mounted(pay)
    docs = plan_issue_vouchers(actor=pay.scope("civil"), plan_id=plan.pk)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.VOUCHERED
    assert plan.events.last().action == "issue"
    assert len(docs) == 6
    kinds = sorted((d.kind, d.file.original_name.rsplit(".", 1)[1]) for d in docs)
    assert kinds == sorted((k, ext) for k in (DocumentKind.PAYMENT_APPLICATION, DocumentKind.TREASURY_VOUCHER,
                                              DocumentKind.BATCH_DETAILS) for ext in ("pdf", "xlsx"))
    for doc in docs:
        assert doc.item_count == 5 and doc.total_amount == Decimal("1500.00")
        assert doc.digest == doc.file.sha256 and len(doc.digest) == 64
        data = content(doc)
        if doc.file.original_name.endswith(".pdf"):
            assert data.startswith(b"%PDF") and data.count(b"/Type /Page") - data.count(b"/Type /Pages") > 0
        else:
            assert data.startswith(b"PK")
    # numbers: one per kind, shared by its PDF and XLSX
    assert len({d.number for d in docs}) == 3
    with pytest.raises(DomainError, match="已生成支付凭证") as exc:
        plan_issue_vouchers(actor=pay.scope("civil"), plan_id=plan.pk)
    assert exc.value.code == "already_issued"


def test_details_xlsx_totals_and_full_accounts(pay):
    plan = mounted(pay)
    docs = plan_issue_vouchers(actor=pay.scope("civil"), plan_id=plan.pk)
    details = next(d for d in docs if d.kind == DocumentKind.BATCH_DETAILS and d.file.original_name.endswith("xlsx"))
    rows = xlsx_rows(details)
    header, body, total_row = rows[0], rows[1:-1], rows[-1]
    assert header[:6] == ("序号", "明细编号", "收款人", "收款账号", "开户银行", "金额")
    assert len(body) == 5
    amounts = [Decimal(str(r[5])).quantize(Decimal("0.01")) for r in body]
    items = {i.pk: i for i in plan.items.all()}
    assert sum(amounts) == sum(i.amount for i in items.values()) == Decimal("1500.00")
    assert total_row[0] == "合计" and Decimal(str(total_row[5])).quantize(Decimal("0.01")) == Decimal("1500.00")
    accounts = {luhn_account(f"622000{seq:012d}") for seq in range(21, 26)}
    assert {r[3] for r in body} == accounts  # full, as text
    event = AuditEvent.objects.get(action="payment_document.full_accounts")
    assert event.after["items"] == 5 and event.after["sha256"] == details.digest


def test_voucher_has_uppercase_amount_payer_and_payee(pay):
    plan = mounted(pay)
    docs = plan_issue_vouchers(actor=pay.scope("civil"), plan_id=plan.pk)
    voucher = next(d for d in docs if d.kind == DocumentKind.TREASURY_VOUCHER and d.file.original_name.endswith("xlsx"))
    facts = dict(xlsx_rows(voucher)[1:])
    assert facts["金额（大写）"] == "人民币壹仟伍佰元整"
    assert Decimal(str(facts["金额（小写）"])) == Decimal("1500")
    assert facts["付款人全称"] == "万州区财政局（国库单一账户）"
    assert facts["收款人全称"].startswith("重庆农商行万州分行")
    assert "万州财社〔2026〕3号" in facts["预算指标文号"]
    assert facts["补贴项目"].startswith("WZ-001")
    application = next(d for d in docs if d.kind == DocumentKind.PAYMENT_APPLICATION
                       and d.file.original_name.endswith("xlsx"))
    assert dict(xlsx_rows(application)[1:])["金额（大写）"] == "人民币壹仟伍佰元整"


def test_held_items_are_not_on_the_vouchers(pay):
    from yikatong.registry.models import PayeeAccount

    PayeeAccount.objects.filter(beneficiary=pay.people["p1"], is_active=True).update(card_status="not_activated")
    plan = mounted(pay)
    assert plan.items.filter(status=ItemStatus.HELD).count() == 1
    docs = plan_issue_vouchers(actor=pay.scope("civil"), plan_id=plan.pk)
    assert {(d.item_count, d.total_amount) for d in docs} == {(4, Decimal("1200.00"))}
    details = next(d for d in docs if d.kind == DocumentKind.BATCH_DETAILS and d.file.original_name.endswith("xlsx"))
    assert len(xlsx_rows(details)) == 4 + 2


def test_details_pdf_lists_at_most_the_limit():
    rows = ((i, f"王{i}", "重庆农村商业银行", "6220****1234", "高笋塘社区", Decimal("300.00")) for i in range(1, 31))
    pdf, listed = voucher_pdf.render_details_pdf(title="国库集中支付批量业务支付明细", number="PLMX1", facts=[],
                                                 rows=rows, count=30, total=Decimal("9000.00"),
                                                 total_upper="玖仟元整", xlsx_digest="ab" * 32, limit=10)
    assert listed == 10 and pdf.startswith(b"%PDF")
    many, listed = voucher_pdf.render_details_pdf(
        title="明细", number="PLMX2", facts=[], count=200, total=Decimal("60000.00"), total_upper="陆万元整",
        rows=((i, "王", "银行", "6220****1234", "社区", Decimal("300.00")) for i in range(1, 201)))
    assert listed == 200
    assert many.count(b"/Type /Page") - many.count(b"/Type /Pages") >= 4
