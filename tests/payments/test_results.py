"""Bank result import (回盘): every bad input of issue 6 is refused or stored for review, nothing is applied
twice, and what matches is applied completely (attempts, items, ledger, indicator, batch, plan)."""

import io
from decimal import Decimal

import pytest

from tests.payments.factory import build_batch, build_plan
from yikatong.core.crypto import decrypt_text
from yikatong.payments.models import (
    AttemptStatus,
    BatchStatus,
    DisbursementEntry,
    EntryKind,
    ItemStatus,
    PaymentAttempt,
    PaymentBatch,
    PaymentItem,
    PlanStatus,
    ResultImport,
    ResultLine,
)
from yikatong.payments.services.results import result_import, result_line_review
from yikatong.policies.models import IndicatorEntry
from yikatong.policies.services.indicators import indicator_commit

HEADER = "批次号,序号,收款账号,金额,处理结果,失败原因,处理日期"


# -- helpers (used by the other test_results_* modules too) -----------------------------------------------------
def result_lines_for(batch, *, fail=(), day="2026-03-10", reason="账户冻结", seqs=None):
    """The bank's lines for `batch`: every attempt (or those in `seqs`) succeeds, except the seqs in `fail`."""
    lines = []
    for a in batch.attempts.order_by("seq"):
        if seqs is not None and a.seq not in seqs:
            continue
        failed = a.seq in fail
        lines.append([batch.number, str(a.seq), decrypt_text(a.account_enc), f"{a.amount:.2f}",
                      "失败" if failed else "成功", reason if failed else "", day])
    return lines


def csv_bytes(lines, header=HEADER, bom=False) -> bytes:
    text = header + "\n" + "".join(",".join(line) + "\n" for line in lines)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def import_csv(actor, lines=None, *, data=None, name="回盘.csv", **kwargs) -> ResultImport:
    data = data if data is not None else csv_bytes(lines)
    return result_import(actor=actor, fileobj=io.BytesIO(data), original_name=name, **kwargs)


def state(pay) -> dict:
    """Everything an import may change, to compare before/after."""
    pay.indicator.refresh_from_db()
    return {
        "attempts": sorted(PaymentAttempt.objects.values_list("pk", "status", "result_on", "failure_reason",
                                                              "returned_on")),
        "items": sorted(PaymentItem.objects.values_list("pk", "status", "paid_on", "last_failure_reason")),
        "entries": sorted((k, str(a)) for k, a in DisbursementEntry.objects.values_list("kind", "amount")),
        "indicator": (str(pay.indicator.available), str(pay.indicator.paid_total),
                      IndicatorEntry.objects.filter(indicator=pay.indicator).count()),
        "batches": sorted((b.pk, b.status, b.paid_count, str(b.paid_amount), b.failed_count, str(b.failed_amount))
                          for b in PaymentBatch.objects.all()),
    }


@pytest.fixture
def released(pay):
    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    return plan, batch


