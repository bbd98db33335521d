"""The bank simulator in file mode (payment file in, result file out) and its decisions."""

import csv
import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from tests.applications.conftest import luhn_account
from tests.payments.factory import build_batch, build_plan
from yikatong.banks import formats, simulator
from yikatong.core import workdays
from yikatong.core.tabular import open_table

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 10)  # a Tuesday


def payment_file(path, n: int, number: str = "PB2026030600001"):
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(formats.HEADERS)
        for seq in range(1, n + 1):
            writer.writerow([number, seq, f"收款人{seq}", luhn_account(f"622000{seq:012d}"), "重庆农村商业银行",
                             "300.00", "万州区困难群众临时生活补助", "2026-03", "WZ-001 2026-03 首次发放"])
        writer.writerow(formats.control_row(n, Decimal("300.00") * n))
    return path


def result_lines(path) -> list[dict]:
    with open_table(path, required=list(simulator.RESULT_HEADERS)) as table:
        return [row for _n, row in table]


@pytest.fixture
def today(settings):
    settings.YIKATONG_TODAY = TODAY.isoformat()
    return TODAY


def test_same_seed_same_result_file(tmp_path, today):
    source = payment_file(tmp_path / "pay.csv", 200)
    outs = []
    for name, seed in (("a.csv", 7), ("b.csv", 7), ("c.csv", 8)):
        simulator.simulate_file(source, tmp_path / name, fail_share=0.1, seed=seed, start=dt.date(2026, 3, 6))
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1] and outs[0] != outs[2]


@pytest.mark.parametrize("n,share,expected", [(200, 0.05, 10), (200, 0.0, 0), (7, 1.0, 7), (5, 0.1, 1), (3, 0.1, 0)])
def test_exact_share_of_failures(tmp_path, today, n, share, expected):
    source = payment_file(tmp_path / "pay.csv", n)
    run = simulator.simulate_file(source, tmp_path / "out.csv", fail_share=share, seed=1)
    lines = result_lines(tmp_path / "out.csv")
    failed = [r for r in lines if r["处理结果"] == "失败"]
    assert len(lines) == run.lines == n and len(failed) == run.failed == expected
    assert all(r["处理结果"] == "成功" and r["失败原因"] == "" for r in lines if r not in failed)


def test_lines_reasons_and_dates(tmp_path, today):
    source = payment_file(tmp_path / "pay.csv", 300)
    start = dt.date(2026, 3, 6)  # Friday: the bank may process on Fri 6, Mon 9 and Tue 10 (deadline, today)
    simulator.simulate_file(source, tmp_path / "out.csv", fail_share=0.3, seed=3, start=start)
    lines = result_lines(tmp_path / "out.csv")
    assert [int(r["序号"]) for r in lines] == list(range(1, 301))
    assert lines[0]["批次号"] == "PB2026030600001" and lines[0]["金额"] == "300.00"
    assert lines[4]["收款账号"] == luhn_account(f"622000{5:012d}")
    reasons = Counter(r["失败原因"] for r in lines if r["处理结果"] == "失败")
    assert set(reasons) <= set(simulator.FAILURE_REASONS) and len(reasons) >= 4
    days = {dt.date.fromisoformat(r["处理日期"]) for r in lines}
    deadline = workdays.deadline_for("bank_payment", start)
    assert days == {dt.date(2026, 3, 6), dt.date(2026, 3, 9), dt.date(2026, 3, 10)}
    assert all(start <= d <= deadline and workdays.is_working_day(d) for d in days)


def test_dates_never_after_today(tmp_path, settings):
    settings.YIKATONG_TODAY = "2026-03-09"
    source = payment_file(tmp_path / "pay.csv", 50)
    simulator.simulate_file(source, tmp_path / "out.csv", seed=1, start=dt.date(2026, 3, 6))
    assert {r["处理日期"] for r in result_lines(tmp_path / "out.csv")} == {"2026-03-06", "2026-03-09"}


def test_named_failures(tmp_path, today):
    source = payment_file(tmp_path / "pay.csv", 10)
    run = simulator.simulate_file(source, tmp_path / "out.csv", fail_seqs={2: "账户冻结", 5: ""}, seed=1)
    lines = result_lines(tmp_path / "out.csv")
    failed = {int(r["序号"]): r["失败原因"] for r in lines if r["处理结果"] == "失败"}
    assert set(failed) == {2, 5} and failed[2] == "账户冻结" and failed[5] in simulator.FAILURE_REASONS
    assert run.failed == 2


def test_payment_file_of_a_real_batch_and_xlsx_output(tmp_path, pay):
    batch = build_batch(pay, build_plan(pay))
    with open(tmp_path / "pay.csv", "wb") as fh:
        formats.write_payment_csv(batch, fh)
    run = simulator.simulate_file(tmp_path / "pay.csv", tmp_path / "out.xlsx", fail_share=0.2, seed=5)
    lines = result_lines(tmp_path / "out.xlsx")
    assert run.batches == [batch.number] and len(lines) == 5 and run.failed == 1
    from yikatong.core import crypto

    accounts = {a.seq: crypto.decrypt_text(a.account_enc) for a in batch.attempts.all()}
    assert {int(r["序号"]): r["收款账号"] for r in lines} == accounts
    assert {r["金额"] for r in lines} == {"300.00"}


def test_command_file_mode(tmp_path, today):
    source = payment_file(tmp_path / "pay.csv", 40)
    out = tmp_path / "out.csv"
    call_command("bank-sim", "--file", str(source), "--out", str(out), "--fail-share", "0.25", "--seed", "9")
    assert sum(r["处理结果"] == "失败" for r in result_lines(out)) == 10
    first = out.read_bytes()
    call_command("bank-sim", "--file", str(source), "--out", str(out), "--fail-share", "0.25", "--seed", "9")
    assert out.read_bytes() == first
    call_command("bank-sim", "--file", str(source), "--out", str(out), "--fail-seqs", "1,3")
    assert [r["序号"] for r in result_lines(out) if r["处理结果"] == "失败"] == ["1", "3"]


def test_command_refusals(tmp_path, today):
    source = payment_file(tmp_path / "pay.csv", 3)
    with pytest.raises(CommandError, match="--out"):
        call_command("bank-sim", "--file", str(source))
    with pytest.raises(CommandError, match="0 到 1"):
        call_command("bank-sim", "--file", str(source), "--out", str(tmp_path / "o.csv"), "--fail-share", "2")
    with pytest.raises(CommandError, match="不存在"):
        call_command("bank-sim", "--file", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o.csv"))
    (tmp_path / "bad.csv").write_text("姓名,金额\n张三,1\n", encoding="utf-8")
    with pytest.raises(CommandError, match="付款文件"):
        call_command("bank-sim", "--file", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o.csv"))
    with pytest.raises(CommandError, match="--url"):
        call_command("bank-sim")
    with pytest.raises(CommandError, match="--fail-seqs"):
        call_command("bank-sim", "--file", str(source), "--out", str(tmp_path / "o.csv"), "--fail-seqs", "a,b")


def test_decider_fails_exactly_the_share_for_any_size():
    days = [TODAY]
    for total in range(0, 60):
        for share in (0.0, 0.05, 0.33, 0.5, 0.9, 1.0):
            decider = simulator.Decider(batch_number="B", total=total, fail_share=share, seed=total, days=days)
            failed = sum(not decider.decide(seq)[0] for seq in range(1, total + 1))
            assert failed == simulator.failure_count(total, share), (total, share)
    with pytest.raises(simulator.SimulatorError):
        simulator.Decider(batch_number="B", total=1, fail_share=1.5, days=days)
