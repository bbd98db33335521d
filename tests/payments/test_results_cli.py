"""`yikatong import-bank-result FILE [--bank CODE] [--as USER]`."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.payments.factory import build_batch, build_plan
from tests.payments.test_results import HEADER, csv_bytes, result_lines_for
from yikatong.payments.models import ResultImport


@pytest.fixture
def released(pay):
    plan = build_plan(pay)
    return plan, build_batch(pay, plan)


def _file(tmp_path, data, name="回盘.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_cli_imports_and_prints_the_summary(pay, released, tmp_path, capsys):
    plan, batch = released
    lines = result_lines_for(batch, fail=(2,))
    lines.append(["PB-NOPE", "1", lines[0][2], "300.00", "成功", "", "2026-03-10"])
    call_command("import-bank-result", _file(tmp_path, csv_bytes(lines)), "--bank", "WZ-NSH")
    out, err = capsys.readouterr()
    assert "共 6 行" in out and "入账成功 4 笔（1200.00 元）" in out and "入账失败 1 笔（300.00 元）" in out
    assert "无此明细：1 行" in out and "PB-NOPE" in err
    # the same file again: nothing changes, but it is not an error (everything was a duplicate)
    call_command("import-bank-result", _file(tmp_path, csv_bytes(lines)), "--bank", "WZ-NSH")
    out, _ = capsys.readouterr()
    assert "重复（此前已入账，未变更）5 行" in out


def test_cli_as_a_bank_user_and_refusals(pay, released, tmp_path, capsys):
    plan, batch = released
    bank_user = pay.world.users["paying_bank2"].username
    with pytest.raises(CommandError, match="没有任何一行入账"):  # another bank's batch: all rejected
        call_command("import-bank-result", _file(tmp_path, csv_bytes(result_lines_for(batch))), "--as", bank_user)
    with pytest.raises(CommandError, match="处理日期"):
        call_command("import-bank-result", _file(tmp_path, HEADER.rsplit(",", 1)[0].encode() + b"\n"))
    assert ResultImport.objects.filter(status="failed").count() == 1
    with pytest.raises(CommandError, match="不存在"):
        call_command("import-bank-result", str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="不存在"):
        call_command("import-bank-result", _file(tmp_path, csv_bytes([])), "--bank", "NOPE")
    call_command("import-bank-result", _file(tmp_path, csv_bytes(result_lines_for(batch))),
                 "--as", pay.world.users["paying_bank"].username)
    assert "入账成功 5 笔" in capsys.readouterr().out
