"""Change requests: the chain county department → prefecture government → provincial department →
provincial finance; returns and resubmission; wrong actors; closed years; effects only at the end."""

from decimal import Decimal

import pytest

from tests.policies.conftest import policy_fields
from yikatong.core.errors import DomainError, ScopeError, TransitionError
from yikatong.core.models import AuditEvent
from yikatong.policies import selectors
from yikatong.policies.models import AnnualListItem, ChangeRequestStep, LibraryEntry, Policy, PolicyVersion
from yikatong.policies.services import (
    change_request_approve,
    change_request_create,
    change_request_return,
    change_request_revise,
    change_request_submit,
    change_request_withdraw,
    library_allows,
    library_build_from_list,
    policy_create,
)

YEAR = 2027
P, WZ, FL = "500000000000", "500101000000", "500102000000"
CHAIN = ["civil", "m_finance", "p_civil", "p_finance"]
# Who must be refused at each step of a 万州区 民政 request.
WRONG = {
    0: ["agri", "fl_civil", "finance", "m_finance", "p_civil", "supervisor"],
    1: ["civil", "m_civil", "finance", "p_finance", "finance_other"],
    2: ["p_agri", "m_civil", "civil", "p_finance"],
    3: ["m_finance", "p_civil", "finance"],
}


@pytest.fixture
def library(published, today):
    library_build_from_list(actor=published.scope("p_finance"), province_code=P, year=YEAR)
    today("2027-03-01")
    return published


def _request(ol, applicant="civil", **kw):
    args = {"region_code": WZ, "year": YEAR, "policy_code": "WZ-002", "change_type": "add",
            "content": "新增万州区高龄老人生日慰问金", "reason": "区政府常务会议决定", "amount_impact": "120000.00"}
    args.update(kw)
    return change_request_create(actor=ol.scope(applicant), **args)


def test_addition_takes_effect_only_after_the_last_step(library):
    ol = library
    policy_create(actor=ol.scope("civil"), fields=policy_fields(code="WZ-002", status="draft"))
    cr = _request(ol)
    assert cr.number.startswith("BG2027-500101-") and cr.status == "draft"
    change_request_submit(actor=ol.scope("civil"), pk=cr.pk)
    for index, key in enumerate(CHAIN):
        for wrong in WRONG[index]:
            with pytest.raises(ScopeError):
                change_request_approve(actor=ol.scope(wrong), pk=cr.pk)
        assert not library_allows(policy="WZ-002", region_code=WZ, year=YEAR)  # nothing effective yet
        assert Policy.objects.get(code="WZ-002").status == "draft"
        cr = change_request_approve(actor=ol.scope(key), pk=cr.pk, opinion="同意")
    assert cr.status == "approved" and cr.decided_at is not None
    assert library_allows(policy="WZ-002", region_code=WZ, year=YEAR)
    assert not library_allows(policy="WZ-002", region_code=FL, year=YEAR)
    entry = LibraryEntry.objects.get(policy__code="WZ-002")
    assert entry.source_change_id == cr.pk and entry.region_id == WZ
    assert Policy.objects.get(code="WZ-002").status == "active"
    item = AnnualListItem.objects.get(policy__code="WZ-002")
    assert item.source_change_id == cr.pk and item.status == "submitted" and item.part == "self_defined"
    steps = list(ChangeRequestStep.objects.filter(request=cr).values_list("step_code", "decision", "actor_username"))
    assert steps == [("applicant", "submitted", "t_civil"),
                     ("county_department", "approved", "t_civil"),
                     ("prefecture_government", "approved", "t_m_finance"),
                     ("province_department", "approved", "t_p_civil"),
                     ("province_finance", "approved", "t_p_finance")]
    actions = list(AuditEvent.objects.filter(object_type="policies.changerequest").values_list("action", flat=True))
    assert sorted(actions) == sorted(["change.create", "change.submit", "change.approve_step", "change.approve_step",
                                      "change.approve_step", "change.approve_final", "change.effect"])
    assert AuditEvent.objects.filter(action="library.add").count() == 1
    with pytest.raises(TransitionError, match="已批准生效"):
        change_request_approve(actor=ol.scope("p_finance"), pk=cr.pk)


