"""Change requests (《惠民惠农财政补贴项目调整变更申请表》) [003 §14].

The applicant department fills in the form and submits it; it goes up the chain of rules.change_chain
(county department → prefecture government (acted for by the prefecture finance bureau) → provincial
department → provincial finance). Each step approves or returns with a reason; a returned request goes back
to the applicant, who may revise and resubmit (the chain restarts). Only the final approval takes effect.
"""

import datetime as dt
from collections.abc import Iterable, Mapping

from django.db import transaction

from yikatong.core import audit, clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Organization, Region, StoredFile
from yikatong.core.scope import Scope

from .. import rules
from ..models import (
    AnnualListItem,
    AnnualPolicyList,
    ChangeRequest,
    ChangeRequestStep,
    ChangeStatus,
    ChangeType,
    EntryStatus,
    ItemStatus,
    LibraryEntry,
    ListPart,
    Policy,
    PolicyStatus,
)
from ..workflow import CHANGE_TRANSITIONS, ITEM_TRANSITIONS, next_state
from . import library
from .lists import write_list_version
from .policies import activate_locked, update_locked
from .policy_fields import clean_policy_values, current_values

# Policy attributes a "modify" request may carry as its new standard or scope.
MODIFIABLE = ("standard_type", "standard_amount", "unit_name", "tiers", "cycle", "target_group",
              "min_age", "max_age", "valid_from", "valid_to", "means_tested")
OPEN_STATUSES = (ChangeStatus.DRAFT, ChangeStatus.IN_REVIEW, ChangeStatus.RETURNED)


def _check_year_open(year: int) -> None:
    today = clock.today()
    if rules.year_closed(year, today):
        raise DomainError(f"{year} 年度已结束，不能再申请调整。", field="year", code="year_closed")
    if year > today.year + 1:
        raise DomainError(f"只能申请本年度或下一年度（{today.year}—{today.year + 1}）的补贴项目调整。", field="year")


def _clean_new_standard(policy: Policy, new_standard: Mapping | None) -> dict:
    data = dict(new_standard or {})
    unknown = sorted(set(data) - set(MODIFIABLE))
    if unknown:
        raise DomainError(f"调整申请不能修改这些属性：{'、'.join(unknown)}。", field="new_standard")
    if not data:
        return {}
    cleaned = clean_policy_values({**current_values(policy), **data}, code=policy.code)
    out = {}
    for key in data:
        value = cleaned[key]
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif key == "standard_amount":
            value = str(value)
        out[key] = value
    if cleaned["standard_type"] == "tiered":
        out.setdefault("tiers", cleaned["tiers"])
    return out


def _documents(documents: Iterable) -> list[StoredFile]:
    ids = [getattr(d, "pk", d) for d in documents or []]
    found = list(StoredFile.objects.filter(pk__in=ids))
    if len(found) != len(set(map(str, ids))):
        raise DomainError("有附件不存在，请重新上传。", field="documents")
    return found


def _validate_target(cr_type: str, policy: Policy, region: Region, year: int, new_standard: dict) -> None:
    allowed = library.library_allows(policy=policy, region_code=region.code, year=year)
    if cr_type == ChangeType.ADD:
        if policy.status == PolicyStatus.RETIRED:
            raise DomainError(f"补贴项目 {policy.code} 已停止执行，不能申请新增。")
        if not region_rules.is_within(region.code, policy.region_id):
            raise DomainError(f"补贴项目 {policy.code} 由其他地区制定，不能在本地区申请新增。")
        if allowed:
            raise DomainError(f"补贴项目 {policy.code} 已在 {year} 年度补贴项目库中，无需申请新增。")
    elif cr_type == ChangeType.REMOVE:
        if not LibraryEntry.objects.filter(policy=policy, region=region, year=year,
                                           status=EntryStatus.ACTIVE).exists():
            raise DomainError(f"{year} 年度本区划补贴项目库中没有补贴项目 {policy.code}，无需取消"
                              "（上级入库的项目由上级部门申请调整）。")
    else:
        if not allowed:
            raise DomainError(f"补贴项目 {policy.code} 不在 {year} 年度补贴项目库中，请申请新增而不是调整。")
        if new_standard and policy.region_id != region.code:
            raise DomainError(f"补贴项目 {policy.code} 由上级制定，其标准只能由制定该政策的地区申请调整。")


