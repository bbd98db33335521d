"""API of disbursement plans (/api/payments/plans…): scope, every transition, refusals, documents."""

import io

import openpyxl
import pytest

from yikatong.core.audit import AuditEvent
from yikatong.payments.models import DisbursementPlan, PlanStatus

BASE = "/api/payments/plans"
BUILD = {"policy_code": "WZ-001", "period": "2026-03", "region_code": "500101000000", "bank_code": "WZ-NSH"}


def login(client, pay, key):
    client.force_login(pay.flow.users.get(key) or pay.world.users[key])
    return client


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


@pytest.fixture
def built(client, pay):
    response = post(login(client, pay, "civil"), BASE, BUILD)
    assert response.status_code == 201, response.content
    return response.json()


def test_build_and_walk_every_transition(client, pay, built):
    assert built["status"] == "draft" and built["item_count"] == 5 and built["total_amount"] == "1500.00"
    assert built["payable_amount"] == "1500.00" and set(built["actions"]) == {"approve", "cancel"}
    pk = built["id"]
    assert post(client, f"{BASE}/{pk}/approve", {"note": "同意"}).json()["status"] == "approved"
    submitted = post(client, f"{BASE}/{pk}/submit").json()
    assert submitted["status"] == "submitted" and submitted["step_deadline"] == "2026-03-17"
    assert submitted["deadline_state"] == "ok" and submitted["actions"] == []
    login(client, pay, "finance")
    detail = client.get(f"{BASE}/{pk}").json()
    assert set(detail["actions"]) == {"review_ok", "return"}
    returned = post(client, f"{BASE}/{pk}/return", {"reason": "请补充花名册"}).json()
    assert returned["status"] == "returned" and returned["returned_reason"] == "请补充花名册"
    login(client, pay, "civil")
    assert post(client, f"{BASE}/{pk}/submit").json()["status"] == "submitted"
    login(client, pay, "finance")
    assert post(client, f"{BASE}/{pk}/review", {"note": "同意"}).json()["status"] == "reviewed"
    login(client, pay, "civil")
    mounted = post(client, f"{BASE}/{pk}/mount", {"indicator_id": pay.indicator.pk}).json()
    assert mounted["status"] == "mounted" and mounted["committed_amount"] == "1500.00"
    assert mounted["indicator_doc_no"] == "万州财社〔2026〕3号"
    docs = post(client, f"{BASE}/{pk}/vouchers")
    assert docs.status_code == 201 and len(docs.json()) == 6
    assert client.get(f"{BASE}/{pk}").json()["status"] == "vouchered"
    listed = client.get(f"{BASE}/{pk}/documents").json()
    assert sorted(d["id"] for d in listed) == sorted(d["id"] for d in docs.json())
    events = client.get(f"{BASE}/{pk}/events").json()
    assert [e["action"] for e in events] == ["approve", "submit", "return", "submit", "review_ok", "mount", "issue"]
    details = next(d for d in listed if d["kind"] == "details" and d["file_name"].endswith(".xlsx"))
    response = client.get(f"{BASE}/{pk}/documents/{details['id']}/download")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    assert len(list(book.active.iter_rows(values_only=True))) == 7
    assert AuditEvent.objects.filter(action="payment_document.download").count() == 1


def test_list_scope(client, pay, built):
    for key, count in (("civil", 1), ("finance", 1), ("supervisor", 1), ("agri", 0), ("fl_civil", 0),
                       ("finance_other", 0), ("collector", 0), ("paying_bank", 0)):
        response = login(client, pay, key).get(BASE)
        assert response.status_code == 200 and response.json()["count"] == count, key
        assert client.get(f"{BASE}/{built['id']}").status_code == (200 if count else 404), key


def test_items_are_masked(client, pay, built):
    items = client.get(f"{BASE}/{built['id']}/items?limit=2").json()
    assert items["count"] == 5 and len(items["items"]) == 2
    assert all("*" in i["account_masked"] for i in items["items"])
    assert "account_enc" not in items["items"][0]


