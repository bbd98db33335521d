"""API credentials for outside systems (banks, the data-sharing exchange).

The plain key is returned once by apikey_create and never stored: the database keeps its first
characters (to recognise it in lists) and its SHA-256 digest (to check it). See core.apikey_auth.
"""

import datetime as dt
import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from yikatong.core import audit
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import ApiCredential, Organization, OrgKind
from yikatong.core.roles import API_INTERFACES, INTERFACE_ORG_KINDS
from yikatong.core.scope import Scope

KEY_PREFIX = "ykt_"
PREFIX_LENGTH = 12  # ApiCredential.key_prefix


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def apikey_snapshot(cred: ApiCredential) -> dict:
    """The audited picture of a credential (never the key or its digest)."""
    return {
        "organization_code": cred.organization.code,
        "name": cred.name,
        "key_prefix": cred.key_prefix,
        "interfaces": list(cred.interfaces),
        "active": cred.active,
        "expires_at": cred.expires_at.isoformat() if cred.expires_at else None,
    }


def _clean_interfaces(interfaces: list[str], org: Organization) -> list[str]:
    chosen = sorted({(i or "").strip() for i in interfaces or [] if (i or "").strip()})
    if not chosen:
        raise DomainError("请至少选择一个可用接口。", field="interfaces")
    for name in chosen:
        if name not in API_INTERFACES:
            known = "、".join(f"{k}（{v}）" for k, v in API_INTERFACES.items())
            raise DomainError(f"接口“{name}”不存在：可选 {known}。", field="interfaces")
        kinds = INTERFACE_ORG_KINDS.get(name)
        if kinds and org.kind not in kinds:
            labels = "、".join(OrgKind(k).label for k in OrgKind.values if k in kinds)
            raise DomainError(
                f"接口“{name}”的凭证只能发给{labels}：“{org.name}”是{OrgKind(org.kind).label}。", field="interfaces"
            )
    return chosen


def _clean_expiry(expires_at) -> dt.datetime | None:
    if expires_at is None:
        return None
    if isinstance(expires_at, dt.date) and not isinstance(expires_at, dt.datetime):
        # a date means "valid through that day" (local time)
        expires_at = timezone.make_aware(dt.datetime.combine(expires_at, dt.time.max))
    elif timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at)
    if expires_at <= timezone.now():
        raise DomainError("有效期必须晚于当前时间。", field="expires_at")
    return expires_at


def apikey_create(
    *,
    actor: Scope,
    organization_code: str,
    name: str,
    interfaces: list[str],
    expires_at: dt.datetime | dt.date | None = None,
) -> tuple[ApiCredential, str]:
    """Issue a credential; returns it and the plain key, which is shown this once and never again."""
    actor.require_write("apikey.manage")
    code = (organization_code or "").strip()
    org = Organization.objects.filter(code=code).first()
    if org is None:
        raise DomainError(f"机构 {code} 不存在。", field="organization_code")
    if not actor.covers_region(org.region_id):
        raise ScopeError(f"无权为机构 {code} 发放接口凭证：该机构不在您的管辖范围内。")
    if not org.active:
        raise DomainError(f"机构 {code}（{org.name}）已停用，不能发放接口凭证。", field="organization_code")
    label = (name or "").strip()
    if not label:
        raise DomainError("请填写凭证名称（如“农商行代发接口”）。", field="name")
    if len(label) > 100:
        raise DomainError("凭证名称过长：最多100个字符。", field="name")
    chosen = _clean_interfaces(interfaces, org)
    expiry = _clean_expiry(expires_at)

    key = new_key()
    with transaction.atomic():
        cred = ApiCredential.objects.create(
            organization=org, name=label, key_prefix=key[:PREFIX_LENGTH], key_digest=key_digest(key),
            interfaces=chosen, expires_at=expiry,
        )
        audit.record(actor=actor, action="apikey.create", obj=cred, region_code=org.region_id,
                     after=apikey_snapshot(cred))
    return cred, key


@transaction.atomic
def apikey_revoke(*, actor: Scope, key_id: int, reason: str) -> ApiCredential:
    actor.require_write("apikey.manage")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("请填写吊销原因。", field="reason")
    cred = ApiCredential.objects.select_for_update(of=("self",)).select_related("organization").filter(pk=key_id).first()
    if cred is None:
        raise DomainError(f"接口凭证 {key_id} 不存在。", code="not_found")
    if not actor.covers_region(cred.organization.region_id):
        raise ScopeError("无权吊销该接口凭证：所属机构不在您的管辖范围内。")
    if not cred.active:
        raise DomainError(f"接口凭证 {cred.key_prefix}… 已经吊销。")
    before = apikey_snapshot(cred)
    cred.active = False
    cred.save(update_fields=["active"])
    audit.record(actor=actor, action="apikey.revoke", obj=cred, region_code=cred.organization.region_id,
                 before=before, after=apikey_snapshot(cred), reason=reason)
    return cred
