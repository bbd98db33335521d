"""Transitions of an application: verification, return, correction, withdrawal, approval, rejection,
sampling, the findings gate, batches, deadlines and overdue lists."""

import datetime as dt
from decimal import Decimal

import pytest

from tests.applications.helpers import new_app, submitted, verified
from yikatong.applications import selectors
from yikatong.applications.models import Application, ApplicationEvent
from yikatong.applications.services import (
    _common,
    application_approve,
    application_approve_batch,
    application_correct,
    application_reject,
    application_reject_batch,
    application_return,
    application_verify,
    application_verify_batch,
    application_withdraw,
    application_withdraw_batch,
    approval_sample,
    register_findings_gate,
    unregister_findings_gate,
)
from yikatong.core.errors import DomainError, ScopeError, TransitionError
from yikatong.core.models import AuditEvent

from .conftest import VILLAGE2


# -- initial verification -----------------------------------------------------------------------------------
def test_verify_records_the_note_and_ends_the_verification_step(flow, zhang):
    app = new_app(flow, zhang)
    application_verify(actor=flow.scope("collector"), application_id=app.pk, note="入户核实：家庭情况属实")
    app.refresh_from_db()
    assert app.status == "verified" and app.step_deadline is None
    event = app.events.last()
    assert (event.from_status, event.to_status) == ("collected", "verified")
    assert "家庭情况属实" in event.reason
    assert AuditEvent.objects.filter(action="application.verify", object_id=str(app.pk)).count() == 1
    with pytest.raises(TransitionError, match=rf"申报 {app.number} 当前状态为“已核实待公示”，不能入户核实通过。"
                                              "当前可执行的操作：退回修改、撤回、公示"):
        application_verify(actor=flow.scope("collector"), application_id=app.pk)


def test_verify_wrong_role_and_other_region(flow, zhang):
    app = new_app(flow, zhang)
    with pytest.raises(ScopeError, match="没有该权限"):
        application_verify(actor=flow.scope("civil"), application_id=app.pk)
    with pytest.raises(ScopeError, match="不在您的管辖范围内"):
        application_verify(actor=flow.scope("collector2"), application_id=app.pk)
    with pytest.raises(ScopeError, match="只能查看"):
        application_verify(actor=flow.scope("supervisor"), application_id=app.pk)
    with pytest.raises(DomainError, match="申报 424242 不存在"):
        application_verify(actor=flow.scope("collector"), application_id=424242)
    app.refresh_from_db()
    assert app.status == "collected"


# -- return and correction ----------------------------------------------------------------------------------
def test_return_correct_reopens_with_a_new_verification_deadline(flow, zhang):
    collector = flow.scope("collector")
    app = verified(flow, zhang)[0]
    with pytest.raises(DomainError, match="请填写退回原因"):
        application_return(actor=collector, application_id=app.pk, reason=" ")
    application_return(actor=collector, application_id=app.pk, reason="银行账号与本人不符")
    app.refresh_from_db()
    assert app.status == "returned" and app.step_deadline is None
    flow.set_today("2026-03-09")
    with pytest.raises(DomainError, match="请填写更正原因"):
        application_correct(actor=collector, application_id=app.pk, reason="", amount="250")
    application_correct(actor=collector, application_id=app.pk, amount="250", remarks="按实际核定",
                        reason="核实后按250元申报")
    app.refresh_from_db()
    assert app.status == "collected" and app.amount == Decimal("250.00") and app.remarks == "按实际核定"
    assert app.step_started_on == dt.date(2026, 3, 9) and app.step_deadline == dt.date(2026, 3, 12)
    event = app.events.last()
    assert event.changes == {"amount": ["300.00", "250.00"], "remarks": ["", "按实际核定"]}
    assert event.reason == "核实后按250元申报"
    with pytest.raises(DomainError, match="超过补贴标准上限"):
        application_correct(actor=collector, application_id=app.pk, amount="301", reason="x")


def test_correct_while_collected_keeps_the_deadline_and_recomputes_per_unit_amounts(flow, zhang):
    collector = flow.scope("collector")
    app = new_app(flow, zhang, policy_code="WZ-AG", period="2026", quantity="2")
    assert app.amount == Decimal("241.00")
    flow.set_today("2026-03-04")
    application_correct(actor=collector, application_id=app.pk, quantity="3", reason="实测面积3亩")
    app.refresh_from_db()
    assert app.status == "collected" and app.amount == Decimal("361.50") and app.quantity == Decimal("3.00")
    assert app.step_deadline == dt.date(2026, 3, 5)  # the running verification step continues
    with pytest.raises(DomainError, match="没有需要更正的内容"):
        application_correct(actor=collector, application_id=app.pk, quantity="3", reason="重复")
    application_verify(actor=collector, application_id=app.pk)
    with pytest.raises(TransitionError, match="当前状态为“已核实待公示”，不能更正"):
        application_correct(actor=collector, application_id=app.pk, amount="100", reason="x")