# -- the happy path -------------------------------------------------------------------------------------------
def test_bank_file_applies_paid_and_failed_with_ledger_indicator_and_batch(pay, released):
    plan, batch = released
    ri = import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(2,), day="2026-03-09"))
    assert ri.status == ResultImport.Status.DONE, ri.message
    assert (ri.line_count, ri.applied_count, ri.duplicate_count, ri.rejected_count) == (5, 5, 0, 0)
    assert ri.bank == pay.world.orgs["paying_bank"] and ri.file.sha256 == ri.content_digest
    failed = batch.attempts.get(seq=2)
    assert failed.status == AttemptStatus.FAILED and failed.failure_reason == "账户冻结"
    assert str(failed.result_on) == "2026-03-09" and str(failed.returned_on) == "2026-03-10"
    assert failed.result_import_id == ri.pk
    item = failed.item
    assert item.status == ItemStatus.FAILED and item.last_failure_reason == "账户冻结"
    assert str(item.correction_deadline) == "2026-03-13"  # 3 working days after 2026-03-10
    ok = batch.attempts.get(seq=1)
    assert ok.status == AttemptStatus.PAID and ok.item.status == ItemStatus.PAID and str(ok.item.paid_on) == "2026-03-09"
    kinds = dict((k, (n, f"{a:.2f}")) for k, n, a in _entry_sums(batch))
    assert kinds[EntryKind.PAID] == (4, "1200.00")
    assert kinds[EntryKind.FAILED] == (1, "300.00") and kinds[EntryKind.RETURNED] == (1, "300.00")
    # general-ledger entries: one per kind and day for the batch, booked by this import, with the hash totals
    # of their attempts (the attempts are the detail)
    paid_entry = DisbursementEntry.objects.get(batch=batch, kind=EntryKind.PAID)
    assert paid_entry.result_import_id == ri.pk and paid_entry.attempt_id is None and paid_entry.lines == 4
    assert str(paid_entry.booked_on) == "2026-03-09"
    paid_attempts = batch.attempts.filter(status=AttemptStatus.PAID)
    assert (paid_entry.control_a, paid_entry.control_b) == (
        sum(round(a.amount * 100) * (a.pk % 1009 + 1) for a in paid_attempts),
        sum(round(a.amount * 100) * (a.pk % 997 + 1) for a in paid_attempts))
    assert str(DisbursementEntry.objects.get(batch=batch, kind=EntryKind.RETURNED).booked_on) == "2026-03-10"
    returned = IndicatorEntry.objects.get(indicator=pay.indicator, ref_id=plan.number, kind="returned")
    assert str(returned.amount) == "300.00" and str(returned.booked_on) == "2026-03-10"
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED and str(batch.completed_on) == "2026-03-10"
    assert (batch.paid_count, str(batch.paid_amount), batch.failed_count, str(batch.failed_amount)) == (
        4, "1200.00", 1, "300.00")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PAYING  # one item failed: still to be corrected and re-sent


def _entry_sums(batch):
    from django.db.models import Sum

    return (DisbursementEntry.objects.filter(batch=batch).values("kind").annotate(n=Sum("lines"), a=Sum("amount"))
            .values_list("kind", "n", "a"))


def test_all_paid_completes_the_plan_and_bom_csv_is_read(pay, released):
    plan, batch = released
    ri = import_csv(pay.scope("civil"), data=csv_bytes(result_lines_for(batch), bom=True))
    assert ri.status == ResultImport.Status.DONE and ri.applied_count == 5 and ri.bank is None
    plan.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    assert plan.events.filter(action="complete").exists()


def test_partial_file_then_the_rest(pay, released):
    plan, batch = released
    first = import_csv(pay.scope("paying_bank"), result_lines_for(batch, seqs={1, 2}))
    assert first.applied_count == 2
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PARTIAL and batch.paid_count == 2 and batch.completed_on is None
    rest = import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(5,)))
    assert (rest.applied_count, rest.duplicate_count, rest.rejected_count) == (3, 2, 0)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED and (batch.paid_count, batch.failed_count) == (4, 1)


def test_the_same_file_twice_changes_nothing(pay, released):
    plan, batch = released
    data = csv_bytes(result_lines_for(batch, fail=(3,)))
    first = import_csv(pay.scope("paying_bank"), data=data)
    assert first.applied_count == 5
    before = state(pay)
    second = import_csv(pay.scope("paying_bank"), data=data)
    assert second.status == ResultImport.Status.DONE
    assert (second.applied_count, second.duplicate_count, second.rejected_count) == (0, 5, 0)
    assert second.content_digest == first.content_digest
    assert state(pay) == before


def test_api_rows_share_the_core_and_keep_the_payload(pay, released):
    plan, batch = released
    keys = ["批次号", "序号", "收款账号", "金额", "处理结果", "失败原因", "处理日期"]
    rows = [dict(zip(keys, line, strict=True)) for line in result_lines_for(batch)]
    ri = result_import(actor=pay.scope("paying_bank"), rows=rows, channel="api")
    assert ri.status == ResultImport.Status.DONE and ri.applied_count == 5 and ri.channel == "api"
    assert ri.file.content_type == "application/json" and len(ri.content_digest) == 64


