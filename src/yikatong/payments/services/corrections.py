"""Failed items corrected and paid again "until it succeeds" [003 §6(二)1, §22]; items held, released, removed.

- item_correct: the department (payment.correct, its business line) or the collector (its township) corrects a
  FAILED item within 3 working days (item.correction_deadline; later is allowed but flagged as overdue). A new
  account number changes the beneficiary's payee account through the registry (one person, one card); without
  new data the item is refreshed from the current active account (e.g. the card was activated meanwhile). A card
  that cannot be paid (not activated, lost, cancelled) is refused with what to do. The item keeps its history
  (ItemEvent with the changed fields, masked) and becomes `corrected`, ready for a follow-up batch (补发).
- item_hold / item_unhold / item_remove: the department of the plan. Removing an item whose money is committed
  but not yet sent releases the commitment (indicator_release + a RELEASED ledger entry); a failed item's money
  went back to the treasury with the bank's return, so nothing is released for it.
- items_*: the same for a list of ids, each in its own transaction, with a per-row result.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from yikatong.core import clock, masking
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.money import format_yuan
from yikatong.core.scope import Scope
from yikatong.policies.services.indicators import indicator_release
from yikatong.registry.models import CardStatus, PayeeAccount
from yikatong.registry.models.accounts import UNPAYABLE_CARD_STATUSES

from ..models import (
    AttemptStatus,
    BatchStatus,
    DisbursementEntry,
    DisbursementPlan,
    EntryKind,
    ItemEvent,
    ItemStatus,
    PaymentAttempt,
    PaymentItem,
    PlanStatus,
)
from .common import book, lock_plan, move_item, move_plan, require_plan_scope

REF_TYPE = "payment_plan"
REASON_MAX = 300
CARD_LABELS = dict(CardStatus.choices)


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item of a bulk action."""

    item_id: int | str
    ok: bool
    message: str = ""
    status: str = ""

    def as_dict(self) -> dict:
        return {"item_id": self.item_id, "ok": self.ok, "message": self.message, "status": self.status}


# -- helpers -----------------------------------------------------------------------------------------------------
def _reason(reason) -> str:
    text = str(reason or "").strip()
    if not text:
        raise DomainError("请填写原因（将记入发放明细的处理记录和审计日志）。", field="reason", code="reason_required")
    if len(text) > REASON_MAX:
        raise DomainError(f"原因不能超过 {REASON_MAX} 个字。", field="reason")
    return text


def _locked_item(item_id) -> PaymentItem:
    try:
        pk = int(item_id)
    except (TypeError, ValueError):
        pk = None
    item = (PaymentItem.objects.select_for_update(of=("self",)).select_related("plan").filter(pk=pk).first()
            if pk is not None else None)
    if item is None:
        raise DomainError("发放明细不存在或不在您的管辖范围内。", code="not_found")
    return item


def _locked_item_of_plan(item_id) -> tuple[PaymentItem, DisbursementPlan]:
    """Lock the item's plan first, then the item (the order batch services use: plan, then its items)."""
    try:
        plan_id = PaymentItem.objects.filter(pk=int(item_id)).values_list("plan_id", flat=True).first()
    except (TypeError, ValueError):
        plan_id = None
    if plan_id is None:
        raise DomainError("发放明细不存在或不在您的管辖范围内。", code="not_found")
    plan = lock_plan(plan_id)
    item = _locked_item(item_id)
    item.plan = plan
    return item, plan


def _require_correct_scope(actor: Scope, item: PaymentItem) -> None:
    """payment.correct; the item's region within the actor's (the collector: its township); a department only
    its own business line."""
    actor.require_write("payment.correct")
    if not actor.covers_region(item.region_id):
        raise ScopeError("无权更正该发放明细：补贴对象不在您的管辖范围内。")
    actor.require_business_line(item.plan.business_line)


def _require_plan_write(actor: Scope, item: PaymentItem) -> None:
    require_plan_scope(actor, item.plan, "payment.plan")
    if not actor.covers_region(item.region_id):
        raise ScopeError("无权处理该发放明细：补贴对象不在您的管辖范围内。")


def _active_account(beneficiary_id) -> PayeeAccount | None:
    return PayeeAccount.objects.filter(beneficiary_id=beneficiary_id, is_active=True).first()


def require_payable(account: PayeeAccount | None) -> PayeeAccount:
    """The account money may be sent to, or a refusal saying what to do."""
    if account is None:
        raise DomainError("该补贴对象没有有效的收款账户：请先登记本人社会保障卡银行账户。", field="account_number",
                          code="no_account")
    if account.card_status in UNPAYABLE_CARD_STATUSES:
        label = CARD_LABELS.get(account.card_status, account.card_status)
        raise DomainError(
            f"收款账户 {account.bank_name} {account.account_masked} 的金融功能状态为“{label}”，不能补发："
            "请先到银行办理激活（或解挂、补换卡）并更新卡片状态，或更换为本人有效的社会保障卡账户。",
            field="account_number", code="card_unpayable")
    return account


def _diff(changes: dict, key: str, old, new) -> None:
    if old != new:
        changes[key] = {"from": old, "to": new}


