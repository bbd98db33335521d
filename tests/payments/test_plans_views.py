"""Pages of disbursement plans: list with deadline badges, build form, detail with totals/items/history,
the action forms of each state, refusals shown in Chinese, document downloads."""

import pytest

from tests.payments.factory import build_plan
from yikatong.payments.models import DisbursementPlan, PaymentDocument, PlanStatus

LIST = "/payments/plans/"


def login(client, pay, key):
    client.force_login(pay.flow.users.get(key) or pay.world.users[key])
    return client


def act(client, plan, action, data=None):
    return client.post(f"/payments/plans/{plan.pk}/act/{action}/", data or {})


def build_via_form(client):
    return client.post("/payments/plans/new/", {"policy": "WZ-001", "period": "2026-03", "bank": "WZ-NSH",
                                                "title": ""})


def test_build_form_and_full_walk(client, pay):
    login(client, pay, "civil")
    form = client.get("/payments/plans/new/")
    assert form.status_code == 200
    page = form.content.decode()
    assert "WZ-001" in page and "重庆农商行万州分行" in page and "社保卡合作银行" not in page
    response = build_via_form(client)
    plan = DisbursementPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/payments/plans/{plan.pk}/"
    detail = client.get(response["Location"]).content.decode()
    assert plan.number in detail and "1500.00" in detail and 'data-action-panel="approve"' in detail
    assert detail.count('data-item="') == 5
    masked = plan.items.first().account_masked
    assert masked.startswith("***") and masked in detail
    assert act(client, plan, "approve", {"note": "同意"}).status_code == 302
    assert act(client, plan, "submit").status_code == 302
    listing = client.get(LIST).content.decode()
    assert plan.number in listing and 'data-deadline-state="ok"' in listing and "2026-03-17" in listing
    login(client, pay, "finance")
    page = client.get(f"/payments/plans/{plan.pk}/").content.decode()
    assert 'data-action-panel="review_ok"' in page and 'data-action-panel="return"' in page
    assert act(client, plan, "review_ok", {"note": "同意支付"}).status_code == 302
    login(client, pay, "civil")
    page = client.get(f"/payments/plans/{plan.pk}/").content.decode()
    assert 'data-action-panel="mount"' in page and "可用余额 100,000.00 元" in page
    assert act(client, plan, "mount", {"indicator": pay.indicator.pk}).status_code == 302
    assert act(client, plan, "issue").status_code == 302
    plan.refresh_from_db()
    assert plan.status == PlanStatus.VOUCHERED
    page = client.get(f"/payments/plans/{plan.pk}/").content.decode()
    assert page.count('data-document="') == 6 and "财政审核通过" in page and "生成支付凭证" in page
    doc = PaymentDocument.objects.filter(plan=plan, kind="voucher", file__original_name__endswith=".pdf").get()
    download = client.get(f"/payments/plans/{plan.pk}/documents/{doc.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")


def test_return_reason_shown_to_department(client, pay):
    plan = build_plan(pay, status=PlanStatus.SUBMITTED)
    login(client, pay, "finance")
    empty = act(client, plan, "return", {"reason": ""})
    assert empty.status_code == 400 and "请填写原因" in empty.content.decode()
    assert act(client, plan, "return", {"reason": "期间有误"}).status_code == 302
    login(client, pay, "civil")
    page = client.get(f"/payments/plans/{plan.pk}/").content.decode()
    assert "财政退回原因：期间有误" in page and 'data-action-panel="submit"' in page


def test_review_refusal_shown_and_nothing_changed(client, pay):
    from tests.payments.test_plans_services import drain_indicator

    plan = build_plan(pay, status=PlanStatus.SUBMITTED)
    drain_indicator(pay)
    login(client, pay, "finance")
    response = act(client, plan, "review_ok", {"note": ""})
    assert response.status_code == 400 and "指标余额不足" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == PlanStatus.SUBMITTED


def test_voucher_before_mount_refused_on_page(client, pay):
    plan = build_plan(pay, status=PlanStatus.REVIEWED)
    login(client, pay, "civil")
    response = act(client, plan, "issue")
    assert response.status_code == 400 and "不能生成支付凭证" in response.content.decode()
    assert not PaymentDocument.objects.exists()


