"""Two downloads of a released batch racing: the batch is marked fetched once (row lock + re-check)."""

import threading

import pytest
from django.db import connection, transaction

from tests.payments.factory import build_batch, build_plan
from yikatong.banks import selectors, services
from yikatong.core.models import AuditEvent, Organization
from yikatong.core.scope import Scope
from yikatong.payments.models import BatchStatus


def _racer(scope, number, barrier, outcomes):
    try:
        with transaction.atomic():
            batch = selectors.bank_batch(scope, number)  # both see "released" …
            barrier.wait(timeout=30)
            services._mark_fetched(scope, batch.pk)  # … the lock makes the second re-read "fetched"
        outcomes.append("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test thread
        outcomes.append(repr(exc))
    finally:
        connection.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_first_downloads_mark_the_batch_fetched_once(pay):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    batch = build_batch(pay, build_plan(pay))
    scope = Scope.for_organization(Organization.objects.get(code="WZ-NSH"), username="apikey:race")
    barrier, outcomes = threading.Barrier(2), []
    threads = [threading.Thread(target=_racer, args=(scope, batch.number, barrier, outcomes)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes == ["ok", "ok"]
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FETCHED
    assert AuditEvent.objects.filter(action="payment_batch.fetch", object_id=str(batch.pk)).count() == 1
