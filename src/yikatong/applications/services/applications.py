"""Collecting applications: one service for every entry path (typed, online, one roster row), initial
verification (入户核实 [003 §16]), return for correction, correction and withdrawal."""

from django.db import IntegrityError, transaction

from yikatong.core import audit, clock, workdays
from yikatong.core.errors import DomainError
from yikatong.core.models import Organization, OrgKind, Role
from yikatong.core.scope import Scope
from yikatong.policies.models import Policy
from yikatong.policies.rules import covering_region_codes
from yikatong.policies.services import library_require
from yikatong.registry.models import Beneficiary, PayeeAccount

from .. import rules, workflow
from ..models import Application, ApplicationEvent, Channel, Status
from ..models.applications import CLOSED_STATUSES
from ._common import ItemResult, lock_application, move, need_text, require_in_scope, run_batch, snapshot

NUMBER_ATTEMPTS = 5
DUPLICATE_MESSAGE = "该对象本期已有申报（编号 {number}，状态 {status}），不能重复申报。"


def _policy(policy_code) -> Policy:
    code = str(policy_code or "").strip()
    policy = Policy.objects.filter(code=code).first()
    if policy is None:
        raise DomainError(f"补贴项目 {code or '（空）'} 不存在，请核对补贴项目编码。", field="policy_code")
    return policy


def _beneficiary(beneficiary_id) -> Beneficiary:
    beneficiary = Beneficiary.objects.select_related("region").filter(pk=beneficiary_id).first()
    if beneficiary is None:
        raise DomainError(f"补贴对象 {beneficiary_id} 不存在，请先登记补贴对象。", field="beneficiary_id")
    return beneficiary


def _payee_account(beneficiary: Beneficiary, payee_account_id) -> PayeeAccount | None:
    if payee_account_id in (None, ""):
        return PayeeAccount.objects.filter(beneficiary=beneficiary, is_active=True).first()
    account = PayeeAccount.objects.filter(pk=payee_account_id).first()
    if account is None or account.beneficiary_id != beneficiary.pk:
        raise DomainError("收款账户不属于该补贴对象，请选择本人的账户。", field="payee_account_id")
    if not account.is_active:
        raise DomainError("该收款账户已停用（已被新账户替代），请选择当前有效的账户。", field="payee_account_id")
    return account


def _collector_for(actor: Scope, region_code: str) -> int | None:
    """The collector organization in charge: the actor's own, or (online, system) the nearest active
    collector whose region covers the beneficiary's."""
    if actor.role == Role.COLLECTOR and actor.organization_id:
        return actor.organization_id
    codes = covering_region_codes(region_code)
    org = (Organization.objects.filter(kind=OrgKind.COLLECTOR, active=True, region_id__in=codes)
           .order_by("-region_id", "code").first())
    return org.pk if org else None


def _find_open_duplicate(beneficiary_id, policy_id, period) -> Application | None:
    return (Application.objects.filter(beneficiary_id=beneficiary_id, policy_id=policy_id, period=period)
            .exclude(status__in=CLOSED_STATUSES).first())


def _duplicate_error(existing: Application) -> DomainError:
    return DomainError(
        DUPLICATE_MESSAGE.format(number=existing.number, status=existing.get_status_display()),
        code="duplicate",
    )


def check_policy_and_period(policy: Policy, period, region_code: str) -> str:
    """The normalized period after the checks shared with the roster import: shape and cycle, the policy's
    validity, and the year's project library for the region."""
    period = rules.check_period_for_cycle(period, policy.cycle, policy_code=policy.code)
    rules.check_period_in_validity(period, policy.valid_from, policy.valid_to, policy_code=policy.code)
    library_require(policy=policy, region_code=region_code, year=rules.period_year(period))
    return period


