"""Annual policy lists: items, submission, filing, publication, return, deadlines and late flags."""

import datetime as dt

import pytest

from tests.policies.conftest import policy_fields
from yikatong.core.errors import DomainError, ScopeError, TransitionError
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope
from yikatong.policies import selectors
from yikatong.policies.models import AnnualListItem, AnnualPolicyList
from yikatong.policies.services import (
    list_file,
    list_item_add,
    list_item_remove,
    list_items_submit,
    list_publish,
    list_return,
    policy_create,
    policy_retire,
)

YEAR = 2027
P, M, WZ, FL = "500000000000", "500100000000", "500101000000", "500102000000"


@pytest.fixture
def policies(one_list, today):
    policy_create(actor=one_list.scope("p_civil"),
                  fields=policy_fields(code="CQ-X", department="CQ-MZJ", level_set="provincial",
                                       funding_sources=[{"level": "provincial", "share": "100"}]))
    policy_create(actor=one_list.scope("civil"), fields=policy_fields())
    policy_create(actor=one_list.scope("fl_civil"), fields=policy_fields(code="FL-1", department="FL-MZJ"))
    return one_list


def _fill(ol):
    list_item_add(actor=ol.scope("p_civil"), region_code=P, year=YEAR, policy_code="CQ-X")
    list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    list_item_add(actor=ol.scope("fl_civil"), region_code=FL, year=YEAR, policy_code="FL-1")


