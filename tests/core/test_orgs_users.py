"""Organizations and users: services (validation, permission, scope, audit), pages, exports, API, CLI."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from tests.world import PASSWORD, make_org, make_user
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent, BusinessLine, Organization, OrgKind, Region, Role, User
from yikatong.core.scope import Scope
from yikatong.core.services.orgs import organization_create, organization_deactivate, organization_update
from yikatong.core.services.users import (
    user_activate,
    user_create,
    user_deactivate,
    user_set_password,
    user_unlock,
)

VALID_USCC = "91110000600037341L"
GOOD_PASSWORD = "Qingshan#River2026"


def scope_of(world, key) -> Scope:
    return Scope.for_user(world.users[key])


@pytest.fixture
def county_admin(world):
    """An administrator of 万州区 only (the world's admin works for the whole municipality)."""
    org = make_org("WZ-YYZX", "万州区平台运维组", OrgKind.ADMIN, "500101000000")
    return make_user("t_wz_admin", org, Role.ADMIN, is_staff=True)


def can_log_in(client, username: str, password: str) -> bool:
    """Log in through the real login page (django-axes needs the request)."""
    client.logout()
    client.post(reverse("core:login"), {"username": username, "password": password})
    return "_auth_user_id" in client.session


def last_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-seq").first()


def csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


# -- organization_create -------------------------------------------------------------------------------
def test_admin_creates_organization_and_it_is_audited(world):
    org = organization_create(
        actor=scope_of(world, "admin"), code="WZ-SLJ", name="万州区水利局", kind=OrgKind.DEPARTMENT,
        region_code="500101000000", business_line=BusinessLine.WATER, credit_code=VALID_USCC.lower(),
    )
    assert org.pk and org.active and org.credit_code == VALID_USCC
    event = last_event("org.create")
    assert event.object_id == str(org.pk)
    assert event.actor_username == "t_admin"
    assert event.region_code == "500101000000"
    assert event.after["code"] == "WZ-SLJ" and event.after["business_line"] == "water"


@pytest.mark.parametrize("code", ["WZ-CZJ", "wz-czj"])
def test_duplicate_organization_code_is_refused(world, code):
    with pytest.raises(DomainError) as exc:
        organization_create(actor=scope_of(world, "admin"), code=code, name="又一个财政局",
                            kind=OrgKind.FINANCE, region_code="500101000000")
    assert f"机构编码 {code} 已存在" in exc.value.message
    assert exc.value.field == "code"
    assert Organization.objects.filter(name="又一个财政局").count() == 0


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"kind": OrgKind.DEPARTMENT}, "business_line", "主管部门必须选择业务条线"),
        ({"region_code": "500101009000"}, "region_code", "行政区划 500101009000 不存在"),
        ({"region_code": "5001"}, "region_code", "行政区划代码“5001”无效"),
        ({"credit_code": "91110000600037341X"}, "credit_code", "校验位不正确"),
        ({"credit_code": "1234"}, "credit_code", "长度应为18位"),
        ({"code": "万州 财政"}, "code", "只能使用字母、数字"),
        ({"code": "new"}, "code", "系统保留字"),
        ({"code": ""}, "code", "请填写机构编码"),
        ({"name": "  "}, "name", "请填写机构名称"),
        ({"kind": "bureau"}, "kind", "机构类型“bureau”无效"),
        ({"business_line": "space"}, "business_line", "业务条线“space”无效"),
        ({"bank_code": "ab-12"}, "bank_code", "银行代码“ab-12”无效"),
    ],
)
def test_bad_organization_input_gets_a_chinese_message(world, changes, field, text):
    args = {"code": "WZ-NEW", "name": "新机构", "kind": OrgKind.FINANCE, "region_code": "500101000000"}
    args.update(changes)
    with pytest.raises(DomainError) as exc:
        organization_create(actor=scope_of(world, "admin"), **args)
    assert text in exc.value.message
    assert exc.value.field == field
    assert not AuditEvent.objects.filter(action="org.create").exists()


def test_retired_region_cannot_host_an_organization(world):
    Region.objects.filter(code="500101002000").update(active=False)
    with pytest.raises(DomainError, match="已撤销"):
        organization_create(actor=scope_of(world, "admin"), code="WZ-X", name="x", kind=OrgKind.COLLECTOR,
                            region_code="500101002000")


