"""Policies: create, update (a new version each time), activate, retire.

Scope: a competent department manages the policies of its own business line within its region; a finance
bureau manages every line within its region. Every write keeps the previous version (PolicyVersion) and
appends an audit event in the same transaction.
"""

from collections.abc import Mapping

from django.db import IntegrityError, transaction

from yikatong.core import audit, clock
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from ..models import Policy, PolicyDocument, PolicyStatus, PolicyVersion
from ..workflow import POLICY_TRANSITIONS, next_state
from .policy_fields import DEFAULTS, EDITABLE, clean_code, clean_policy_values, current_values, snapshot

CREATE_STATUSES = (PolicyStatus.DRAFT, PolicyStatus.ACTIVE)


def _require_manage(actor: Scope, *, region_code: str, business_line: str) -> None:
    actor.require_write("policy.manage")
    actor.require_object(region_code=region_code, business_line=business_line)


def _unknown_keys(data: Mapping, allowed) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise DomainError(f"不能识别的补贴项目属性：{'、'.join(unknown)}。")


def _apply(policy: Policy, cleaned: dict) -> None:
    for name, value in cleaned.items():
        if name not in ("exclusive_with", "documents"):
            setattr(policy, name, value)


def _set_documents(policy: Policy, documents) -> None:
    wanted = {stored.pk: title for stored, title in documents}
    PolicyDocument.objects.filter(policy=policy).exclude(file_id__in=list(wanted)).delete()
    for file_id, title in wanted.items():
        PolicyDocument.objects.update_or_create(policy=policy, file_id=file_id, defaults={"title": title})


def write_version(policy: Policy, *, changed_by: str, reason: str) -> PolicyVersion:
    return PolicyVersion.objects.create(
        policy=policy, version=policy.version, snapshot=snapshot(policy),
        changed_by=changed_by, changed_at=clock.now(), reason=reason,
    )


def _set_exclusive(actor: Scope, policy: Policy, wanted: list[Policy], reason: str, *, check_scope: bool) -> None:
    """Replace the (symmetric) exclusive pairs; a counterpart whose pairs change gets a new version too."""
    before = {p.pk: p for p in policy.exclusive_with.all()}
    after = {p.pk: p for p in wanted}
    touched = [p for pk, p in {**before, **after}.items() if (pk in before) != (pk in after)]
    for other in touched:
        if check_scope:
            # Pairing changes R11 for the other policy: only who may manage its line may pair it.
            actor.require_business_line(other.business_line)
    policy.exclusive_with.set(list(after.values()))
    for other in touched:
        locked = Policy.objects.select_for_update().get(pk=other.pk)
        locked.version += 1
        locked.save(update_fields=["version", "updated_at"])
        write_version(locked, changed_by=actor.username, reason=f"因补贴项目 {policy.code} 调整互斥关系：{reason}")


@transaction.atomic
def policy_create(*, actor: Scope, fields: Mapping, reason: str = "新建补贴项目") -> Policy:
    """Create a policy (version 1). `fields` holds `code` and the attributes of policy_fields.EDITABLE;
    `department` is an Organization or its code, `region` defaults to the department's region,
    `exclusive_with` is a list of policy codes, `documents` a list of {"file": StoredFile|id, "title"};
    `status` is "active" (default) or "draft"."""
    _unknown_keys(fields, [*EDITABLE, "code", "status"])
    code = clean_code(fields.get("code"))
    status = fields.get("status") or PolicyStatus.ACTIVE
    if status not in CREATE_STATUSES:
        raise DomainError("新建补贴项目的状态只能是“草稿”或“执行中”。", field="status")
    cleaned = clean_policy_values({**DEFAULTS, **fields}, code=code)
    _require_manage(actor, region_code=cleaned["region"].code, business_line=cleaned["business_line"])
    if Policy.objects.filter(code=code).exists():
        raise DomainError(f"补贴项目编码 {code} 已存在，请使用其他编码。", field="code")
    policy = Policy(code=code, status=status, version=1)
    _apply(policy, cleaned)
    try:
        with transaction.atomic():
            policy.save(force_insert=True)
    except IntegrityError as exc:  # a concurrent create with the same code
        raise DomainError(f"补贴项目编码 {code} 已存在，请使用其他编码。", field="code") from exc
    _set_documents(policy, cleaned["documents"])
    _set_exclusive(actor, policy, cleaned["exclusive_with"], reason, check_scope=True)
    write_version(policy, changed_by=actor.username, reason=reason)
    audit.record(actor=actor, action="policy.create", obj=policy, after=snapshot(policy), reason=reason)
    return policy


