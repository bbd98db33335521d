"""Configuration per policy, re-running (no duplicates, automatic closing, reopening, decisions kept)."""

import pytest

from yikatong.checks.models import CheckRun, Finding, FindingEvent, RuleConfig
from yikatong.checks.services.findings import finding_clear
from yikatong.checks.services.runs import rule_config_set
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent

from .engine_support import make_lab

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world, settings):
    return make_lab(world, settings)


def _dead_world(lab):
    policy = lab.policy("WZ-DB")
    dead, alive = lab.person("张死"), lab.person("李活")
    app = lab.app(dead, policy)
    lab.app(alive, policy)
    lab.source("death", [{"person": dead, "death_date": "2026-01-20"}])
    return policy, dead, app


# -- configuration ----------------------------------------------------------------------------------------------
def test_a_disabled_rule_does_not_fire_and_closes_what_it_found(lab):
    policy, _dead, app = _dead_world(lab)
    lab.run(policy)
    assert lab.hit_apps("R02") == {app.pk}
    rule_config_set(actor=lab.scope("civil"), policy_code=policy.code, rule="R02", enabled=False, reason="试点")
    run = lab.run(policy)
    assert run.rules["R02"]["skipped"] == "该补贴项目未启用此规则"
    finding = lab.findings("R02")[0]
    assert finding.status == "closed_auto"
    assert finding.note.startswith("复核时已不再命中：R02 死亡人员 已对该补贴项目停用")
    assert len(lab.findings("R02")) == 1


def test_severity_override_per_policy(lab):
    policy, _dead, app = _dead_world(lab)
    other = lab.policy("WZ-DB2")
    other_app = lab.app(lab.person("王别"), other)
    lab.source("death", [{"person": app.beneficiary, "death_date": "2026-01-20"},
                         {"person": other_app.beneficiary, "death_date": "2026-01-20"}])
    rule_config_set(actor=lab.scope("civil"), policy_code=policy.code, rule="R02", severity="review")
    lab.run(policy)
    lab.run(other)
    assert lab.findings("R02", application=app)[0].severity == "review"
    assert lab.findings("R02", application=other_app)[0].severity == "block"  # the other policy keeps the default
    # the open finding follows a later change of severity
    rule_config_set(actor=lab.scope("civil"), policy_code=policy.code, rule="R02", severity="阻断")
    lab.run(policy)
    assert lab.findings("R02", application=app)[0].severity == "block"


def test_rule_config_is_validated_scoped_and_audited(lab):
    policy = lab.policy("WZ-DB")
    civil = lab.scope("civil")
    with pytest.raises(DomainError, match="核查规则“R99”不存在"):
        rule_config_set(actor=civil, policy_code=policy.code, rule="R99", enabled=False)
    with pytest.raises(DomainError, match="严重程度“urgent”无效"):
        rule_config_set(actor=civil, policy_code=policy.code, rule="R02", severity="urgent")
    with pytest.raises(DomainError, match="没有参数 min_age"):
        rule_config_set(actor=civil, policy_code=policy.code, rule="R02", params={"min_age": 3})
    with pytest.raises(DomainError, match="不能大于最高年龄"):
        rule_config_set(actor=civil, policy_code=policy.code, rule="R14", params={"min_age": 80, "max_age": 60})
    with pytest.raises(DomainError, match="level"):
        rule_config_set(actor=civil, policy_code=policy.code, rule="R15", params={"level": "province"})
    with pytest.raises(DomainError, match="补贴项目 NOPE 不存在"):
        rule_config_set(actor=civil, policy_code="NOPE", rule="R02", enabled=False)
    for key in ("agri", "finance", "supervisor", "collector"):  # other line, no permission, read only
        with pytest.raises(ScopeError):
            rule_config_set(actor=lab.scope(key), policy_code=policy.code, rule="R02", enabled=False)
    assert not RuleConfig.objects.exists()
    row = rule_config_set(actor=civil, policy_code=policy.code, rule="r14", params={"min_age": "60"})
    assert (row.rule, row.enabled, row.severity, row.params) == ("R14", True, "block", {"min_age": 60})
    event = AuditEvent.objects.filter(action="check_rule.configure").get()
    assert event.object_id == "WZ-DB:R14" and event.after["params"]["min_age"] == 60
    assert event.before["params"]["min_age"] is None


# -- re-running -------------------------------------------------------------------------------------------------
def test_rerun_is_idempotent(lab):
    policy, _dead, app = _dead_world(lab)
    first = lab.run(policy)
    second = lab.run(policy)
    findings = lab.findings("R02")
    assert len(findings) == 1
    assert findings[0].first_run_id == first.pk and findings[0].last_seen_run_id == second.pk
    assert first.counts["R02"]["new"] == 1 and second.counts["R02"] == {
        "hits": 1, "new": 0, "reopened": 0, "closed": 0, "open_block": 1, "open_review": 0}
    assert [e.action for e in FindingEvent.objects.filter(finding=findings[0])] == ["opened"]
    assert Finding.objects.count() == 1
    assert CheckRun.objects.filter(status="succeeded").count() == 2
    from yikatong.checks.models import CheckSubject

    assert not CheckSubject.objects.exists()  # the working set is gone after each run