def test_county_admin_cannot_create_organization_in_another_county(world, county_admin):
    actor = Scope.for_user(county_admin)
    with pytest.raises(ScopeError, match="不在您的管辖范围内"):
        organization_create(actor=actor, code="FL-NEW", name="涪陵某局", kind=OrgKind.FINANCE,
                            region_code="500102000000")
    # nor above itself
    with pytest.raises(ScopeError):
        organization_create(actor=actor, code="CQ-NEW", name="市级某局", kind=OrgKind.FINANCE,
                            region_code="500000000000")
    org = organization_create(actor=actor, code="WZ-NEW", name="万州某局", kind=OrgKind.FINANCE,
                              region_code="500101001000")
    assert org.region_id == "500101001000"


@pytest.mark.parametrize(("key", "text"), [("finance", "没有该权限"), ("supervisor", "只能查看"),
                                           ("regulator", "只能查看"), ("collector", "没有该权限")])
def test_only_admins_create_organizations(world, key, text):
    with pytest.raises(ScopeError, match=text):
        organization_create(actor=scope_of(world, key), code="WZ-NEW", name="x", kind=OrgKind.FINANCE,
                            region_code="500101000000")
    assert not Organization.objects.filter(code="WZ-NEW").exists()


# -- organization_update / deactivate ------------------------------------------------------------------
def test_update_records_before_and_after(world):
    admin = scope_of(world, "admin")
    organization_update(actor=admin, code="WZ-CZJ", name="重庆市万州区财政局", credit_code=VALID_USCC)
    event = last_event("org.update")
    assert event.before["name"] == "万州区财政局" and event.after["name"] == "重庆市万州区财政局"
    assert event.after["credit_code"] == VALID_USCC
    # nothing changed: nothing recorded
    count = AuditEvent.objects.filter(action="org.update").count()
    organization_update(actor=admin, code="WZ-CZJ", name="重庆市万州区财政局")
    assert AuditEvent.objects.filter(action="org.update").count() == count



def test_update_refuses_unknown_fields_and_a_kind_that_does_not_fit_its_users(world):
    admin = scope_of(world, "admin")
    with pytest.raises(DomainError, match="不能修改字段 new_code.*机构编码建立后不能修改"):
        organization_update(actor=admin, code="WZ-CZJ", new_code="WZ-CZJ2")
    with pytest.raises(DomainError, match="不能修改字段 password"):
        organization_update(actor=admin, code="WZ-CZJ", password="x")
    with pytest.raises(DomainError, match="1 个用户的角色与新类型不符"):
        organization_update(actor=admin, code="WZ-CZJ", kind=OrgKind.SUPERVISOR)
    with pytest.raises(DomainError, match="机构 NOPE 不存在"):
        organization_update(actor=admin, code="NOPE", name="x")
    org = Organization.objects.get(code="WZ-CZJ")
    assert (org.kind, org.name) == (OrgKind.FINANCE, "万州区财政局")


def test_update_cannot_move_an_organization_out_of_scope(world, county_admin):
    actor = Scope.for_user(county_admin)
    with pytest.raises(ScopeError):
        organization_update(actor=actor, code="WZ-GST", region_code="500102001000")
    with pytest.raises(ScopeError, match="无权操作机构 FL-CZJ"):
        organization_update(actor=actor, code="FL-CZJ", name="改名")
    assert Organization.objects.get(code="FL-CZJ").name == "涪陵区财政局"
    organization_update(actor=actor, code="WZ-GST", region_code="500101001001")
    assert Organization.objects.get(code="WZ-GST").region_id == "500101001001"


