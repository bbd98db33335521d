"""application_create: the one service behind typed, online and roster-row entry."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError

from tests.applications.conftest import VILLAGE2
from yikatong.applications.models import Application, ApplicationEvent
from yikatong.applications.services import application_create, application_withdraw
from yikatong.applications.services import applications as app_services
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope


def create(flow, person, **kwargs):
    args = {"policy_code": "WZ-001", "period": "2026-03", "channel": "typed"}
    args.update(kwargs)
    actor = args.pop("actor", None) or flow.scope("collector")
    return application_create(actor=actor, beneficiary_id=person.pk, **args)


def test_typed_application_defaults_and_history(flow, zhang):
    app = create(flow, zhang, remarks="低保边缘户")
    app.refresh_from_db()
    assert app.status == "collected"
    assert app.number.startswith("SB20260302") and len(app.number) == 18
    assert app.amount == Decimal("300.00")                  # defaults to the fixed standard
    assert app.business_line == "civil_affairs"             # copied from the policy for scope
    assert app.region_id == zhang.region_id
    assert app.collector_id == flow.world.orgs["collector"].pk
    assert app.payee_account.beneficiary_id == zhang.pk and app.payee_account.is_active
    assert app.step_started_on == dt.date(2026, 3, 2)
    assert app.step_deadline == dt.date(2026, 3, 5)         # Mon + 3 working days
    event = ApplicationEvent.objects.get(application=app)
    assert (event.from_status, event.to_status, event.actor) == ("", "collected", "t_collector")
    audit = AuditEvent.objects.get(action="application.create", object_id=str(app.pk))
    assert audit.after["number"] == app.number and audit.region_code == app.region_id
    assert zhang.id_number_plain not in str(audit.after)     # no personal data in the trail


def test_deadline_uses_the_working_day_calendar(flow, zhang):
    flow.set_today("2026-09-29")  # Tue; Oct 1–7 National Day holiday, Oct 10 (Sat) an adjusted working day
    app = create(flow, zhang, period="2026-09")
    assert app.step_deadline == dt.date(2026, 10, 9)         # Sep 30, Oct 8, Oct 9


def test_per_unit_and_tiered_amounts(flow, zhang, li):
    land = create(flow, zhang, policy_code="WZ-AG", period="2026", quantity="3.5")
    assert land.amount == Decimal("421.75") and land.quantity == Decimal("3.50") and land.business_line == "agriculture"
    land_partial = create(flow, li, policy_code="WZ-AG", period="2026", quantity="2", amount="200")
    assert land_partial.amount == Decimal("200.00")
    tier = create(flow, zhang, policy_code="WZ-TIER", period="2026Q1", tier="T2")
    assert tier.amount == Decimal("900.00") and tier.tier == "T2"
    with pytest.raises(DomainError, match="请填写补贴数量"):
        create(flow, zhang, policy_code="WZ-AG", period="2026")
    with pytest.raises(DomainError, match="没有档次“T9”"):
        create(flow, li, policy_code="WZ-TIER", period="2026Q1", tier="T9")


@pytest.mark.parametrize("kwargs, message", [
    ({"amount": "300.01"}, "超过补贴标准上限 300.00 元"),
    ({"amount": "12.345"}, "最多保留两位小数"),
    ({"amount": "0"}, "应大于0"),
    ({"period": "2026Q1"}, "按月发放，补贴期间应填写月份"),
    ({"period": "2026"}, "按月发放"),
    ({"period": "2026-14"}, "月份无效"),
    ({"period": "2025-12"}, "有效期"),
    ({"policy_code": "WZ-OUT"}, "补贴项目 WZ-OUT 不在 2026 年度 高笋塘社区（500101001001） 的补贴项目库中"),
    ({"period": "2027-01"}, "不在 2027 年度"),
    ({"policy_code": "NOPE"}, "补贴项目 NOPE 不存在"),
    ({"channel": "fax"}, "申报来源“fax”无效"),
    ({"remarks": "长" * 201}, "备注不能超过200字"),
])
def test_refusals_carry_a_chinese_message(flow, zhang, kwargs, message):
    with pytest.raises(DomainError, match=message):
        create(flow, zhang, **kwargs)
    assert not Application.objects.exists()


def test_duplicate_application_refused_with_number_and_status(flow, zhang):
    first = create(flow, zhang)
    with pytest.raises(DomainError, match=rf"该对象本期已有申报（编号 {first.number}，状态 已采集待核实），不能重复申报"):
        create(flow, zhang, amount="100")
    create(flow, zhang, period="2026-04")                    # another period is fine
    application_withdraw(actor=flow.scope("collector"), application_id=first.pk, reason="本人申请撤回")
    again = create(flow, zhang)                               # a withdrawn one no longer blocks
    assert again.number != first.number
    assert Application.objects.filter(beneficiary=zhang, period="2026-03").count() == 2


def test_database_constraint_is_the_final_guard(flow, zhang, monkeypatch):
    first = create(flow, zhang)
    # Simulate the race: the Python check sees nothing, the partial unique constraint refuses.
    monkeypatch.setattr(app_services, "_find_open_duplicate", lambda *args: None)
    with pytest.raises(DomainError, match=rf"已有申报（编号 {first.number}"):
        create(flow, zhang)
    assert Application.objects.count() == 1
    # and the constraint itself exists in the database
    clone = Application.objects.get(pk=first.pk)
    clone.pk, clone.number = None, "SB20260302TESTTEST"
    with pytest.raises(IntegrityError):
        clone.save(force_insert=True)


def test_number_collision_is_retried(flow, zhang, li, monkeypatch):
    numbers = iter(["SB20260302AAAAAAAA", "SB20260302AAAAAAAA", "SB20260302BBBBBBBB"])
    monkeypatch.setattr(app_services.rules, "new_application_number", lambda day: next(numbers))
    assert create(flow, zhang).number == "SB20260302AAAAAAAA"
    assert create(flow, li).number == "SB20260302BBBBBBBB"


def test_scope_and_roles(flow, zhang):
    other_township = flow.person("wang", name="王五", village=VILLAGE2, seq=21, collector="collector2")
    with pytest.raises(ScopeError):
        create(flow, other_township)                          # 高笋塘 collector, 太白 resident
    with pytest.raises(ScopeError, match="没有该权限"):
        create(flow, zhang, actor=flow.scope("civil"))        # departments do not collect
    with pytest.raises(ScopeError, match="只能查看"):
        create(flow, zhang, actor=flow.scope("supervisor"))
    assert create(flow, other_township, actor=flow.scope("collector2")).collector_id == flow.world.orgs["collector2"].pk


def test_online_application_by_the_platform(flow, zhang):
    app = create(flow, zhang, actor=Scope.system(reason="online"), channel="online")
    assert app.channel == "online" and app.created_by == "online"
    assert app.collector_id == flow.world.orgs["collector"].pk  # routed to the collector of the village
    with pytest.raises(DomainError, match="不受理网上申请"):
        create(flow, zhang, actor=Scope.system(reason="online"), channel="online", policy_code="WZ-PRIV")


def test_payee_account_must_be_the_persons_active_account(flow, zhang, li):
    li_account = li.accounts.get(is_active=True)
    with pytest.raises(DomainError, match="收款账户不属于该补贴对象"):
        create(flow, zhang, payee_account_id=li_account.pk)
    no_account = flow.person("zhao", name="赵六", seq=31, account=False)
    assert create(flow, no_account).payee_account_id is None


def test_unknown_beneficiary(flow):
    with pytest.raises(DomainError, match="补贴对象 999999 不存在"):
        application_create(actor=flow.scope("collector"), beneficiary_id=999999, policy_code="WZ-001",
                           period="2026-03", channel="typed")