def test_full_workflow_submit_file_publish(policies, today):
    ol = policies
    _fill(ol)
    wz_item = AnnualListItem.objects.get(policy__code="WZ-001")
    assert wz_item.part == "self_defined" and wz_item.status == "draft" and wz_item.department.code == "WZ-MZJ"
    assert AnnualListItem.objects.get(policy__code="CQ-X").part == "prescribed"
    submitted = list_items_submit(actor=ol.scope("civil"), region_code=WZ, year=YEAR)
    assert [i.policy.code for i in submitted] == ["WZ-001"] and not submitted[0].submitted_late
    # the prefecture cannot file while 涪陵区 has not submitted
    with pytest.raises(DomainError, match="尚有 1 个清单项目未提交（涪陵区民政局的FL-1）"):
        list_file(actor=ol.scope("m_finance"), region_code=M, year=YEAR)
    today("2026-12-02")
    late = list_items_submit(actor=ol.scope("fl_civil"), region_code=FL, year=YEAR)
    assert late[0].submitted_late  # after Nov 30: allowed but flagged
    filed = list_file(actor=ol.scope("m_finance"), region_code=M, year=YEAR)
    assert [pl.region_id for pl in filed] == [M, WZ, FL]
    assert all(pl.status == "filed" and not pl.filed_late for pl in filed)
    with pytest.raises(DomainError, match="已报备，无需重复报备"):
        list_file(actor=ol.scope("m_finance"), region_code=M, year=YEAR)
    with pytest.raises(DomainError, match="不能再修改清单项目"):
        list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="CQ-X")
    with pytest.raises(DomainError, match="尚有 1 个清单项目未提交"):  # the province's own item is a draft
        list_publish(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    list_items_submit(actor=ol.scope("p_civil"), region_code=P, year=YEAR)
    today("2027-03-01")
    published = list_publish(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    assert {pl.region_id for pl in published} == {P, M, WZ, FL}
    assert all(pl.status == "published" and pl.published_late for pl in published)
    assert [(i.policy_list.region_id, i.policy.code) for i in selectors.published_list(P, YEAR)] == [
        (P, "CQ-X"), (WZ, "WZ-001"), (FL, "FL-1")]
    with pytest.raises(DomainError, match="没有待公布的清单"):
        list_publish(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    actions = list(AuditEvent.objects.filter(action__startswith="list.").values_list("action", flat=True))
    assert actions.count("list.publish") == 4 and actions.count("list.file") == 3


def test_filing_after_dec_20_is_flagged_late(policies, today):
    ol = policies
    list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    list_items_submit(actor=ol.scope("civil"), region_code=WZ, year=YEAR)
    today("2026-12-21")
    filed = list_file(actor=ol.scope("m_finance"), region_code=M, year=YEAR)
    assert all(pl.filed_late for pl in filed)


def test_wrong_actors_are_refused(policies):
    ol = policies
    with pytest.raises(ScopeError):  # finance does not fill in department items
        list_item_add(actor=ol.scope("finance"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    with pytest.raises(ScopeError):  # another county's list
        list_item_add(actor=ol.scope("fl_civil"), region_code=WZ, year=YEAR, policy_code="FL-1")
    with pytest.raises(ScopeError):  # another line's policy
        list_item_add(actor=ol.scope("agri"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    with pytest.raises(ScopeError, match="本级"):  # the province department cannot fill in a county list
        list_item_add(actor=ol.scope("p_civil"), region_code=WZ, year=YEAR, policy_code="CQ-X")
    with pytest.raises(DomainError, match="由其他地区制定"):  # a 涪陵 policy on a 万州 list
        list_item_add(actor=ol.scope("p_civil"), region_code=P, year=YEAR, policy_code="WZ-001")
    with pytest.raises(DomainError, match="市（州）级区划"):
        list_file(actor=ol.scope("finance"), region_code=WZ, year=YEAR)
    with pytest.raises(ScopeError):  # a county finance bureau cannot file for the prefecture
        list_file(actor=ol.scope("finance"), region_code=M, year=YEAR)
    with pytest.raises(ScopeError):  # a department cannot file
        list_file(actor=ol.scope("m_civil"), region_code=M, year=YEAR)
    with pytest.raises(ScopeError):  # only the province finance publishes
        list_publish(actor=ol.scope("m_finance"), province_code=P, year=YEAR)
    with pytest.raises(ScopeError):
        list_publish(actor=ol.scope("supervisor"), province_code=P, year=YEAR)
    assert not AnnualPolicyList.objects.filter(status="published").exists()


def test_item_rules(policies):
    ol = policies
    list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    with pytest.raises(DomainError, match="已在 2027 年度清单中"):
        list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    with pytest.raises(DomainError, match="清单类别"):
        list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="CQ-X", part="other")
    with pytest.raises(DomainError, match="不存在"):
        list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="NOPE")
    with pytest.raises(DomainError, match="三级编制"):
        list_item_add(actor=Scope.system(), region_code="500101001000", year=YEAR, policy_code="WZ-001")
    policy_retire(actor=ol.scope("fl_civil"), code="FL-1", reason="到期")
    with pytest.raises(DomainError, match="不在执行状态"):
        list_item_add(actor=ol.scope("fl_civil"), region_code=FL, year=YEAR, policy_code="FL-1")
    with pytest.raises(DomainError, match="没有待提交的清单项目"):
        list_items_submit(actor=ol.scope("agri"), region_code=WZ, year=YEAR)
    list_item_remove(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    assert not AnnualListItem.objects.exists()
    assert AuditEvent.objects.filter(action="list.item_remove").count() == 1


def test_return_and_refile_keep_versions(policies):
    ol = policies
    list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    list_items_submit(actor=ol.scope("civil"), region_code=WZ, year=YEAR)
    list_file(actor=ol.scope("m_finance"), region_code=M, year=YEAR)
    with pytest.raises(DomainError, match="退回原因"):
        list_return(actor=ol.scope("p_finance"), region_code=M, year=YEAR, reason="")
    with pytest.raises(ScopeError):
        list_return(actor=ol.scope("m_finance"), region_code=M, year=YEAR, reason="x")
    returned = list_return(actor=ol.scope("p_finance"), region_code=M, year=YEAR, reason="缺少政策文件")
    assert {pl.status for pl in returned} == {"draft"}
    with pytest.raises(TransitionError, match="当前状态为“编制中”，不能退回"):
        list_return(actor=ol.scope("p_finance"), region_code=M, year=YEAR, reason="again")
    list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="CQ-X")
    list_items_submit(actor=ol.scope("civil"), region_code=WZ, year=YEAR)
    list_file(actor=ol.scope("m_finance"), region_code=M, year=YEAR)
    versions = list(selectors.list_versions(ol.scope("civil"), WZ, YEAR))
    assert [v.version for v in versions] == [3, 2, 1]
    diff = selectors.list_versions_compare(ol.scope("civil"), WZ, YEAR, 1, 3)
    assert [i["policy"] for i in diff["added"]] == ["CQ-X"] and diff["removed"] == []


def test_deadline_status_for_the_ui(today):
    rows = {r["key"]: r for r in selectors.list_deadline_status(YEAR)}  # today 2026-11-25
    assert rows["department_submit"]["deadline"] == dt.date(2026, 11, 30)
    assert rows["department_submit"]["state"] == "near" and rows["department_submit"]["days_left"] == 5
    assert rows["prefecture_file"]["state"] == "ok"
    assert rows["province_publish"]["deadline"] == dt.date(2027, 2, 28)
    today("2026-12-21")
    rows = {r["key"]: r for r in selectors.list_deadline_status(YEAR)}
    assert rows["department_submit"]["state"] == "overdue" and rows["prefecture_file"]["state_label"] == "已逾期"
    assert rows["province_publish"]["state"] == "ok"
    leap = {r["key"]: r for r in selectors.list_deadline_status(2028, today=dt.date(2028, 2, 22))}
    assert leap["province_publish"]["deadline"] == dt.date(2028, 2, 29) and leap["province_publish"]["state"] == "near"
