"""Pages of SMS, statement slips, publication and the direct-funds feed."""

import pytest

from tests.payments.factory import build_batch, build_plan
from tests.payments.test_notices import _pay_all
from yikatong.payments.models import ResultPublication, SmsMessage
from yikatong.payments.services import notices


@pytest.fixture
def done(pay):
    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    _pay_all(batch, fail_seq=2)
    notices.sms_queue(batch.attempts.all())
    notices.publications_open(type(batch).objects.filter(pk=batch.pk))
    return batch


def _login(client, pay, key):
    client.force_login(pay.flow.users.get(key) or pay.world.users[key])
    return client


def test_sms_page_lists_messages_and_sends_them(client, pay, done, settings, tmp_path):
    settings.HOME, settings.YIKATONG_SMS_SENDER = tmp_path, "file"
    _login(client, pay, "civil")
    page = client.get("/payments/sms/")
    assert page.status_code == 200 and "到账短信" in page.content.decode()
    assert page.content.decode().count("万州区民政局") >= 4
    response = client.post("/payments/sms/send/", follow=True)
    assert "成功 4 条" in response.content.decode()
    assert (tmp_path / "sms" / "outbox.jsonl").read_text(encoding="utf-8").count("\n") == 4
    assert SmsMessage.objects.filter(status="sent").count() == 4


def test_bank_user_cannot_open_the_sms_page(client, pay, done):
    _login(client, pay, "paying_bank")
    assert client.get("/payments/sms/").status_code == 403


def test_slips_pdf_for_a_village_and_a_clear_message_when_empty(client, pay, done):
    _login(client, pay, "collector")
    response = client.get("/payments/slips/", {"year": 2026, "quarter": 1, "region_code": "500101001001"})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    empty = client.get("/payments/slips/", {"year": 2026, "quarter": 3, "region_code": "500101001001"})
    assert empty.status_code == 200 and "没有已到账" in empty.content.decode()


def test_publish_then_the_public_page_shows_masked_names(client, pay, done):
    assert client.get(f"/payments/public/{done.number}/").status_code == 404
    _login(client, pay, "civil")
    page = client.get("/payments/publications/")
    assert done.number in page.content.decode()
    client.post(f"/payments/publications/{done.pk}/publish/")
    assert ResultPublication.objects.get(batch=done).is_public
    client.logout()
    public = client.get(f"/payments/public/{done.number}/").content.decode()
    assert "王*" in public and "王一" not in public


def test_direct_funds_feed_csv(client, pay, done):
    done.policy.direct_funds = True
    done.policy.save(update_fields=["direct_funds"])
    _login(client, pay, "finance")
    response = client.get("/payments/direct-funds/", {"date_from": "2026-03-01", "date_to": "2026-03-31"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[0].startswith("直达资金标识") and len(body.splitlines()) == 5
    bad = client.get("/payments/direct-funds/", {"date_from": "2026-03-31", "date_to": "2026-03-01"})
    assert "截止日期不能早于起始日期" in bad.content.decode()
