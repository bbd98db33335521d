"""Bank payment files (SPEC §5.3): CSV / XLSX content with the control line, pain.001 valid against the XSD."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.payments.factory import build_batch, build_plan
from yikatong.banks import formats
from yikatong.core.crypto import decrypt_text
from yikatong.core.errors import DomainError
from yikatong.core.services.files import file_abspath
from yikatong.payments.models import AttemptStatus, BatchStatus, DocumentKind, PaymentDocument, PlanStatus
from yikatong.payments.services.batch_files import payment_files_generate

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    return build_batch(pay, plan, status=BatchStatus.RELEASED)


def _expected(batch):
    return [(a.seq, a.payee_name, decrypt_text(a.account_enc), a.bank_name, f"{a.amount:.2f}")
            for a in batch.attempts.order_by("seq")]


def test_csv_rows_full_accounts_and_control_line(batch):
    out = io.BytesIO()
    totals = formats.write_payment_csv(batch, out)
    assert totals == formats.FileTotals(5, Decimal("1500.00"))
    raw = out.getvalue()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0]) == formats.HEADERS
    body, control = rows[1:-1], rows[-1]
    assert [(int(r[1]), r[2], r[3], r[4], r[5]) for r in body] == _expected(batch)
    assert {r[0] for r in body} == {batch.number} and {r[6] for r in body} == {batch.policy.name}
    assert {r[7] for r in body} == {"2026-03"} and all("WZ-001" in r[8] for r in body)
    assert control == ["合计", "5", "", "", "", "1500.00", "", "", "控制行"]
    assert formats.read_control_line(control) == totals
    assert all(len(r[3]) >= 16 and "*" not in r[3] for r in body)


def test_withdrawn_attempts_are_not_in_files(batch):
    a = batch.attempts.order_by("seq").first()
    batch.attempts.filter(pk=a.pk).update(status=AttemptStatus.WITHDRAWN)
    out = io.BytesIO()
    assert formats.write_payment_csv(batch, out).count == 4


def test_xlsx_rows_and_control_line(batch):
    out = io.BytesIO()
    totals = formats.write_payment_xlsx(batch, out)
    assert totals.count == 5
    sheet = load_workbook(io.BytesIO(out.getvalue()), read_only=True)["代发明细"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(rows[0]) == formats.HEADERS
    assert [(r[1], r[2], r[3], r[4], f"{Decimal(str(r[5])):.2f}") for r in rows[1:-1]] == _expected(batch)
    assert rows[-1][0] == "合计" and rows[-1][1] == 5 and Decimal(str(rows[-1][5])) == Decimal("1500")
    assert rows[-1][8] == "控制行"


def test_pain001_valid_and_tampered_invalid(batch):
    out = io.BytesIO()
    totals = formats.write_payment_pain001(batch, out)
    xml = out.getvalue()
    assert totals.count == 5
    assert formats.pain001_errors(xml) == []
    formats.validate_pain001(xml)
    text = xml.decode()
    assert "<NbOfTxs>5</NbOfTxs>" in text and "<CtrlSum>1500.00</CtrlSum>" in text
    assert f"<EndToEndId>{batch.number}-1</EndToEndId>" in text and f"{batch.number}-5<" in text
    assert text.count("<CdtTrfTxInf>") == 5 and 'Ccy="CNY"' in text
    for _seq, _name, account, _bank, _amount in _expected(batch):
        assert f"<Id>{account}</Id>" in text
    # tampered: a letter in the transaction count, a missing mandatory element, broken XML
    for bad in (text.replace("<NbOfTxs>5</NbOfTxs>", "<NbOfTxs>five</NbOfTxs>", 1),
                text.replace("<PmtMtd>TRF</PmtMtd>", "", 1),
                text.replace('Ccy="CNY"', 'Ccy="cny"', 1),
                text[:-40]):
        assert formats.pain001_errors(bad.encode())
        with pytest.raises(DomainError, match="XSD"):
            formats.validate_pain001(bad.encode())


def test_xsd_is_vendored_copy_of_sepaxml():
    from pathlib import Path

    import sepaxml

    vendored = formats.xsd_path()
    assert vendored.parent.name == "xsd"
    shipped = Path(sepaxml.__file__).parent / "schemas" / formats.PAIN001_XSD
    assert vendored.read_bytes() == shipped.read_bytes()


def test_generate_stores_documents_idempotently(batch):
    docs = payment_files_generate(batch.pk)
    assert [d.kind for d in docs] == [DocumentKind.BANK_FILE_CSV, DocumentKind.BANK_FILE_XLSX,
                                      DocumentKind.BANK_FILE_PAIN001]
    for doc in docs:
        assert doc.item_count == 5 and doc.total_amount == Decimal("1500.00") and len(doc.digest) == 64
        assert doc.file.organization_id == batch.bank_id and file_abspath(doc.file).exists()
    again = payment_files_generate(batch.pk, formats=("csv",))
    assert again[0].pk == docs[0].pk and PaymentDocument.objects.filter(batch=batch).count() == 3
    from yikatong.core.models import AuditEvent

    assert AuditEvent.objects.filter(action="payment_batch.file", object_id=str(batch.pk)).count() == 3


def test_generate_refused_before_release(pay):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    prepared = build_batch(pay, plan, status=BatchStatus.PREPARED)
    with pytest.raises(DomainError, match="发送银行后"):
        payment_files_generate(prepared.pk)
    with pytest.raises(DomainError, match="不支持"):
        payment_files_generate(prepared.pk, formats=("pdf",))


def test_totals_mismatch_refused(batch):
    batch.total_amount = Decimal("1499.99")
    batch.save(update_fields=["total_amount"])
    with pytest.raises(DomainError, match="不符"):
        payment_files_generate(batch.pk, formats=("csv",))
    assert not PaymentDocument.objects.filter(batch=batch).exists()