@transaction.atomic
def change_request_create(*, actor: Scope, region_code: str, year: int, policy_code: str, change_type: str,
                          content: str, reason: str, amount_impact=0, new_standard: Mapping | None = None,
                          documents: Iterable = ()) -> ChangeRequest:
    """The applicant department (of `region_code`, the policy's business line) fills in the form (draft).
    For an addition of a brand-new policy, create the policy first as a draft (policy_create status="draft")."""
    actor.require_write("change.request")
    region = Region.objects.filter(pk=str(region_code or "").strip()).first()
    if region is None:
        raise DomainError(f"行政区划 {region_code} 不存在。", field="region")
    rules.change_chain(region.level)  # refuses townships and villages
    actor.require_region(region.code)
    if not actor.is_system and actor.region_code != region.code:
        raise ScopeError("调整变更申请由本级补贴项目主管部门填报。")
    year = int(year)
    _check_year_open(year)
    policy = Policy.objects.filter(code=str(policy_code or "").strip()).first()
    if policy is None:
        raise DomainError(f"补贴项目 {policy_code} 不存在；新增补贴项目请先登记补贴政策（草稿）。", field="policy")
    actor.require_business_line(policy.business_line)
    if change_type not in ChangeType.values:
        raise DomainError("请选择变更类型：新增、取消、调整标准或范围。", field="change_type")
    content, reason = (content or "").strip(), (reason or "").strip()
    if not content:
        raise DomainError("请填写变更内容。", field="content")
    if not reason:
        raise DomainError("请填写变更理由。", field="reason")
    impact = rules.clean_money(amount_impact if amount_impact not in (None, "") else 0,
                               what="资金影响", allow_negative=True)
    cleaned_standard = _clean_new_standard(policy, new_standard) if change_type == ChangeType.MODIFY else {}
    if new_standard and change_type != ChangeType.MODIFY:
        raise DomainError("只有“调整标准或范围”类申请可以填写调整后的标准。", field="new_standard")
    _validate_target(change_type, policy, region, year, cleaned_standard)
    duplicate = ChangeRequest.objects.filter(region=region, year=year, policy=policy, change_type=change_type,
                                             status__in=OPEN_STATUSES).first()
    if duplicate:
        raise DomainError(f"已有一份未办结的同类申请（{duplicate.number}），请在该申请上继续办理。")
    applicant = (Organization.objects.get(pk=actor.organization_id) if actor.organization_id
                 else policy.department)
    files = _documents(documents)
    cr = ChangeRequest.objects.create(
        region=region, year=year, policy=policy, change_type=change_type, content=content, reason=reason,
        amount_impact=impact, new_standard=cleaned_standard, applicant=applicant,
        applicant_user=actor.username, created_at=clock.now(),
    )
    cr.number = f"BG{year}-{region.code[:6]}-{cr.pk:05d}"
    cr.save(update_fields=["number"])
    cr.documents.set(files)
    audit.record(actor=actor, action="change.create", obj=cr, after=_summary(cr))
    return cr


def _summary(cr: ChangeRequest) -> dict:
    return {"number": cr.number, "year": cr.year, "policy": cr.policy.code, "change_type": cr.change_type,
            "status": cr.status, "step": cr.current_step, "round": cr.round,
            "amount_impact": str(cr.amount_impact), "new_standard": cr.new_standard}


def _locked(pk) -> ChangeRequest:
    cr = ChangeRequest.objects.select_for_update().filter(pk=pk).first()
    if cr is None:
        raise DomainError("调整变更申请不存在。", code="not_found")
    return cr


def _require_applicant(actor: Scope, cr: ChangeRequest) -> None:
    actor.require_write("change.request")
    if not actor.is_system and actor.organization_id != cr.applicant_id:
        raise ScopeError("只有申请部门可以修改、提交或撤回本申请。")


def _step_row(actor: Scope, cr: ChangeRequest, *, index: int, code: str, label: str, decision: str,
              reason: str = "") -> ChangeRequestStep:
    return ChangeRequestStep.objects.create(
        request=cr, round=cr.round, step_index=index, step_code=code, step_label=label, decision=decision,
        actor_username=actor.username, actor_organization_id=actor.organization_id, decided_at=clock.now(),
        reason=reason,
    )