def test_return_goes_back_to_the_applicant_and_the_chain_restarts(library):
    ol = library
    cr = _request(ol, policy_code="WZ-001", change_type="remove", content="取消万州区困难群众临时生活补助",
                  amount_impact="-360000")
    assert cr.amount_impact == Decimal("-360000.00")
    change_request_submit(actor=ol.scope("civil"), pk=cr.pk)
    change_request_approve(actor=ol.scope("civil"), pk=cr.pk)
    with pytest.raises(DomainError, match="退回须填写原因"):
        change_request_return(actor=ol.scope("m_finance"), pk=cr.pk, reason=" ")
    with pytest.raises(ScopeError):
        change_request_return(actor=ol.scope("p_finance"), pk=cr.pk, reason="not my step")
    cr = change_request_return(actor=ol.scope("m_finance"), pk=cr.pk, reason="请附区政府常务会议纪要")
    assert cr.status == "returned" and cr.returned_reason == "请附区政府常务会议纪要" and cr.current_step == 0
    with pytest.raises(TransitionError, match="已退回"):
        change_request_approve(actor=ol.scope("p_civil"), pk=cr.pk)
    with pytest.raises(ScopeError):  # only the applicant resubmits
        change_request_submit(actor=ol.scope("fl_civil"), pk=cr.pk)
    change_request_revise(actor=ol.scope("civil"), pk=cr.pk, reason="区政府常务会议纪要〔2027〕3号")
    cr = change_request_submit(actor=ol.scope("civil"), pk=cr.pk)
    assert cr.status == "in_review" and cr.round == 2 and cr.current_step == 0
    with pytest.raises(ScopeError):  # restarted: the prefecture is not the current step any more
        change_request_approve(actor=ol.scope("m_finance"), pk=cr.pk)
    for key in CHAIN[:-1]:
        change_request_approve(actor=ol.scope(key), pk=cr.pk)
    assert library_allows(policy="WZ-001", region_code=WZ, year=YEAR)  # still in force before the end
    change_request_approve(actor=ol.scope("p_finance"), pk=cr.pk)
    assert not library_allows(policy="WZ-001", region_code=WZ, year=YEAR)
    entry = LibraryEntry.objects.get(policy__code="WZ-001")
    assert entry.status == "removed" and entry.removal_change_id == cr.pk and cr.number in entry.removed_reason
    assert AnnualListItem.objects.get(policy__code="WZ-001").status == "removed"
    returned = ChangeRequestStep.objects.get(request=cr, decision="returned")
    assert returned.actor_username == "t_m_finance" and returned.reason == "请附区政府常务会议纪要"
    assert returned.step_code == "prefecture_government" and returned.round == 1


def test_modify_applies_the_new_standard_as_a_new_policy_version(library):
    ol = library
    with pytest.raises(DomainError, match="不能修改这些属性：code"):
        _request(ol, policy_code="WZ-001", change_type="modify", new_standard={"code": "X"})
    with pytest.raises(DomainError, match="最多保留两位小数"):
        _request(ol, policy_code="WZ-001", change_type="modify", new_standard={"standard_amount": "1.001"})
    cr = _request(ol, policy_code="WZ-001", change_type="modify", content="标准由300元提高到400元",
                  new_standard={"standard_amount": "400"})
    assert cr.new_standard == {"standard_amount": "400.00"}
    change_request_submit(actor=ol.scope("civil"), pk=cr.pk)
    for key in CHAIN[:-1]:
        change_request_approve(actor=ol.scope(key), pk=cr.pk)
    assert Policy.objects.get(code="WZ-001").standard_amount == Decimal("300.00")
    change_request_approve(actor=ol.scope("p_finance"), pk=cr.pk)
    policy = Policy.objects.get(code="WZ-001")
    assert policy.standard_amount == Decimal("400.00") and policy.version == 2
    version = PolicyVersion.objects.get(policy=policy, version=2)
    assert cr.number in version.reason and version.changed_by == "t_p_finance"
    assert PolicyVersion.objects.get(policy=policy, version=1).snapshot["standard_amount"] == "300.00"