@pytest.mark.parametrize("key", ["collector", "agri", "paying_bank", "finance"])
def test_build_refused_for_wrong_roles(client, pay, key):
    response = post(login(client, pay, key), BASE, BUILD)
    assert response.status_code == 403
    assert not DisbursementPlan.objects.exists()


def test_other_county_department_refused(client, pay):
    response = post(login(client, pay, "fl_civil"), BASE, BUILD)
    assert response.status_code == 403


def test_domain_refusals_are_400_with_message(client, pay, built):
    pk = built["id"]
    bad = post(client, BASE, {**BUILD, "policy_code": "WZ-OUT"})
    assert bad.status_code == 400 and bad.json()["code"] == "not_in_library"
    again = post(client, BASE, BUILD)
    assert again.status_code == 400 and "没有可发放的对象" in again.json()["detail"]
    early = post(client, f"{BASE}/{pk}/vouchers")
    assert early.status_code == 400 and early.json()["code"] == "not_mounted"
    wrong = post(client, f"{BASE}/{pk}/submit")
    assert wrong.status_code == 400 and "不能报送财政审核" in wrong.json()["detail"]
    assert post(client, f"{BASE}/{pk}/cancel", {"reason": ""}).status_code == 400
    login(client, pay, "finance")
    assert post(client, f"{BASE}/{pk}/approve").status_code == 403
    login(client, pay, "agri")
    assert post(client, f"{BASE}/{pk}/approve").status_code == 404
    assert DisbursementPlan.objects.get(pk=pk).status == PlanStatus.DRAFT


def test_details_xlsx_needs_full_pii_permission(client, pay):
    from tests.payments.test_documents import mounted
    from yikatong.payments.services.documents import plan_issue_vouchers

    plan = mounted(pay)
    docs = plan_issue_vouchers(actor=pay.scope("civil"), plan_id=plan.pk)
    details = next(d for d in docs if d.kind == "details" and d.file.original_name.endswith(".xlsx"))
    pdf = next(d for d in docs if d.kind == "details" and d.file.original_name.endswith(".pdf"))
    login(client, pay, "admin")
    assert client.get(f"{BASE}/{plan.pk}/documents/{details.pk}/download").status_code == 403
    assert client.get(f"{BASE}/{plan.pk}/documents/{pdf.pk}/download").status_code == 200
    login(client, pay, "finance")
    assert client.get(f"{BASE}/{plan.pk}/documents/{details.pk}/download").status_code == 200


def test_a_big_plans_vouchers_are_a_background_job(client, pay, settings):
    """Above YIKATONG_VOUCHER_SYNC_MAX_ITEMS items the API answers 202 with the job (tests run tasks at once);
    the plan is vouchered with its 6 documents afterwards; a plan that cannot be issued is refused at once."""
    from yikatong.core.models import JobProgress

    settings.YIKATONG_VOUCHER_SYNC_MAX_ITEMS = 3
    pk = post(login(client, pay, "civil"), BASE, BUILD).json()["id"]
    early = post(client, f"{BASE}/{pk}/vouchers")
    assert early.status_code == 400 and early.json()["code"] == "not_mounted"
    assert not JobProgress.objects.exists()
    for action, role, body in (("approve", "civil", None), ("submit", "civil", None),
                               ("review", "finance", {"note": "同意"}),
                               ("mount", "civil", {"indicator_id": pay.indicator.pk})):
        login(client, pay, role)
        assert post(client, f"{BASE}/{pk}/{action}", body).status_code == 200, action
    queued = post(client, f"{BASE}/{pk}/vouchers")
    assert queued.status_code == 202, queued.content
    job = JobProgress.objects.get(kind="payment.plan_vouchers")
    assert queued.json()["job_id"] == str(job.pk) and queued.json()["plan_id"] == pk
    job.refresh_from_db()
    assert job.status == JobProgress.Status.SUCCEEDED, job.message
    assert client.get(f"{BASE}/{pk}").json()["status"] == "vouchered"
    assert len(client.get(f"{BASE}/{pk}/documents").json()) == 6
    again = post(client, f"{BASE}/{pk}/vouchers")
    assert again.status_code == 400 and JobProgress.objects.count() == 1