@transaction.atomic
def application_create(
    *,
    actor: Scope,
    beneficiary_id,
    policy_code: str,
    period: str,
    amount=None,
    quantity=None,
    tier: str = "",
    channel: str,
    remarks: str = "",
    payee_account_id=None,
    roster_import_id=None,
    roster_row: int | None = None,
) -> Application:
    """Create one application (state collected; the 3-working-day initial verification starts today).

    Used by the typed form (channel "typed"), the online application (actor Scope.system(), channel
    "online") and the roster import for each accepted row (channel "roster"). Refuses with a Chinese message:
    unknown beneficiary or policy, a policy not in the year's library for the beneficiary's region, a period
    of the wrong shape for the policy's cycle, an amount ≤ 0 / with more than two decimals / above the
    standard, a region outside the actor's scope, and a second open application for the same beneficiary,
    policy and period. The amount defaults to the standard (fixed, per unit × quantity, tier)."""
    actor.require_write("application.collect")
    if channel not in Channel.values:
        raise DomainError(f"申报来源“{channel}”无效。", field="channel")
    beneficiary = _beneficiary(beneficiary_id)
    actor.require_region(beneficiary.region_id)
    policy = _policy(policy_code)
    if channel == Channel.ONLINE and not policy.online_application:
        raise DomainError(f"补贴项目 {policy.code} 不受理网上申请，请到村（社区）或乡镇（街道）申报。",
                          field="policy_code")
    period = check_policy_and_period(policy, period, beneficiary.region_id)
    qty = rules.clean_quantity(quantity)
    tier = str(tier or "").strip()
    value, _standard = rules.clean_amount(policy, amount, quantity=qty, tier=tier)
    account = _payee_account(beneficiary, payee_account_id)
    remarks = str(remarks or "").strip()
    if len(remarks) > 200:
        raise DomainError("备注不能超过200字。", field="remarks")

    existing = _find_open_duplicate(beneficiary.pk, policy.pk, period)
    if existing is not None:
        raise _duplicate_error(existing)

    today = clock.today()
    app = Application(
        beneficiary=beneficiary, policy=policy, period=period, region_id=beneficiary.region_id,
        business_line=policy.business_line, collector_id=_collector_for(actor, beneficiary.region_id),
        channel=channel, quantity=qty, tier=tier, amount=value, payee_account=account,
        status=Status.COLLECTED, step_started_on=today,
        step_deadline=workdays.deadline_for(workflow.INITIAL_VERIFICATION, today),
        remarks=remarks, roster_import_id=roster_import_id, roster_row=roster_row,
        created_by=actor.username,
    )
    for _attempt in range(NUMBER_ATTEMPTS):
        app.number = rules.new_application_number(today)
        try:
            with transaction.atomic():  # a savepoint: the outer transaction stays usable after a refusal
                app.save(force_insert=True)
            break
        except IntegrityError:
            app.pk = None
            # The partial unique constraint is the final guard against a concurrent duplicate.
            existing = (Application.objects.filter(beneficiary_id=beneficiary.pk, policy_id=policy.pk, period=period)
                        .exclude(status__in=CLOSED_STATUSES).first())
            if existing is not None:
                raise _duplicate_error(existing) from None
            # otherwise the random number collided: try another one
    else:
        raise DomainError("生成申报编号失败，请重试。")
    ApplicationEvent.objects.create(
        application=app, from_status="", to_status=app.status, actor=actor.username,
        reason=f"新建申报（{Channel(channel).label}）",
    )
    audit.record(actor=actor, action="application.create", obj=app, after=snapshot(app))
    return app


# -- transitions ---------------------------------------------------------------------------------------------
def _start(actor: Scope, application_id, action: str):
    """Lock, check scope and the transition table; returns (app, transition)."""
    workflow.transitions_for(action)
    app = lock_application(application_id)
    require_in_scope(actor, app)
    transition = workflow.require_transition(actor, action, app.status, what=f"申报 {app.number} ")
    return app, transition


@transaction.atomic
def application_verify(*, actor: Scope, application_id, note: str = "") -> Application:
    """Initial verification passed (入户核实, by the collector): collected → verified."""
    app, transition = _start(actor, application_id, "verify")
    note = str(note or "").strip()
    return move(actor, app, transition, reason=f"入户核实通过：{note}" if note else "入户核实通过")


