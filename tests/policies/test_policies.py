"""Policies: create, update with versions, compare, validation, scope, retire, exclusive pairs."""

from decimal import Decimal

import pytest

from tests.policies.conftest import policy_fields
from yikatong.core.errors import DomainError, ScopeError, TransitionError
from yikatong.core.models import AuditEvent, StoredFile
from yikatong.core.scope import Scope
from yikatong.policies import selectors
from yikatong.policies.models import Policy, PolicyVersion
from yikatong.policies.services import policy_activate, policy_create, policy_retire, policy_update


def test_department_creates_policy_of_its_line_with_version_one_and_audit(one_list):
    civil = one_list.scope("civil")
    policy = policy_create(actor=civil, fields=policy_fields())
    assert policy.status == "active" and policy.version == 1
    assert policy.region_id == "500101000000" and policy.business_line == "civil_affairs"
    assert policy.standard_amount == Decimal("300.00")
    version = PolicyVersion.objects.get(policy=policy)
    assert version.version == 1 and version.changed_by == "t_civil"
    assert version.snapshot["standard_amount"] == "300.00"
    assert version.snapshot["department"] == "WZ-MZJ"
    event = AuditEvent.objects.get(action="policy.create")
    assert event.object_id == str(policy.pk) and event.region_code == "500101000000"


def test_update_keeps_previous_version_and_compare_shows_changes(one_list):
    civil = one_list.scope("civil")
    policy_create(actor=civil, fields=policy_fields())
    policy = policy_update(actor=civil, code="WZ-001", changes={"standard_amount": "350.00", "min_age": 18},
                           reason="2027年提标")
    assert policy.version == 2 and policy.standard_amount == Decimal("350.00")
    versions = list(selectors.policy_versions(civil, "WZ-001"))
    assert [v.version for v in versions] == [2, 1]
    assert versions[1].snapshot["standard_amount"] == "300.00"  # the old one is kept as it was
    assert versions[0].reason == "2027年提标"
    rows = {row.label: row for row in selectors.policy_versions_compare(civil, "WZ-001", 1, 2)}
    assert rows["补贴标准（元）"].old == "300.00" and rows["补贴标准（元）"].new == "350.00"
    assert rows["补贴标准（元）"].changed and rows["最低年龄"].changed
    assert rows["最低年龄"].old == "—" and rows["最低年龄"].new == "18"
    assert not rows["补贴项目名称"].changed
    assert rows["是否经济状况核查"].old == "是"
    with pytest.raises(DomainError, match="没有第 5 版"):
        selectors.policy_versions_compare(civil, "WZ-001", 1, 5)
    assert AuditEvent.objects.filter(action="policy.update").count() == 1


def test_update_requires_reason_and_a_real_change(one_list):
    civil = one_list.scope("civil")
    policy_create(actor=civil, fields=policy_fields())
    with pytest.raises(DomainError, match="请填写修改原因"):
        policy_update(actor=civil, code="WZ-001", changes={"standard_amount": "1"}, reason=" ")
    with pytest.raises(DomainError, match="没有需要保存的修改"):
        policy_update(actor=civil, code="WZ-001", changes={"standard_amount": "300"}, reason="x")
    with pytest.raises(DomainError, match="不能识别"):
        policy_update(actor=civil, code="WZ-001", changes={"code": "WZ-999"}, reason="x")
    assert Policy.objects.get(code="WZ-001").version == 1


