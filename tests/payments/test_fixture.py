from yikatong.applications.models import Status


def test_pay_fixture_has_approved_applications_and_an_indicator(pay):
    assert len(pay.applications) == 5
    assert {a.status for a in pay.applications} == {Status.APPROVED}
    assert pay.indicator.available == pay.indicator.amount


def test_factory_builds_a_released_batch(pay):
    from tests.payments.factory import build_batch, build_plan

    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    assert batch.item_count == 5 and str(batch.total_amount) == "1500.00"
    pay.indicator.refresh_from_db()
    assert pay.indicator.paid_total == batch.total_amount
    assert set(plan.items.values_list("status", flat=True)) == {"sending"}