def test_deactivated_organization_locks_out_its_users_until_reactivated(world, client):
    admin = scope_of(world, "admin")
    with pytest.raises(DomainError, match="请填写停用原因"):
        organization_deactivate(actor=admin, code="WZ-CZJ", reason=" ")
    organization_deactivate(actor=admin, code="WZ-CZJ", reason="机构合并")
    event = last_event("org.deactivate")
    assert event.reason == "机构合并" and event.before["active"] is True and event.after["active"] is False
    with pytest.raises(ScopeError, match="所属机构已停用"):
        Scope.for_user(User.objects.get(username="t_finance"))
    client.force_login(world.users["finance"])
    assert client.get(reverse("core:orgs")).status_code == 403
    with pytest.raises(DomainError, match="已经停用"):
        organization_deactivate(actor=admin, code="WZ-CZJ", reason="again")
    with pytest.raises(DomainError, match="停用机构请使用"):
        organization_update(actor=admin, code="WZ-GST", active=False)
    organization_update(actor=admin, code="WZ-CZJ", active=True)
    assert Scope.for_user(User.objects.get(username="t_finance")).organization_code == "WZ-CZJ"
    assert client.get(reverse("core:orgs")).status_code == 200


def test_admin_cannot_deactivate_own_organization(world):
    with pytest.raises(DomainError, match="不能停用您本人所在的机构"):
        organization_deactivate(actor=scope_of(world, "admin"), code="PLAT-ADMIN", reason="误操作")


# -- users ---------------------------------------------------------------------------------------------
def test_admin_creates_user_without_leaking_the_password_into_the_audit(world, client):
    user = user_create(actor=scope_of(world, "admin"), username="wz_caiwu1", password=GOOD_PASSWORD,
                       organization_code="WZ-CZJ", role=Role.FINANCE, full_name="李四", phone="023-58123456")
    assert user.check_password(GOOD_PASSWORD) and not user.is_staff
    event = last_event("user.create")
    assert event.after == {
        "username": "wz_caiwu1", "full_name": "李四", "organization_code": "WZ-CZJ", "role": "finance",
        "phone": "023-58123456", "is_active": True, "is_staff": False,
    }
    assert event.region_code == "500101000000"
    assert user.password not in str(event.after) and GOOD_PASSWORD not in str(event.after)
    assert can_log_in(client, "wz_caiwu1", GOOD_PASSWORD)


def test_is_staff_defaults_to_admins_only(world):
    admin = scope_of(world, "admin")
    new_admin = user_create(actor=admin, username="ops2", password=GOOD_PASSWORD,
                            organization_code="PLAT-ADMIN", role=Role.ADMIN)
    assert new_admin.is_staff
    explicit = user_create(actor=admin, username="fin2", password=GOOD_PASSWORD, organization_code="WZ-CZJ",
                           role=Role.FINANCE, is_staff=True)
    assert explicit.is_staff


@pytest.mark.parametrize("username", ["t_finance", "T_FINANCE"])
def test_duplicate_username_is_refused(world, username):
    with pytest.raises(DomainError) as exc:
        user_create(actor=scope_of(world, "admin"), username=username, password=GOOD_PASSWORD,
                    organization_code="WZ-CZJ", role=Role.FINANCE)
    assert f"用户名 {username} 已存在" in exc.value.message
    assert User.objects.filter(username__iexact="t_finance").count() == 1


@pytest.mark.parametrize(
    ("org", "role", "text"),
    [
        ("WZ-CZJ", Role.COLLECTOR, "角色“采集经办”不适用于财政部门“万州区财政局”：该类机构的用户只能是 财政部门"),
        ("WZ-NSH", Role.ADMIN, "不适用于代发银行"),
        ("WZ-SJJ", Role.FINANCE, "不适用于监督部门"),
        ("WZ-CZJ", "boss", "角色“boss”无效"),
    ],
)
def test_role_must_fit_the_organization_kind(world, org, role, text):
    with pytest.raises(DomainError) as exc:
        user_create(actor=scope_of(world, "admin"), username="someone", password=GOOD_PASSWORD,
                    organization_code=org, role=role)
    assert text in exc.value.message and exc.value.field == "role"
    assert not User.objects.filter(username="someone").exists()


