"""API credentials: issuing, revoking, and the ApiKeyAuth security class on a bank endpoint."""

import datetime as dt
import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from yikatong.core.apikey_auth import ApiKeyAuth
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import ApiCredential, AuditEvent, Role, StoredFile
from yikatong.core.scope import Scope
from yikatong.core.services.apikeys import apikey_create, apikey_revoke
from yikatong.core.services.orgs import organization_deactivate

WHOAMI = "/api/orgs/whoami-key"


def admin(world) -> Scope:
    return Scope.for_user(world.users["admin"])


def issue(world, org="WZ-NSH", interfaces=("bank",), **extra):
    return apikey_create(actor=admin(world), organization_code=org, name="代发接口",
                         interfaces=list(interfaces), **extra)


def call(client, key):
    return client.get(WHOAMI, HTTP_X_API_KEY=key) if key is not None else client.get(WHOAMI)


# -- issuing -------------------------------------------------------------------------------------------
def test_key_is_returned_once_and_only_its_digest_is_stored(world):
    cred, key = issue(world)
    assert key.startswith("ykt_") and len(key) > 40
    stored = ApiCredential.objects.get(pk=cred.pk)
    assert stored.key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert stored.key_prefix == key[:12]
    assert stored.interfaces == ["bank"] and stored.active
    event = AuditEvent.objects.get(action="apikey.create")
    assert event.after["key_prefix"] == key[:12]
    assert key not in str(event.after) and stored.key_digest not in str(event.after)
    other, other_key = issue(world)
    assert other_key != key and other.key_digest != stored.key_digest


@pytest.mark.parametrize(
    ("org", "interfaces", "text"),
    [
        ("WZ-CZJ", ["bank"], "接口“bank”的凭证只能发给代发银行、社保卡合作银行"),
        ("WZ-NSH", ["payments"], "接口“payments”不存在"),
        ("WZ-NSH", [], "请至少选择一个可用接口"),
        ("NOPE", ["bank"], "机构 NOPE 不存在"),
    ],
)
def test_bad_credential_requests_are_refused(world, org, interfaces, text):
    with pytest.raises(DomainError) as exc:
        issue(world, org=org, interfaces=interfaces)
    assert text in exc.value.message
    assert not ApiCredential.objects.exists()


def test_expiry_must_be_in_the_future_and_name_is_required(world):
    with pytest.raises(DomainError, match="有效期必须晚于当前时间"):
        issue(world, expires_at=timezone.now() - dt.timedelta(minutes=1))
    with pytest.raises(DomainError, match="请填写凭证名称"):
        apikey_create(actor=admin(world), organization_code="WZ-NSH", name=" ", interfaces=["bank"])
    cred, _ = issue(world, expires_at=timezone.localdate() + dt.timedelta(days=30))
    assert cred.expires_at > timezone.now() + dt.timedelta(days=29)


def test_data_sharing_keys_may_go_to_any_organization(world):
    cred, _ = issue(world, org="WZ-RSJ", interfaces=["data_sharing"])
    assert cred.interfaces == ["data_sharing"]


@pytest.mark.parametrize(("key", "text"), [("finance", "没有该权限"), ("supervisor", "只能查看"),
                                           ("paying_bank", "没有该权限")])
def test_only_admins_issue_and_revoke(world, key, text):
    actor = Scope.for_user(world.users[key])
    with pytest.raises(ScopeError, match=text):
        apikey_create(actor=actor, organization_code="WZ-NSH", name="x", interfaces=["bank"])
    cred, _ = issue(world)
    with pytest.raises(ScopeError, match=text):
        apikey_revoke(actor=actor, key_id=cred.pk, reason="x")
    assert ApiCredential.objects.get(pk=cred.pk).active


