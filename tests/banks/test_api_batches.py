"""Bank API: credentials, bank isolation, batch list/detail, paginated details with full accounts (audited),
fetch marking, payment files."""

import io

import pytest

from tests.applications.conftest import luhn_account
from tests.payments.factory import build_batch, build_plan
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope
from yikatong.core.services.apikeys import apikey_revoke
from yikatong.payments.models import BatchStatus

from .conftest import api_get, issue_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def batches(pay):
    """A released batch of 3 items for the paying bank, a released batch of 2 items for the other bank."""
    mine = build_batch(pay, build_plan(pay, applications=pay.applications[:3]))
    other = build_batch(pay, build_plan(pay, applications=pay.applications[3:], bank_key="paying_bank2"))
    return mine, other


def account_of(pay, key):
    seq = 21 + list(pay.people).index(key)
    return luhn_account(f"622000{seq:012d}")


# -- authentication ---------------------------------------------------------------------------------------
def test_no_key_or_unknown_key_is_401(client, batches, bank_keys):
    assert api_get(client, "/batches", "").status_code == 401
    assert api_get(client, "/batches", "ykt_not-a-real-key").status_code == 401
    assert api_get(client, "/batches", "garbage").status_code == 401


def test_key_for_another_interface_is_403(client, pay, batches):
    key = issue_key(pay.world, "paying_bank", interfaces=("data_sharing",))
    response = api_get(client, "/batches", key)
    assert response.status_code == 403
    assert response.json()["code"] == "interface_not_allowed"


def test_revoked_key_is_403(client, pay, batches):
    key = issue_key(pay.world, "paying_bank")
    assert api_get(client, "/batches", key).status_code == 200
    from yikatong.core.models import ApiCredential

    cred = ApiCredential.objects.get(key_prefix=key[:12])
    apikey_revoke(actor=Scope.for_user(pay.world.users["admin"]), key_id=cred.pk, reason="密钥泄露")
    response = api_get(client, "/batches", key)
    assert response.status_code == 403 and response.json()["code"] == "key_revoked"


def test_staff_session_is_not_a_bank_credential(client, pay, batches):
    client.force_login(pay.world.users["paying_bank"])
    assert client.get("/api/bank/batches").status_code == 401


# -- isolation --------------------------------------------------------------------------------------------
def test_each_bank_sees_only_its_released_batches(client, pay, batches, bank_keys):
    mine, other = batches
    prepared = build_batch(pay, mine.plan, status=BatchStatus.PREPARED, items=[])
    cancelled = build_batch(pay, mine.plan, status=BatchStatus.PREPARED, items=[])
    cancelled.status = BatchStatus.CANCELLED
    cancelled.save()
    body = api_get(client, "/batches", bank_keys["paying_bank"]).json()
    assert [b["number"] for b in body] == [mine.number]
    row = body[0]
    assert row["item_count"] == 3 and row["total_amount"] == "900.00" and row["status"] == "released"
    assert row["policy_code"] == "WZ-001" and row["period"] == "2026-03" and row["open_count"] == 3
    assert row["department"] == "万州区民政局" and row["status_label"] == "已发送银行"
    assert [b["number"] for b in api_get(client, "/batches", bank_keys["paying_bank2"]).json()] == [other.number]
    for number in (other.number, prepared.number, cancelled.number, "PB-NOPE"):
        response = api_get(client, f"/batches/{number}", bank_keys["paying_bank"])
        assert response.status_code == 404 and "不存在或不属于本行" in response.json()["detail"]
        assert api_get(client, f"/batches/{number}/items", bank_keys["paying_bank"]).status_code == 404
        assert api_get(client, f"/batches/{number}/file", bank_keys["paying_bank"]).status_code == 404
    other.refresh_from_db()
    assert other.status == BatchStatus.RELEASED  # nothing marked by the foreign bank's attempts


def test_card_bank_has_no_batches(client, batches, bank_keys):
    mine, _ = batches
    for path in ("/batches", f"/batches/{mine.number}", f"/batches/{mine.number}/items"):
        response = api_get(client, path, bank_keys["card_bank"])
        assert response.status_code == 403, path


def test_status_filter(client, batches, bank_keys):
    key = bank_keys["paying_bank"]
    assert api_get(client, "/batches", key, status="fetched").json() == []
    assert len(api_get(client, "/batches", key, status="released,fetched").json()) == 1
    response = api_get(client, "/batches", key, status="prepared")
    assert response.status_code == 400 and "prepared" in response.json()["detail"]


# -- details ----------------------------------------------------------------------------------------------
def test_items_carry_full_accounts_and_are_paginated(client, pay, batches, bank_keys):
    mine, _ = batches
    key = bank_keys["paying_bank"]
    pages = [api_get(client, f"/batches/{mine.number}/items", key, offset=o, limit=2).json() for o in (0, 2, 4)]
    assert [len(p["items"]) for p in pages] == [2, 1, 0]
    items = pages[0]["items"] + pages[1]["items"]
    assert [i["seq"] for i in items] == [1, 2, 3]
    assert [i["payee_name"] for i in items] == ["王一", "王二", "王三"]
    assert [i["account"] for i in items] == [account_of(pay, k) for k in ("p1", "p2", "p3")]
    first = items[0]
    assert first["amount"] == "300.00" and first["policy_code"] == "WZ-001" and first["period"] == "2026-03"
    assert first["policy_name"] == "万州区困难群众临时生活补助" and first["bank_name"] == "重庆农村商业银行"
    assert "2026-03" in first["summary"] and first["status"] == "sent"
    assert pages[0]["item_count"] == 3 and pages[0]["total_amount"] == "900.00"


