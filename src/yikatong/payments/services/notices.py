"""Notices to beneficiaries and openness of results [003 §10(三), §11(三), §22, §23]:

- an SMS for every credited attempt (policy, amount, date, department, cycle, masked card tail), queued
  set-based when results are applied and dispatched through the configured sender (payments.sms);
- the quarterly statement slip (明白条) per beneficiary and in bulk per village (PDF, payments/slip_pdf.py);
- the publication of each completed batch's results within 5 working days, with a warning when late;
- the direct-funds monitoring feed (直达资金监控) for policies flagged as direct funds.
"""

import datetime as dt
import hashlib
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q

from yikatong.core import audit, clock
from yikatong.core.crypto import decrypt_text
from yikatong.core.errors import DomainError
from yikatong.core.masking import mask_account, mask_name
from yikatong.core.scope import Scope

from .. import workflow
from ..models import (
    AttemptStatus,
    BatchStatus,
    PaymentAttempt,
    PaymentBatch,
    ResultPublication,
    SmsMessage,
    SmsStatus,
)
from ..sms import SmsError, get_sender
from .common import deadline, money_sum

CHUNK = 5000
SMS_SIGNATURE = "【惠民惠农一卡通】"


# -- SMS -----------------------------------------------------------------------------------------------------
def sms_text(*, policy_name: str, period: str, cycle_label: str, amount, paid_on: dt.date, department: str,
             account_tail: str) -> str:
    """The credit message [003 §10(三)]: policy, amount, date, department and cycle, the card tail only."""
    return (f"{SMS_SIGNATURE}您的{policy_name}（{period}，{cycle_label}发放）{Decimal(amount):.2f}元已于"
            f"{paid_on.month}月{paid_on.day}日发放至尾号{account_tail}的社保卡账户，发放单位：{department}。"
            f"如有疑问请咨询当地乡镇（街道）。")


def _tail(masked: str) -> str:
    digits = "".join(ch for ch in masked if ch.isdigit())
    return digits[-4:] if digits else "****"


_SMS_FIELDS = ("pk", "amount", "result_on", "account_masked", "item__region_id", "item__period",
               "item__policy__name", "item__policy__cycle", "batch__plan__organization__name")