# -- correct -----------------------------------------------------------------------------------------------------
def item_correct(*, actor: Scope, item_id, reason: str, account_number: str | None = None,
                 bank_name: str | None = None, payee_name: str | None = None) -> PaymentItem:
    """Correct a failed (or re-correct a corrected) item; returns it in state `corrected`."""
    reason = _reason(reason)
    account_number = str(account_number or "").strip()
    bank_name = str(bank_name or "").strip()
    payee_name = str(payee_name or "").strip()
    with transaction.atomic():
        item = _locked_item(item_id)
        _require_correct_scope(actor, item)
        if item.status not in (ItemStatus.FAILED, ItemStatus.CORRECTED):
            label = ItemStatus(item.status).label
            raise DomainError(f"发放明细当前状态为“{label}”，只有发放失败的明细可以更正。", code="not_failed")
        if account_number:
            from yikatong.registry.services.accounts import payee_account_set

            current = _active_account(item.beneficiary_id)
            account = payee_account_set(
                actor=actor, beneficiary_id=item.beneficiary_id, account_number=account_number,
                bank_name=bank_name or (current.bank_name if current else item.bank_name),
                reason=f"发放失败更正：{reason}")
        else:
            account = _active_account(item.beneficiary_id)
            if bank_name and account is not None and bank_name != account.bank_name:
                raise DomainError("更改开户银行须同时填写新的银行账号。", field="bank_name")
        require_payable(account)
        changes: dict = {}
        _diff(changes, "account_masked", item.account_masked, account.account_masked)
        _diff(changes, "bank_name", item.bank_name, account.bank_name)
        if payee_name and payee_name != item.payee_name:
            changes["payee_name"] = {"from": masking.mask_name(item.payee_name), "to": masking.mask_name(payee_name)}
            item.payee_name = payee_name[:100]
        if account.pk != item.payee_account_id:
            changes["account_version"] = {"from": _version_of(item.payee_account_id), "to": account.version}
        changes["card_status"] = account.card_status
        today = clock.today()
        overdue = bool(item.correction_deadline and today > item.correction_deadline)
        changes["overdue"] = overdue
        if item.correction_deadline:
            changes["deadline"] = item.correction_deadline.isoformat()
        item.payee_account = account
        item.account_enc = bytes(account.account_enc)
        item.account_digest = account.account_digest
        item.account_masked = account.account_masked
        item.bank_name = account.bank_name
        note = f"{reason}（逾期更正，期限 {item.correction_deadline}）" if overdue else reason
        move_item(actor, item, "correct", reason=note, changes=changes,
                  extra_fields=["payee_account", "account_enc", "account_digest", "account_masked", "bank_name",
                                "payee_name"])
    return item


def _version_of(account_id) -> int | None:
    if not account_id:
        return None
    return PayeeAccount.objects.filter(pk=account_id).values_list("version", flat=True).first()


# -- hold / unhold -----------------------------------------------------------------------------------------------
def item_hold(*, actor: Scope, item_id, reason: str) -> PaymentItem:
    """Keep an item out of the next batch (card not payable, a finding to resolve …)."""
    reason = _reason(reason)
    with transaction.atomic():
        item, plan = _locked_item_of_plan(item_id)
        _require_plan_write(actor, item)
        item.hold_reason = reason
        move_item(actor, item, "hold", reason=reason, changes={"hold_reason": reason}, extra_fields=["hold_reason"])
        DisbursementPlan.objects.filter(pk=plan.pk).update(held_count=F("held_count") + 1)
    return item


def item_unhold(*, actor: Scope, item_id, reason: str) -> PaymentItem:
    reason = _reason(reason)
    with transaction.atomic():
        item, plan = _locked_item_of_plan(item_id)
        _require_plan_write(actor, item)
        back = _status_before_hold(item)
        commit = (back == ItemStatus.PENDING and item.status == ItemStatus.HELD and _plan_committed(plan)
                  and _never_reached_bank(item) and not committed_unsent(item))
        item.hold_reason = ""
        action = {ItemStatus.FAILED: "unhold_failed", ItemStatus.CORRECTED: "unhold_corrected"}.get(back, "unhold")
        move_item(actor, item, action, reason=reason, extra_fields=["hold_reason"],
                  changes={"committed": str(item.amount)} if commit else None)
        if commit:  # held when the plan was mounted: its money was not committed then
            _commit_item(actor, plan, item, reason)
        DisbursementPlan.objects.filter(pk=plan.pk, held_count__gt=0).update(held_count=F("held_count") - 1)
    return item


def _status_before_hold(item: PaymentItem) -> str:
    """The status the item was held from (its last hold event); pending for an item held when the plan was
    built. A failed item's money went back to the treasury: released from hold it is failed again (to be
    corrected), never pending — a pending item of a paying plan is resent as if its money were still committed."""
    held_from = (ItemEvent.objects.filter(item_id=item.pk, action="hold").order_by("-at", "-id")
                 .values_list("from_status", flat=True).first())
    if held_from in (ItemStatus.FAILED, ItemStatus.CORRECTED):
        return held_from
    return ItemStatus.PENDING