@pytest.mark.parametrize(
    ("password", "text"),
    [
        ("abc", "密码太短，至少需要 10 个字符"),
        ("12345678901234", "密码不能全是数字"),
        ("password123", "密码太常见"),
        ("someone2026x", "密码与用户名太相似"),
        ("", "请填写密码"),
    ],
)
def test_weak_password_is_refused_in_chinese(world, password, text):
    with pytest.raises(DomainError) as exc:
        user_create(actor=scope_of(world, "admin"), username="someone2026x", password=password,
                    organization_code="WZ-CZJ", role=Role.FINANCE)
    assert text in exc.value.message and exc.value.field == "password"
    assert "This password" not in exc.value.message
    assert not User.objects.filter(username="someone2026x").exists()


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"username": "张 三"}, "username", "用户名“张 三”无效"),
        ({"username": ""}, "username", "请填写用户名"),
        ({"username": "new"}, "username", "系统保留字"),
        ({"organization_code": "NOPE"}, "organization_code", "机构 NOPE 不存在"),
        ({"phone": "电话"}, "phone", "办公电话“电话”格式不正确"),
    ],
)
def test_bad_user_input_gets_a_chinese_message(world, changes, field, text):
    args = {"username": "someone", "password": GOOD_PASSWORD, "organization_code": "WZ-CZJ",
            "role": Role.FINANCE}
    args.update(changes)
    with pytest.raises(DomainError) as exc:
        user_create(actor=scope_of(world, "admin"), **args)
    assert text in exc.value.message and exc.value.field == field


def test_no_user_for_a_deactivated_organization(world):
    admin = scope_of(world, "admin")
    organization_deactivate(actor=admin, code="WZ-TB", reason="撤并")
    with pytest.raises(DomainError, match="已停用，不能新增用户"):
        user_create(actor=admin, username="tb2", password=GOOD_PASSWORD, organization_code="WZ-TB",
                    role=Role.COLLECTOR)


def test_county_admin_manages_only_users_of_its_county(world, county_admin):
    actor = Scope.for_user(county_admin)
    with pytest.raises(ScopeError, match="无权在机构 FL-CZJ 下管理用户"):
        user_create(actor=actor, username="fl2", password=GOOD_PASSWORD, organization_code="FL-CZJ",
                    role=Role.FINANCE)
    for action in (
        lambda: user_set_password(actor=actor, username="t_finance_other", password=GOOD_PASSWORD),
        lambda: user_deactivate(actor=actor, username="t_finance_other", reason="x"),
        lambda: user_unlock(actor=actor, username="t_finance_other"),
        lambda: user_set_password(actor=actor, username="t_admin", password=GOOD_PASSWORD),
    ):
        with pytest.raises(ScopeError, match="不在您的管辖范围内"):
            action()
    assert User.objects.get(username="t_finance_other").is_active
    assert user_create(actor=actor, username="wz2", password=GOOD_PASSWORD, organization_code="WZ-GST",
                       role=Role.COLLECTOR).organization.code == "WZ-GST"


@pytest.mark.parametrize("key", ["finance", "supervisor", "collector", "paying_bank"])
def test_only_admins_manage_users(world, key):
    actor = scope_of(world, key)
    with pytest.raises(ScopeError):
        user_create(actor=actor, username="x1", password=GOOD_PASSWORD, organization_code="WZ-CZJ",
                    role=Role.FINANCE)
    with pytest.raises(ScopeError):
        user_deactivate(actor=actor, username="t_collector2", reason="x")
    with pytest.raises(ScopeError):
        user_set_password(actor=actor, username="t_collector2", password=GOOD_PASSWORD)


def test_set_password_validates_and_is_audited_without_the_hash(world, client):
    admin = scope_of(world, "admin")
    with pytest.raises(DomainError, match="密码太短"):
        user_set_password(actor=admin, username="t_collector", password="short")
    with pytest.raises(DomainError, match="用户 ghost 不存在"):
        user_set_password(actor=admin, username="ghost", password=GOOD_PASSWORD)
    user_set_password(actor=admin, username="t_collector", password=GOOD_PASSWORD)
    event = last_event("user.set_password")
    assert event.after == {"username": "t_collector", "password_changed": True}
    assert event.before is None
    assert can_log_in(client, "t_collector", GOOD_PASSWORD)
    assert not can_log_in(client, "t_collector", PASSWORD)