def test_province_level_request_has_two_steps(library):
    ol = library
    cr = _request(ol, applicant="p_civil", region_code=P, policy_code="CQ-X", change_type="modify",
                  content="调整补贴对象范围", new_standard={"target_group": "全市困难群众"})
    change_request_submit(actor=ol.scope("p_civil"), pk=cr.pk)
    with pytest.raises(ScopeError):
        change_request_approve(actor=ol.scope("m_finance"), pk=cr.pk)
    change_request_approve(actor=ol.scope("p_civil"), pk=cr.pk)
    cr = change_request_approve(actor=ol.scope("p_finance"), pk=cr.pk)
    assert cr.status == "approved" and Policy.objects.get(code="CQ-X").target_group == "全市困难群众"


def test_closed_year_is_refused(library, today):
    ol = library
    with pytest.raises(DomainError, match="2026 年度已结束，不能再申请调整"):
        _request(ol, year=2026, policy_code="WZ-001", change_type="remove")
    cr = _request(ol, policy_code="WZ-001", change_type="remove")
    change_request_submit(actor=ol.scope("civil"), pk=cr.pk)
    today("2028-01-02")
    with pytest.raises(DomainError, match="2027 年度已结束"):
        change_request_approve(actor=ol.scope("civil"), pk=cr.pk)
    assert ChangeRequestStep.objects.filter(request=cr, decision="approved").count() == 0


def test_create_is_validated(library):
    ol = library
    with pytest.raises(DomainError, match="已在 2027 年度补贴项目库中，无需申请新增"):
        _request(ol, policy_code="CQ-X")
    with pytest.raises(DomainError, match="上级入库的项目由上级部门申请调整"):
        _request(ol, policy_code="CQ-X", change_type="remove")
    with pytest.raises(DomainError, match="由上级制定"):
        _request(ol, policy_code="CQ-X", change_type="modify", new_standard={"standard_amount": "1"})
    with pytest.raises(DomainError, match="请填写变更理由"):
        _request(ol, policy_code="WZ-001", change_type="remove", reason="")
    with pytest.raises(DomainError, match="请选择变更类型"):
        _request(ol, policy_code="WZ-001", change_type="rename")
    with pytest.raises(DomainError, match="不存在"):
        _request(ol, policy_code="NOPE")
    with pytest.raises(ScopeError):  # finance does not apply
        _request(ol, applicant="finance", policy_code="WZ-001", change_type="remove")
    with pytest.raises(ScopeError):  # other line
        _request(ol, applicant="agri", policy_code="WZ-001", change_type="remove")
    with pytest.raises(ScopeError):  # the province department cannot fill in the county's form
        _request(ol, applicant="p_civil", policy_code="WZ-001", change_type="remove")
    _request(ol, policy_code="WZ-001", change_type="remove")
    with pytest.raises(DomainError, match="未办结的同类申请"):
        _request(ol, policy_code="WZ-001", change_type="remove")


def test_withdraw_and_reviewer_todo_list(library):
    ol = library
    cr = _request(ol, policy_code="WZ-001", change_type="remove")
    change_request_submit(actor=ol.scope("civil"), pk=cr.pk)
    change_request_approve(actor=ol.scope("civil"), pk=cr.pk)
    assert [c.pk for c in selectors.change_requests_awaiting(ol.scope("m_finance"))] == [cr.pk]
    assert selectors.change_requests_awaiting(ol.scope("p_finance")) == []
    assert selectors.change_requests_awaiting(ol.scope("civil")) == []
    assert selectors.change_request_detail(ol.scope("p_civil"), cr.pk).steps.count() == 2
    with pytest.raises(DomainError, match="不在您的查看范围内"):
        selectors.change_request_detail(ol.scope("fl_civil"), cr.pk)
    with pytest.raises(TransitionError, match="不能撤回"):
        change_request_withdraw(actor=ol.scope("civil"), pk=cr.pk)
    change_request_return(actor=ol.scope("m_finance"), pk=cr.pk, reason="不同意")
    cr = change_request_withdraw(actor=ol.scope("civil"), pk=cr.pk, reason="不再调整")
    assert cr.status == "withdrawn"
    with pytest.raises(TransitionError):
        change_request_submit(actor=ol.scope("civil"), pk=cr.pk)
    _request(ol, policy_code="WZ-001", change_type="remove")  # a new one may be filed after withdrawal