@transaction.atomic
def application_return(*, actor: Scope, application_id, reason: str) -> Application:
    """Send back for correction, with the reason the applicant is told: by the collector (collected, verified,
    in notice) or by the department (submitted)."""
    reason = need_text(reason, "请填写退回原因（将告知申请人）。")
    app, transition = _start(actor, application_id, "return")
    return move(actor, app, transition, reason=reason)


_UNSET = object()


@transaction.atomic
def application_correct(
    *,
    actor: Scope,
    application_id,
    reason: str,
    amount=_UNSET,
    quantity=_UNSET,
    tier=_UNSET,
    payee_account_id=_UNSET,
    remarks=_UNSET,
) -> Application:
    """Correct a collected or returned application (only the fields given change). A returned one is
    re-opened (collected, the initial verification starts again). When quantity or tier change and no amount
    is given, the amount becomes the standard for the new quantity/tier. Every change is kept as an event."""
    reason = need_text(reason, "请填写更正原因。")
    app, transition = _start(actor, application_id, "correct")
    before = snapshot(app)
    policy = app.policy
    qty = app.quantity if quantity is _UNSET else rules.clean_quantity(quantity)
    new_tier = app.tier if tier is _UNSET else str(tier or "").strip()
    if amount is _UNSET:
        basis_changed = qty != app.quantity or new_tier != app.tier
        value, _ = rules.clean_amount(policy, None if basis_changed else app.amount, quantity=qty, tier=new_tier)
    else:
        value, _ = rules.clean_amount(policy, amount, quantity=qty, tier=new_tier)
    account_id = app.payee_account_id
    if payee_account_id is not _UNSET:
        account = _payee_account(app.beneficiary, payee_account_id)
        account_id = account.pk if account else None
    new_remarks = app.remarks if remarks is _UNSET else str(remarks or "").strip()
    if len(new_remarks) > 200:
        raise DomainError("备注不能超过200字。", field="remarks")

    changes = {}
    for field, old, new in [("amount", app.amount, value), ("quantity", app.quantity, qty),
                            ("tier", app.tier, new_tier), ("payee_account_id", app.payee_account_id, account_id),
                            ("remarks", app.remarks, new_remarks)]:
        if old != new:
            changes[field] = [None if old is None else str(old), None if new is None else str(new)]
    if not changes and app.status == Status.COLLECTED:
        raise DomainError("没有需要更正的内容。")
    app.amount, app.quantity, app.tier, app.payee_account_id, app.remarks = value, qty, new_tier, account_id, new_remarks
    return move(actor, app, transition, reason=reason, changes=changes, before=before,
                extra_fields=["amount", "quantity", "tier", "payee_account", "remarks"])


@transaction.atomic
def application_withdraw(*, actor: Scope, application_id, reason: str) -> Application:
    """Withdraw at the applicant's request (before approval). A withdrawn application no longer blocks a new
    one for the same period; one withdrawn while in notice is left out of the next notice round."""
    reason = need_text(reason, "请填写撤回原因。")
    app, transition = _start(actor, application_id, "withdraw")
    return move(actor, app, transition, reason=reason)


# -- batches -------------------------------------------------------------------------------------------------
def application_verify_batch(*, actor: Scope, application_ids, note: str = "") -> list[ItemResult]:
    return run_batch(application_ids, application_verify, actor=actor, note=note)


def application_return_batch(*, actor: Scope, application_ids, reason: str) -> list[ItemResult]:
    need_text(reason, "请填写退回原因（将告知申请人）。")
    return run_batch(application_ids, application_return, actor=actor, reason=reason)


def application_withdraw_batch(*, actor: Scope, application_ids, reason: str) -> list[ItemResult]:
    need_text(reason, "请填写撤回原因。")
    return run_batch(application_ids, application_withdraw, actor=actor, reason=reason)
