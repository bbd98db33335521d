"""One payment batch end to end through a real browser, with the bank simulator paying over the bank API.

The department (t_civil) builds a plan from the approved register, approves it and submits it; finance (t_finance)
reviews it; the department mounts the indicator, issues the vouchers, creates the first batch and sends it to the
bank. The bank simulator (banks/simulator.py) fetches the batch over HTTP from the live server with a bank
credential and pays every item but one. The department corrects the failed item on its page, creates the resend
batch (补发) and sends it; the simulator pays it; the item shows paid with its two attempts."""

import pytest
from playwright.sync_api import expect

from tests.applications.conftest import flow, li, zhang  # noqa: F401  (fixtures of `pay`)
from tests.payments.conftest import pay  # noqa: F401
from tests.world import PASSWORD
from yikatong.payments.models import AttemptStatus, BatchKind, DisbursementPlan, ItemStatus, PaymentAttempt

FAIL_SEQ = 3


def act(page, action: str) -> None:
    with page.expect_navigation():
        page.click(f"[data-testid=action-{action}] button[type=submit]")


def switch_user(page, login, username: str) -> None:
    page.context.clear_cookies()
    login(username, PASSWORD)
    expect(page.locator("[data-testid=who-user]")).to_contain_text(username)


def create_and_release_batch(page, plan_id: int) -> str:
    page.goto(f"/payments/plans/{plan_id}/")
    with page.expect_navigation():
        page.click("[data-testid=batch-new] button[type=submit]")
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "prepared")
    number = page.locator("h1").inner_text().split()[1]
    with page.expect_navigation():
        page.click("[data-testid=batch-release]")
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "released")
    return number


def test_one_batch_end_to_end_with_a_failed_item_paid_on_the_second_batch(page, login, pay, live_server):  # noqa: F811
    from yikatong.banks.simulator import BankApi, HttpTransport, pay_batch, simulator_key

    bank = pay.world.orgs["paying_bank"]
    # -- the department builds, approves and submits the plan
    login("t_civil", PASSWORD)
    page.goto("/payments/plans/new/")
    page.select_option("#id_policy", "WZ-001")
    page.fill("#id_period", "2026-03")
    page.select_option("#id_bank", bank.code)
    with page.expect_navigation():
        page.click("[data-testid=plan-build-form] button[type=submit]")
    expect(page.locator("[data-testid=plan-status]")).to_have_attribute("data-status", "draft")
    plan = DisbursementPlan.objects.get(policy__code="WZ-001", period="2026-03")
    assert plan.item_count == 5
    act(page, "approve")
    expect(page.locator("[data-testid=plan-status]")).to_have_attribute("data-status", "approved")
    act(page, "submit")
    expect(page.locator("[data-testid=plan-status]")).to_have_attribute("data-status", "submitted")

    # -- finance reviews it against the indicator
    switch_user(page, login, "t_finance")
    page.goto(f"/payments/plans/{plan.pk}/")
    act(page, "review_ok")
    expect(page.locator("[data-testid=plan-status]")).to_have_attribute("data-status", "reviewed")
    expect(page.locator("[data-testid=review-note]")).to_contain_text("审核通过")

    # -- the department mounts the indicator, issues the vouchers, sends the first batch
    switch_user(page, login, "t_civil")
    page.goto(f"/payments/plans/{plan.pk}/")
    page.select_option("[data-testid=action-mount] select", str(pay.indicator.pk))
    act(page, "mount")
    expect(page.locator("[data-testid=plan-status]")).to_have_attribute("data-status", "mounted")
    act(page, "issue")
    expect(page.locator("[data-testid=plan-status]")).to_have_attribute("data-status", "vouchered")
    expect(page.locator("[data-testid=documents]")).to_contain_text("国库集中支付凭证")
    first = create_and_release_batch(page, plan.pk)

    # -- the bank simulator pays all but one, over the bank API of the live server
    api = BankApi(HttpTransport(live_server.url, simulator_key(bank.code)))
    run = pay_batch(api, first, fail_seqs={FAIL_SEQ: "账户冻结"}, seed=7)
    assert (run.paid, run.failed, run.applied, run.rejected) == (4, 1, 5, 0)
    page.reload()
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "completed")
    expect(page.locator("[data-testid=batch-counts] [data-count=failed]")).to_contain_text("1")

    # -- the department corrects the failed item
    failed = PaymentAttempt.objects.get(batch__number=first, seq=FAIL_SEQ).item
    page.goto("/payments/corrections/")
    expect(page.locator("[data-testid=correction-table]")).to_contain_text("账户冻结")
    with page.expect_navigation():
        page.click(f"[data-testid=item-link-{failed.pk}]")
    expect(page.locator("[data-testid=item-status]")).to_have_text("发放失败待更正")
    page.fill("#id_reason", "持卡人已到银行网点解除账户冻结，按原账户补发")
    with page.expect_navigation():
        page.click("[data-testid=correct-submit]")
    expect(page.locator("[data-testid=item-status]")).to_have_text("已更正待补发")

    # -- the resend batch, sent and paid
    resend = create_and_release_batch(page, plan.pk)
    assert resend != first
    run = pay_batch(api, resend, seed=7)
    assert (run.paid, run.failed) == (1, 0)

    # -- the item is paid, with its whole history: two attempts
    page.goto(f"/payments/corrections/{failed.pk}/")
    expect(page.locator("[data-testid=item-status]")).to_have_text("已发放")
    attempts = page.locator("[data-testid=attempts] tr[data-attempt]")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("失败")
    expect(attempts.nth(0)).to_contain_text("账户冻结")
    expect(attempts.nth(1)).to_contain_text("成功")
    expect(page.locator("[data-testid=events] [data-event=correct]")).to_have_count(1)
    failed.refresh_from_db()
    assert failed.status == ItemStatus.PAID and failed.attempt_count == 2
    assert list(failed.attempts.order_by("attempt_no").values_list("status", "batch__kind")) == [
        (AttemptStatus.FAILED, BatchKind.FIRST), (AttemptStatus.PAID, BatchKind.RESEND)]
    plan.refresh_from_db()
    assert plan.status == "completed"


pytestmark = pytest.mark.django_db(transaction=True)