def test_deactivate_and_activate_user(world, client):
    admin = scope_of(world, "admin")
    with pytest.raises(DomainError, match="请填写停用原因"):
        user_deactivate(actor=admin, username="t_collector", reason="")
    with pytest.raises(DomainError, match="不能停用您自己的账号"):
        user_deactivate(actor=admin, username="t_admin", reason="x")
    client.force_login(world.users["collector"])
    user_deactivate(actor=admin, username="t_collector", reason="调离岗位")
    assert last_event("user.deactivate").reason == "调离岗位"
    # the open session ends, and a new login fails
    assert client.get(reverse("core:home")).status_code == 302
    assert not can_log_in(client, "t_collector", PASSWORD)
    with pytest.raises(DomainError, match="已经停用"):
        user_deactivate(actor=admin, username="t_collector", reason="again")
    user_activate(actor=admin, username="t_collector")
    assert can_log_in(client, "t_collector", PASSWORD)
    with pytest.raises(DomainError, match="当前是启用状态"):
        user_activate(actor=admin, username="t_collector")


def _fail_logins(client, username, times):
    for _ in range(times):
        client.post(reverse("core:login"), {"username": username, "password": "wrong-password"})


def test_unlock_after_lockout(world, client, settings):
    _fail_logins(client, "t_collector", settings.AXES_FAILURE_LIMIT)
    response = client.post(reverse("core:login"), {"username": "t_collector", "password": PASSWORD})
    assert "_auth_user_id" not in client.session  # locked: even the right password is refused
    assert response.status_code in (403, 429)

    admin_client = Client()
    admin_client.force_login(world.users["admin"])
    page = admin_client.get(reverse("core:user-detail", args=["t_collector"]))
    assert 'data-testid="user-locked"' in page.content.decode()

    cleared = user_unlock(actor=scope_of(world, "admin"), username="t_collector")
    assert cleared >= 1
    assert last_event("user.unlock").after["attempts_cleared"] == cleared
    response = client.post(reverse("core:login"), {"username": "t_collector", "password": PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(world.users["collector"].pk)


def test_unlock_from_the_user_page(world, client, settings):
    _fail_logins(client, "t_collector2", settings.AXES_FAILURE_LIMIT)
    client.force_login(world.users["admin"])
    response = client.post(reverse("core:user-unlock", args=["t_collector2"]), follow=True)
    assert "已解除用户 t_collector2 的登录锁定" in response.content.decode()
    assert 'data-testid="user-locked"' not in response.content.decode()
    client.logout()
    assert client.post(reverse("core:login"), {"username": "t_collector2", "password": PASSWORD}).status_code == 302


# -- pages ---------------------------------------------------------------------------------------------
def test_org_create_form_shows_chinese_field_errors_not_a_stack_trace(world, client):
    client.force_login(world.users["admin"])
    url = reverse("core:org-create")
    assert client.get(url).status_code == 200
    response = client.post(url, {"code": "WZ-CZJ", "name": "重复", "kind": "finance", "region_code": "500101000000"})
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-field-error="code"' in body and "机构编码 WZ-CZJ 已存在" in body
    assert "Traceback" not in body
    response = client.post(url, {"code": "", "name": "", "kind": "", "region_code": ""})
    assert response.status_code == 400 and "此项为必填项" in response.content.decode()
    response = client.post(url, {"code": "WZ-WJW", "name": "万州区卫健委", "kind": "department",
                                 "region_code": "500101000000"})
    assert "主管部门必须选择业务条线" in response.content.decode()
    response = client.post(url, {"code": "WZ-WJW", "name": "万州区卫健委", "kind": "department",
                                 "business_line": "health", "region_code": "500101000000"})
    assert response.status_code == 302 and response["Location"] == reverse("core:org-detail", args=["WZ-WJW"])
    assert Organization.objects.get(code="WZ-WJW").business_line == "health"


def test_org_edit_and_deactivate_pages(world, client):
    client.force_login(world.users["admin"])
    url = reverse("core:org-detail", args=["WZ-TB"])
    response = client.post(url, {"name": "太白街道", "kind": "collector", "region_code": "500101002000",
                                 "credit_code": "123"})
    assert response.status_code == 400 and "统一社会信用代码“123”无效" in response.content.decode()
    response = client.post(url, {"name": "万州区太白街道办事处", "kind": "collector", "region_code": "500101002000"})
    assert response.status_code == 302
    assert Organization.objects.get(code="WZ-TB").name == "万州区太白街道办事处"
    response = client.post(reverse("core:org-deactivate", args=["WZ-TB"]), {"reason": ""}, follow=True)
    assert "请填写停用原因" in response.content.decode()
    response = client.post(reverse("core:org-deactivate", args=["WZ-TB"]), {"reason": "撤并"}, follow=True)
    assert 'data-testid="org-inactive"' in response.content.decode()
    client.post(reverse("core:org-activate", args=["WZ-TB"]))
    assert Organization.objects.get(code="WZ-TB").active


def test_user_create_form_errors_and_success(world, client):
    client.force_login(world.users["admin"])
    url = reverse("core:user-create")
    assert "WZ-CZJ" in client.get(url).content.decode()  # organization suggestions
    base = {"username": "wz_new", "organization_code": "WZ-CZJ", "role": "finance", "full_name": "王五"}
    response = client.post(url, {**base, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD + "x"})
    assert response.status_code == 400 and "两次输入的密码不一致" in response.content.decode()
    response = client.post(url, {**base, "password1": "123", "password2": "123"})
    body = response.content.decode()
    assert response.status_code == 400 and 'data-field-error="password1"' in body and "密码太短" in body
    response = client.post(url, {**base, "role": "collector", "password1": GOOD_PASSWORD,
                                 "password2": GOOD_PASSWORD})
    assert 'data-field-error="role"' in response.content.decode()
    response = client.post(url, {**base, "username": "t_finance", "password1": GOOD_PASSWORD,
                                 "password2": GOOD_PASSWORD})
    assert "用户名 t_finance 已存在" in response.content.decode()
    response = client.post(url, {**base, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert response.status_code == 302
    assert User.objects.get(username="wz_new").organization.code == "WZ-CZJ"


def test_user_pages_deactivate_and_set_password(world, client):
    client.force_login(world.users["admin"])
    detail = reverse("core:user-detail", args=["t_hr"])
    assert "万州区人力社保局" in client.get(detail).content.decode()
    response = client.post(reverse("core:user-password", args=["t_hr"]), {"password1": "1", "password2": "1"})
    assert response.status_code == 400 and "密码太短" in response.content.decode()
    client.post(reverse("core:user-password", args=["t_hr"]), {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert User.objects.get(username="t_hr").check_password(GOOD_PASSWORD)
    client.post(reverse("core:user-deactivate", args=["t_hr"]), {"reason": "离职"})
    assert not User.objects.get(username="t_hr").is_active
    client.post(reverse("core:user-activate", args=["t_hr"]))
    assert User.objects.get(username="t_hr").is_active


def test_read_only_roles_see_no_management_controls(world, client):
    client.force_login(world.users["supervisor"])
    body = client.get(reverse("core:orgs")).content.decode()
    assert 'data-testid="org-create"' not in body and 'data-testid="org-export"' in body
    body = client.get(reverse("core:org-detail", args=["WZ-CZJ"])).content.decode()
    assert "org-edit-form" not in body and "org-deactivate-form" not in body and "apikey-form" not in body
    body = client.get(reverse("core:user-detail", args=["t_finance"])).content.decode()
    assert "user-password-form" not in body and "user-deactivate-form" not in body
    response = client.post(reverse("core:org-detail", args=["WZ-CZJ"]), {"name": "x", "kind": "finance",
                                                                         "region_code": "500101000000"})
    assert response.status_code == 403 and "监督、监管角色只能查看" in response.content.decode()
    assert Organization.objects.get(code="WZ-CZJ").name == "万州区财政局"


def test_org_list_filters(world, client):
    client.force_login(world.users["finance"])
    url = reverse("core:orgs")

    def codes(params):
        response = client.get(url, params)
        assert response.status_code == 200
        return {org.code for org in response.context["page"].object_list}

    assert codes({"kind": "department"}) == {"WZ-MZJ", "WZ-NYNCW"}
    assert codes({"line": "agriculture"}) == {"WZ-NYNCW"}
    assert codes({"region": "500101001"}) == {"WZ-GST"}
    assert codes({"q": "银行"}) == {"WZ-ICBC", "WZ-SSKYH"}
    response = client.get(url, {"region": "12x"})
    assert response.status_code == 200 and "行政区划代码“12x”无效" in response.content.decode()


def test_org_export_is_streamed_filtered_and_audited(world, client):
    client.force_login(world.users["finance"])
    response = client.get(reverse("core:org-export"), {"kind": "department"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0][:3] == ["机构编码", "机构名称", "机构类型"]
    assert sorted(r[0] for r in rows[1:]) == ["WZ-MZJ", "WZ-NYNCW"]
    event = last_event("org.export")
    assert event.actor_username == "t_finance" and event.after["filters"]["kind"] == "department"


def test_user_export_is_audited_and_neutralises_formulas(world, client):
    User.objects.filter(username="t_hr").update(full_name="=HYPERLINK(\"http://x\")")
    client.force_login(world.users["supervisor"])
    rows = csv_rows(client.get(reverse("core:user-export")))
    names = {r[0]: r[1] for r in rows[1:]}
    assert names["t_hr"].startswith("'=")
    assert last_event("user.export").actor_username == "t_supervisor"


def test_export_needs_export_permission(world, client):
    client.force_login(world.users["regulator"])  # may view organizations, may not take bulk copies
    assert client.get(reverse("core:orgs")).status_code == 200
    assert client.get(reverse("core:org-export")).status_code == 403
    assert not AuditEvent.objects.filter(action="org.export").exists()


def test_navigation_shows_system_management_by_permission(world, client):
    client.force_login(world.users["admin"])
    body = client.get(reverse("core:home")).content.decode()
    assert 'data-nav="core:orgs"' in body and 'data-nav="core:users"' in body
    client.force_login(world.users["collector"])
    body = client.get(reverse("core:home")).content.decode()
    assert 'data-nav="core:orgs"' not in body and 'data-nav="core:users"' not in body
    client.force_login(world.users["civil"])
    body = client.get(reverse("core:home")).content.decode()
    assert 'data-nav="core:orgs"' in body and 'data-nav="core:users"' not in body


# -- API -----------------------------------------------------------------------------------------------
def test_api_create_organization(world, client):
    client.force_login(world.users["admin"])
    payload = {"code": "WZ-LYJ", "name": "万州区林业局", "kind": "department", "region_code": "500101000000",
               "business_line": "forestry"}
    response = client.post("/api/orgs/", payload, content_type="application/json")
    assert response.status_code == 201 and response.json()["code"] == "WZ-LYJ"
    response = client.post("/api/orgs/", payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("机构编码 WZ-LYJ 已存在") and response.json()["field"] == "code"


def test_api_requires_login(world, client):
    assert client.get("/api/orgs/").status_code == 401
    assert client.get("/api/orgs/users/").status_code == 401


# -- CLI -----------------------------------------------------------------------------------------------
def test_create_user_command(world, client):
    out = io.StringIO()
    call_command("create-user", "--username", "cli_user", "--org", "WZ-CZJ", "--role", "finance",
                 "--full-name", "赵六", "--password", GOOD_PASSWORD, stdout=out)
    assert "已新建用户 cli_user" in out.getvalue()
    assert can_log_in(client, "cli_user", GOOD_PASSWORD)
    assert last_event("user.create").actor_username == "create-user"
    with pytest.raises(CommandError, match="用户名 cli_user 已存在"):
        call_command("create-user", "--username", "cli_user", "--org", "WZ-CZJ", "--role", "finance",
                     "--password", GOOD_PASSWORD)
    with pytest.raises(CommandError, match="密码太短"):
        call_command("create-user", "--username", "cli_user2", "--org", "WZ-CZJ", "--role", "finance",
                     "--password", "short")


def test_create_user_command_can_set_up_the_first_organization(world):
    out = io.StringIO()
    call_command("create-user", "--username", "fl_ops", "--org", "FL-YYZX", "--role", "admin",
                 "--new-org-name", "涪陵区平台运维组", "--new-org-kind", "admin",
                 "--new-org-region", "500102000000", "--password", GOOD_PASSWORD, stdout=out)
    assert "已新建机构 FL-YYZX" in out.getvalue()
    user = User.objects.get(username="fl_ops")
    assert user.is_staff and user.organization.region_id == "500102000000"
    with pytest.raises(CommandError, match="行政区划 500199000000 不存在"):
        call_command("create-user", "--username", "x_ops", "--org", "X-YYZX", "--role", "admin",
                     "--new-org-name", "x", "--new-org-kind", "admin", "--new-org-region", "500199000000",
                     "--password", GOOD_PASSWORD)
    assert not Organization.objects.filter(code="X-YYZX").exists()
