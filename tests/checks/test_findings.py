"""Findings: the approval gate, decisions (confirm, clear, review), bulk decisions, audit, scope, selectors
and the CSV export."""

import csv
import io

import pytest

from yikatong.applications.models import ApplicationEvent
from yikatong.applications.services import application_approve, application_approve_batch, findings_gate
from yikatong.checks import selectors_findings as sel
from yikatong.checks.services.findings import (
    EXPORT_HEADERS,
    finding_clear,
    finding_clear_batch,
    finding_confirm,
    finding_decide_review,
    findings_export_csv,
)
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope

from .engine_support import make_lab

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world, settings):
    return make_lab(world, settings)


@pytest.fixture
def checked(lab):
    """WZ-DB (monthly, means-tested) 2026-03: 张死 dead before the period (block R02), 李车 owns a car (review
    R08), 王好 has nothing; all three submitted for approval."""
    policy = lab.policy("WZ-DB")
    dead, car, fine = lab.person("张死"), lab.person("李车"), lab.person("王好")
    apps = {"dead": lab.app(dead, policy), "car": lab.app(car, policy), "fine": lab.app(fine, policy)}
    lab.source("death", [{"person": dead, "death_date": "2026-01-20"}])
    lab.source("vehicle", [{"person": car, "plate": "渝F88888", "vehicle_type": "小型轿车"}])
    lab.run(policy)
    lab.apps = apps
    lab.people = {p.name: p for p in (dead, car, fine)}
    lab.block = lab.findings("R02")[0]
    lab.review = lab.findings("R08")[0]
    return lab


# -- the approval gate ---------------------------------------------------------------------------------------------
def test_open_block_findings_stop_approval_and_clearing_lets_it_through(checked):
    civil = checked.scope("civil")
    dead = checked.apps["dead"]
    assert findings_gate([dead.pk, checked.apps["car"].pk]) == {
        dead.pk: "R02 死亡人员（请先在比对疑点中确认或排除）"}
    with pytest.raises(DomainError, match="存在未处理的阻断性比对疑点，不能审核通过：R02 死亡人员") as exc:
        application_approve(actor=civil, application_id=dead.pk)
    assert exc.value.code == "blocked_by_findings"
    dead.refresh_from_db()
    assert dead.status == "submitted"
    # a review finding does not block approval
    assert application_approve(actor=civil, application_id=checked.apps["car"].pk).status == "approved"
    finding_clear(actor=civil, finding_id=checked.block.pk, reason="火化记录身份证号录入错误，已与民政核实本人在世")
    assert findings_gate([dead.pk]) == {}
    assert application_approve(actor=civil, application_id=dead.pk).status == "approved"


def test_batch_approval_refuses_only_the_blocked(checked):
    results = application_approve_batch(actor=checked.scope("civil"),
                                        application_ids=[checked.apps["dead"].pk, checked.apps["fine"].pk])
    outcome = {r.application_id: r for r in results}
    assert not outcome[checked.apps["dead"].pk].ok and "R02" in outcome[checked.apps["dead"].pk].message
    assert outcome[checked.apps["fine"].pk].ok


# -- decisions -------------------------------------------------------------------------------------------------------
def test_confirm_rejects_the_application_with_the_reason_and_is_audited(checked):
    civil = checked.scope("civil")
    finding = finding_confirm(actor=civil, finding_id=checked.block.pk, reason="经核实本人已于2026年1月死亡")
    assert (finding.status, finding.decision, finding.decided_by) == ("confirmed", "confirm", "t_civil")
    app = checked.apps["dead"]
    app.refresh_from_db()
    assert app.status == "rejected"
    assert app.rejection_reason == "交叉比对核实属实（R02 死亡人员）：经核实本人已于2026年1月死亡"
    assert ApplicationEvent.objects.filter(application=app, to_status="rejected").exists()
    audit = AuditEvent.objects.get(action="finding.confirm")
    assert audit.object_id == str(finding.pk) and audit.reason == "经核实本人已于2026年1月死亡"
    assert audit.before["status"] == "open" and audit.after["status"] == "confirmed"
    assert [e.action for e in finding.events.all()] == ["opened", "confirm"]
    # decided: cannot be decided again
    with pytest.raises(DomainError, match="当前状态为“已确认”"):
        finding_clear(actor=civil, finding_id=finding.pk, reason="改主意")