def _locked(code: str) -> Policy:
    policy = Policy.objects.select_for_update().filter(code=str(code or "").strip()).first()
    if policy is None:
        raise DomainError(f"补贴项目 {code} 不存在。", code="not_found")
    return policy


def update_locked(actor: Scope, policy: Policy, changes: Mapping, reason: str, *, check_scope: bool,
                  allow_noop: bool = False) -> Policy:
    """Apply `changes` to a locked policy as a new version. Used by policy_update and by an approved change
    request (check_scope=False: the approval chain is the authority)."""
    _unknown_keys(changes, EDITABLE)
    if not (reason or "").strip():
        raise DomainError("请填写修改原因（将记入版本历史）。", field="reason")
    if policy.status == PolicyStatus.RETIRED:
        raise DomainError(f"补贴项目 {policy.code} 已停止执行，不能修改。")
    before = snapshot(policy)
    cleaned = clean_policy_values({**current_values(policy), **changes}, code=policy.code)
    if check_scope:
        # The actor must manage the policy both as it is and as it will be.
        _require_manage(actor, region_code=policy.region_id, business_line=policy.business_line)
        _require_manage(actor, region_code=cleaned["region"].code, business_line=cleaned["business_line"])
    _apply(policy, cleaned)
    _set_documents(policy, cleaned["documents"])
    _set_exclusive(actor, policy, cleaned["exclusive_with"], reason, check_scope=check_scope)
    after = snapshot(policy)
    if {k: v for k, v in after.items() if k != "version"} == {k: v for k, v in before.items() if k != "version"}:
        if allow_noop:
            return policy
        raise DomainError(f"补贴项目 {policy.code} 没有需要保存的修改。")
    policy.version += 1
    policy.save()
    write_version(policy, changed_by=actor.username, reason=reason.strip())
    audit.record(actor=actor, action="policy.update", obj=policy, before=before, after=snapshot(policy),
                 reason=reason.strip())
    return policy


@transaction.atomic
def policy_update(*, actor: Scope, code: str, changes: Mapping, reason: str) -> Policy:
    """Change attributes of a policy; the previous version is kept and a new one written. `reason` required.
    `code` and `status` cannot be changed here (see policy_activate/policy_retire)."""
    actor.require_write("policy.manage")
    policy = _locked(code)
    return update_locked(actor, policy, changes, reason, check_scope=True)


def _change_status(actor: Scope, policy: Policy, action: str, reason: str, *, check_scope: bool = True) -> Policy:
    if check_scope:
        _require_manage(actor, region_code=policy.region_id, business_line=policy.business_line)
    before = snapshot(policy)
    policy.status = next_state(POLICY_TRANSITIONS, policy.status, action, what=f"补贴项目 {policy.code} ")
    policy.version += 1
    policy.save(update_fields=["status", "version", "updated_at"])
    write_version(policy, changed_by=actor.username, reason=reason)
    audit.record(actor=actor, action=f"policy.{action}", obj=policy, before=before, after=snapshot(policy),
                 reason=reason)
    return policy


@transaction.atomic
def policy_activate(*, actor: Scope, code: str, reason: str = "启用补贴项目") -> Policy:
    actor.require_write("policy.manage")
    return _change_status(actor, _locked(code), "activate", reason or "启用补贴项目")


def activate_locked(actor: Scope, policy: Policy, reason: str) -> Policy:
    """Activate a draft policy for an approved change request (the approval chain is the authority)."""
    return _change_status(actor, policy, "activate", reason, check_scope=False)


@transaction.atomic
def policy_retire(*, actor: Scope, code: str, reason: str) -> Policy:
    """Stop a policy (status retired, new version). It can no longer be paid (see library_allows)."""
    actor.require_write("policy.manage")
    if not (reason or "").strip():
        raise DomainError("请填写停止执行的原因。", field="reason")
    return _change_status(actor, _locked(code), "retire", reason.strip())
