"""yikatong load-demo with the payments demo (payments/demo.py): plans and batches in every state, built through
the services with the in-process bank simulator; money conserves to the fen; a second run changes nothing;
the demo logins can carry the story on."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from yikatong.core import demo as core_demo
from yikatong.core.models import AuditEvent, User
from yikatong.core.scope import Scope
from yikatong.payments import demo
from yikatong.payments.models import (
    AttemptStatus,
    BatchKind,
    BatchStatus,
    DisbursementEntry,
    DisbursementPlan,
    ItemStatus,
    PaymentAttempt,
    PaymentBatch,
    PaymentItem,
    PlanStatus,
    ResultPublication,
    SmsMessage,
)

TODAY = "2026-11-24"  # a Tuesday


def run(*args) -> str:
    out = StringIO()
    call_command("load-demo", *args, stdout=out)
    return out.getvalue()


def scope_of(username: str) -> Scope:
    return Scope.for_user(User.objects.select_related("organization").get(username=username))


def plan_of(policy: str) -> DisbursementPlan:
    return DisbursementPlan.objects.get(policy__code=policy)


@pytest.fixture
def loaded(db, settings):
    settings.YIKATONG_TODAY = TODAY
    return run()


def test_the_payments_demo_runs_after_the_collection_demo():
    names = [ext.name for ext in core_demo.extensions()]
    assert names.index("policies") < names.index("collection") < names.index("payments")
    demo.register()
    names = [ext.name for ext in core_demo.extensions()]
    assert names.index("collection") < names.index("payments")


def test_plans_in_every_state(loaded):
    states = set(DisbursementPlan.objects.values_list("status", flat=True))
    assert states == {PlanStatus.DRAFT, PlanStatus.SUBMITTED, PlanStatus.RETURNED, PlanStatus.VOUCHERED,
                      PlanStatus.PAYING, PlanStatus.COMPLETED}
    assert plan_of(demo.ELDERLY).status == PlanStatus.DRAFT
    submitted = plan_of(demo.SPECIAL)
    assert submitted.status == PlanStatus.SUBMITTED and submitted.step_deadline.isoformat() >= TODAY
    returned = plan_of(demo.AWARD)
    assert returned.status == PlanStatus.RETURNED and "指标" in returned.returned_reason
    vouchered = plan_of(demo.DISASTER)
    assert vouchered.status == PlanStatus.VOUCHERED and vouchered.indicator_id
    assert vouchered.documents.count() >= 3
    assert plan_of(demo.CARE).status == PlanStatus.COMPLETED
    assert plan_of(demo.FARMLAND).status == PlanStatus.PAYING
    assert plan_of(demo.DIBAO).status == PlanStatus.PAYING
    # the department of the line owns each plan, so the demo logins can carry them on
    assert plan_of(demo.FARMLAND).organization.code == "WZ-NYNCW"
    assert plan_of(demo.DIBAO).organization.code == "WZ-MZJ"
    assert "资金发放：发放方案 7 个" in loaded


def test_batches_in_every_state(loaded):
    states = set(PaymentBatch.objects.values_list("status", flat=True))
    assert {BatchStatus.PREPARED, BatchStatus.RELEASED, BatchStatus.FETCHED, BatchStatus.PARTIAL,
            BatchStatus.COMPLETED} <= states
    farmland = plan_of(demo.FARMLAND)
    first = farmland.batches.get(kind=BatchKind.FIRST)
    assert first.status == BatchStatus.COMPLETED
    assert (first.item_count, first.paid_count, first.failed_count) == (11, 7, 4)
    resends = list(farmland.batches.filter(kind=BatchKind.RESEND).order_by("id"))
    assert [b.status for b in resends] == [BatchStatus.COMPLETED, BatchStatus.FETCHED, BatchStatus.RELEASED]
    partial = plan_of(demo.DIBAO).batches.get()
    assert partial.status == BatchStatus.PARTIAL and partial.paid_count + partial.failed_count == 3
    assert plan_of(demo.DISASTER).batches.get().status == BatchStatus.PREPARED


def test_a_failed_item_corrected_and_paid_on_the_second_attempt(loaded):
    farmland = plan_of(demo.FARMLAND)
    first = farmland.batches.get(kind=BatchKind.FIRST)
    failed = first.attempts.filter(status=AttemptStatus.FAILED)
    assert {a.seq: a.failure_reason for a in failed} == demo.FARMLAND_FAILS
    assert all(a.returned_on for a in failed)  # the money went back to the treasury
    item = first.attempts.get(seq=2).item
    assert item.status == ItemStatus.PAID and item.attempt_count == 2
    history = list(item.attempts.order_by("attempt_no").values_list("attempt_no", "status", "batch__kind"))
    assert history == [(1, AttemptStatus.FAILED, BatchKind.FIRST), (2, AttemptStatus.PAID, BatchKind.RESEND)]
    assert item.events.filter(action="correct").exists()
    assert first.attempts.get(seq=5).item.status == ItemStatus.SENDING   # resend 2, fetched by the bank
    assert first.attempts.get(seq=8).item.status == ItemStatus.SENDING   # resend 3, released today
    waiting = first.attempts.get(seq=10).item
    assert waiting.status == ItemStatus.FAILED and waiting.correction_deadline.isoformat() < TODAY  # overdue
    # never twice
    assert PaymentAttempt.objects.filter(status=AttemptStatus.PAID).values("item").distinct().count() == \
        PaymentAttempt.objects.filter(status=AttemptStatus.PAID).count()


def test_sms_and_publication(loaded):
    paid = PaymentAttempt.objects.filter(status=AttemptStatus.PAID)
    assert paid.count() == SmsMessage.objects.count() > 0
    assert set(SmsMessage.objects.values_list("attempt_id", flat=True)) == set(paid.values_list("pk", flat=True))
    published = ResultPublication.objects.get(is_public=True)
    assert published.batch.plan.policy.code == demo.CARE and published.entry_count == 4


def test_money_conserves_and_reconciles(loaded):
    from yikatong.payments.services.common import money_sum
    from yikatong.payments.services.reconciliation import reconcile

    report = reconcile(actor=Scope.system(), region_code=demo.WANZHOU)
    assert report["balanced"], report["differences"][:5]
    for plan in DisbursementPlan.objects.filter(status__in=[PlanStatus.PAYING, PlanStatus.COMPLETED,
                                                            PlanStatus.VOUCHERED]):
        entries = DisbursementEntry.objects.filter(plan=plan)
        committed = money_sum(entries.filter(kind="committed")) - money_sum(entries.filter(kind="released"))
        attempts = PaymentAttempt.objects.filter(batch__plan=plan).exclude(status=AttemptStatus.WITHDRAWN)
        unsent = money_sum(PaymentItem.objects.filter(plan=plan, status=ItemStatus.PENDING)) + money_sum(
            attempts.filter(batch__status=BatchStatus.PREPARED))
        in_flight = money_sum(attempts.filter(status=AttemptStatus.SENT).exclude(batch__status=BatchStatus.PREPARED))
        paid = money_sum(attempts.filter(status=AttemptStatus.PAID))
        failed = money_sum(attempts.filter(status=AttemptStatus.FAILED))
        assert committed == unsent + in_flight + paid + failed, plan.number
    care = plan_of(demo.CARE)
    assert money_sum(PaymentAttempt.objects.filter(batch__plan=care, status=AttemptStatus.PAID)) == \
        care.total_amount == Decimal("360.00")


def test_a_second_run_changes_nothing(loaded):
    before = (DisbursementPlan.objects.count(), PaymentBatch.objects.count(), PaymentAttempt.objects.count(),
              AuditEvent.objects.exclude(action="region.import").count())
    out = run()
    assert "发放演示数据已存在" in out
    assert before == (DisbursementPlan.objects.count(), PaymentBatch.objects.count(), PaymentAttempt.objects.count(),
                      AuditEvent.objects.exclude(action="region.import").count())
    assert "本次没有任何改动" in run("--if-empty")
    assert DisbursementPlan.objects.count() == before[0]


def test_the_demo_users_can_carry_the_story_on(loaded):
    from yikatong.payments.services.batches import batch_release
    from yikatong.payments.services.plans import plan_review_ok

    # finance reviews the submitted request (the indicator of CQ-008 is missing: refused with the reason)
    special = plan_of(demo.SPECIAL)
    with pytest.raises(Exception, match="指标"):
        plan_review_ok(actor=scope_of("finance"), plan_id=special.pk)
    # the emergency department sends its prepared batch; the bank pays it
    prepared = plan_of(demo.DISASTER).batches.get()
    batch_release(actor=scope_of("emergency"), batch_id=prepared.pk)
    run_ = demo.bank_pays(prepared.number)
    assert run_.paid == prepared.item_count
    prepared.refresh_from_db()
    assert prepared.status == BatchStatus.COMPLETED


def test_the_demo_logins_see_the_money_path_pages(loaded, client):
    pages = {"civil": ["/payments/plans/", "/payments/batches/", "/payments/corrections/"],
             "agri": ["/payments/plans/", "/payments/batches/", "/payments/corrections/"],
             "finance": ["/payments/plans/", "/payments/batches/"], "bank": ["/payments/batches/"]}
    farmland = plan_of(demo.FARMLAND)
    for username, urls in pages.items():
        client.force_login(User.objects.get(username=username))
        for url in urls:
            assert client.get(url).status_code == 200, (username, url)
    client.force_login(User.objects.get(username="agri"))
    assert client.get(f"/payments/plans/{farmland.pk}/").status_code == 200
    for batch in farmland.batches.all():
        assert client.get(f"/payments/batches/{batch.pk}/").status_code == 200
    waiting = PaymentItem.objects.get(plan=farmland, status=ItemStatus.FAILED)
    page = client.get(f"/payments/corrections/{waiting.pk}/").content.decode()
    assert "户名不符" in page
    client.force_login(User.objects.get(username="bank"))
    numbers = client.get("/payments/batches/").content.decode()
    assert all(b.number in numbers for b in PaymentBatch.objects.exclude(status=BatchStatus.PREPARED))
