"""Organizations: create, update, deactivate.

Every write checks the permission ("org.manage") and the region scope of the acting user, validates the
input with a message a person can act on, and is audited in the same transaction.
"""

import re

from django.db import IntegrityError, transaction
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

from yikatong.core import audit
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import BusinessLine, Organization, OrgKind, Region
from yikatong.core.regions import RegionCodeError, normalize_code
from yikatong.core.roles import ROLES_FOR_KIND
from yikatong.core.scope import Scope

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
RESERVED_CODES = {"new"}  # would clash with page addresses (orgs/new/)
BANK_CODE_RE = re.compile(r"^[A-Za-z0-9]{1,20}$")
UPDATABLE_FIELDS = ("name", "kind", "business_line", "region_code", "credit_code", "bank_code", "active")
_FIELD_LABELS = {
    "name": "机构名称", "kind": "机构类型", "business_line": "业务条线", "region_code": "所在区划",
    "credit_code": "统一社会信用代码", "bank_code": "银行代码", "active": "有效",
}
_USCC_REASONS = {
    stdnum_errors.InvalidLength: "长度应为18位",
    stdnum_errors.InvalidChecksum: "校验位不正确",
    stdnum_errors.InvalidFormat: "含有不允许的字符（只能是数字和大写字母，不含 I、O、Z、S、V）",
    stdnum_errors.InvalidComponent: "登记管理部门代码或机构类别代码无效",
}


def organization_snapshot(org: Organization) -> dict:
    """The audited picture of an organization."""
    return {
        "code": org.code,
        "name": org.name,
        "kind": org.kind,
        "business_line": org.business_line,
        "region_code": org.region_id,
        "credit_code": org.credit_code,
        "bank_code": org.bank_code,
        "active": org.active,
    }


# -- validation (shared by create and update) --------------------------------------------------------
def clean_code(code: str) -> str:
    text = (code or "").strip()
    if not text:
        raise DomainError("请填写机构编码。", field="code")
    if text.lower() in RESERVED_CODES:
        raise DomainError(f"机构编码“{text}”是系统保留字，请换一个编码。", field="code")
    if not CODE_RE.match(text):
        raise DomainError(
            f"机构编码“{text}”无效：只能使用字母、数字、短横线和下划线，以字母或数字开头，2～32位（如 WZ-CZJ）。",
            field="code",
        )
    return text


def clean_name(name: str) -> str:
    text = (name or "").strip()
    if not text:
        raise DomainError("请填写机构名称。", field="name")
    if len(text) > 200:
        raise DomainError("机构名称过长：最多200个字符。", field="name")
    return text


def clean_kind(kind: str) -> str:
    if kind not in OrgKind.values:
        choices = "、".join(OrgKind.labels)
        raise DomainError(f"机构类型“{kind}”无效：可选 {choices}。", field="kind")
    return kind


def clean_business_line(kind: str, business_line: str) -> str:
    line = (business_line or "").strip()
    if line and line not in BusinessLine.values:
        raise DomainError(f"业务条线“{line}”无效：请从列表中选择。", field="business_line")
    if kind == OrgKind.DEPARTMENT and not line:
        raise DomainError("补贴项目主管部门必须选择业务条线（如 民政、农业农村）。", field="business_line")
    return line


def clean_region(actor: Scope, region_code: str) -> Region:
    try:
        code = normalize_code(region_code)
    except RegionCodeError as exc:
        raise DomainError(str(exc), field="region_code") from exc
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise DomainError(f"行政区划 {code} 不存在：请检查代码，或先导入行政区划。", field="region_code")
    if not region.active:
        raise DomainError(f"行政区划 {code}（{region.name}）已撤销，不能设置为机构所在区划。", field="region_code")
    actor.require_region(code)
    return region


def clean_credit_code(credit_code: str) -> str:
    text = (credit_code or "").strip().upper()
    if not text:
        return ""
    try:
        return uscc.validate(text)
    except stdnum_errors.ValidationError as exc:
        reason = _USCC_REASONS.get(type(exc), "格式不正确")
        raise DomainError(
            f"统一社会信用代码“{text}”无效：{reason}。请按营业执照或登记证书核对18位代码。", field="credit_code"
        ) from exc


def clean_bank_code(bank_code: str) -> str:
    text = (bank_code or "").strip()
    if text and not BANK_CODE_RE.match(text):
        raise DomainError(f"银行代码“{text}”无效：只能是字母和数字，最多20位。", field="bank_code")
    return text


