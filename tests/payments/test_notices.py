"""SMS per credited item, statement slips, publication of results and the direct-funds feed."""

import datetime as dt
import json

import pytest

from tests.payments.factory import build_batch, build_plan
from yikatong.core.errors import DomainError, ScopeError
from yikatong.payments.models import AttemptStatus, BatchStatus, ResultPublication, SmsMessage, SmsStatus
from yikatong.payments.services import notices
from yikatong.payments.sms import FileSender, HttpGatewaySender, SmsError


def _pay_all(batch, *, fail_seq=None, on=dt.date(2026, 3, 11)):
    """Mark the batch's attempts as the bank's result would (the result service is tested elsewhere)."""
    for attempt in batch.attempts.order_by("seq"):
        if attempt.seq == fail_seq:
            attempt.status, attempt.failure_reason = AttemptStatus.FAILED, "账户冻结"
        else:
            attempt.status = AttemptStatus.PAID
        attempt.result_on = on
        attempt.save()
    batch.status, batch.completed_on = BatchStatus.COMPLETED, on
    batch.save()


@pytest.fixture
def paid(pay):
    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    _pay_all(batch, fail_seq=5)
    return batch


def test_sms_text_has_policy_amount_date_department_cycle_and_tail_only():
    text = notices.sms_text(policy_name="困难群众临时生活补助", period="2026-03", cycle_label="按月", amount="300.00",
                            paid_on=dt.date(2026, 3, 11), department="万州区民政局", account_tail="1234")
    for part in ("困难群众临时生活补助", "300.00元", "3月11日", "万州区民政局", "按月", "尾号1234"):
        assert part in text


def test_one_sms_per_credited_attempt_and_never_twice(paid):
    assert notices.sms_queue(paid.attempts.all()) == 4  # the failed one gets none
    assert notices.sms_queue(paid.attempts.all()) == 0
    assert SmsMessage.objects.count() == 4
    text = SmsMessage.objects.first().text
    assert "万州区民政局" in text and "300.00元" in text and "尾号" in text
    from yikatong.core.crypto import decrypt_text

    full = decrypt_text(paid.attempts.first().account_enc)
    assert full not in text and full[-4:] in text


def test_dispatch_through_the_file_sender(paid, tmp_path):
    notices.sms_queue(paid.attempts.all())
    out = tmp_path / "outbox.jsonl"
    counts = notices.sms_dispatch(sender=FileSender(out))
    assert counts == {"sent": 4, "failed": 0, "no_phone": 0}
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4 and lines[0]["phone"] == "13800138000"
    assert set(SmsMessage.objects.values_list("status", flat=True)) == {SmsStatus.SENT}
    assert notices.sms_dispatch(sender=FileSender(out)) == {"sent": 0, "failed": 0, "no_phone": 0}


def test_gateway_failure_is_recorded_and_can_be_retried(paid, pay):
    notices.sms_queue(paid.attempts.all())

    class Down:
        name = "http"

        def send(self, phone, text, reference):
            raise SmsError("短信网关不可达")

    assert notices.sms_dispatch(sender=Down())["failed"] == 4
    assert SmsMessage.objects.filter(status=SmsStatus.FAILED, error="短信网关不可达").count() == 4
    assert notices.sms_retry_failed(actor=pay.scope("civil")) == 4
    assert SmsMessage.objects.filter(status=SmsStatus.QUEUED).count() == 4


def test_http_sender_needs_a_url_and_reports_unreachable_gateway():
    with pytest.raises(SmsError):
        HttpGatewaySender("")
    with pytest.raises(SmsError, match="不可达"):
        HttpGatewaySender("http://127.0.0.1:9/sms", timeout=0.5).send("13800138000", "x", "r")


