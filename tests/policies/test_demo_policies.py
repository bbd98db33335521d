"""yikatong load-demo with the one-list demo (policies/demo.py): the 17 Chongqing policies, the published list,
the locked library, change requests, indicators with an overdue allocation, targets, next year's draft list.
The demo users can carry the story on; a second run creates nothing."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from yikatong.core import demo as core_demo
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent, Organization, OrgKind, Region, Role, User
from yikatong.core.scope import Scope
from yikatong.policies import demo, selectors, selectors_indicators
from yikatong.policies.data.chongqing_prescribed_list import DEPARTMENT_NAMES, PRESCRIBED
from yikatong.policies.models import (
    HUIMIN_TAG,
    AnnualListItem,
    AnnualListVersion,
    AnnualPolicyList,
    BudgetIndicator,
    ChangeRequest,
    ChangeRequestStep,
    IndicatorEntry,
    LibraryEntry,
    LibraryLock,
    PerformanceTarget,
    Policy,
    PolicyVersion,
)
from yikatong.policies.services import (
    change_request_approve,
    indicator_verify,
    library_allows,
    library_is_locked,
    library_require,
    list_publish,
)

TODAY = "2026-11-24"
PROVINCE, PREFECTURE, WANZHOU, FULING = "500000000000", "500100000000", "500101000000", "500102000000"
VILLAGE = "500101108201"  # 甘宁镇永安村
PRESCRIBED_CODES = [f"CQ-{i:03d}" for i in range(1, 18)]
POLICY_MODELS = (Policy, PolicyVersion, AnnualPolicyList, AnnualListItem, AnnualListVersion, LibraryEntry,
                 LibraryLock, ChangeRequest, ChangeRequestStep, BudgetIndicator, IndicatorEntry, PerformanceTarget)
POLICY_ACTIONS = ("policy.", "list.", "library.", "change.", "indicator.", "target.")


def run(*args) -> str:
    out = StringIO()
    call_command("load-demo", *args, stdout=out)
    return out.getvalue()


def scope_of(username: str) -> Scope:
    return Scope.for_user(User.objects.select_related("organization").get(username=username))


def policy_counts() -> dict:
    counts = {model.__name__: model.objects.count() for model in POLICY_MODELS}
    counts["audit"] = sum(AuditEvent.objects.filter(action__startswith=p).count() for p in POLICY_ACTIONS)
    return counts


@pytest.fixture
def loaded(db, settings):
    settings.YIKATONG_TODAY = TODAY
    return run()


# -- accounts and organizations ---------------------------------------------------------------------
def test_municipal_accounts_join_the_demo_accounts_and_the_printed_table(loaded):
    names = [a.username for a in core_demo.demo_accounts()]
    for username in ("cq_finance", "cq_agri", "cq_water", "cq_forestry", "cq_health", "cq_civil", "cq_emergency",
                     "cq_housing", "sxq_finance"):
        assert names.count(username) == 1
        assert username in loaded
        user = User.objects.select_related("organization").get(username=username)
        assert user.check_password(core_demo.PASSWORD)
    assert scope_of("cq_finance").region_code == PROVINCE and scope_of("cq_finance").role == Role.FINANCE
    assert scope_of("sxq_finance").region_code == PREFECTURE
    departments = Organization.objects.filter(region_id=PROVINCE, kind=OrgKind.DEPARTMENT)
    assert sorted(departments.values_list("name", flat=True)) == sorted(DEPARTMENT_NAMES.values())
    assert "一张清单：补贴政策 19 项（本次新增 19）" in loaded
    # the core demo's own accounting still holds with the extension's logins
    assert f"账号：新增 {len(core_demo.demo_accounts())}" in loaded
    assert AuditEvent.objects.filter(action="user.create").count() == len(core_demo.demo_accounts())


# -- 1. policies ------------------------------------------------------------------------------------
def test_the_17_prescribed_policies_belong_to_the_municipal_departments(loaded):
    policies = {p.code: p for p in Policy.objects.select_related("department")}
    assert set(PRESCRIBED_CODES) <= set(policies)
    for spec in PRESCRIBED:
        policy = policies[spec["code"]]
        assert policy.status == "active" and policy.region_id == PROVINCE
        assert policy.department.name == DEPARTMENT_NAMES[spec["business_line"]]
        assert policy.department.business_line == policy.business_line
        assert policy.means_tested == spec["means_tested"] and policy.cycle == spec["cycle"]
        assert policy.standard_amount > 0
    assert policies["CQ-009"].means_tested and not policies["CQ-001"].means_tested
    # 万州区's own subsidies: one in force (standard raised by the approved change request), one awaiting approval
    elderly = policies[demo.WZ_ELDERLY]
    assert elderly.status == "active" and elderly.standard_amount == Decimal("120.00") and elderly.version == 2
    assert elderly.versions.get(version=1).snapshot["standard_amount"] == "100.00"
    assert policies[demo.WZ_PRICE].status == "draft"


# -- 2. the current year's list ---------------------------------------------------------------------
def test_the_2026_list_was_submitted_filed_and_published_on_time(loaded):
    province = AnnualPolicyList.objects.get(region_id=PROVINCE, year=2026)
    assert province.status == "published" and not province.published_late
    assert province.published_at.date() <= dt.date(2026, 2, 28)
    items = province.items.all()
    assert sorted(i.policy.code for i in items) == PRESCRIBED_CODES
    for item in items:
        assert item.part == "prescribed" and item.status == "submitted" and not item.submitted_late
        assert item.department_id == item.policy.department_id
        assert item.submitted_at.date() <= dt.date(2025, 11, 30)
    wanzhou = AnnualPolicyList.objects.get(region_id=WANZHOU, year=2026)
    assert wanzhou.status == "published" and not wanzhou.filed_late
    assert wanzhou.filed_by == "load-demo" and wanzhou.filed_at.date() <= dt.date(2025, 12, 20)
    assert [(i.policy.code, i.part) for i in wanzhou.items.all()] == [(demo.WZ_ELDERLY, "self_defined")]
    assert AnnualPolicyList.objects.get(region_id=PREFECTURE, year=2026).status == "published"
    public = selectors.published_list(PROVINCE, 2026)
    assert public.count() == 18
    assert list(province.versions.values_list("status", flat=True)) == ["published"]


# -- 3. the library ---------------------------------------------------------------------------------
def test_the_2026_library_lets_wanzhou_pay_the_listed_policies_and_nothing_else(loaded):
    for code in [*PRESCRIBED_CODES, demo.WZ_ELDERLY]:
        assert library_allows(policy=code, region_code=WANZHOU, year=2026), code
        assert library_allows(policy=code, region_code=VILLAGE, year=2026), code
    assert not library_allows(policy=demo.WZ_ELDERLY, region_code=FULING, year=2026)
    assert library_allows(policy="CQ-009", region_code=FULING, year=2026)
    # the pending addition is not in the library until its request is approved
    assert not library_allows(policy=demo.WZ_PRICE, region_code=WANZHOU, year=2026)
    with pytest.raises(DomainError, match="不在 2026 年度"):
        library_require(policy=demo.WZ_PRICE, region_code=WANZHOU, year=2026)
    assert not library_allows(policy="CQ-001", region_code=WANZHOU, year=2027)  # next year's list is a draft
    assert LibraryEntry.objects.filter(year=2026, status="active").count() == 18
    assert LibraryLock.objects.filter(region_id=PROVINCE, year=2026).exists()
    assert library_is_locked(region_code=WANZHOU, year=2026)


# -- 4. change requests -----------------------------------------------------------------------------
def test_one_change_request_approved_and_one_waiting_at_the_prefecture_step(loaded):
    done = ChangeRequest.objects.get(policy__code=demo.WZ_ELDERLY)
    assert done.status == "approved" and done.change_type == "modify" and done.decided_at is not None
    decisions = list(done.steps.order_by("id").values_list("step_code", "decision"))
    assert decisions == [("applicant", "submitted"), ("county_department", "approved"),
                         ("prefecture_government", "approved"), ("province_department", "approved"),
                         ("province_finance", "approved")]
    waiting = ChangeRequest.objects.get(policy__code=demo.WZ_PRICE)
    assert waiting.status == "in_review" and waiting.change_type == "add" and waiting.current_step == 1
    assert waiting.applicant.code == "WZ-MZJ"
    assert [cr.pk for cr in selectors.change_requests_awaiting(scope_of("sxq_finance"))] == [waiting.pk]
    assert selectors.change_requests_awaiting(scope_of("cq_finance")) == []
    assert selectors.change_requests_awaiting(scope_of("cq_civil")) == []


def test_the_demo_users_can_carry_the_waiting_request_to_its_effect(loaded):
    waiting = ChangeRequest.objects.get(policy__code=demo.WZ_PRICE)
    with pytest.raises(ScopeError):
        change_request_approve(actor=scope_of("fl_finance"), pk=waiting.pk, opinion="越权")
    with pytest.raises(ScopeError):
        change_request_approve(actor=scope_of("cq_finance"), pk=waiting.pk, opinion="跳过市（州）环节")
    change_request_approve(actor=scope_of("sxq_finance"), pk=waiting.pk, opinion="同意")
    assert selectors.change_requests_awaiting(scope_of("cq_civil"))[0].pk == waiting.pk
    change_request_approve(actor=scope_of("cq_civil"), pk=waiting.pk, opinion="同意")
    change_request_approve(actor=scope_of("cq_finance"), pk=waiting.pk, opinion="同意")
    waiting.refresh_from_db()
    assert waiting.status == "approved"
    assert Policy.objects.get(code=demo.WZ_PRICE).status == "active"
    assert library_allows(policy=demo.WZ_PRICE, region_code=VILLAGE, year=2026)


# -- 5. indicators and targets ----------------------------------------------------------------------
def test_indicators_balance_and_each_finance_bureau_sees_its_own(loaded):
    assert indicator_verify(fiscal_year=2026) == []
    parents = BudgetIndicator.objects.filter(parent=None)
    assert parents.count() == 4
    for parent in parents:
        assert parent.holder.code == "CQ-CZJ" and parent.tag == HUIMIN_TAG
        children = list(parent.children.all())
        assert children
        given = sum((c.amount for c in children), Decimal("0"))
        assert parent.available == parent.amount - given
        assert parent.allocated_out_total == given
        for child in children:
            # the payments demo (payments/demo.py) draws on 万州区's indicators: committed, paid, returned
            assert child.received_total == child.amount
            assert child.available == child.amount - child.committed_total - child.paid_total + child.returned_total
    wanzhou = selectors_indicators.indicators_visible(scope_of("finance"), fiscal_year=2026)
    assert {i.holder.code for i in wanzhou} == {"WZ-CZJ"}
    assert sorted(i.policy.code for i in wanzhou) == ["CQ-001", "CQ-009", "CQ-013", "CQ-016"]
    assert sum(i.available + i.committed_total + i.paid_total - i.returned_total for i in wanzhou) == Decimal("68700000.00")
    fuling = selectors_indicators.indicators_visible(scope_of("fl_finance"), fiscal_year=2026)
    assert sum(i.available for i in fuling) == Decimal("49100000.00") and fuling.count() == 3
    assert selectors_indicators.indicators_visible(scope_of("cq_finance"), fiscal_year=2026).count() == 11
    agri = selectors_indicators.indicators_visible(scope_of("agri"), fiscal_year=2026)
    assert [i.policy.code for i in agri] == ["CQ-001"]


def test_one_allocation_is_overdue_and_warned(loaded):
    warnings = selectors_indicators.indicator_warnings(scope_of("cq_finance"))
    assert [(w["indicator"].policy.code, w["step"], w["state"]) for w in warnings] == [
        ("CQ-016", "central_funds_allocation", "overdue")]
    assert warnings[0]["days_overdue"] > 0
    rows = selectors_indicators.indicators_with_deadlines(scope_of("cq_finance"), fiscal_year=2026)
    done = [r for r in rows if r["state"] == "done"]
    assert len(done) == 5 and not any(r["late"] for r in done)  # 3 central indicators × 2 clocks, minus the open one
    assert selectors_indicators.indicator_warnings(scope_of("finance")) == []  # 万州区 holds no running clock


def test_performance_targets_for_three_policies_in_wanzhou(loaded):
    targets = PerformanceTarget.objects.filter(fiscal_year=2026, region_id=WANZHOU)
    assert sorted(set(targets.values_list("policy__code", flat=True))) == ["CQ-001", "CQ-009", "CQ-013"]
    assert targets.count() == 7
    civil = selectors_indicators.targets_visible(scope_of("civil"), fiscal_year=2026)
    assert set(civil.values_list("policy__code", flat=True)) == {"CQ-009", "CQ-013"}
    rows = {r["policy"]: r for r in selectors_indicators.dual_monitoring(scope_of("finance"), 2026)}
    assert rows["CQ-009"]["allocated"] == Decimal("42000000.00") and rows["CQ-009"]["targets_total"] == 2


# -- 6. next year's draft list ----------------------------------------------------------------------
def test_the_2027_list_is_a_draft_with_the_deadline_near(loaded):
    draft = AnnualPolicyList.objects.get(region_id=PROVINCE, year=2027)
    assert draft.status == "draft"
    by_status = {}
    for item in draft.items.all():
        by_status.setdefault(item.status, []).append(item.policy.code)
    assert sorted(by_status["submitted"]) == sorted(demo.NEXT_SUBMITTED)
    assert sorted(by_status["draft"]) == sorted(demo.NEXT_DRAFT)
    assert not draft.items.filter(policy__code__in=["CQ-016", "CQ-017"]).exists()
    assert not draft.items.filter(submitted_late=True).exists()
    deadline = {r["key"]: r for r in selectors.list_deadline_status(2027)}["department_submit"]
    assert deadline["state"] == "near" and deadline["days_left"] == 6
    with pytest.raises(DomainError, match="尚有 5 个清单项目未提交"):
        list_publish(actor=scope_of("cq_finance"), province_code=PROVINCE, year=2027)


# -- idempotence and failure -----------------------------------------------------------------------
def test_a_second_run_creates_nothing(loaded):
    before = policy_counts()
    output = run()
    assert policy_counts() == before
    assert "一张清单演示数据已存在，本次没有改动。" in output
    assert "演示数据已是最新，本次没有任何改动" in output


def test_if_empty_second_run_is_a_no_op(db, settings):
    settings.YIKATONG_TODAY = TODAY
    run("--if-empty")
    before, events = policy_counts(), AuditEvent.objects.count()
    assert "未载入演示数据" in run("--if-empty")
    assert policy_counts() == before and AuditEvent.objects.count() == events


def test_the_demo_clock_is_restored(loaded, settings):
    from yikatong.core import clock

    assert settings.YIKATONG_TODAY == TODAY
    assert clock.today() == dt.date(2026, 11, 24)


def test_without_the_municipal_departments_nothing_is_written(world, settings):
    settings.YIKATONG_TODAY = TODAY
    assert Region.objects.filter(pk=PROVINCE).exists()
    with pytest.raises(DomainError, match="没有“农业农村”条线的主管部门"):
        demo.load_policy_demo()
    assert not Policy.objects.exists() and not AnnualPolicyList.objects.exists()
    assert settings.YIKATONG_TODAY == TODAY


@pytest.mark.parametrize("today, year", [("2027-03-05", 2027), ("2026-01-03", 2026)])
def test_the_story_follows_the_clock(db, settings, today, year):
    settings.YIKATONG_TODAY = today
    run()
    assert AnnualPolicyList.objects.get(region_id=PROVINCE, year=year).status == "published"
    assert AnnualPolicyList.objects.get(region_id=PROVINCE, year=year + 1).status == "draft"
    assert library_allows(policy="CQ-001", region_code=WANZHOU, year=year)
    assert indicator_verify(fiscal_year=year) == []
    warnings = selectors_indicators.indicator_warnings(scope_of("cq_finance"))
    assert [w["indicator"].policy.code for w in warnings] == ["CQ-016"]
    assert ChangeRequest.objects.filter(year=year, status="in_review", current_step=1).count() == 1
    # nothing is dated after today
    limit = dt.date.fromisoformat(today)
    assert not BudgetIndicator.objects.filter(received_on__gt=limit).exists()
    assert not AnnualListItem.objects.filter(submitted_at__date__gt=limit).exists()


def test_a_municipal_department_can_still_submit_its_2027_items_on_time(loaded):
    from yikatong.policies.services import list_items_submit

    with pytest.raises(DomainError, match="没有待提交"):
        list_items_submit(actor=scope_of("cq_agri"), region_code=PROVINCE, year=2027)  # already submitted
    items = list_items_submit(actor=scope_of("cq_forestry"), region_code=PROVINCE, year=2027)
    assert sorted(i.policy.code for i in items) == ["CQ-004", "CQ-005", "CQ-006"]
    assert not any(i.submitted_late for i in items)


# -- the pages show the story to the demo logins -----------------------------------------------------
def test_demo_pages_render_for_the_demo_logins(loaded, client):
    client.force_login(User.objects.get(username="cq_finance"))
    page = client.get("/policies/lists/", {"region": PROVINCE, "year": 2026})
    assert page.status_code == 200 and "耕地地力保护补贴资金" in page.content.decode()
    warnings = client.get("/indicators/warnings/")
    assert warnings.status_code == 200 and "财资环〔2026〕36号" in warnings.content.decode()
    client.force_login(User.objects.get(username="sxq_finance"))
    inbox = client.get("/policies/changes/inbox/")
    number = ChangeRequest.objects.get(policy__code=demo.WZ_PRICE).number
    assert inbox.status_code == 200 and number in inbox.content.decode()
    client.force_login(User.objects.get(username="finance"))
    indicators = client.get("/indicators/", {"year": 2026})
    assert indicators.status_code == 200 and "渝财农〔2026〕35号" in indicators.content.decode()