# -- bad input ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("header, missing", [
    ("批次号,序号,收款账号,金额,处理结果,失败原因", "处理日期"),
    ("批次,序号,收款账号,金额,处理结果,失败原因,处理日期", "批次号"),
])
def test_wrong_headers_refuse_the_whole_file(pay, released, header, missing):
    plan, batch = released
    before = state(pay)
    ri = import_csv(pay.scope("paying_bank"), data=csv_bytes(result_lines_for(batch), header=header))
    assert ri.status == ResultImport.Status.FAILED and missing in ri.message
    assert ri.file_id and ri.applied_count == 0
    assert state(pay) == before


def test_empty_file_and_header_only_file_are_refused(pay, released):
    for data in (b"", (HEADER + "\n").encode()):
        ri = import_csv(pay.scope("paying_bank"), data=data)
        assert ri.status == ResultImport.Status.FAILED and "没有" in ri.message or "空" in ri.message


def test_extra_columns_and_other_order_are_fine(pay, released):
    plan, batch = released
    lines = result_lines_for(batch)
    header = "备注,处理日期,处理结果,金额,收款账号,序号,批次号,失败原因"
    data = csv_bytes([["x", ln[6], ln[4], ln[3], ln[2], ln[1], ln[0], ln[5]] for ln in lines], header=header)
    ri = import_csv(pay.scope("paying_bank"), data=data)
    assert ri.applied_count == 5


def test_bad_lines_are_stored_with_their_reason_and_nothing_else_applied(pay, released):
    plan, batch = released
    lines = result_lines_for(batch)
    acct3 = lines[2][2]
    lines[0][3] = "299.99"                      # amount changed
    lines[1][2] = "6217000000000000999"          # other account
    lines[2][4] = "处理中"                        # bad outcome
    lines[3][6] = "2026-03-11"                   # in the future
    lines.append(["PB-NOPE", "1", acct3, "300.00", "成功", "", "2026-03-10"])   # unknown batch
    lines.append([batch.number, "99", acct3, "300.00", "成功", "", "2026-03-10"])  # unknown seq
    lines.append([batch.number, "5", lines[4][2], "300.00", "失败", "", "2026-03-10"])  # same seq again, other result
    lines.append([batch.number, "x", acct3, "abc", "成功", "", "10/03/2026"])  # bad seq, amount, date
    lines.append([batch.number, "0099", acct3, "300.5", "success", "", "2026/03/10"])  # unknown, other forms
    ri = import_csv(pay.scope("paying_bank"), lines)
    assert (ri.line_count, ri.applied_count, ri.duplicate_count, ri.rejected_count) == (10, 1, 0, 9)
    stored = {ln.line_no: ln for ln in ResultLine.objects.filter(result_import=ri)}
    # the stored line says what the bank wrote, in canonical form or not
    fields = ("seq", "amount", "outcome", "processed_on")
    assert tuple(getattr(stored[2], f) for f in fields) == ("1", "299.99", "成功", "2026-03-10")
    assert tuple(getattr(stored[11], f) for f in fields) == ("0099", "300.5", "success", "2026/03/10")
    assert stored[11].disposition == "unknown" and "序号为 0099 的明细" in stored[11].message
    assert stored[2].disposition == "amount" and "299.99" in stored[2].message and "300.00" in stored[2].message
    assert stored[3].disposition == "account" and stored[3].account_masked.endswith("0999")
    assert "6217000000000000999" not in stored[3].account_masked
    assert stored[4].disposition == "invalid" and "处理结果" in stored[4].message
    assert stored[5].disposition == "invalid" and "晚于今天" in stored[5].message
    assert stored[7].disposition == "unknown" and "PB-NOPE" in stored[7].message
    assert stored[8].disposition == "unknown" and "99" in stored[8].message
    assert stored[9].disposition == "conflict" and "第 6 行" in stored[9].message
    assert stored[10].disposition == "invalid"
    assert all(s in stored[10].message for s in ("序号", "金额", "处理日期"))
    assert {a.seq: a.status for a in batch.attempts.all()} == {1: "sent", 2: "sent", 3: "sent", 4: "sent",
                                                               5: "paid"}
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PARTIAL


