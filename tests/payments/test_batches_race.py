"""Two departments' clicks racing to create the first batch of one plan: exactly one batch (PostgreSQL)."""

import threading

import pytest
from django.db import connection

from tests.payments.factory import build_plan
from yikatong.core.errors import DomainError
from yikatong.payments.models import ItemStatus, PaymentAttempt, PaymentBatch, PlanStatus
from yikatong.payments.services.batches import batch_create


def _racer(scope, plan_id, barrier, outcomes):
    try:
        barrier.wait(timeout=30)
        batch = batch_create(actor=scope, plan_id=plan_id)
        outcomes.append(("ok", batch.number))
    except DomainError as exc:
        outcomes.append(("refused", exc.message))
    except Exception as exc:  # noqa: BLE001 - reported to the test thread
        outcomes.append(("error", repr(exc)))
    finally:
        connection.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_batch_create_makes_one_batch(pay):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    plan = build_plan(pay, status=PlanStatus.VOUCHERED)
    scope = pay.scope("civil")
    barrier, outcomes = threading.Barrier(2), []
    threads = [threading.Thread(target=_racer, args=(scope, plan.pk, barrier, outcomes)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"], outcomes
    assert PaymentBatch.objects.filter(plan=plan).count() == 1
    assert PaymentAttempt.objects.filter(batch__plan=plan).count() == 5
    assert set(plan.items.values_list("status", flat=True)) == {ItemStatus.SENDING}
    assert set(plan.items.values_list("attempt_count", flat=True)) == {1}