def test_confirm_closes_the_other_open_findings_of_the_application(checked):
    checked.source("vehicle", [{"person": checked.apps["dead"].beneficiary, "plate": "渝F1", "vehicle_type": "摩托"},
                               {"person": checked.apps["car"].beneficiary, "plate": "渝F8", "vehicle_type": "轿车"}])
    checked.run(checked.apps["dead"].policy)
    sibling = checked.findings("R08", application=checked.apps["dead"])[0]
    finding_confirm(actor=checked.scope("civil"), finding_id=checked.block.pk, reason="已死亡")
    sibling.refresh_from_db()
    assert sibling.status == "closed_auto" and "审核不通过" in sibling.note


def test_confirm_needs_the_application_waiting_for_approval(checked):
    app = checked.apps["dead"]
    app.status = "in_notice"
    app.save(update_fields=["status"])
    with pytest.raises(DomainError, match="当前状态为“公示中”，只有已报送待审核的申报"):
        finding_confirm(actor=checked.scope("civil"), finding_id=checked.block.pk, reason="已死亡")
    checked.block.refresh_from_db()
    assert checked.block.status == "open"  # nothing happened


def test_review_decisions(checked):
    civil = checked.scope("civil")
    with pytest.raises(DomainError, match="为阻断类"):
        finding_decide_review(actor=civil, finding_id=checked.block.pk, decision="accept", reason="x")
    with pytest.raises(DomainError, match="复核结论“maybe”无效"):
        finding_decide_review(actor=civil, finding_id=checked.review.pk, decision="maybe", reason="x")
    accepted = finding_decide_review(actor=civil, finding_id=checked.review.pk, decision="accept",
                                     reason="车辆为农用三轮车，价值低于标准，不影响低保资格")
    assert (accepted.status, accepted.decision) == ("cleared", "accept")
    assert AuditEvent.objects.filter(action="finding.accept", object_id=str(accepted.pk)).exists()


def test_review_rejection_rejects_the_application(checked):
    rejected = finding_decide_review(actor=checked.scope("civil"), finding_id=checked.review.pk, decision="reject",
                                     reason="名下小型轿车一辆，不符合低保条件")
    assert (rejected.status, rejected.decision) == ("confirmed", "reject")
    checked.apps["car"].refresh_from_db()
    assert checked.apps["car"].status == "rejected"
    assert "不符合低保条件" in checked.apps["car"].rejection_reason


def test_a_reason_is_required(checked):
    with pytest.raises(DomainError, match="请填写处理理由"):
        finding_clear(actor=checked.scope("civil"), finding_id=checked.block.pk, reason="  ")
    with pytest.raises(DomainError, match="疑点 999999 不存在"):
        finding_clear(actor=checked.scope("civil"), finding_id=999999, reason="x")


@pytest.mark.parametrize("key", ["agri", "finance", "supervisor", "collector", "finance_other", "hr"])
def test_only_the_department_of_the_line_decides(checked, key):
    with pytest.raises(ScopeError):
        finding_clear(actor=checked.scope(key), finding_id=checked.block.pk, reason="无权")
    checked.block.refresh_from_db()
    assert checked.block.status == "open"
    assert not AuditEvent.objects.filter(action__startswith="finding.").exists()


def test_bulk_clear_reports_each_item(checked):
    results = finding_clear_batch(actor=checked.scope("civil"),
                                  finding_ids=[checked.block.pk, checked.review.pk, checked.block.pk, "x"],
                                  reason="批量核实无误")
    assert [(r.finding_id, r.ok) for r in results] == [(checked.block.pk, True), (checked.review.pk, True),
                                                        ("x", False)]
    assert "无效" in results[2].message
    with pytest.raises(DomainError):
        finding_clear_batch(actor=checked.scope("civil"), finding_ids=[checked.block.pk], reason="")
    again = finding_clear_batch(actor=checked.scope("civil"), finding_ids=[checked.block.pk], reason="再次")
    assert not again[0].ok and "已排除" in again[0].message