def test_keyset_pages_follow_next_after_seq_to_the_end(client, pay, batches, bank_keys):
    mine, _ = batches
    key = bank_keys["paying_bank"]
    seen, after, pages = [], 0, 0
    while after is not None:
        page = api_get(client, f"/batches/{mine.number}/items", key, after_seq=after, limit=2).json()
        assert page["after_seq"] == after
        seen += [i["seq"] for i in page["items"]]
        after = page["next_after_seq"]
        pages += 1
    assert seen == [1, 2, 3] and pages == 2
    assert api_get(client, f"/batches/{mine.number}/items", key, after_seq=3).json()["items"] == []
    events = list(AuditEvent.objects.filter(action="bank.batch_items").order_by("seq"))
    assert [(e.after["after_seq"], e.after["first_seq"], e.after["last_seq"]) for e in events] == [
        (0, 1, 2), (2, 3, 3)]


def test_page_limits(client, batches, bank_keys):
    mine, _ = batches
    key = bank_keys["paying_bank"]
    assert api_get(client, f"/batches/{mine.number}/items", key, limit=10000).status_code == 200
    assert api_get(client, f"/batches/{mine.number}/items", key, after_seq="x").status_code == 422  # not a number
    for params in ({"limit": 10001}, {"limit": 0}, {"offset": -1}, {"after_seq": -1}):
        response = api_get(client, f"/batches/{mine.number}/items", key, **params)
        assert response.status_code == 400, params


def test_each_full_account_read_is_audited_once_per_request(client, batches, bank_keys):
    mine, _ = batches
    key = bank_keys["paying_bank"]
    api_get(client, f"/batches/{mine.number}/items", key, offset=0, limit=2)
    api_get(client, f"/batches/{mine.number}/items", key, offset=2, limit=2)
    api_get(client, f"/batches/{mine.number}/items", key, offset=3, limit=2)  # nothing read: not audited
    events = list(AuditEvent.objects.filter(action="bank.batch_items").order_by("seq"))
    assert len(events) == 2
    assert [(e.after["first_seq"], e.after["last_seq"], e.after["count"]) for e in events] == [(1, 2, 2), (3, 3, 1)]
    assert {e.organization_code for e in events} == {"WZ-NSH"}
    assert all(e.actor_username.startswith("apikey:") and e.object_id == str(mine.pk) for e in events)
    assert all("62200" not in str(e.after) for e in events)  # the audit names the read, not the accounts


def test_first_download_marks_the_batch_fetched(client, pay, batches, bank_keys):
    mine, _ = batches
    key = bank_keys["paying_bank"]
    detail = api_get(client, f"/batches/{mine.number}", key).json()
    assert detail["status"] == "released" and detail["fetched_at"] is None  # the header alone is not a fetch
    api_get(client, f"/batches/{mine.number}/items", key)
    mine.refresh_from_db()
    assert mine.status == BatchStatus.FETCHED and mine.fetched_at is not None
    fetched_at = mine.fetched_at
    api_get(client, f"/batches/{mine.number}/items", key)
    mine.refresh_from_db()
    assert mine.fetched_at == fetched_at
    assert AuditEvent.objects.filter(action="payment_batch.fetch", object_id=str(mine.pk)).count() == 1
    assert api_get(client, f"/batches/{mine.number}", key).json()["status_label"] == "银行已接收"


# -- payment files ----------------------------------------------------------------------------------------
def test_csv_file_download(client, pay, batches, bank_keys):
    mine, _ = batches
    response = api_get(client, f"/batches/{mine.number}/file", bank_keys["paying_bank"], format="csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].split(",")[:4] == ["批次号", "序号", "收款人姓名", "收款账号"]
    assert len(lines) == 5 and lines[-1].startswith("合计,3,")
    assert account_of(pay, "p1") in lines[1]
    assert response["X-Item-Count"] == "3" and response["X-Total-Amount"] == "900.00"
    mine.refresh_from_db()
    assert mine.status == BatchStatus.FETCHED
    event = AuditEvent.objects.get(action="bank.batch_file")
    assert event.after["format"] == "csv" and event.organization_code == "WZ-NSH"


def test_xlsx_and_pain001_downloads(client, batches, bank_keys):
    from yikatong.banks.formats import pain001_errors

    mine, _ = batches
    key = bank_keys["paying_bank"]
    xlsx = api_get(client, f"/batches/{mine.number}/file", key, format="xlsx")
    assert xlsx.status_code == 200 and b"".join(xlsx.streaming_content)[:2] == b"PK"
    xml = api_get(client, f"/batches/{mine.number}/file", key, format="pain001")
    assert xml.status_code == 200
    assert pain001_errors(io.BytesIO(b"".join(xml.streaming_content))) == []
    bad = api_get(client, f"/batches/{mine.number}/file", key, format="pdf")
    assert bad.status_code == 400 and "csv" in bad.json()["detail"]