@pytest.mark.parametrize("overrides,message", [
    ({"department": ""}, "请选择主管部门"),
    ({"department": "NOPE"}, "主管部门“NOPE”不存在"),
    ({"department": "WZ-CZJ"}, "不是补贴项目主管部门"),
    ({"business_line": "agriculture"}, "与补贴项目的业务条线“农业农村”不一致"),
    ({"funding_sources": [{"level": "county", "share": "60"}]}, "合计应为100%，当前为60%"),
    ({"valid_to": "2025-12-31"}, "不能早于起始日期"),
    ({"valid_from": "2026-13-01"}, "不是有效日期"),
    ({"standard_type": "tiered"}, "分档标准至少需要一个档次"),
    ({"standard_type": "per_unit"}, "须填写计量单位"),
    ({"standard_amount": "12.345"}, "最多保留两位小数"),
    ({"standard_amount": ""}, "请填写补贴标准金额"),
    ({"cycle": "weekly"}, "请选择发放周期"),
    ({"level_set": ""}, "请选择制定层级"),
    ({"min_age": 80, "max_age": 60}, "最低年龄不能大于最高年龄"),
    ({"name": " "}, "请填写补贴项目名称"),
    ({"code": "中文编码"}, "补贴项目编码“中文编码”无效"),
    ({"exclusive_with": ["NOPE-1"]}, "互斥补贴项目 NOPE-1 不存在"),
    ({"region": "500000000000"}, "制定区划应为主管部门"),
])
def test_bad_input_is_refused_with_a_chinese_message(one_list, overrides, message):
    with pytest.raises(DomainError, match=message):
        policy_create(actor=one_list.scope("civil"), fields=policy_fields(**overrides))
    assert not Policy.objects.exists() and not AuditEvent.objects.filter(action="policy.create").exists()


def test_duplicate_code_refused(one_list):
    policy_create(actor=one_list.scope("civil"), fields=policy_fields())
    with pytest.raises(DomainError, match="补贴项目编码 WZ-001 已存在"):
        policy_create(actor=one_list.scope("finance"), fields=policy_fields(name="另一个"))


def test_department_of_other_line_and_other_region_refused(one_list):
    with pytest.raises(ScopeError):  # 农业农村委 cannot create a 民政 policy
        policy_create(actor=one_list.scope("agri"), fields=policy_fields())
    with pytest.raises(ScopeError):  # 涪陵区民政局 cannot create for 万州区
        policy_create(actor=one_list.scope("fl_civil"), fields=policy_fields())
    with pytest.raises(ScopeError):  # 涪陵区财政局 neither
        policy_create(actor=one_list.scope("finance_other"), fields=policy_fields())
    with pytest.raises(ScopeError):  # the auditor only reads
        policy_create(actor=one_list.scope("supervisor"), fields=policy_fields())
    with pytest.raises(ScopeError):  # a collector may not manage policies
        policy_create(actor=one_list.scope("collector"), fields=policy_fields())
    policy_create(actor=one_list.scope("civil"), fields=policy_fields())
    with pytest.raises(ScopeError):
        policy_update(actor=one_list.scope("agri"), code="WZ-001", changes={"name": "x"}, reason="x")
    policy_create(actor=one_list.scope("p_civil"), fields=policy_fields(code="CQ-X", department="CQ-MZJ"))
    with pytest.raises(ScopeError):  # a county department cannot change a provincial policy
        policy_update(actor=one_list.scope("civil"), code="CQ-X", changes={"name": "x"}, reason="x")


def test_finance_manages_all_lines_of_its_region(one_list):
    finance = one_list.scope("finance")
    policy_create(actor=finance, fields=policy_fields(code="WZ-AG", department="WZ-NYNCW",
                                                      standard_type="per_unit", unit_name="亩"))
    policy = policy_update(actor=finance, code="WZ-AG", changes={"cycle": "yearly"}, reason="按年发放")
    assert policy.version == 2


def test_tiered_policy_standard_is_its_highest_tier(one_list):
    tiers = [{"code": "A", "label": "一档", "amount": "100"}, {"code": "B", "label": "二档", "amount": "250.5"}]
    policy = policy_create(actor=one_list.scope("civil"),
                           fields=policy_fields(standard_type="tiered", standard_amount=None, tiers=tiers))
    assert policy.standard_amount == Decimal("250.50")
    assert policy.tiers[1] == {"code": "B", "label": "二档", "amount": "250.50"}