def test_statement_slip_for_one_person_and_a_village(paid, pay):
    person = pay.people["p1"]
    pdf = notices.statement_slip_pdf(actor=pay.scope("civil"), beneficiary_id=person.pk, year=2026, quarter=1)
    assert pdf.startswith(b"%PDF")
    rows = notices.slip_rows([person.pk], *notices.quarter_range(2026, 1))
    assert [(r[1], str(r[2])) for r in rows[person.pk]] == [("2026-03", "300.00")]
    bulk = notices.statement_slips_village_pdf(actor=pay.scope("collector"), region_code="500101001001", year=2026,
                                               quarter=1)
    assert bulk.count(b"/Type /Page") >= 4
    with pytest.raises(DomainError, match="没有已到账"):
        notices.statement_slips_village_pdf(actor=pay.scope("collector"), region_code="500101001001", year=2026,
                                            quarter=2)
    with pytest.raises(ScopeError):
        notices.statement_slips_village_pdf(actor=pay.scope("collector2"), region_code="500101001001", year=2026,
                                            quarter=1)


def test_quarter_range():
    assert notices.quarter_range(2026, 4) == (dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert notices.quarter_range(2026, 1) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    with pytest.raises(DomainError):
        notices.quarter_range(2026, 5)


def test_results_published_within_five_working_days_late_is_flagged(paid, pay):
    notices.publications_open(type(paid).objects.filter(pk=paid.pk))
    pub = ResultPublication.objects.get(batch=paid)
    assert pub.deadline == dt.date(2026, 3, 18)  # 5 wd after Wed 2026-03-11
    pay.set_today("2026-03-19")
    assert list(notices.publications_late(pay.scope("civil"))) == [pub]
    pub = notices.result_publish(actor=pay.scope("civil"), batch_id=paid.pk)
    assert pub.is_public and pub.entry_count == 4 and len(pub.digest) == 64
    assert list(notices.publications_late(pay.scope("civil"))) == [pub]  # published, but late
    with pytest.raises(DomainError, match="已于"):
        notices.result_publish(actor=pay.scope("civil"), batch_id=paid.pk)


def test_publish_refused_for_wrong_role_and_unfinished_batch(pay):
    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    with pytest.raises(DomainError, match="尚未回盘完成"):
        notices.result_publish(actor=pay.scope("civil"), batch_id=batch.pk)
    with pytest.raises(ScopeError):
        notices.result_publish(actor=pay.scope("finance"), batch_id=batch.pk)
    with pytest.raises(ScopeError):
        notices.result_publish(actor=pay.scope("agri"), batch_id=batch.pk)


def test_direct_funds_feed_lists_only_direct_funds_policies_masked(paid, pay):
    scope = pay.scope("finance")
    span = {"date_from": dt.date(2026, 3, 1), "date_to": dt.date(2026, 3, 31)}
    assert list(notices.direct_funds_rows(scope, **span)) == []
    paid.policy.direct_funds = True
    paid.policy.save(update_fields=["direct_funds"])
    rows = list(notices.direct_funds_rows(scope, **span))
    assert len(rows) == 4
    assert rows[0][2] == "WZ-001" and rows[0][10] == "300.00" and "*" in rows[0][8] and "*" in rows[0][9]
    assert str(notices.direct_funds_total(scope, **span)) == "1200.00"
    assert list(notices.direct_funds_rows(pay.scope("paying_bank2"), **span)) == []


def test_a_result_import_queues_and_sends_one_sms_per_credited_item_and_opens_publication(
        pay, capsys, django_capture_on_commit_callbacks):
    from tests.payments.test_results import import_csv, result_lines_for

    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    with django_capture_on_commit_callbacks(execute=True):
        ri = import_csv(pay.scope("civil"), result_lines_for(batch, fail=(2,)))
    assert ri.applied_count == 5
    assert SmsMessage.objects.count() == 4
    assert set(SmsMessage.objects.values_list("status", flat=True)) == {SmsStatus.SENT}
    assert "[短信] 13800138000" in capsys.readouterr().out
    assert ResultPublication.objects.filter(batch=batch).exists()
    with django_capture_on_commit_callbacks(execute=True):
        import_csv(pay.scope("civil"), result_lines_for(batch, fail=(2,)))  # the same file again: no new SMS
    assert SmsMessage.objects.count() == 4