def test_department_returns_a_submitted_application(flow, zhang):
    app = submitted(flow, zhang)[0]
    with pytest.raises(ScopeError, match="须由其他角色办理"):
        application_return(actor=flow.scope("collector"), application_id=app.pk, reason="x")
    application_return(actor=flow.scope("civil"), application_id=app.pk, reason="请补充残疾证明")
    app.refresh_from_db()
    assert app.status == "returned"
    assert app.events.last().reason == "请补充残疾证明"


def test_withdraw(flow, zhang):
    app = new_app(flow, zhang)
    with pytest.raises(DomainError, match="请填写撤回原因"):
        application_withdraw(actor=flow.scope("collector"), application_id=app.pk, reason="")
    application_withdraw(actor=flow.scope("collector"), application_id=app.pk, reason="本人申请撤回")
    app.refresh_from_db()
    assert app.status == "withdrawn" and app.step_deadline is None
    with pytest.raises(TransitionError, match="当前状态为“已撤回”，不能撤回。当前可执行的操作：无（已办结）"):
        application_withdraw(actor=flow.scope("collector"), application_id=app.pk, reason="再撤")


# -- approval -----------------------------------------------------------------------------------------------
def test_submitted_application_has_the_department_deadline(flow, zhang):
    app = submitted(flow, zhang)[0]
    assert app.status == "submitted"
    assert app.step_started_on == dt.date(2026, 3, 6) and app.step_deadline == dt.date(2026, 3, 20)


def test_approve_and_reject_by_the_department_of_the_line_and_region(flow, zhang, li):
    first, second = submitted(flow, zhang, li)
    for key, error in [("agri", "不属于您的部门"), ("fl_civil", "不在您的管辖范围内"),
                       ("collector", "没有该权限"), ("finance", "没有该权限"), ("supervisor", "只能查看")]:
        with pytest.raises(ScopeError, match=error):
            application_approve(actor=flow.scope(key), application_id=first.pk)
    civil = flow.scope("civil")
    application_approve(actor=civil, application_id=first.pk, note="比对无异常")
    first.refresh_from_db()
    assert first.status == "approved" and first.step_deadline is None and first.step_started_on == dt.date(2026, 3, 6)
    with pytest.raises(TransitionError, match="当前状态为“审核通过”，不能审核通过"):
        application_approve(actor=civil, application_id=first.pk)
    with pytest.raises(DomainError, match="请填写不通过原因"):
        application_reject(actor=civil, application_id=second.pk, reason="  ")
    application_reject(actor=civil, application_id=second.pk, reason="家庭人均收入高于当地低保标准")
    second.refresh_from_db()
    assert second.status == "rejected" and second.rejection_reason == "家庭人均收入高于当地低保标准"
    # the applicant sees the reason in the list row
    row = selectors.application_rows([Application.objects.select_related("beneficiary", "policy", "region")
                                      .get(pk=second.pk)])[0]
    assert row.rejection_reason == "家庭人均收入高于当地低保标准" and row.deadline_status == ""


def test_approval_refused_while_a_blocking_finding_is_open(flow, zhang, li):
    first, second = submitted(flow, zhang, li)

    def gate(ids):
        return {first.pk: "R02 死亡人员（死亡日期 2026-01-05）"} if first.pk in ids else {}

    register_findings_gate(gate)
    try:
        with pytest.raises(DomainError, match="存在未处理的阻断性比对疑点，不能审核通过：R02 死亡人员"):
            application_approve(actor=flow.scope("civil"), application_id=first.pk)
        results = application_approve_batch(actor=flow.scope("civil"), application_ids=[first.pk, second.pk])
    finally:
        unregister_findings_gate(gate)
    assert [(r.application_id, r.ok) for r in results] == [(first.pk, False), (second.pk, True)]
    assert "R02" in results[0].message
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("submitted", "approved")


def test_sampling_is_deterministic_and_sampled_items_need_the_check_note(flow):
    people = [flow.person(f"p{i}", name=f"测试{ch}", seq=40 + i) for i, ch in enumerate("甲乙丙丁戊己庚辛壬癸")]
    apps = submitted(flow, *people)
    civil = flow.scope("civil")
    with pytest.raises(ScopeError):
        approval_sample(actor=flow.scope("agri"), policy_code="WZ-001", period="2026-03",
                        region_code="500101001000", ratio="0.3")
    with pytest.raises(DomainError, match="抽查比例"):
        approval_sample(actor=civil, policy_code="WZ-001", period="2026-03", region_code="500101001000", ratio="2")
    chosen = approval_sample(actor=civil, policy_code="WZ-001", period="2026-03", region_code="500101001000",
                             ratio="0.3")
    assert len(chosen) == 3
    again = approval_sample(actor=civil, policy_code="WZ-001", period="2026-03", region_code="500101001000",
                            ratio="30%")
    assert [a.pk for a in again] == [a.pk for a in chosen]
    assert set(Application.objects.filter(sampled=True).values_list("pk", flat=True)) == {a.pk for a in chosen}
    assert AuditEvent.objects.filter(action="application.sample").count() == 2
    target = chosen[0]
    with pytest.raises(DomainError, match="为抽查对象，请填写实地抽查核实情况"):
        application_approve(actor=civil, application_id=target.pk)
    application_approve(actor=civil, application_id=target.pk, note="实地抽查：情况属实")
    unsampled = next(a for a in apps if a.pk not in {c.pk for c in chosen})
    application_approve(actor=civil, application_id=unsampled.pk)