def _duplicate_code(code: str) -> DomainError:
    return DomainError(f"机构编码 {code} 已存在，请换一个编码。", field="code", code="duplicate")


# -- services ----------------------------------------------------------------------------------------
def organization_create(
    *,
    actor: Scope,
    code: str,
    name: str,
    kind: str,
    region_code: str,
    business_line: str = "",
    credit_code: str = "",
    bank_code: str = "",
) -> Organization:
    actor.require_write("org.manage")
    code = clean_code(code)
    name = clean_name(name)
    kind = clean_kind(kind)
    business_line = clean_business_line(kind, business_line)
    region = clean_region(actor, region_code)
    credit_code = clean_credit_code(credit_code)
    bank_code = clean_bank_code(bank_code)
    if Organization.objects.filter(code__iexact=code).exists():
        raise _duplicate_code(code)
    try:
        with transaction.atomic():
            org = Organization.objects.create(
                code=code, name=name, kind=kind, business_line=business_line, region=region,
                credit_code=credit_code, bank_code=bank_code,
            )
            audit.record(actor=actor, action="org.create", obj=org, after=organization_snapshot(org))
    except IntegrityError as exc:  # a concurrent create with the same code won the race
        raise _duplicate_code(code) from exc
    return org


def _lock_in_scope(actor: Scope, code: str) -> Organization:
    org = Organization.objects.select_for_update().filter(code=(code or "").strip()).first()
    if org is None:
        raise DomainError(f"机构 {code} 不存在。", field="code", code="not_found")
    if not actor.covers_region(org.region_id):
        raise ScopeError(f"无权操作机构 {code}：该机构不在您的管辖范围内。")
    return org


@transaction.atomic
def organization_update(*, actor: Scope, code: str, **changes) -> Organization:
    """Change some of an organization's fields (see UPDATABLE_FIELDS). `code` names the organization;
    it never changes."""
    actor.require_write("org.manage")
    unknown = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if unknown:
        allowed = "、".join(_FIELD_LABELS[f] for f in UPDATABLE_FIELDS)
        raise DomainError(
            f"不能修改字段 {', '.join(unknown)}：可修改的是 {allowed}。机构编码建立后不能修改，"
            "如需新编码，请新建机构并停用旧机构。"
        )
    org = _lock_in_scope(actor, code)
    before = organization_snapshot(org)

    kind = clean_kind(changes.get("kind", org.kind))
    org.name = clean_name(changes.get("name", org.name))
    org.business_line = clean_business_line(kind, changes.get("business_line", org.business_line))
    if "region_code" in changes:
        org.region = clean_region(actor, changes["region_code"])
    if "credit_code" in changes:
        org.credit_code = clean_credit_code(changes["credit_code"])
    if "bank_code" in changes:
        org.bank_code = clean_bank_code(changes["bank_code"])
    if "active" in changes:
        if not changes["active"] and org.active:
            raise DomainError("停用机构请使用“停用”操作并填写原因。", field="active")
        org.active = bool(changes["active"])
    if kind != org.kind:
        allowed_roles = ROLES_FOR_KIND.get(kind, set())
        mismatched = org.users.exclude(role__in=allowed_roles).count()
        if mismatched:
            raise DomainError(
                f"不能把机构类型改为“{OrgKind(kind).label}”：该机构有 {mismatched} 个用户的角色与新类型不符，"
                "请先调整或停用这些用户。",
                field="kind",
            )
        org.kind = kind

    after = organization_snapshot(org)
    if after == before:
        return org
    org.save()
    audit.record(actor=actor, action="org.update", obj=org, before=before, after=after)
    return org


@transaction.atomic
def organization_deactivate(*, actor: Scope, code: str, reason: str) -> Organization:
    """Stop an organization: its users can no longer work and its API credentials are refused.
    Nothing is deleted; organization_update(active=True) brings it back."""
    actor.require_write("org.manage")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("请填写停用原因。", field="reason")
    org = _lock_in_scope(actor, code)
    if not org.active:
        raise DomainError(f"机构 {org.code}（{org.name}）已经停用。")
    if org.pk == actor.organization_id:
        raise DomainError("不能停用您本人所在的机构。")
    before = organization_snapshot(org)
    org.active = False
    org.save(update_fields=["active"])
    audit.record(
        actor=actor, action="org.deactivate", obj=org, before=before, after=organization_snapshot(org), reason=reason
    )
    return org
