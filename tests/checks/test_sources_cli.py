"""`yikatong import-source` and `yikatong import-credit-list`: progress on stderr, summary, exit codes."""

import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yikatong.checks.models import CreditListEntry, SourceImport
from yikatong.checks.sources import source_current

from . import test_sources_support as support
from .test_sources_support import HEADERS, csv_bytes, ids

pytestmark = pytest.mark.django_db
fixed_today = support.fixed_today


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_source_puts_the_file_in_force(world, tmp_path):
    a, b = ids(2)
    path = tmp_path / "death.csv"
    path.write_bytes(csv_bytes(HEADERS["death"], [f"{a},甲,2026-01-01", f"{b},乙,2026-03-10", "x,丙,2026-01-01"]))
    out, err = run("import-source", "death", str(path), "--data-date", "2026-03-01")
    imp = source_current("death")
    assert imp is not None and imp.channel == "cli" and imp.created_by.startswith("cli:")
    assert "已生效" in out and "导入 1 行，拒绝 2 行" in out
    assert "导入死亡/殡葬" in err  # the progress line
    assert "第 3 行 死亡日期" in err and "第 4 行 身份证号" in err


def test_import_source_fails_with_exit_1_and_keeps_the_previous_import(world, tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(HEADERS["death"], [f"{ids(1)[0]},甲,2026-01-01"]))
    run("import-source", "death", str(good))
    before = source_current("death")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes("身份证号,姓名", ["x,y"]))
    with pytest.raises(CommandError, match="导入失败，当前生效的数据未改变.*死亡日期"):
        run("import-source", "death", str(bad))
    assert source_current("death") == before
    assert SourceImport.objects.filter(status=SourceImport.Status.FAILED).count() == 1


@pytest.mark.parametrize("args,needle", [
    (("cars", "x.csv"), "数据源“cars”不存在"),
    (("death", "/nonexistent/file.csv"), "文件不存在"),
])
def test_import_source_refuses_bad_arguments(world, args, needle):
    with pytest.raises(CommandError, match=needle):
        run("import-source", *args)


def test_import_source_refuses_a_future_data_date(world, tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(csv_bytes(HEADERS["death"], [f"{ids(1)[0]},甲,2026-01-01"]))
    with pytest.raises(CommandError, match="晚于今天"):
        run("import-source", "death", str(path), "--data-date", "2027-01-01")
    assert SourceImport.objects.count() == 0


def test_import_credit_list_command(world, tmp_path):
    a, b = ids(2)
    path = tmp_path / "credit.csv"
    path.write_bytes(csv_bytes("身份证号,姓名,列入原因,限制类型,有效期起,有效期止", [
        f"{a},甲,骗取补贴,限制申领,2026-01-01,", f"{b},乙,,提示复核,2026-01-01,"]))
    out, err = run("import-credit-list", str(path), "--region", "500101000000")
    assert "列入 1 人，拒绝 1 行" in out and "第 3 行 列入原因" in err
    assert CreditListEntry.objects.get().region_id == "500101000000"
    with pytest.raises(CommandError, match="没有列入任何人员"):
        run("import-credit-list", str(path), "--region", "500101000000")  # already listed: nothing added
    with pytest.raises(CommandError, match="不存在"):
        run("import-credit-list", str(path), "--region", "510000000000")


def test_exit_code_of_a_failed_import_is_1(tmp_path):
    """The real console script: a CommandError ends the process with status 1 and no stack trace."""
    path = tmp_path / "bad.csv"
    path.write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "yikatong.cli", "import-source", "nosuch", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "数据源“nosuch”不存在" in proc.stderr and "Traceback" not in proc.stderr
