"""User accounts: create, change password, deactivate/activate, clear a login lockout.

Permission "user.manage"; the user's organization must lie in the acting user's region. Audit events
never contain password hashes.
"""

import re

from axes.utils import reset as axes_reset
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from yikatong.core import audit
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Organization, OrgKind, Role, User
from yikatong.core.roles import ROLES_FOR_KIND
from yikatong.core.scope import Scope

RESERVED_USERNAMES = {"new", "export.csv"}  # would clash with page addresses (users/new/)
PHONE_RE = re.compile(r"^[0-9][0-9\- ]{2,19}$")


def user_snapshot(user: User) -> dict:
    """The audited picture of a user (never the password hash)."""
    return {
        "username": user.username,
        "full_name": user.full_name,
        "organization_code": user.organization.code if user.organization_id else "",
        "role": user.role,
        "phone": user.phone,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
    }


# -- validation --------------------------------------------------------------------------------------
def clean_username(username: str) -> str:
    text = (username or "").strip()
    if not text:
        raise DomainError("请填写用户名。", field="username")
    try:
        User.username_validator(text)
    except ValidationError as exc:
        raise DomainError(
            f"用户名“{text}”无效：只能包含字母、数字和 @ . + - _ 字符。", field="username"
        ) from exc
    if text.lower() in RESERVED_USERNAMES:
        raise DomainError(f"用户名“{text}”是系统保留字，请换一个用户名。", field="username")
    if len(text) > 150:
        raise DomainError("用户名过长：最多150个字符。", field="username")
    return text


def clean_password(password: str, user: User) -> str:
    if not password:
        raise DomainError("请填写密码。", field="password")
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        reasons = [_password_reason(error) for error in exc.error_list]
        raise DomainError("密码不符合要求：" + "".join(reasons), field="password") from exc
    return password


def _password_reason(error: ValidationError) -> str:
    """Chinese text for Django's password validators (not every message has a translation)."""
    params = error.params or {}
    if error.code == "password_too_short":
        return f"密码太短，至少需要 {params.get('min_length', 10)} 个字符。"
    if error.code == "password_too_common":
        return "密码太常见，容易被猜到。"
    if error.code == "password_entirely_numeric":
        return "密码不能全是数字。"
    if error.code == "password_too_similar":
        return f"密码与{params.get('verbose_name', '账号信息')}太相似。"
    return " ".join(error.messages)


def clean_role(role: str, org: Organization) -> str:
    if role not in Role.values:
        raise DomainError(f"角色“{role}”无效：请从列表中选择。", field="role")
    allowed = ROLES_FOR_KIND.get(org.kind, set())
    if role not in allowed:
        allowed_labels = "、".join(Role(r).label for r in sorted(allowed)) or "（无）"
        raise DomainError(
            f"角色“{Role(role).label}”不适用于{OrgKind(org.kind).label}“{org.name}”：该类机构的用户只能是 {allowed_labels}。",
            field="role",
        )
    return role


def clean_full_name(full_name: str) -> str:
    text = (full_name or "").strip()
    if len(text) > 50:
        raise DomainError("姓名过长：最多50个字符。", field="full_name")
    return text


def clean_phone(phone: str) -> str:
    text = (phone or "").strip()
    if text and not PHONE_RE.match(text):
        raise DomainError(f"办公电话“{text}”格式不正确：只能包含数字、短横线和空格（如 023-58123456）。", field="phone")
    return text


def _organization_for_user(actor: Scope, organization_code: str) -> Organization:
    code = (organization_code or "").strip()
    if not code:
        raise DomainError("请选择所属机构。", field="organization_code")
    org = Organization.objects.filter(code=code).first()
    if org is None:
        raise DomainError(f"机构 {code} 不存在。", field="organization_code")
    if not actor.covers_region(org.region_id):
        raise ScopeError(f"无权在机构 {code} 下管理用户：该机构不在您的管辖范围内。")
    if not org.active:
        raise DomainError(f"机构 {code}（{org.name}）已停用，不能新增用户。", field="organization_code")
    return org