def sms_queue(attempts) -> int:
    """Queue one SMS for every paid attempt of the queryset that has none yet (unique per attempt, so repeating
    this never texts twice). Set-based in chunks; returns the number queued."""
    from yikatong.policies.models.policy import Cycle

    cycles = dict(Cycle.choices)
    queued = 0
    rows = (attempts.filter(status=AttemptStatus.PAID).exclude(pk__in=SmsMessage.objects.values("attempt_id"))
            .order_by("pk").values_list(*_SMS_FIELDS))
    batch, now = [], clock.now()
    for pk, amount, paid_on, masked, region, period, policy, cycle, department in rows.iterator(chunk_size=CHUNK):
        text = sms_text(policy_name=policy, period=period, cycle_label=cycles.get(cycle, ""), amount=amount,
                        paid_on=paid_on or clock.today(), department=department, account_tail=_tail(masked))
        batch.append(SmsMessage(attempt_id=pk, region_id=region, text=text[:300], created_at=now))
        if len(batch) >= CHUNK:
            queued += len(SmsMessage.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        queued += len(SmsMessage.objects.bulk_create(batch, ignore_conflicts=True))
    return queued


def sms_queue_for_import(result_import_id) -> None:
    """Hook of the result import (called on commit): hand the notices of its credited attempts to the task
    worker (payments.tasks_notices)."""
    from ..tasks_notices import after_result_import_task

    after_result_import_task.enqueue(str(result_import_id))


def sms_queue_for_import_now(result_import_id) -> int:
    """SMS for the credited attempts of a result import, and the publication record of every batch it
    completed. Returns the number of messages queued."""
    queued = sms_queue(PaymentAttempt.objects.filter(result_import_id=result_import_id))
    batch_ids = (PaymentAttempt.objects.filter(result_import_id=result_import_id)
                 .values_list("batch_id", flat=True).distinct())
    publications_open(PaymentBatch.objects.filter(pk__in=list(batch_ids)))
    return queued


def sms_dispatch(*, limit: int = 10000, sender=None) -> dict:
    """Send queued messages through the configured sender. A person without a phone number is marked
    no_phone; a gateway error marks the message failed with the reason (a later dispatch does not retry it
    automatically — `sms_retry_failed` puts failed ones back in the queue)."""
    sender = sender or get_sender()
    counts = {"sent": 0, "failed": 0, "no_phone": 0}
    pending = (SmsMessage.objects.filter(status=SmsStatus.QUEUED).order_by("pk")
               .values_list("pk", "text", "attempt__item__beneficiary__phone_enc")[:limit])
    for pk, text, phone_enc in pending:
        phone = decrypt_text(phone_enc) if phone_enc else ""
        if not phone:
            SmsMessage.objects.filter(pk=pk).update(status=SmsStatus.NO_PHONE, sender=sender.name)
            counts["no_phone"] += 1
            continue
        try:
            sender.send(phone, text, f"sms-{pk}")
        except SmsError as exc:
            SmsMessage.objects.filter(pk=pk).update(status=SmsStatus.FAILED, sender=sender.name,
                                                    error=str(exc)[:200])
            counts["failed"] += 1
            continue
        SmsMessage.objects.filter(pk=pk).update(status=SmsStatus.SENT, sender=sender.name, sent_at=clock.now())
        counts["sent"] += 1
    return counts


def sms_retry_failed(*, actor: Scope) -> int:
    actor.require_write("sms.view")
    with transaction.atomic():
        n = actor.filter(SmsMessage.objects.filter(status=SmsStatus.FAILED), region_field="region_id").update(
            status=SmsStatus.QUEUED, error="")
        audit.record(actor=actor, action="sms.retry", object_type="payments.smsmessage", object_id="*",
                     after={"count": n})
    return n


# -- statement slips (明白条) -----------------------------------------------------------------------------------
def quarter_range(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    if quarter not in (1, 2, 3, 4):
        raise DomainError("季度应为 1–4。", field="quarter")
    start = dt.date(int(year), 3 * quarter - 2, 1)
    end = dt.date(int(year) + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1) - dt.timedelta(days=1)
    return start, end


def _slip_attempts(start: dt.date, end: dt.date):
    return (PaymentAttempt.objects.filter(status=AttemptStatus.PAID, result_on__range=(start, end))
            .order_by("item__beneficiary_id", "result_on", "pk"))


def slip_rows(beneficiary_ids, start: dt.date, end: dt.date) -> dict[int, list[tuple]]:
    """{beneficiary id: [(policy name, period, amount, paid on, department), …]} of credited payments."""
    rows: dict[int, list[tuple]] = {}
    qs = _slip_attempts(start, end).filter(item__beneficiary_id__in=list(beneficiary_ids)).values_list(
        "item__beneficiary_id", "item__policy__name", "item__period", "amount", "result_on",
        "batch__plan__organization__name")
    for bid, policy, period, amount, paid_on, department in qs.iterator(chunk_size=CHUNK):
        rows.setdefault(bid, []).append((policy, period, amount, paid_on, department))
    return rows


def statement_slip_pdf(*, actor: Scope, beneficiary_id: int, year: int, quarter: int) -> bytes:
    """The 明白条 of one person for a quarter (name in full: it is handed to that person; ID masked)."""
    from yikatong.registry.models import Beneficiary

    from ..slip_pdf import render_slips

    actor.require("payment.view")
    try:
        person = actor.filter(Beneficiary.objects.all(), region_field="region_id").get(pk=beneficiary_id)
    except (Beneficiary.DoesNotExist, ValueError):
        raise DomainError("补贴对象不存在或不在您的管辖范围内。", code="not_found") from None
    start, end = quarter_range(year, quarter)
    rows = slip_rows([person.pk], start, end)
    with transaction.atomic():
        audit.record(actor=actor, action="statement_slip.print", obj=person,
                     after={"year": year, "quarter": quarter, "lines": len(rows.get(person.pk, []))})
    return render_slips([(person.name, person.id_masked, person.region.name, rows.get(person.pk, []))],
                        year=year, quarter=quarter)


def statement_slips_village_pdf(*, actor: Scope, region_code: str, year: int, quarter: int) -> bytes:
    """The 明白条 of every person of a village (or any region) paid in the quarter, one slip per page."""
    from yikatong.core.regions import subtree_range
    from yikatong.registry.models import Beneficiary

    from ..slip_pdf import render_slips

    actor.require("payment.view")
    actor.require_region(region_code)
    start, end = quarter_range(year, quarter)
    low, high = subtree_range(region_code)
    ids = list(_slip_attempts(start, end).filter(item__region_id__gte=low, item__region_id__lte=high)
               .values_list("item__beneficiary_id", flat=True).distinct())
    if not ids:
        raise DomainError(f"{year} 年第 {quarter} 季度该区划没有已到账的补贴，无需打印明白条。", code="empty")
    rows = slip_rows(ids, start, end)
    people = Beneficiary.objects.filter(pk__in=ids).select_related("region").order_by("region_id", "name")
    with transaction.atomic():
        audit.record(actor=actor, action="statement_slip.print_bulk", object_type="core.region",
                     object_id=region_code, region_code=region_code,
                     after={"year": year, "quarter": quarter, "persons": len(ids)})
    return render_slips([(p.name, p.id_masked, p.region.name, rows.get(p.pk, [])) for p in people.iterator()],
                        year=year, quarter=quarter)


# -- publication of results --------------------------------------------------------------------------------------
def publications_open(batches) -> int:
    """A publication record (deadline 5 wd after completion) for every completed batch that has none."""
    made = 0
    for batch in batches.filter(status=BatchStatus.COMPLETED, publication__isnull=True):
        done = batch.completed_on or clock.today()
        _, created = ResultPublication.objects.get_or_create(
            batch=batch, defaults={"deadline": deadline(workflow.RESULT_PUBLICATION, done)})
        made += created
    return made


def publication_entries(batch: PaymentBatch):
    """The public, masked content of a batch's results: (masked name, village, amount, paid on)."""
    return (batch.attempts.filter(status=AttemptStatus.PAID).order_by("seq")
            .values_list("payee_name", "item__region__name", "amount", "result_on"))


def _content_digest(batch: PaymentBatch) -> tuple[str, int]:
    h = hashlib.sha256()
    h.update(f"{batch.number}|{batch.policy.code}|{batch.period}\n".encode())
    n = 0
    for name, village, amount, paid_on in publication_entries(batch).iterator(chunk_size=CHUNK):
        h.update(f"{mask_name(name)}|{village}|{amount}|{paid_on}\n".encode())
        n += 1
    return h.hexdigest(), n


@transaction.atomic
def result_publish(*, actor: Scope, batch_id) -> ResultPublication:
    """Publish a completed batch's results (masked) for the public column [003 §23]; late publication is
    allowed but recorded (published_on > deadline)."""
    actor.require_write("payment.publish")
    batch = PaymentBatch.objects.select_for_update().select_related("policy").filter(pk=batch_id).first()
    if batch is None:
        raise DomainError("代发批次不存在。", code="not_found")
    actor.require_object(region_code=batch.region_id, business_line=batch.business_line)
    if batch.status != BatchStatus.COMPLETED:
        raise DomainError(f"批次 {batch.number} 尚未回盘完成，不能公开发放结果。", code="not_completed")
    publications_open(PaymentBatch.objects.filter(pk=batch.pk))
    pub = ResultPublication.objects.select_for_update().get(batch=batch)
    if pub.is_public:
        raise DomainError(f"批次 {batch.number} 的发放结果已于 {pub.published_on} 公开。", code="published")
    pub.digest, pub.entry_count = _content_digest(batch)
    pub.is_public, pub.published_on, pub.published_by = True, clock.today(), actor.username
    pub.save()
    audit.record(actor=actor, action="payment_result.publish", obj=batch,
                 after={"digest": pub.digest, "entries": pub.entry_count, "late": pub.published_on > pub.deadline})
    return pub


def publications_late(scope: Scope):
    """Publications not made by their deadline (unpublished and overdue, or published late): warnings."""
    today = clock.today()
    qs = ResultPublication.objects.select_related("batch", "batch__policy").filter(
        Q(is_public=False, deadline__lt=today) | Q(is_public=True, published_on__gt=F("deadline")))
    return scope.filter(qs, region_field="batch__region_id", business_line_field="batch__business_line",
                      organization_field="batch__bank_id")


# -- direct-funds monitoring feed --------------------------------------------------------------------------------
DIRECT_FEED_HEADERS = ["直达资金标识", "指标文号", "补贴项目编码", "补贴项目名称", "区划代码", "补贴期间", "批次号",
                       "序号", "收款人", "收款账号", "金额", "支付日期"]


def direct_funds_rows(scope: Scope, *, date_from: dt.date, date_to: dt.date, region_code: str | None = None):
    """Paid attempts of direct-funds policies in the date range, masked, streamed (for the monitoring feed)."""
    qs = PaymentAttempt.objects.filter(status=AttemptStatus.PAID, result_on__range=(date_from, date_to),
                                       item__policy__direct_funds=True)
    qs = scope.filter(qs, region_field="batch__region_id", business_line_field="batch__business_line",
                      organization_field="batch__bank_id")
    if region_code:
        from yikatong.core.regions import subtree_range

        scope.require_region(region_code)
        low, high = subtree_range(region_code)
        qs = qs.filter(item__region_id__gte=low, item__region_id__lte=high)
    rows = qs.order_by("batch_id", "seq").values_list(
        "batch__indicator__tag", "batch__indicator__doc_no", "item__policy__code", "item__policy__name",
        "item__region_id", "item__period", "batch__number", "seq", "payee_name", "account_masked", "amount",
        "result_on")
    for tag, doc, code, name, region, period, number, seq, payee, acct, amount, paid_on in rows.iterator(
            chunk_size=CHUNK):
        yield [tag or "", doc or "", code, name, region, period, number, seq, mask_name(payee),
               mask_account(acct) if acct and "*" not in acct else acct, f"{amount:.2f}", paid_on.isoformat()]


def direct_funds_total(scope: Scope, *, date_from: dt.date, date_to: dt.date) -> Decimal:
    qs = PaymentAttempt.objects.filter(status=AttemptStatus.PAID, result_on__range=(date_from, date_to),
                                       item__policy__direct_funds=True)
    qs = scope.filter(qs, region_field="batch__region_id", business_line_field="batch__business_line",
                      organization_field="batch__bank_id")
    return money_sum(qs)