def test_exclusive_pairs_are_symmetric_and_versioned_on_both_sides(one_list):
    civil = one_list.scope("civil")
    policy_create(actor=civil, fields=policy_fields(code="DB"))
    policy_create(actor=civil, fields=policy_fields(code="TK", exclusive_with=["DB"]))
    db = Policy.objects.get(code="DB")
    assert list(db.exclusive_with.values_list("code", flat=True)) == ["TK"]
    assert db.version == 2
    assert PolicyVersion.objects.get(policy=db, version=2).snapshot["exclusive_with"] == ["TK"]
    with pytest.raises(DomainError, match="不能与自身互斥"):
        policy_update(actor=civil, code="DB", changes={"exclusive_with": ["DB"]}, reason="x")
    # another line cannot pair its policy with a 民政 policy
    policy_create(actor=one_list.scope("agri"), fields=policy_fields(code="AG", department="WZ-NYNCW"))
    with pytest.raises(ScopeError):
        policy_update(actor=one_list.scope("agri"), code="AG", changes={"exclusive_with": ["DB"]}, reason="x")


def test_documents_are_attached_with_titles(one_list):
    stored = StoredFile.objects.create(purpose="policy", original_name="basis.pdf", size=10, sha256="0" * 64,
                                       path="x/basis.pdf")
    policy = policy_create(actor=one_list.scope("civil"),
                           fields=policy_fields(documents=[{"file": stored.pk, "title": "万州府发〔2025〕1号"}]))
    assert [(d.file_id, d.title) for d in policy.policy_documents.all()] == [(stored.pk, "万州府发〔2025〕1号")]
    with pytest.raises(DomainError, match="标题"):
        policy_update(actor=one_list.scope("civil"), code="WZ-001",
                      changes={"documents": [{"file": stored.pk, "title": ""}]}, reason="x")


def test_retire_and_activate_follow_the_transition_table(one_list):
    civil = one_list.scope("civil")
    policy_create(actor=civil, fields=policy_fields(status="draft"))
    assert policy_activate(actor=civil, code="WZ-001").status == "active"
    with pytest.raises(TransitionError, match="不能启用"):
        policy_activate(actor=civil, code="WZ-001")
    with pytest.raises(DomainError, match="停止执行的原因"):
        policy_retire(actor=civil, code="WZ-001", reason="")
    policy = policy_retire(actor=civil, code="WZ-001", reason="政策到期")
    assert policy.status == "retired" and policy.version == 3
    with pytest.raises(DomainError, match="已停止执行，不能修改"):
        policy_update(actor=civil, code="WZ-001", changes={"name": "x"}, reason="x")
    with pytest.raises(TransitionError):
        policy_retire(actor=civil, code="WZ-001", reason="again")


def test_visibility_region_and_line(one_list):
    policy_create(actor=one_list.scope("p_civil"), fields=policy_fields(code="CQ-X", department="CQ-MZJ"))
    policy_create(actor=one_list.scope("civil"), fields=policy_fields())
    policy_create(actor=one_list.scope("fl_civil"), fields=policy_fields(code="FL-1", department="FL-MZJ"))
    codes = lambda key: set(selectors.policies_visible(one_list.scope(key)).values_list("code", flat=True))  # noqa: E731
    assert codes("civil") == {"CQ-X", "WZ-001"}           # own county + the province above, not 涪陵
    assert codes("agri") == set()                         # other line
    assert codes("p_finance") == {"CQ-X", "WZ-001", "FL-1"}
    assert codes("collector") == {"CQ-X", "WZ-001"}
    assert set(selectors.policies_visible(Scope.system()).values_list("code", flat=True)) == {"CQ-X", "WZ-001", "FL-1"}
    assert codes("paying_bank") == {"CQ-X", "WZ-001"}   # banks print policy names on statements
    with pytest.raises(DomainError, match="不在您的查看范围内"):
        selectors.policy_get(one_list.scope("civil"), "FL-1")
