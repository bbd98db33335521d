"""`yikatong import-roster FILE --policy CODE --period PERIOD --org ORGCODE`: summary and exit codes."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from yikatong.applications.models import Application, RosterImport

from .roster_fixtures import csv_bytes, person_row, xlsx_bytes


def run(path, *, policy="WZ-001", period="2026-03", org="WZ-GST"):
    out, err = StringIO(), StringIO()
    call_command("import-roster", str(path), policy=policy, period=period, org=org, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_cli_imports_and_prints_the_summary(flow, tmp_path):
    path = tmp_path / "花名册.csv"
    path.write_bytes(csv_bytes([person_row(0), person_row(1), person_row(2, 补贴金额="999")]))
    out, err = run(path)
    assert "共 3 行：接收 2 行，拒绝 1 行，重复（此前已导入）0 行。" in out
    assert "错误行文件" in out and "_错误行.csv" in out
    assert "第 4 行 补贴金额“999”：补贴金额 999.00 元超过补贴标准上限" in err
    ri = RosterImport.objects.get()
    assert ri.status == RosterImport.Status.DONE and ri.created_by.startswith("cli:")
    assert ri.organization.code == "WZ-GST" and Application.objects.count() == 2
    assert all(a.created_by.startswith("cli:") for a in Application.objects.all())


def test_cli_exits_non_zero_when_nothing_is_accepted(flow, tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(xlsx_bytes([person_row(0)]))
    run(path)  # first time: accepted
    with pytest.raises(CommandError, match="没有接收任何行"):
        run(path)  # again: a duplicate only
    assert RosterImport.objects.order_by("-created_at").first().duplicates == 1


@pytest.mark.parametrize("content, kwargs, message", [
    (b"name\r\nx\r\n", {}, "花名册未导入：第 1 行表头缺少必需的列"),
    (None, {}, "文件不存在"),
    (csv_bytes([person_row(0)]), {"org": "NOPE"}, "机构编码 NOPE 不存在"),
    (csv_bytes([person_row(0)]), {"policy": "NOPE"}, "补贴项目 NOPE 不存在"),
    (csv_bytes([person_row(0)]), {"period": "2026"}, "按月发放"),
    (csv_bytes([person_row(0, 行政区划代码="500101002001")]), {}, "没有接收任何行"),
])
def test_cli_refusals(flow, tmp_path, content, kwargs, message):
    path = tmp_path / "r.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run(path, **kwargs)
    assert not Application.objects.exists()


def test_cli_for_another_collector_checks_its_own_scope(flow, tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(csv_bytes([person_row(0, 行政区划代码="500101002001")]))
    out, _err = run(path, org="WZ-TB")
    assert "接收 1 行" in out
    assert Application.objects.get().collector.code == "WZ-TB"
