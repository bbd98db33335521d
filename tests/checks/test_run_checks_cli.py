"""`yikatong run-checks`: counts per rule on stdout, the CSV of open findings, Chinese errors."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from yikatong.checks.models import CheckRun
from yikatong.core.models import AuditEvent

from .engine_support import make_lab

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world, settings):
    return make_lab(world, settings)


def run_cli(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("run-checks", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_run_checks_prints_counts_and_writes_open_findings(lab, tmp_path):
    policy = lab.policy("WZ-DB", min_age=60)
    dead, young, fine = lab.person("张死"), lab.person("李少", birth="19900101"), lab.person("王好")
    for person in (dead, young, fine):
        lab.app(person, policy)
    lab.source("death", [{"person": dead, "death_date": "2026-01-20"}])
    target = tmp_path / "open.csv"
    stdout, stderr = run_cli("--policy", "WZ-DB", "--period", "2026-03", "--out", str(target))
    run = CheckRun.objects.get()
    assert f"核查批次 {run.pk}：WZ-DB 2026-03，区划 500101000000，核查对象 3 条" in stdout
    lines = {line.split("\t")[0]: line.split("\t") for line in stdout.splitlines() if line.startswith("R")}
    assert lines["R02"][1:5] == ["死亡人员", "1", "1", "0"]
    assert lines["R14"][1:5] == ["年龄不符", "1", "1", "0"]
    assert lines["R03"][2] == "0"
    assert lines["R13"][2].startswith("未核查：数据源“村干部及近亲属”尚未导入")
    assert "本次核查命中的待处理疑点共 2 条。" in stdout
    assert f"已导出 2 条待处理疑点到 {target}" in stdout
    assert "交叉比对" in stderr  # the progress bar
    with target.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["规则编码", "姓名", "身份证号", "补贴项目编码", "补贴期间", "严重程度", "证据"]
    by_rule = {row[0]: row for row in rows[1:]}
    assert set(by_rule) == {"R02", "R14"}
    assert by_rule["R02"][1:6] == ["张死", dead.id_plain, "WZ-DB", "2026-03", "阻断"]
    assert by_rule["R14"][2] == young.id_plain and "不符合年龄条件（60 周岁及以上）" in by_rule["R14"][6]
    assert AuditEvent.objects.filter(action="finding.export").get().after["rows"] == 2
    assert AuditEvent.objects.filter(action="check.run").count() == 1


def test_rerun_from_the_cli_adds_nothing(lab, tmp_path):
    policy = lab.policy("WZ-DB")
    dead = lab.person("张死")
    lab.app(dead, policy)
    lab.source("death", [{"person": dead, "death_date": "2026-01-20"}])
    run_cli("--policy", "WZ-DB", "--period", "2026-03")
    stdout, _ = run_cli("--policy", "WZ-DB", "--period", "2026-03", "--region", "500101001", "--out",
                        str(tmp_path / "a.csv"), "--bom")
    assert "区划 500101001000" in stdout
    r02 = next(line for line in stdout.splitlines() if line.startswith("R02")).split("\t")
    assert r02[2:] == ["1", "1", "0", "0", "0", "0"]  # seen again, nothing new
    assert (tmp_path / "a.csv").read_bytes().startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize(("args", "message"), [
    (["--policy", "NOPE", "--period", "2026-03"], "补贴项目 NOPE 不存在"),
    (["--policy", "WZ-DB", "--period", "2026M3"], "补贴期间“2026M3”格式不正确"),
    (["--policy", "WZ-DB", "--period", "2026-03", "--region", "12x"], "行政区划代码“12x”无效"),
    (["--policy", "WZ-DB", "--period", "2026-03", "--out", "/nonexistent/dir/x.csv"], "无法写入文件"),
])
def test_bad_input_exits_with_a_chinese_message(lab, args, message):
    lab.policy("WZ-DB")
    with pytest.raises(CommandError, match=message):
        run_cli(*args)


def test_missing_arguments(lab):
    with pytest.raises(CommandError):
        run_cli("--period", "2026-03")