def _duplicate_username(username: str) -> DomainError:
    return DomainError(f"用户名 {username} 已存在，请换一个用户名。", field="username", code="duplicate")


def _lock_user_in_scope(actor: Scope, username: str) -> User:
    user = User.objects.select_for_update(of=("self",)).select_related("organization").filter(username=username).first()
    if user is None:
        raise DomainError(f"用户 {username} 不存在。", field="username", code="not_found")
    region = user.organization.region_id if user.organization_id else None
    if not actor.covers_region(region):
        raise ScopeError(f"无权管理用户 {username}：该用户不在您的管辖范围内。")
    return user


# -- services ----------------------------------------------------------------------------------------
def user_create(
    *,
    actor: Scope,
    username: str,
    password: str,
    organization_code: str,
    role: str,
    full_name: str = "",
    phone: str = "",
    is_staff: bool | None = None,
) -> User:
    actor.require_write("user.manage")
    username = clean_username(username)
    org = _organization_for_user(actor, organization_code)
    role = clean_role(role, org)
    full_name = clean_full_name(full_name)
    phone = clean_phone(phone)
    if User.objects.filter(username__iexact=username).exists():
        raise _duplicate_username(username)
    user = User(
        username=username, organization=org, role=role, full_name=full_name, phone=phone,
        is_staff=(role == Role.ADMIN) if is_staff is None else bool(is_staff),
    )
    clean_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
            audit.record(
                actor=actor, action="user.create", obj=user, region_code=org.region_id, after=user_snapshot(user)
            )
    except IntegrityError as exc:  # a concurrent create with the same name won the race
        raise _duplicate_username(username) from exc
    return user


@transaction.atomic
def user_set_password(*, actor: Scope, username: str, password: str) -> User:
    actor.require_write("user.manage")
    user = _lock_user_in_scope(actor, username)
    clean_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    audit.record(
        actor=actor, action="user.set_password", obj=user, region_code=user.organization.region_id,
        after={"username": user.username, "password_changed": True},
    )
    return user


@transaction.atomic
def user_deactivate(*, actor: Scope, username: str, reason: str) -> User:
    actor.require_write("user.manage")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("请填写停用原因。", field="reason")
    user = _lock_user_in_scope(actor, username)
    if user.pk == actor.user_id:
        raise DomainError("不能停用您自己的账号。")
    if not user.is_active:
        raise DomainError(f"用户 {username} 已经停用。")
    before = user_snapshot(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit.record(
        actor=actor, action="user.deactivate", obj=user, region_code=user.organization.region_id,
        before=before, after=user_snapshot(user), reason=reason,
    )
    return user


@transaction.atomic
def user_activate(*, actor: Scope, username: str) -> User:
    actor.require_write("user.manage")
    user = _lock_user_in_scope(actor, username)
    if user.is_active:
        raise DomainError(f"用户 {username} 当前是启用状态。")
    if not user.organization.active:
        raise DomainError(f"用户 {username} 所属机构已停用：请先启用机构。")
    before = user_snapshot(user)
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit.record(
        actor=actor, action="user.activate", obj=user, region_code=user.organization.region_id,
        before=before, after=user_snapshot(user),
    )
    return user


@transaction.atomic
def user_unlock(*, actor: Scope, username: str) -> int:
    """Clear the login lockout (django-axes failure records) of a user; returns how many records were
    cleared (0 when the user was not locked)."""
    actor.require_write("user.manage")
    user = _lock_user_in_scope(actor, username)
    cleared = axes_reset(username=user.username)
    audit.record(
        actor=actor, action="user.unlock", obj=user, region_code=user.organization.region_id,
        after={"username": user.username, "attempts_cleared": cleared},
    )
    return cleared