def test_build_refusal_shown(client, pay):
    login(client, pay, "civil")
    build_plan(pay, status=PlanStatus.DRAFT)
    response = build_via_form(client)
    assert response.status_code == 400 and "没有可发放的对象" in response.content.decode()


@pytest.mark.parametrize("key", ["collector", "paying_bank", "finance", "supervisor"])
def test_build_page_forbidden(client, pay, key):
    login(client, pay, key)
    assert client.get("/payments/plans/new/").status_code == 403


def test_scope_of_pages(client, pay):
    plan = build_plan(pay, status=PlanStatus.DRAFT)
    for key, status in (("agri", 404), ("fl_civil", 404), ("finance_other", 404), ("collector", 404),
                        ("paying_bank", 404), ("finance", 200), ("supervisor", 200)):
        login(client, pay, key)
        assert client.get(f"/payments/plans/{plan.pk}/").status_code == status, key
        assert (plan.number in client.get(LIST).content.decode()) == (status == 200), key
    login(client, pay, "agri")
    assert act(client, plan, "approve").status_code == 404
    login(client, pay, "finance")
    assert act(client, plan, "approve").status_code == 403
    page = client.get(f"/payments/plans/{plan.pk}/").content.decode()
    assert "data-action-panel" not in page
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


def test_overdue_badge(client, pay):
    plan = build_plan(pay, status=PlanStatus.SUBMITTED)
    import datetime as dt
    DisbursementPlan.objects.filter(pk=plan.pk).update(step_deadline=dt.date(2026, 3, 5))
    login(client, pay, "finance")
    page = client.get(LIST).content.decode()
    assert 'data-deadline-state="overdue"' in page and "超期" in page


def test_plan_page_offers_the_next_batch_and_lists_the_batches(client, pay):
    from tests.payments.factory import build_plan

    plan = build_plan(pay)  # vouchered
    client.force_login(pay.world.users["civil"])
    page = client.get(f"/payments/plans/{plan.pk}/").content.decode()
    assert 'data-testid="batch-new"' in page
    response = client.post("/payments/batches/new/", {"plan_id": plan.pk}, follow=True)
    assert response.status_code == 200
    page = client.get(f"/payments/plans/{plan.pk}/").content.decode()
    assert plan.batches.get().number in page
    client.force_login(pay.world.users["finance"])
    assert 'data-testid="batch-new"' not in client.get(f"/payments/plans/{plan.pk}/").content.decode()


def test_a_big_plans_vouchers_are_generated_by_a_background_job(client, pay, settings):
    """Above YIKATONG_VOUCHER_SYNC_MAX_ITEMS items the page queues the generation and shows the job (tests run
    tasks immediately); a plan that cannot be issued is refused at once, no job queued."""
    from yikatong.core.models import JobProgress

    settings.YIKATONG_VOUCHER_SYNC_MAX_ITEMS = 3
    login(client, pay, "civil")
    early = build_plan(pay, status=PlanStatus.REVIEWED)
    refused = act(client, early, "issue")
    assert refused.status_code == 400 and "不能生成支付凭证" in refused.content.decode()
    assert not JobProgress.objects.exists()
    assert act(client, early, "mount", {"indicator": pay.indicator.pk}).status_code == 302
    plan = DisbursementPlan.objects.get(pk=early.pk)
    assert plan.status == PlanStatus.MOUNTED and plan.item_count == 5
    response = act(client, plan, "issue")
    job = JobProgress.objects.get(kind="payment.plan_vouchers")
    assert response.status_code == 302 and str(job.pk) in response["Location"]
    job.refresh_from_db()
    assert job.status == JobProgress.Status.SUCCEEDED, job.message
    plan.refresh_from_db()
    assert plan.status == PlanStatus.VOUCHERED
    assert PaymentDocument.objects.filter(plan=plan).count() == 6
    again = act(client, plan, "issue")
    assert again.status_code == 400 and "不能重复生成" in again.content.decode()