def _commit_item(actor: Scope, plan, item: PaymentItem, reason: str) -> None:
    from yikatong.policies.services.indicators import indicator_commit

    from .ledgers import require_day_open

    require_day_open(plan.region_id, clock.today())
    indicator_commit(actor=actor, indicator_id=plan.indicator_id, amount=item.amount, ref_type=REF_TYPE,
                     ref_id=plan.number, policy_code=plan.policy.code, fiscal_year=plan.fiscal_year,
                     region_code=plan.region_id, note=f"恢复发放明细 {item.pk}：{reason}"[:200])
    book(actor=actor, plan=plan, kind=EntryKind.COMMITTED, amount=item.amount,
         note=f"恢复发放明细 {item.pk} 挂接指标")
    plan.committed_amount += item.amount
    plan.save(update_fields=["committed_amount", "updated_at"])


# -- remove ------------------------------------------------------------------------------------------------------
def committed_unsent(item: PaymentItem) -> bool:
    """Whether the item's money is committed on the indicator and not yet sent to the bank (see
    reconciliation.committed_unsent_items). A failed item's money went back with the bank's return; a corrected
    item is committed again only by its follow-up batch."""
    from .reconciliation import committed_unsent_items

    return _plan_committed(item.plan) and committed_unsent_items([item.plan_id]).filter(pk=item.pk).exists()


def _plan_committed(plan) -> bool:
    return DisbursementEntry.objects.filter(plan_id=plan.pk, kind=EntryKind.COMMITTED).exists()


def _never_reached_bank(item: PaymentItem) -> bool:
    return not PaymentAttempt.objects.filter(item_id=item.pk).exclude(status=AttemptStatus.WITHDRAWN).exclude(
        status=AttemptStatus.SENT, batch__status__in=[BatchStatus.PREPARED, BatchStatus.CANCELLED]).exists()


def item_remove(*, actor: Scope, item_id, reason: str) -> PaymentItem:
    """Take an item out of the plan for good (with a reason); committed money not yet sent is released."""
    reason = _reason(reason)
    with transaction.atomic():
        item, plan = _locked_item_of_plan(item_id)
        _require_plan_write(actor, item)
        was_held = item.status == ItemStatus.HELD
        release = committed_unsent(item)
        changes = {"released": str(item.amount) if release else "0.00"}
        move_item(actor, item, "remove", reason=reason, changes=changes)
        if release:
            from .ledgers import require_day_open

            require_day_open(plan.region_id, clock.today())
            if not plan.indicator_id:
                raise DomainError(f"发放方案 {plan.number} 未挂接指标，不能解除挂接。", code="no_indicator")
            indicator_release(actor=actor, indicator_id=plan.indicator_id, amount=item.amount, ref_type=REF_TYPE,
                              ref_id=plan.number, note=f"剔除发放明细 {item.pk}：{reason}"[:200])
            book(actor=actor, plan=plan, kind=EntryKind.RELEASED, amount=item.amount,
                 note=f"剔除发放明细 {item.pk}（{format_yuan(item.amount)} 元）")
            plan.committed_amount = max(plan.committed_amount - item.amount, 0)
        if was_held and plan.held_count:
            plan.held_count -= 1
        plan.save(update_fields=["committed_amount", "held_count", "updated_at"])
        _complete_if_done(actor, plan)
    return item


def _complete_if_done(actor: Scope, plan) -> None:
    """A paying plan whose every item is paid or removed is completed."""
    if plan.status != PlanStatus.PAYING:
        return
    if not plan.items.exclude(status__in=[ItemStatus.PAID, ItemStatus.REMOVED]).exists():
        move_plan(actor, plan, "complete", reason="全部明细已发放或剔除")


# -- bulk ----------------------------------------------------------------------------------------------------------
def _bulk(item_ids, one, **kwargs) -> list[ItemResult]:
    """Apply `one` to each distinct id in its own transaction; a refusal is reported for that item only."""
    results = []
    for raw in dict.fromkeys(item_ids or []):
        try:
            with transaction.atomic():
                item = one(item_id=raw, **kwargs)
        except DomainError as exc:
            results.append(ItemResult(raw, False, exc.message))
            continue
        results.append(ItemResult(item.pk, True, "", item.status))
    return results


def items_correct(*, actor: Scope, item_ids, reason: str) -> list[ItemResult]:
    """Refresh many failed items from their beneficiaries' current accounts (no new data)."""
    _reason(reason)
    return _bulk(item_ids, item_correct, actor=actor, reason=reason)


def items_hold(*, actor: Scope, item_ids, reason: str) -> list[ItemResult]:
    _reason(reason)
    return _bulk(item_ids, item_hold, actor=actor, reason=reason)


def items_unhold(*, actor: Scope, item_ids, reason: str) -> list[ItemResult]:
    _reason(reason)
    return _bulk(item_ids, item_unhold, actor=actor, reason=reason)


def items_remove(*, actor: Scope, item_ids, reason: str) -> list[ItemResult]:
    _reason(reason)
    return _bulk(item_ids, item_remove, actor=actor, reason=reason)
