"""The bank simulator in API mode: in process through Django's test client, and over HTTP against a live
server with the `yikatong bank-sim` command."""

import datetime as dt

import pytest
from django.core.management import call_command

from tests.payments.factory import build_batch, build_plan
from yikatong.banks import formats, simulator
from yikatong.core import crypto
from yikatong.core.models import AuditEvent
from yikatong.payments.models import AttemptStatus, BatchStatus, ResultImport

from .conftest import issue_key
from .test_api_results import needs_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(pay):
    return build_batch(pay, build_plan(pay))  # 5 items of 300.00, released today (2026-03-10)


@pytest.fixture
def key(pay):
    return simulator.simulator_key(pay.world.orgs["paying_bank"].code)


def test_fetch_only_marks_the_batch_fetched(batch, key, fake_import):
    run = simulator.simulate_batch(batch.number, key=key, post=False)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FETCHED and run.open_items == 5 and run.paid + run.failed == 5
    assert fake_import == [] and AuditEvent.objects.filter(action="bank.batch_items").count() == 1


def test_results_posted_through_the_api(batch, key, fake_import):
    run = simulator.simulate_batch(batch.number, key=key, fail_share=0.2, seed=11)
    (call,) = fake_import
    rows = call["rows"]
    assert call["channel"] == "api" and call["bank_code"] == "WZ-NSH"
    accounts = {a.seq: crypto.decrypt_text(a.account_enc) for a in batch.attempts.all()}
    assert {int(r["序号"]): r["收款账号"] for r in rows} == accounts
    failed = [r for r in rows if r["处理结果"] == "失败"]
    assert len(failed) == run.failed == 1 and failed[0]["失败原因"] in simulator.FAILURE_REASONS
    assert {r["处理日期"] for r in rows} == {"2026-03-10"}  # released today: the bank can only date it today
    assert {r["金额"] for r in rows} == {"300.00"} and {r["批次号"] for r in rows} == {batch.number}
    assert run.imports and ResultImport.objects.filter(pk=run.imports[0]).exists()


def test_named_failures_and_partial_reporting(batch, key, fake_import):
    simulator.simulate_batch(batch.number, key=key, fail_seqs={4: "账户冻结"}, report_seqs=[1, 4])
    rows = fake_import[0]["rows"]
    assert [(r["序号"], r["处理结果"], r["失败原因"]) for r in rows] == [("1", "成功", ""), ("4", "失败", "账户冻结")]


def test_same_outcome_in_api_and_file_mode(tmp_path, batch, key, fake_import):
    with open(tmp_path / "pay.csv", "wb") as fh:
        formats.write_payment_csv(batch, fh)
    simulator.simulate_file(tmp_path / "pay.csv", tmp_path / "out.csv", fail_share=0.4, seed=3)
    simulator.simulate_batch(batch.number, key=key, fail_share=0.4, seed=3)
    from yikatong.core.tabular import open_table

    with open_table(tmp_path / "out.csv", required=list(simulator.RESULT_HEADERS)) as table:
        from_file = [row for _n, row in table]
    assert from_file == fake_import[0]["rows"]


def test_run_once_pays_every_open_batch_of_the_bank_only(pay, key, fake_import):
    first = build_batch(pay, build_plan(pay, applications=pay.applications[:2]))
    second = build_batch(pay, build_plan(pay, applications=pay.applications[2:4]), status=BatchStatus.FETCHED)
    foreign = build_batch(pay, build_plan(pay, applications=pay.applications[4:], bank_key="paying_bank2"))
    from django.test import Client

    api = simulator.BankApi(simulator.DjangoTransport(Client(), key))
    messages = []
    runs = simulator.run_once(api, seed=1, log=messages.append)
    assert [r.batch for r in runs] == [first.number, second.number]
    assert [c["rows"][0]["批次号"] for c in fake_import] == [first.number, second.number]
    assert len(messages) == 2 and first.number in messages[0]
    foreign.refresh_from_db()
    assert foreign.status == BatchStatus.RELEASED


def test_refusals_raise_a_simulator_error(batch, key, pay):
    with pytest.raises(simulator.SimulatorError, match="HTTP 404"):
        simulator.simulate_batch("PB-NOPE", key=key)
    with pytest.raises(simulator.SimulatorError, match="HTTP 401"):
        simulator.simulate_batch(batch.number, key="ykt_wrong")
    with pytest.raises(simulator.SimulatorError, match="凭证"):
        simulator.simulate_batch(batch.number)


def test_run_loop_keeps_going_after_a_failed_round(key, fake_import):
    from django.test import Client

    api = simulator.BankApi(simulator.DjangoTransport(Client(), "ykt_wrong"))
    messages, sleeps = [], []
    simulator.run_loop(api, interval=5, rounds=3, log=messages.append, sleep=sleeps.append)
    assert len(messages) == 3 and all("HTTP 401" in m for m in messages) and sleeps == [5, 5]


def test_processing_days_follow_the_calendar(pay):
    friday = dt.date(2026, 3, 6)
    assert simulator.processing_days(friday, today=dt.date(2026, 3, 20)) == [
        friday, dt.date(2026, 3, 9), dt.date(2026, 3, 10)]
    assert simulator.processing_days(friday, today=friday) == [friday]
    saturday = dt.date(2026, 3, 7)
    assert simulator.processing_days(saturday, today=dt.date(2026, 3, 20)) == [
        dt.date(2026, 3, 9), dt.date(2026, 3, 10)]
    assert simulator.processing_days(saturday, today=dt.date(2026, 3, 8)) == [dt.date(2026, 3, 8)]


# -- with the real result import -----------------------------------------------------------------------------
@needs_import
def test_batch_paid_end_to_end_and_nothing_twice(batch, key):
    run = simulator.simulate_batch(batch.number, key=key, fail_share=0.4, seed=2)
    assert (run.paid, run.failed, run.applied, run.rejected) == (3, 2, 5, 0)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED and (batch.paid_count, batch.failed_count) == (3, 2)
    assert sorted(batch.attempts.values_list("status", flat=True)) == [AttemptStatus.FAILED] * 2 + [
        AttemptStatus.PAID] * 3
    again = simulator.simulate_batch(batch.number, key=key, fail_share=0.4, seed=2)
    assert again.open_items == 0 and again.imports == []


@needs_import
def test_partial_then_complete(batch, key):
    simulator.simulate_batch(batch.number, key=key, report_seqs=[1, 2])
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PARTIAL
    rest = simulator.simulate_batch(batch.number, key=key, fail_seqs=[5])
    assert (rest.open_items, rest.paid, rest.failed) == (3, 2, 1)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED


# -- over HTTP --------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_command_over_http_against_a_live_server(live_server, pay, fake_import, capsys):
    batch = build_batch(pay, build_plan(pay))
    key = issue_key(pay.world, "paying_bank")
    call_command("bank-sim", "--url", live_server.url, "--key", key, "--once", "--seed", "4",
                 "--fail-share", "0.2", "--page-size", "2")
    out = capsys.readouterr().out
    assert batch.number in out and "成功 4 笔，失败 1 笔" in out and "处理批次 1 个" in out
    assert len(fake_import) == 3  # pages of 2, 2 and 1 items, one posting each
    assert sum(len(c["rows"]) for c in fake_import) == 5
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FETCHED
    with pytest.raises(Exception, match="HTTP 401"):
        call_command("bank-sim", "--url", live_server.url, "--key", "ykt_wrong", "--once")


def test_command_reports_an_unreachable_server():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="无法连接"):
        call_command("bank-sim", "--url", "http://127.0.0.1:9", "--key", "ykt_x", "--once")