def test_identical_repeated_line_in_one_file_is_a_duplicate(pay, released):
    plan, batch = released
    lines = result_lines_for(batch)
    ri = import_csv(pay.scope("paying_bank"), lines + [list(lines[0])])
    assert (ri.applied_count, ri.duplicate_count, ri.rejected_count) == (5, 1, 0)


def test_failure_without_reason_is_other(pay, released):
    plan, batch = released
    lines = result_lines_for(batch, fail=(1,), reason="")
    ri = import_csv(pay.scope("paying_bank"), lines)
    assert ri.applied_count == 5
    assert batch.attempts.get(seq=1).failure_reason == "其他"


def test_a_success_for_an_item_already_paid_is_a_conflict(pay, released):
    plan, batch = released
    import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(1,)))
    before = state(pay)
    # the bank now claims seq 1 succeeded, and seq 2 (paid on 03-10) was paid on another day
    lines = result_lines_for(batch, seqs={1, 2}, day="2026-03-09")
    ri = import_csv(pay.scope("paying_bank"), lines)
    assert (ri.applied_count, ri.duplicate_count, ri.rejected_count) == (0, 0, 2)
    messages = list(ResultLine.objects.filter(result_import=ri).order_by("line_no").values_list("disposition",
                                                                                               "message"))
    assert messages[0][0] == "conflict" and "失败" in messages[0][1]
    assert messages[1][0] == "conflict" and "成功" in messages[1][1]
    assert state(pay) == before


def test_success_for_an_item_paid_by_another_attempt(pay, released):
    """Attempt 1 failed, attempt 2 (re-sent) paid: a late success for attempt 1 must not pay twice."""
    plan, batch = released
    import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(1,)))
    item = batch.attempts.get(seq=1).item
    item.status = ItemStatus.CORRECTED
    item.save()
    indicator_commit(actor=pay.scope("civil"), indicator_id=pay.indicator.pk, amount=item.amount,
                     ref_type="payment_plan", ref_id=plan.number, policy_code="WZ-001", fiscal_year=2026)
    resend = build_batch(pay, plan, items=[item], kind="resend")
    import_csv(pay.scope("paying_bank"), result_lines_for(resend))
    item.refresh_from_db()
    assert item.status == ItemStatus.PAID
    before = state(pay)
    ri = import_csv(pay.scope("paying_bank"), result_lines_for(batch, seqs={1}))
    line = ResultLine.objects.get(result_import=ri)
    assert line.disposition == "conflict" and "已发放成功" in line.message
    assert state(pay) == before


def test_bank_cannot_post_results_of_another_banks_batch(pay, released):
    plan, batch = released
    before = state(pay)
    ri = import_csv(pay.scope("paying_bank2"), result_lines_for(batch))
    assert (ri.applied_count, ri.rejected_count) == (0, 5)
    assert set(ResultLine.objects.filter(result_import=ri).values_list("disposition", flat=True)) == {"wrong_bank"}
    assert state(pay) == before


def test_department_naming_the_wrong_bank_and_other_county(pay, released):
    plan, batch = released
    ri = import_csv(pay.scope("civil"), result_lines_for(batch), bank_code="WZ-ICBC")
    assert ri.rejected_count == 5 and ri.applied_count == 0
    other = import_csv(pay.scope("agri"), result_lines_for(batch))  # other business line
    assert other.rejected_count == 5
    assert set(ResultLine.objects.filter(result_import=other).values_list("disposition", flat=True)) == {"unknown"}