def test_county_admin_issues_only_inside_its_county(world):
    from tests.world import make_org, make_user
    from yikatong.core.models import OrgKind

    org = make_org("WZ-YYZX", "万州区平台运维组", OrgKind.ADMIN, "500101000000")
    actor = Scope.for_user(make_user("t_wz_admin", org, Role.ADMIN))
    fl_bank = make_org("FL-NSH", "农商行涪陵分行", OrgKind.PAYING_BANK, "500102000000")
    with pytest.raises(ScopeError, match="不在您的管辖范围内"):
        apikey_create(actor=actor, organization_code=fl_bank.code, name="x", interfaces=["bank"])
    fl_cred, _ = issue(world, org="FL-NSH")
    with pytest.raises(ScopeError):
        apikey_revoke(actor=actor, key_id=fl_cred.pk, reason="x")
    cred, _ = apikey_create(actor=actor, organization_code="WZ-NSH", name="x", interfaces=["bank"])
    assert cred.organization.code == "WZ-NSH"


def test_revoke_needs_a_reason_and_happens_once(world):
    cred, _ = issue(world)
    with pytest.raises(DomainError, match="请填写吊销原因"):
        apikey_revoke(actor=admin(world), key_id=cred.pk, reason="")
    apikey_revoke(actor=admin(world), key_id=cred.pk, reason="密钥泄露")
    event = AuditEvent.objects.get(action="apikey.revoke")
    assert event.reason == "密钥泄露" and event.before["active"] and not event.after["active"]
    with pytest.raises(DomainError, match="已经吊销"):
        apikey_revoke(actor=admin(world), key_id=cred.pk, reason="again")
    with pytest.raises(DomainError, match="接口凭证 999999 不存在"):
        apikey_revoke(actor=admin(world), key_id=999999, reason="x")


# -- authentication ------------------------------------------------------------------------------------
def test_valid_bank_key_reaches_the_bank_endpoint(world, client):
    _, key = issue(world)
    response = call(client, key)
    assert response.status_code == 200
    body = response.json()
    assert body["organization"]["code"] == "WZ-NSH" and body["interfaces"] == ["bank"]


@pytest.mark.parametrize("bad", [None, "", "ykt_wrong", "not-a-key", "ykt_" + "A" * 300])
def test_missing_or_unknown_key_is_401(world, client, bad):
    issue(world)
    assert call(client, bad).status_code == 401


def test_a_tampered_key_is_401(world, client):
    _, key = issue(world)
    assert call(client, key[:-1] + ("A" if key[-1] != "A" else "B")).status_code == 401


def test_data_sharing_key_is_refused_on_a_bank_endpoint(world, client):
    _, key = issue(world, org="WZ-RSJ", interfaces=["data_sharing"])
    response = call(client, key)
    assert response.status_code == 403
    assert response.json()["code"] == "interface_not_allowed" and "无权调用" in response.json()["detail"]


def test_revoked_key_is_refused(world, client):
    cred, key = issue(world)
    assert call(client, key).status_code == 200
    apikey_revoke(actor=admin(world), key_id=cred.pk, reason="更换")
    response = call(client, key)
    assert response.status_code == 403 and "已吊销" in response.json()["detail"]