@transaction.atomic
def change_request_revise(*, actor: Scope, pk: int, content: str | None = None, reason: str | None = None,
                          amount_impact=None, new_standard: Mapping | None = None,
                          documents: Iterable | None = None) -> ChangeRequest:
    """The applicant corrects a draft or returned request before (re)submitting it."""
    cr = _locked(pk)
    _require_applicant(actor, cr)
    if cr.status not in (ChangeStatus.DRAFT, ChangeStatus.RETURNED):
        raise DomainError(f"申请 {cr.number} 当前状态为“{ChangeStatus(cr.status).label}”，不能修改。")
    before = _summary(cr)
    if content is not None:
        if not content.strip():
            raise DomainError("请填写变更内容。", field="content")
        cr.content = content.strip()
    if reason is not None:
        if not reason.strip():
            raise DomainError("请填写变更理由。", field="reason")
        cr.reason = reason.strip()
    if amount_impact is not None:
        cr.amount_impact = rules.clean_money(amount_impact, what="资金影响", allow_negative=True)
    if new_standard is not None:
        if cr.change_type != ChangeType.MODIFY and new_standard:
            raise DomainError("只有“调整标准或范围”类申请可以填写调整后的标准。", field="new_standard")
        cr.new_standard = _clean_new_standard(cr.policy, new_standard)
    cr.save()
    if documents is not None:
        cr.documents.set(_documents(documents))
    audit.record(actor=actor, action="change.revise", obj=cr, before=before, after=_summary(cr))
    return cr


@transaction.atomic
def change_request_submit(*, actor: Scope, pk: int) -> ChangeRequest:
    """Submit (or resubmit after a return): the chain starts again at its first step."""
    cr = _locked(pk)
    _require_applicant(actor, cr)
    _check_year_open(cr.year)
    new_status = next_state(CHANGE_TRANSITIONS, cr.status, "submit", what=f"申请 {cr.number} ")
    _validate_target(cr.change_type, cr.policy, cr.region, cr.year, cr.new_standard)
    cr.status, cr.current_step, cr.round = new_status, 0, cr.round + 1
    cr.submitted_at = clock.now()
    cr.save(update_fields=["status", "current_step", "round", "submitted_at"])
    _step_row(actor, cr, index=-1, code="applicant", label="申请部门提交", decision=ChangeRequestStep.Decision.SUBMITTED)
    audit.record(actor=actor, action="change.submit", obj=cr, after=_summary(cr))
    return cr


def current_step(cr: ChangeRequest) -> rules.ChainStep:
    return rules.change_chain(cr.region.level)[cr.current_step]


def _require_step_actor(actor: Scope, cr: ChangeRequest) -> rules.ChainStep:
    actor.require_write("change.review")
    step = current_step(cr)
    if actor.is_system:
        return step
    refusal = rules.step_refusal(step, role=actor.role, actor_region_code=actor.region_code,
                                 actor_line=actor.business_line, request_region_code=cr.region_id,
                                 policy_line=cr.policy.business_line)
    if refusal:
        raise ScopeError(refusal, code="wrong_step_actor")
    return step


@transaction.atomic
def change_request_approve(*, actor: Scope, pk: int, opinion: str = "") -> ChangeRequest:
    """The actor of the current step agrees; at the last step the change takes effect."""
    cr = _locked(pk)
    if cr.status != ChangeStatus.IN_REVIEW:
        next_state(CHANGE_TRANSITIONS, cr.status, "approve_step", what=f"申请 {cr.number} ")
    step = _require_step_actor(actor, cr)
    _check_year_open(cr.year)
    chain = rules.change_chain(cr.region.level)
    final = cr.current_step == len(chain) - 1
    _step_row(actor, cr, index=cr.current_step, code=step.code, label=step.label,
              decision=ChangeRequestStep.Decision.APPROVED, reason=(opinion or "").strip())
    cr.status = next_state(CHANGE_TRANSITIONS, cr.status, "approve_final" if final else "approve_step",
                           what=f"申请 {cr.number} ")
    if final:
        cr.decided_at = clock.now()
    else:
        cr.current_step += 1
    cr.save(update_fields=["status", "current_step", "decided_at"])
    audit.record(actor=actor, action="change.approve_final" if final else "change.approve_step", obj=cr,
                 after=_summary(cr), reason=(opinion or "").strip())
    if final:
        _take_effect(actor, cr)
    return cr