def test_a_finding_that_no_longer_holds_closes_and_reopens_when_it_holds_again(lab):
    policy, dead, app = _dead_world(lab)
    lab.run(policy)
    imp = lab.source("death", [{"id_number": "500101195001010013", "name": "别人", "death_date": "2026-01-20"}])
    run = lab.run(policy)
    finding = lab.findings("R02")[0]
    assert finding.status == "closed_auto" and finding.status_run_id == run.pk
    assert finding.note == f"复核时已不再命中：R02 死亡人员（核查批次 {run.pk}，2026-03-16）"
    assert run.counts["R02"]["closed"] == 1
    assert imp.pk
    lab.source("death", [{"person": dead, "death_date": "2026-01-20"}])
    again = lab.run(policy)
    finding.refresh_from_db()
    assert finding.status == "open" and again.counts["R02"]["reopened"] == 1
    assert [e.action for e in finding.events.all()] == ["opened", "closed_auto", "reopened"]
    assert Finding.objects.filter(rule="R02").count() == 1


def test_a_decided_finding_stays_decided(lab):
    policy, _dead, app = _dead_world(lab)
    lab.run(policy)
    finding = lab.findings("R02")[0]
    finding_clear(actor=lab.scope("civil"), finding_id=finding.pk, reason="殡葬数据有误，本人在世，已入户核实")
    run = lab.run(policy)
    finding.refresh_from_db()
    assert finding.status == "cleared" and finding.last_seen_run_id == run.pk
    assert finding.decision_reason == "殡葬数据有误，本人在世，已入户核实"
    # and when the source no longer says so, it is not "closed" over the decision either
    lab.source("death", [])
    lab.run(policy)
    finding.refresh_from_db()
    assert finding.status == "cleared"


def test_the_evidence_of_an_open_finding_follows_the_source(lab):
    policy, dead, app = _dead_world(lab)
    lab.run(policy)
    lab.source("death", [{"person": dead, "death_date": "2026-02-02"}])
    lab.run(policy)
    finding = lab.findings("R02")[0]
    assert finding.evidence["death_date"] == "2026-02-02" and Finding.objects.count() == 1


def test_findings_of_withdrawn_or_rejected_applications_close(lab):
    policy, _dead, app = _dead_world(lab)
    lab.run(policy)
    app.status = "withdrawn"
    app.save(update_fields=["status"])
    run = lab.run(policy)
    finding = lab.findings("R02")[0]
    assert finding.status == "closed_auto" and finding.note == "申报已不通过或已撤回，疑点自动关闭"
    assert [(e.action, e.run_id) for e in finding.events.all()] == [("opened", run.pk - 1), ("closed_auto", run.pk)]
    assert run.counts["R02"]["closed"] == 0  # closed by the sweep, not because the rule no longer holds


def test_a_region_run_leaves_other_regions_alone(lab):
    policy = lab.policy("WZ-DB")
    here, there = lab.person("甲一"), lab.person("乙一", village="500101002001")
    a_here, a_there = lab.app(here, policy), lab.app(there, policy)
    lab.source("death", [{"person": here, "death_date": "2026-01-01"}, {"person": there, "death_date": "2026-01-01"}])
    run = lab.run(policy, region="500101001000")
    assert run.subjects == 1 and lab.hit_apps("R02") == {a_here.pk}
    lab.source("death", [])
    lab.run(policy, region="500101002000")
    assert lab.findings("R02", application=a_here)[0].status == "open"  # not part of that run
    assert a_there.pk not in lab.hit_apps("R02")


def test_bad_input_is_refused_in_chinese(lab):
    policy = lab.policy("WZ-DB")
    with pytest.raises(DomainError, match="补贴期间“2026-13”的月份无效"):
        lab.run(policy, "2026-13")
    with pytest.raises(DomainError, match="补贴项目 NOPE 不存在"):
        from yikatong.checks.services.runs import check_run_applications
        from yikatong.core.scope import Scope

        check_run_applications(actor=Scope.system(), policy_code="NOPE", period="2026-03")
    with pytest.raises(DomainError, match="行政区划 500101009000 不存在"):
        lab.run(policy, region="500101009000")
    run = lab.run(policy)  # no applications at all: a run with nothing to check
    assert run.status == "succeeded" and run.subjects == 0


def test_a_run_as_a_background_job(lab):
    from yikatong.checks.services.runs import check_run_start
    from yikatong.core.models import JobProgress

    policy, _dead, app = _dead_world(lab)
    job = check_run_start(actor=lab.scope("civil"), policy_code=policy.code, period="2026-03")
    job = JobProgress.objects.get(pk=job.pk)
    assert job.status == "succeeded" and job.kind == "check.run"
    run = CheckRun.objects.get(job=job)
    assert run.started_by == "t_civil" and run.subjects == 2
    assert job.result["R02 死亡人员"] == "命中 1（新增 1，自动关闭 0）"
    assert lab.hit_apps("R02") == {app.pk}
    with pytest.raises(ScopeError):
        check_run_start(actor=lab.scope("agri"), policy_code=policy.code, period="2026-03")