# -- selectors ---------------------------------------------------------------------------------------------------------
def test_lists_counts_and_evidence(checked):
    finance = checked.scope("finance")   # reads every line in 万州区
    assert {f.rule for f in sel.findings_list(finance)} == {"R02", "R08"}
    assert [f.rule for f in sel.findings_list(finance, severity="block")] == ["R02"]
    assert [f.rule for f in sel.findings_list(finance, rule="r08", status="open,confirmed")] == ["R08"]
    assert list(sel.findings_list(finance, region_code="500101002000")) == []
    assert list(sel.findings_list(checked.scope("finance_other"))) == []   # 涪陵区 sees nothing of 万州区
    assert list(sel.findings_list(checked.scope("agri"))) == []            # another line
    with pytest.raises(ScopeError):
        sel.findings_list(checked.scope("paying_bank"))
    by_rule = {row["rule"]: row for row in sel.finding_counts_by_rule(finance, policy_code="WZ-DB", period="2026-03")}
    assert len(by_rule) == 16
    assert (by_rule["R02"]["open_block"], by_rule["R08"]["open_review"], by_rule["R01"]["total"]) == (1, 1, 0)
    townships = sel.finding_counts_by_township(finance)
    assert [(t["township"], t["township_name"], t["open"]) for t in townships] == [
        ("500101001000", "高笋塘街道", 2)]
    view = sel.finding_evidence(checked.scope("civil"), checked.block.pk)
    assert view["rule_label"] == "死亡人员" and view["severity_label"] == "阻断" and view["can_decide"]
    assert view["source"]["label"] == "死亡/殡葬" and view["source"]["current"] is True
    assert view["source"]["row_number"] == 2
    assert view["text"] == "死亡/殡葬数据（第 2 行）：死亡日期 2026-01-20，补贴期间 2026-03-01 至 2026-03-31，补贴期间开始前已死亡"
    assert view["beneficiary"]["name"] == "张*"
    assert not sel.finding_evidence(finance, checked.block.pk)["can_decide"]
    with pytest.raises(DomainError, match="不存在或不在您的管辖范围内"):
        sel.finding_get(checked.scope("finance_other"), checked.block.pk)
    settings = {row["rule"]: row for row in sel.rule_settings(finance, "WZ-DB")}
    assert settings["R07"]["enabled"] and settings["R02"]["severity_label"] == "阻断"
    runs = list(sel.check_runs(finance, policy_code="WZ-DB"))
    assert len(runs) == 1
    rows = {row["rule"]: row for row in sel.check_run_rows(runs[0])}
    assert rows["R02"]["hits"] == 1 and rows["R13"]["skipped"].startswith("数据源")


# -- export --------------------------------------------------------------------------------------------------------------
def test_csv_export_of_open_findings_with_full_id_numbers_is_audited(checked):
    finding_clear(actor=checked.scope("civil"), finding_id=checked.review.pk, reason="核实无误")
    buffer = io.StringIO(newline="")
    count = findings_export_csv(actor=Scope.system(), fileobj=buffer, policy_code="WZ-DB", period="2026-03")
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert count == 1
    assert rows[0] == list(EXPORT_HEADERS) == ["规则编码", "姓名", "身份证号", "补贴项目编码", "补贴期间", "严重程度", "证据"]
    dead = checked.people["张死"]
    assert rows[1][:2] == ["R02", "张死"] and rows[1][3:6] == ["WZ-DB", "2026-03", "阻断"]
    assert rows[1][2] == dead.id_plain and len(rows[1][2]) == 18
    assert "死亡日期 2026-01-20" in rows[1][6]
    event = AuditEvent.objects.get(action="finding.export")
    assert event.after["rows"] == 1
    with pytest.raises(ScopeError):
        findings_export_csv(actor=checked.scope("hr"), fileobj=io.StringIO(), policy_code="WZ-DB", period="2026-03")
