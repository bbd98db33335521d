"""Never half-applied, never applied twice: a crash between the steps of an import, two imports racing, the
database's last line of defence, XLSX input and the after-commit hook."""

import io
import threading
import time

import pytest
from django.db import connection

from tests.payments.factory import build_batch, build_plan
from tests.payments.test_results import csv_bytes, import_csv, result_lines_for, state
from yikatong.payments.models import AttemptStatus, DisbursementEntry, PaymentAttempt, ResultImport
from yikatong.payments.services import results as results_service


@pytest.fixture
def released(pay):
    plan = build_plan(pay)
    return plan, build_batch(pay, plan)


def stage_tables() -> list[str]:
    """Staging tables of result imports still in the database (UNLOGGED on PostgreSQL, TEMP on SQLite)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(r"SELECT relname FROM pg_class WHERE relname LIKE 'rs\_%%' AND relkind = 'r'")
        else:
            cur.execute("SELECT name FROM sqlite_temp_master WHERE name LIKE 'rs!_%' ESCAPE '!' AND type = 'table'")
        return [r[0] for r in cur.fetchall()]


@pytest.mark.parametrize("where", ["classify", "apply", "attempts", "items", "entries", "indicators", "done"])
def test_a_crash_between_steps_leaves_nothing_applied(pay, released, monkeypatch, where):
    plan, batch = released
    before = state(pay)

    def crash(name):
        if name == where:
            raise RuntimeError(f"power cut at {name}")

    monkeypatch.setattr(results_service, "step", crash)
    with pytest.raises(RuntimeError):
        import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(2,)))
    assert state(pay) == before
    assert stage_tables() == []  # the staging tables went with the rolled-back transaction
    ri = ResultImport.objects.get()
    assert ri.status == ResultImport.Status.FAILED and ri.applied_count == 0 and ri.file_id
    assert not ri.lines.exists()
    # the bank sends the file again once the platform is back: applied exactly once
    monkeypatch.setattr(results_service, "step", lambda name: None)
    again = import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(2,)))
    assert again.applied_count == 5
    assert stage_tables() == []


def test_a_refusal_while_applying_rolls_everything_back(pay, released, monkeypatch):
    """A domain refusal half-way (e.g. the indicator refuses the return) ends the import as failed, nothing kept."""
    from yikatong.core.errors import DomainError

    plan, batch = released
    before = state(pay)

    def refuse(*args, **kwargs):
        raise DomainError("退回金额超过已支付金额。")

    monkeypatch.setattr("yikatong.policies.services.indicators.indicator_return", refuse)
    ri = import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(1,)))
    assert ri.status == ResultImport.Status.FAILED and "退回金额" in ri.message
    assert state(pay) == before


def _second_open_attempt(pay, plan, paid_attempt):
    """A second released batch holding another open attempt of `paid_attempt`'s item — which batch creation
    never makes (one open attempt per item): the last line of defence must hold without it."""
    from yikatong.payments.models import BatchStatus, PaymentBatch

    first = paid_attempt.batch
    twin = PaymentBatch.objects.create(
        number=first.number + "X", plan=plan, kind=first.kind, bank=first.bank, region_id=first.region_id,
        business_line=first.business_line, policy=first.policy, period=first.period, status=BatchStatus.RELEASED,
        item_count=1, total_amount=paid_attempt.amount, indicator_id=first.indicator_id)
    paid_attempt.pk = None
    paid_attempt.batch, paid_attempt.seq, paid_attempt.attempt_no = twin, 1, paid_attempt.attempt_no + 1
    paid_attempt.status, paid_attempt.result_on, paid_attempt.result_import = AttemptStatus.SENT, None, None
    paid_attempt.save()
    return twin


def test_an_item_is_never_credited_twice(pay, released):
    """Two open attempts of one item (bypassing batch creation): the bank's success for the second, after the
    first was paid, refuses the whole import naming the line — nothing applied; the same when both successes
    come in one file."""
    plan, batch = released
    import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(1,)))
    paid = batch.attempts.get(seq=2)
    twin = _second_open_attempt(pay, plan, batch.attempts.get(seq=2))
    before = state(pay)
    ri = import_csv(pay.scope("paying_bank"), result_lines_for(twin))
    assert ri.status == ResultImport.Status.FAILED and "第 2 行" in ri.message and "防止重复入账" in ri.message
    assert state(pay) == before
    paid.item.refresh_from_db()
    assert paid.item.status == "paid"
    assert twin.attempts.get().status == AttemptStatus.SENT


def test_two_successes_for_one_item_in_one_file_are_refused(pay, released):
    plan, batch = released
    twin = _second_open_attempt(pay, plan, batch.attempts.get(seq=3))
    before = state(pay)
    ri = import_csv(pay.scope("paying_bank"), result_lines_for(batch) + result_lines_for(twin))
    assert ri.status == ResultImport.Status.FAILED and "防止重复入账" in ri.message
    assert "第 4、7 行" in ri.message  # seq 3 of the batch and the twin's line, after the header
    assert state(pay) == before
    assert not DisbursementEntry.objects.filter(kind="paid").exists()


def test_xlsx_result_file(pay, released):
    from openpyxl import Workbook

    plan, batch = released
    wb = Workbook()
    ws = wb.active
    ws.append(["批次号", "序号", "收款账号", "金额", "处理结果", "失败原因", "处理日期"])
    for line in result_lines_for(batch, fail=(4,)):
        ws.append([line[0], int(line[1]), line[2], float(line[3]), line[4], line[5], line[6]])
    out = io.BytesIO()
    wb.save(out)
    ri = import_csv(pay.scope("civil"), data=out.getvalue(), name="回盘.xlsx")
    assert ri.status == ResultImport.Status.DONE, ri.message
    assert (ri.applied_count, ri.rejected_count) == (5, 0)


def test_hook_runs_on_commit_only(pay, released, monkeypatch, django_capture_on_commit_callbacks):
    import types

    plan, batch = released
    calls = []
    fake = types.SimpleNamespace(sms_queue_for_import=lambda pk: calls.append(pk))
    monkeypatch.setattr("yikatong.payments.services.notices", fake, raising=False)
    import sys

    monkeypatch.setitem(sys.modules, "yikatong.payments.services.notices", fake)
    with django_capture_on_commit_callbacks(execute=True):
        ri = import_csv(pay.scope("paying_bank"), result_lines_for(batch))
    assert calls == [ri.pk]
    with django_capture_on_commit_callbacks(execute=True):
        again = import_csv(pay.scope("paying_bank"), result_lines_for(batch))  # nothing applied: no hook
    assert again.duplicate_count == 5 and calls == [ri.pk]


# -- two imports racing (PostgreSQL row locks) -----------------------------------------------------------------
def _racer(actor, data, barrier, outcomes, slow):
    try:
        barrier.wait(timeout=30)
        ri = import_csv(actor, data=data)
        outcomes.append((ri.status, ri.applied_count, ri.duplicate_count, ri.rejected_count))
    except Exception as exc:  # noqa: BLE001 - reported to the test thread
        outcomes.append(("error", repr(exc)))
    finally:
        connection.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_imports_of_the_same_results_racing_apply_once(pay, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    data = csv_bytes(result_lines_for(batch, fail=(3,)))
    before_entries = state(pay)["entries"]

    def slow_step(name):  # hold the batch locks a moment so the other import surely waits for them
        if name == "classify":
            time.sleep(0.5)

    monkeypatch.setattr(results_service, "step", slow_step)
    barrier, outcomes = threading.Barrier(2), []
    actors = [pay.scope("paying_bank"), pay.scope("civil")]
    threads = [threading.Thread(target=_racer, args=(actor, data, barrier, outcomes, i == 0))
               for i, actor in enumerate(actors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outcomes) == 2 and all(o[0] == ResultImport.Status.DONE for o in outcomes), outcomes
    assert sorted(o[1:] for o in outcomes) == [(0, 5, 0), (5, 0, 0)]
    after = state(pay)
    assert len(after["entries"]) - len(before_entries) == 3  # paid (4), failed (1), returned (1), booked once
    assert DisbursementEntry.objects.filter(batch=batch, kind="paid").get().lines == 4
    assert PaymentAttempt.objects.filter(batch=batch, status=AttemptStatus.PAID).count() == 4
    batch.refresh_from_db()
    assert (batch.paid_count, batch.failed_count, batch.status) == (4, 1, "completed")


@pytest.mark.parametrize("workers", [0, 2])
def test_progress_is_never_reported_while_the_copy_holds_the_connection(pay, released, monkeypatch, workers):
    """A progress write (the job's bar) is a query on the import's connection; issued while the staging COPY is
    open it would wait for ever. Progress is reported before and after loading, never during."""
    from yikatong.payments.services import results as service

    monkeypatch.setattr(service, "CHUNK", 2)
    monkeypatch.setattr(service, "worker_count", lambda: workers)
    plan, batch = released
    calls = []

    def progress(done, total=None):
        busy = False
        if connection.vendor == "postgresql":
            from psycopg import pq

            busy = connection.connection.pgconn.transaction_status == pq.TransactionStatus.ACTIVE
        calls.append((done, busy))
        if not busy:  # (a query now would wait for ever: the assertion below reports it instead)
            with connection.cursor() as cursor:  # what JobReporter does
                cursor.execute("SELECT 1")

    ri = service.result_import(actor=pay.scope("paying_bank"), fileobj=io.BytesIO(csv_bytes(result_lines_for(batch))),
                               original_name="回盘.csv", progress=progress)
    assert ri.status == ResultImport.Status.DONE and ri.applied_count == 5, ri.message
    assert calls and not any(busy for _, busy in calls)
    assert calls[-1][0] == 5