def test_expired_key_is_refused(world, client):
    cred, key = issue(world, expires_at=timezone.now() + dt.timedelta(hours=1))
    assert call(client, key).status_code == 200
    ApiCredential.objects.filter(pk=cred.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = call(client, key)
    assert response.status_code == 403 and "已过期" in response.json()["detail"]


def test_key_of_a_deactivated_organization_is_refused(world, client):
    _, key = issue(world)
    organization_deactivate(actor=admin(world), code="WZ-NSH", reason="合并")
    assert call(client, key).status_code == 403


def test_a_logged_in_session_is_not_a_key(world, client):
    client.force_login(world.users["paying_bank"])
    assert call(client, None).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(world, client):
    cred, key = issue(world)
    assert cred.last_used_at is None
    call(client, key)
    first = ApiCredential.objects.get(pk=cred.pk).last_used_at
    assert first is not None and timezone.now() - first < dt.timedelta(seconds=10)
    call(client, key)
    assert ApiCredential.objects.get(pk=cred.pk).last_used_at == first
    earlier = timezone.now() - dt.timedelta(minutes=2)
    ApiCredential.objects.filter(pk=cred.pk).update(last_used_at=earlier)
    call(client, key)
    assert ApiCredential.objects.get(pk=cred.pk).last_used_at > earlier + dt.timedelta(minutes=1)


def test_request_carries_the_credential_and_the_organization_scope(world):
    cred, key = issue(world)
    request = RequestFactory().get("/", HTTP_X_API_KEY=key)
    result = ApiKeyAuth("bank")(request)
    assert result == cred and request.api_credential == cred
    scope = request.api_scope
    assert isinstance(scope, Scope)
    assert (scope.role, scope.organization_code, scope.region_code) == (Role.PAYING_BANK, "WZ-NSH", "500101000000")
    assert scope.own_org_only and scope.user_id is None and scope.username == f"apikey:{cred.key_prefix}"
    # the scope is the bank's: it sees its own files only
    from yikatong.core.selectors.files import files_visible

    mine = StoredFile.objects.create(purpose="t", original_name="a", size=0, sha256="0" * 64, path="t/a",
                                     region_id="500101000000", organization=world.orgs["paying_bank"])
    StoredFile.objects.create(purpose="t", original_name="b", size=0, sha256="0" * 64, path="t/b",
                              region_id="500101000000", organization=world.orgs["paying_bank2"])
    assert list(files_visible(scope)) == [mine]


def test_unknown_interface_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown API interface"):
        ApiKeyAuth("payments")


def test_scope_for_organization_refuses_inactive_org(world):
    org = world.orgs["paying_bank"]
    org.active = False
    with pytest.raises(ScopeError):
        Scope.for_organization(org)


# -- UI and CLI ----------------------------------------------------------------------------------------
def test_admin_issues_and_revokes_from_the_organization_page(world, client):
    client.force_login(world.users["admin"])
    response = client.post(reverse("core:apikey-create", args=["WZ-NSH"]),
                           {"name": "农商行代发", "interfaces": ["bank"], "expires_at": ""})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    key = response.context["key"]
    assert key in response.content.decode()
    assert call(client, key).status_code == 200
    detail = client.get(reverse("core:org-detail", args=["WZ-NSH"])).content.decode()
    assert key[:12] in detail and key not in detail  # never shown again
    cred = ApiCredential.objects.get()
    client.post(reverse("core:apikey-revoke", args=[cred.pk]), {"reason": "测试结束"})
    assert not ApiCredential.objects.get().active
    response = client.post(reverse("core:apikey-create", args=["WZ-CZJ"]),
                           {"name": "x", "interfaces": ["bank"]}, follow=True)
    assert "只能发给代发银行" in response.content.decode()


def test_non_admin_cannot_use_the_key_pages(world, client):
    cred, _ = issue(world)
    client.force_login(world.users["finance"])
    assert client.post(reverse("core:apikey-create", args=["WZ-NSH"]), {"name": "x", "interfaces": ["bank"]}
                       ).status_code == 403
    assert client.post(reverse("core:apikey-revoke", args=[cred.pk]), {"reason": "x"}).status_code == 403
    assert ApiCredential.objects.count() == 1 and ApiCredential.objects.get().active


def test_create_apikey_command(world, client):
    out = io.StringIO()
    call_command("create-apikey", "--org", "WZ-NSH", "--name", "农商行代发接口", "--interface", "bank",
                 "--expires", "2099-12-31", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert key.startswith("ykt_")
    assert call(client, key).status_code == 200
    cred = ApiCredential.objects.get()
    out = io.StringIO()
    call_command("create-apikey", "--revoke", str(cred.pk), "--reason", "测试", stdout=out)
    assert "已吊销" in out.getvalue()
    assert call(client, key).status_code == 403
    with pytest.raises(CommandError, match="有效期“2099-13-01”无效"):
        call_command("create-apikey", "--org", "WZ-NSH", "--name", "x", "--interface", "bank",
                     "--expires", "2099-13-01")
    with pytest.raises(CommandError, match="只能发给"):
        call_command("create-apikey", "--org", "WZ-CZJ", "--name", "x", "--interface", "bank")