def test_roles_without_the_permission_are_refused(pay, released):
    from yikatong.core.errors import ScopeError

    plan, batch = released
    for key in ("collector", "supervisor", "card_bank"):
        with pytest.raises(ScopeError):
            import_csv(pay.scope(key), result_lines_for(batch))
    with pytest.raises(ScopeError):
        import_csv(pay.scope("paying_bank"), result_lines_for(batch), bank_code="WZ-ICBC")


def test_prepared_batch_is_not_applied(pay):
    plan = build_plan(pay)
    batch = build_batch(pay, plan, status=BatchStatus.PREPARED)
    ri = import_csv(pay.scope("paying_bank"), result_lines_for(batch))
    assert ri.rejected_count == 5
    assert "尚未发送银行" in ResultLine.objects.filter(result_import=ri).first().message


def test_review_closes_a_stored_line(pay, released):
    from yikatong.core.errors import DomainError

    plan, batch = released
    lines = result_lines_for(batch, seqs={1})
    lines[0][3] = "1.00"
    ri = import_csv(pay.scope("paying_bank"), lines)
    line = ResultLine.objects.get(result_import=ri)
    with pytest.raises(DomainError):
        result_line_review(actor=pay.scope("civil"), line_id=line.pk, note=" ")
    with pytest.raises(DomainError):  # another bank's import is not visible to it
        result_line_review(actor=pay.scope("paying_bank2"), line_id=line.pk, note="已核实")
    result_line_review(actor=pay.scope("civil"), line_id=line.pk, note="银行已更正金额并重新回盘")
    line.refresh_from_db()
    assert line.review == "closed" and line.reviewed_by == pay.scope("civil").username
    with pytest.raises(DomainError):
        result_line_review(actor=pay.scope("civil"), line_id=line.pk, note="再次")


def test_money_amounts_compare_to_the_fen(pay, released):
    plan, batch = released
    lines = result_lines_for(batch, seqs={1, 2})
    lines[0][3] = "300"        # same amount written without decimals: fine
    lines[1][3] = "300.001"    # more than two decimals: invalid
    ri = import_csv(pay.scope("paying_bank"), lines)
    assert ri.applied_count == 1 and ri.rejected_count == 1
    assert Decimal(str(batch.attempts.get(seq=1).amount)) == Decimal("300.00")


def test_api_rows_with_english_keys_and_bad_rows(pay, released):
    from yikatong.core.errors import DomainError

    plan, batch = released
    lines = result_lines_for(batch, seqs={1, 2}, fail=(2,))
    keys = ["batch_number", "seq", "account", "amount", "outcome", "reason", "processed_on"]
    rows = [dict(zip(keys, line, strict=True)) for line in lines]
    rows[1]["outcome"] = "failed"
    rows.append("not a row")
    ri = result_import(actor=pay.scope("paying_bank"), rows=rows, channel="api")
    assert (ri.line_count, ri.applied_count, ri.rejected_count) == (3, 2, 1)
    assert ResultLine.objects.get(result_import=ri).line_no == 3
    with pytest.raises(DomainError):
        result_import(actor=pay.scope("paying_bank"), rows="x", channel="api")
    with pytest.raises(DomainError):
        result_import(actor=pay.scope("paying_bank"), rows=[], fileobj=io.BytesIO(b"x"))
    empty = result_import(actor=pay.scope("paying_bank"), rows=[], channel="api")
    assert empty.status == ResultImport.Status.FAILED


def test_control_line_and_blank_lines_are_skipped(pay, released):
    plan, batch = released
    lines = result_lines_for(batch)
    data = csv_bytes(lines[:2] + [[""] * 7] + lines[2:] + [["合计", "5", "", "1500.00", "", "", ""]])
    ri = import_csv(pay.scope("paying_bank"), data=data)
    assert (ri.line_count, ri.applied_count, ri.rejected_count) == (5, 5, 0)


def test_overlong_values_are_stored_cut_to_their_columns(pay, released):
    plan, batch = released
    lines = [["X" * 80, "1" * 30, "6" * 60, "9" * 40, "成功" * 20, "R" * 300, "2" * 30]]
    ri = import_csv(pay.scope("paying_bank"), lines)
    line = ResultLine.objects.get(result_import=ri)
    assert line.disposition == "invalid" and len(line.account_masked) <= 40 and len(line.reason) <= 200