# -- batches ------------------------------------------------------------------------------------------------
def test_batch_reports_each_item(flow, zhang, li):
    ok = new_app(flow, zhang)
    done = verified(flow, li)[0]
    other = flow.person("wang", name="王五", village=VILLAGE2, seq=21, collector="collector2")
    foreign = new_app(flow, other, actor=flow.scope("collector2"))
    results = application_verify_batch(actor=flow.scope("collector"),
                                       application_ids=[ok.pk, done.pk, foreign.pk, 987654, str(ok.pk)])
    assert [(r.application_id, r.ok) for r in results] == [
        (ok.pk, True), (done.pk, False), (foreign.pk, False), (987654, False)]  # duplicates once
    assert results[0].status == "verified" and results[0].number == ok.number
    assert "当前状态为“已核实待公示”" in results[1].message
    assert "不在您的管辖范围内" in results[2].message
    assert "不存在" in results[3].message
    foreign.refresh_from_db()
    assert foreign.status == "collected"
    assert [r.as_dict()["ok"] for r in results] == [True, False, False, False]


def test_batch_never_half_applies_an_item(flow, zhang, li, monkeypatch):
    a, b = new_app(flow, zhang), new_app(flow, li)
    real_record = _common.audit.record

    def failing_record(**kwargs):
        obj = kwargs.get("obj")
        if isinstance(obj, Application) and obj.pk == b.pk:
            raise DomainError("审计写入失败（模拟）")
        return real_record(**kwargs)

    monkeypatch.setattr(_common.audit, "record", failing_record)
    results = application_withdraw_batch(actor=flow.scope("collector"), application_ids=[a.pk, b.pk],
                                         reason="本人申请撤回")
    assert [(r.ok, r.message) for r in results] == [(True, ""), (False, "审计写入失败（模拟）")]
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == "withdrawn"
    assert b.status == "collected"                                       # status change rolled back …
    assert not ApplicationEvent.objects.filter(application=b, to_status="withdrawn").exists()  # … with its event


def test_batch_reject_and_approve_need_the_department(flow, zhang, li):
    first, second = submitted(flow, zhang, li)
    with pytest.raises(DomainError, match="请填写不通过原因"):
        application_reject_batch(actor=flow.scope("civil"), application_ids=[first.pk], reason="")
    results = application_approve_batch(actor=flow.scope("agri"), application_ids=[first.pk, second.pk])
    assert all(not r.ok and "不属于您的部门" in r.message for r in results)
    results = application_reject_batch(actor=flow.scope("civil"), application_ids=[first.pk, second.pk],
                                       reason="不符合条件")
    assert all(r.ok and r.status == "rejected" for r in results)


# -- deadlines and overdue ----------------------------------------------------------------------------------
def test_overdue_list_and_deadline_status_of_rows(flow, zhang, li):
    late = new_app(flow, zhang)                 # created Mon 03-02, due Thu 03-05
    flow.set_today("2026-03-04")
    fresh = new_app(flow, li)                   # due Mon 03-09
    collector = flow.scope("collector")
    rows = {r.number: r for r in selectors.application_rows(selectors.applications_list(collector))}
    assert rows[late.number].deadline_status == "due_soon" and rows[late.number].deadline == dt.date(2026, 3, 5)
    assert rows[fresh.number].deadline_status == "ok"
    flow.set_today("2026-03-06")
    assert list(selectors.applications_overdue(collector)) == [late]
    row = selectors.application_rows(selectors.applications_list(collector, status="collected"))
    by_number = {r.number: r for r in row}
    assert by_number[late.number].deadline_status == "overdue" and by_number[late.number].days_overdue == 1
    assert by_number[late.number].deadline_status_label == "已超期"
    assert list(selectors.applications_overdue(flow.scope("collector2"))) == []   # other township
    assert list(selectors.applications_overdue(flow.scope("civil"))) == [late]    # the policy's line
    assert list(selectors.applications_overdue(flow.scope("agri"))) == []         # another line
    application_verify(actor=collector, application_id=late.pk)
    assert list(selectors.applications_overdue(collector)) == []                  # a verified one waits, no limit


def test_selectors_are_scoped(flow, zhang):
    app = new_app(flow, zhang)
    assert selectors.application_get(flow.scope("civil"), app.pk) == app
    for key in ("agri", "collector2", "finance_other"):
        with pytest.raises(DomainError, match="不存在或不在您的管辖范围内"):
            selectors.application_get(flow.scope(key), app.pk)
    with pytest.raises(ScopeError):
        selectors.applications_visible(flow.scope("paying_bank"))
    assert list(selectors.application_history(flow.scope("supervisor"), app.pk))[0].to_status == "collected"
    counts = selectors.status_counts(flow.scope("collector"))
    assert counts["collected"] == 1 and counts["approved"] == 0
