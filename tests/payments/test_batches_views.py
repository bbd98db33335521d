"""Batch pages and API: list/detail per role, create/release through the API, file download rules."""

import pytest

from tests.payments.factory import build_batch, build_plan
from yikatong.core.models import AuditEvent
from yikatong.payments.models import BatchStatus, PaymentBatch, PlanStatus

pytestmark = pytest.mark.django_db


def _login(client, pay, key):
    client.force_login(pay.flow.users.get(key) or pay.world.users[key])
    return client


def test_api_create_release_and_files(pay, client, django_capture_on_commit_callbacks):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    c = _login(client, pay, "civil")
    r = c.post("/api/payments/batches", {"plan_id": plan.pk}, content_type="application/json")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["item_count"] == 5 and data["total_amount"] == "1500.00" and data["status"] == "prepared"
    pk = data["id"]
    r = c.get(f"/api/payments/batches/{pk}/attempts")
    assert r.json()["count"] == 5 and all("*" in a["account_masked"] for a in r.json()["items"])
    assert c.get(f"/api/payments/batches/{pk}/files/csv").status_code == 403  # not released yet
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(f"/api/payments/batches/{pk}/release")
    assert r.status_code == 200 and r.json()["status"] == "released"
    assert set(c.get(f"/api/payments/batches/{pk}").json()["files"]) == {"csv", "xlsx", "pain001"}
    assert c.post(f"/api/payments/batches/{pk}/release").status_code == 400
    r = c.get(f"/api/payments/batches/{pk}/files/csv")
    assert r.status_code == 200 and b"\xe5\x90\x88\xe8\xae\xa1,5," in b"".join(r.streaming_content)
    assert AuditEvent.objects.filter(action="payment_batch.file_download").count() == 1
    assert c.get("/api/payments/batches").json()["count"] == 1


def test_api_refusals(pay, client):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    c = _login(client, pay, "finance")
    r = c.post("/api/payments/batches", {"plan_id": plan.pk}, content_type="application/json")
    assert r.status_code == 403
    batch = build_batch(pay, plan, status=BatchStatus.PREPARED)
    c = _login(client, pay, "paying_bank")
    assert c.get(f"/api/payments/batches/{batch.pk}").status_code == 404
    assert c.get("/api/payments/batches").json()["count"] == 0


def test_pages_per_role(pay, client):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    released = build_batch(pay, plan, status=BatchStatus.RELEASED)
    c = _login(client, pay, "civil")
    page = c.get("/payments/batches/")
    assert page.status_code == 200 and released.number in page.content.decode()
    detail = c.get(f"/payments/batches/{released.pk}/").content.decode()
    assert "发放明细" in detail and 'data-testid="batch-files"' in detail and "待回盘" in detail
    bank = _login(client, pay, "paying_bank")
    body = bank.get(f"/payments/batches/{released.pk}/").content.decode()
    assert 'data-testid="batch-actions"' not in body and 'data-testid="batch-file-csv"' in body
    assert bank.get(f"/payments/batches/{released.pk}/files/pain001/").status_code == 200
    other = _login(client, pay, "paying_bank2")
    assert other.get(f"/payments/batches/{released.pk}/").status_code == 404
    sup = _login(client, pay, "supervisor")
    assert sup.get(f"/payments/batches/{released.pk}/files/csv/").status_code == 403


def test_page_create_release_cancel(pay, client, django_capture_on_commit_callbacks):
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    c = _login(client, pay, "civil")
    r = c.post("/payments/batches/new/", {"plan_id": plan.pk})
    batch = PaymentBatch.objects.get(plan=plan)
    assert r.status_code == 302 and r["Location"].endswith(f"/payments/batches/{batch.pk}/")
    r = c.post(f"/payments/batches/{batch.pk}/act/cancel/", {"reason": ""})
    assert r.status_code == 400 and "原因" in r.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(f"/payments/batches/{batch.pk}/act/release/")
    assert r.status_code == 302
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RELEASED