@pytest.mark.parametrize("workers", [0, 2])
def test_repeats_across_chunks_and_worker_processes(pay, released, monkeypatch, workers):
    """Lines are parsed in chunks (by worker processes for big files): a (batch, seq) repeated in a later chunk
    is still compared with its first line — identical is a duplicate, different is a conflict naming that line;
    a line out of seq order in its chunk is handled too."""
    from yikatong.payments.services import results as service

    monkeypatch.setattr(service, "CHUNK", 2)
    monkeypatch.setattr(service, "worker_count", lambda: workers)
    plan, batch = released
    lines = result_lines_for(batch)                # seq 1..5 in chunks (1, 2) (3, 4) (5, …)
    again = list(lines[0])                         # seq 1 again, identical, in a later chunk
    other = list(lines[2])
    other[4], other[5] = "失败", "账户冻结"           # seq 3 again, another result
    ri = import_csv(pay.scope("paying_bank"), [lines[1], lines[0], *lines[2:], again, other])
    assert (ri.line_count, ri.applied_count, ri.duplicate_count, ri.rejected_count) == (7, 5, 1, 1)
    line = ResultLine.objects.get(result_import=ri)
    assert line.line_no == 8 and line.disposition == "conflict" and "第 4 行" in line.message
    assert {a.status for a in batch.attempts.all()} == {"paid"}


def test_may_repeat_only_when_chunks_could_overlap():
    from yikatong.payments.services.results_parse import may_repeat

    assert not may_repeat({})
    assert not may_repeat({"B1": [(2, 1, 2, True), (2, 3, 4, True)], "B2": [(1, 1, 1, True)]})
    assert may_repeat({"B1": [(2, 1, 4, True), (2, 3, 5, True)]})      # ranges overlap
    assert may_repeat({"B1": [(2, 1, 2, True), (2, 2, 3, True)]})      # touching at 2
    assert may_repeat({"B1": [(3, 1, 4, False)]})                      # not increasing within a chunk


def test_results_of_a_closed_day_are_booked_on_the_import_day_and_a_closed_today_refuses(pay, released):
    """The bank's processing day (2026-03-09 here) is already closed (日清) by the county when its result file
    arrives: the attempts keep the bank's date, the ledger entries go to the import day, so the closed day's
    frozen totals stay true. When the county has closed today as well, the import is refused, nothing applied."""
    from yikatong.core import clock
    from yikatong.payments.models import DisbursementEntry
    from yikatong.payments.selectors import ledgers as ledger_sel
    from yikatong.payments.services.ledgers import daily_close

    plan, batch = released
    finance = pay.scope("finance")
    closed = daily_close(actor=finance, region_code="500101000000", day="2026-03-09")
    frozen = ledger_sel.entries_on("500101000000", closed.day)
    ri = import_csv(pay.scope("paying_bank"), result_lines_for(batch, fail=(2,), day="2026-03-09"))
    assert ri.status == ResultImport.Status.DONE and ri.applied_count == 5, ri.message
    assert {a.result_on.isoformat() for a in batch.attempts.all()} == {"2026-03-09"}
    booked = set(DisbursementEntry.objects.filter(batch=batch, kind__in=["paid", "failed"])
                 .values_list("booked_on", flat=True))
    assert booked == {clock.today()}
    returned = DisbursementEntry.objects.get(batch=batch, kind="returned")
    assert returned.booked_on == clock.today()  # 03-10 is the next working day after 03-09, open
    assert ledger_sel.entries_on("500101000000", closed.day) == frozen

    daily_close(actor=finance, region_code="500101000000", day=clock.today())
    before = state(pay)
    again = import_csv(pay.scope("paying_bank"), result_lines_for(batch, day="2026-03-10"))
    assert again.status == ResultImport.Status.FAILED and "已日结" in again.message and "下一日" in again.message
    assert state(pay) == before