@transaction.atomic
def change_request_return(*, actor: Scope, pk: int, reason: str) -> ChangeRequest:
    """The actor of the current step sends the request back to the applicant with a reason."""
    cr = _locked(pk)
    if not (reason or "").strip():
        raise DomainError("退回须填写原因，申请部门将据此修改。", field="reason")
    if cr.status != ChangeStatus.IN_REVIEW:
        next_state(CHANGE_TRANSITIONS, cr.status, "return", what=f"申请 {cr.number} ")
    step = _require_step_actor(actor, cr)
    _step_row(actor, cr, index=cr.current_step, code=step.code, label=step.label,
              decision=ChangeRequestStep.Decision.RETURNED, reason=reason.strip())
    cr.status = next_state(CHANGE_TRANSITIONS, cr.status, "return", what=f"申请 {cr.number} ")
    cr.current_step, cr.returned_reason = 0, reason.strip()
    cr.save(update_fields=["status", "current_step", "returned_reason"])
    audit.record(actor=actor, action="change.return", obj=cr, after=_summary(cr), reason=reason.strip())
    return cr


@transaction.atomic
def change_request_withdraw(*, actor: Scope, pk: int, reason: str = "") -> ChangeRequest:
    cr = _locked(pk)
    _require_applicant(actor, cr)
    cr.status = next_state(CHANGE_TRANSITIONS, cr.status, "withdraw", what=f"申请 {cr.number} ")
    cr.save(update_fields=["status"])
    _step_row(actor, cr, index=-1, code="applicant", label="申请部门撤回",
              decision=ChangeRequestStep.Decision.WITHDRAWN, reason=(reason or "").strip())
    audit.record(actor=actor, action="change.withdraw", obj=cr, after=_summary(cr), reason=reason or "")
    return cr


def _take_effect(actor: Scope, cr: ChangeRequest) -> None:
    why = f"依据调整变更申请 {cr.number}：{cr.reason}"
    policy = Policy.objects.select_for_update().get(pk=cr.policy_id)
    policy_list = AnnualPolicyList.objects.select_for_update().filter(region=cr.region, year=cr.year).first()
    if cr.change_type == ChangeType.ADD:
        if policy.status == PolicyStatus.DRAFT:
            activate_locked(actor, policy, why)
        library.add_entry(actor, policy=policy, region_code=cr.region_id, year=cr.year, change=cr)
        if policy_list and not policy_list.items.filter(policy=policy).exists():
            part = ListPart.SELF_DEFINED if policy.region_id == cr.region_id else ListPart.PRESCRIBED
            AnnualListItem.objects.create(
                policy_list=policy_list, policy=policy, part=part, department=cr.applicant,
                status=ItemStatus.SUBMITTED, added_at=clock.now(), added_by=actor.username,
                submitted_at=clock.now(), submitted_by=cr.applicant_user, source_change=cr,
            )
            write_list_version(policy_list, changed_by=actor.username, reason=why)
    elif cr.change_type == ChangeType.REMOVE:
        entry = LibraryEntry.objects.select_for_update().filter(
            policy=policy, region=cr.region, year=cr.year, status=EntryStatus.ACTIVE).first()
        if entry is None:
            raise DomainError(f"补贴项目 {policy.code} 已不在 {cr.year} 年度本区划补贴项目库中，无法取消。")
        library.remove_entry(actor, entry, reason=why, change=cr)
        item = policy_list.items.select_for_update().filter(policy=policy).first() if policy_list else None
        if item and item.status == ItemStatus.SUBMITTED:
            item.status = next_state(ITEM_TRANSITIONS, item.status, "cancel", what="清单项目")
            item.removed_reason = why
            item.save(update_fields=["status", "removed_reason"])
            write_list_version(policy_list, changed_by=actor.username, reason=why)
    elif cr.new_standard:
        update_locked(actor, policy, cr.new_standard, why, check_scope=False, allow_noop=True)
    audit.record(actor=actor, action="change.effect", obj=cr, reason=why,
                 after={**_summary(cr), "policy_version": policy.version})
