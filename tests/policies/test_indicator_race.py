"""Money never goes negative: two commitments racing for one balance, and the database constraint that
holds even when the Python check is skipped."""

import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from yikatong.core.errors import DomainError
from yikatong.policies import rules_indicators
from yikatong.policies.models import BudgetIndicator, IndicatorEntry
from yikatong.policies.services import indicator_commit, indicator_receive, indicator_verify

from .test_indicators import WZ, YEAR, setup_indicator_world


def county_indicator(ol, amount="100.00"):
    return indicator_receive(actor=ol.scope("finance"), doc_no="万州财〔2027〕9号", received_on="2027-02-20",
                             amount=amount, source_level="county", policy_code="WZ-001", fiscal_year=YEAR,
                             region_code=WZ)


def _commit(scope, indicator_id, ref_id, amount="60.00"):
    return indicator_commit(actor=scope, indicator_id=indicator_id, amount=amount, ref_type="plan", ref_id=ref_id,
                            policy_code="WZ-001", fiscal_year=YEAR)


def _racer(scope, indicator_id, ref_id, barrier, seen, outcomes):
    try:
        with transaction.atomic():
            # Both transactions read the balance (60 fits in 100) before either writes …
            seen.append(BudgetIndicator.objects.get(pk=indicator_id).available)
            barrier.wait(timeout=30)
            # … then both try to commit; the row lock makes the second wait and re-read.
            _commit(scope, indicator_id, ref_id)
        outcomes.append(("ok", ref_id))
    except DomainError as exc:
        outcomes.append(("refused", exc.message))
    except Exception as exc:  # noqa: BLE001 - reported to the test thread
        outcomes.append(("error", repr(exc)))
    finally:
        connection.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_commitments_race_for_one_balance_on_postgresql(transactional_db, published, today):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    ol = setup_indicator_world(published, today)
    ind = county_indicator(ol)
    scope = ol.scope("civil")
    barrier, seen, outcomes = threading.Barrier(2), [], []
    threads = [threading.Thread(target=_racer, args=(scope, ind.pk, ref, barrier, seen, outcomes))
               for ref in ("1", "2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert seen == [Decimal("100.00"), Decimal("100.00")]  # both really read before either wrote
    kinds = sorted(o[0] for o in outcomes)
    assert kinds == ["ok", "refused"], outcomes
    refused = next(o for o in outcomes if o[0] == "refused")
    assert refused[1] == "指标余额不足：可用 40.00 元，需要 60.00 元。"
    ind.refresh_from_db()
    assert (ind.available, ind.committed_total) == (Decimal("40.00"), Decimal("60.00"))
    assert IndicatorEntry.objects.filter(indicator=ind, kind="committed").count() == 1
    assert indicator_verify() == []


def test_sequential_commitments_for_one_balance(ol_seq):
    """The sequential counterpart for SQLite (one writer at a time): the second commitment is refused."""
    ind = county_indicator(ol_seq)
    scope = ol_seq.scope("civil")
    with transaction.atomic():
        _commit(scope, ind.pk, "1")
    with pytest.raises(DomainError, match=r"^指标余额不足：可用 40.00 元，需要 60.00 元。$"):
        with transaction.atomic():
            _commit(scope, ind.pk, "2")
    ind.refresh_from_db()
    assert (ind.available, ind.committed_total) == (Decimal("40.00"), Decimal("60.00"))
    assert indicator_verify() == []


@pytest.fixture
def ol_seq(published, today):
    return setup_indicator_world(published, today)


def test_database_refuses_a_negative_balance_written_directly(ol_seq):
    ind = county_indicator(ol_seq)
    # consistent columns, only the balance goes below zero: the named constraint refuses it
    with pytest.raises(IntegrityError, match="indicator_available_not_negative"):
        with transaction.atomic():
            BudgetIndicator.objects.filter(pk=ind.pk).update(committed_total=Decimal("100.01"),
                                                             available=Decimal("-0.01"))
    with pytest.raises(IntegrityError, match="indicator_committed_not_negative"):
        with transaction.atomic():
            BudgetIndicator.objects.filter(pk=ind.pk).update(committed_total=Decimal("-1.00"))
    with pytest.raises(IntegrityError, match="indicator_returned_within_paid"):
        with transaction.atomic():
            BudgetIndicator.objects.filter(pk=ind.pk).update(returned_total=Decimal("0.01"))
    with pytest.raises(IntegrityError, match="indicator_entry_amount_positive"):
        with transaction.atomic():
            IndicatorEntry.objects.create(indicator=ind, kind="paid", amount=Decimal("-5.00"), ref_type="x",
                                          ref_id="1", booked_on="2027-03-01", created_at=ind.created_at, actor="x")
    ind.refresh_from_db()
    assert ind.available == Decimal("100.00")


def test_database_refuses_the_overdraft_when_the_python_checks_are_skipped(ol_seq, monkeypatch):
    """A bug that skipped both Python checks still cannot overdraw the indicator."""
    ind = county_indicator(ol_seq)
    monkeypatch.setattr(rules_indicators, "require_sufficient", lambda available, needed: None)
    original = rules_indicators.apply_entry

    def unchecked(b, kind, amount):  # the arithmetic without its own non-negative check
        changes = {col: getattr(b, col) + sign * amount for col, sign in rules_indicators.ENTRY_EFFECTS[kind].items()}
        return rules_indicators.replace(b, **changes)

    monkeypatch.setattr(rules_indicators, "apply_entry", unchecked)
    with pytest.raises(IntegrityError, match="indicator_available_not_negative"):
        with transaction.atomic():
            _commit(ol_seq.scope("civil"), ind.pk, "1", amount="100.01")
    monkeypatch.setattr(rules_indicators, "apply_entry", original)
    ind.refresh_from_db()
    assert ind.available == Decimal("100.00")
    assert not IndicatorEntry.objects.filter(indicator=ind, kind="committed").exists()
