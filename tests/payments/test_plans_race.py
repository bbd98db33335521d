"""Concurrent plan builds and mounts (PostgreSQL): an application is itemized once, a plan committed once."""

import threading

import pytest
from django.db import connection

from yikatong.core.errors import DomainError
from yikatong.payments.models import DisbursementEntry, DisbursementPlan, PaymentItem, PlanStatus
from yikatong.payments.services.plans import plan_build, plan_mount
from yikatong.policies.models import IndicatorEntry


def race(calls):
    barrier, outcomes = threading.Barrier(len(calls)), []

    def run(call):
        try:
            barrier.wait(timeout=30)
            call()
            outcomes.append(("ok", ""))
        except DomainError as exc:
            outcomes.append(("refused", exc.message))
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcomes.append(("error", repr(exc)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(outcomes)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_builds_race_on_postgresql(pay):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL concurrency")
    civil = pay.scope("civil")

    def build():
        plan_build(actor=civil, policy_code="WZ-001", period="2026-03", region_code="500101000000",
                   bank_code="WZ-NSH")

    outcomes = race([build, build])
    assert [o[0] for o in outcomes] == ["ok", "refused"], outcomes
    assert PaymentItem.objects.count() == 5
    assert DisbursementPlan.objects.count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_double_mount_race_on_postgresql(pay):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    from tests.payments.factory import build_plan

    plan = build_plan(pay, status=PlanStatus.REVIEWED)
    civil = pay.scope("civil")
    outcomes = race([lambda: plan_mount(actor=civil, plan_id=plan.pk, indicator_id=pay.indicator.pk)] * 2)
    assert [o[0] for o in outcomes] == ["ok", "refused"], outcomes
    assert "不能挂接预算指标" in outcomes[1][1]
    assert IndicatorEntry.objects.filter(ref_type="payment_plan", ref_id=plan.number).count() == 1
    assert DisbursementEntry.objects.filter(plan=plan).count() == 1
