"""Payment batches (代发批次): create (first or 补发), release to the bank, cancel. Bank files: batch_files.py.

batch_create(actor, plan_id)   the department (payment.plan). A `vouchered` plan without a live batch gets its
                               FIRST batch of its pending items; a `paying` plan gets a RESEND batch of its
                               corrected items, whose total is first committed on the plan's indicator.
                               Before any attempt exists the candidates are gated, set-based:
                                 1. card holds: the item's payee account (or, if it names none, the person's
                                    active account) is not activated / lost / cancelled, or there is none;
                                 2. the cross-check engine runs on the candidates (check_run_items, ref
                                    payment_batch:<batch number>), and items with an open or confirmed block
                                    finding (payment_gate) are held.
                               Held items never leave the platform. The attempts are one INSERT … SELECT
                               (seq 1..n by item id, attempt_no = attempt_count + 1); batch totals are summed by
                               the database from the attempts and checked against the candidates' sum.
batch_release(actor, batch_id) prepared → released: indicator paid (batch total), one SENT ledger entry per
                               attempt (INSERT … SELECT), pay deadline 2 wd, plan vouchered → paying on the first
                               release; bank files generated after commit (a background job for large batches).
batch_cancel(actor, batch_id, reason)  prepared → cancelled: attempts withdrawn, items back to pending (first)
                               or corrected (resend); a resend batch's commitment is released.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery

from yikatong.core import audit, clock
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.policies.services.indicators import indicator_commit, indicator_pay, indicator_release
from yikatong.registry.models import PayeeAccount
from yikatong.registry.models.accounts import UNPAYABLE_CARD_STATUSES, CardStatus

from .. import workflow
from ..models import (
    AttemptStatus,
    BatchKind,
    BatchStatus,
    DisbursementEntry,
    EntryKind,
    ItemEvent,
    ItemStatus,
    PaymentAttempt,
    PaymentBatch,
    PaymentItem,
    PlanStatus,
)
from .common import (
    book,
    count_and_sum,
    deadline,
    lock_batch,
    lock_plan,
    move_plan,
    next_number,
    on_commit,
    require_plan_scope,
)

log = logging.getLogger("yikatong.payments")

ITEM_TYPE = "payment_item"
REF_TYPE = "payment_plan"
CENT = Decimal("0.01")
CHUNK = 900  # ids per IN (...) list: below SQLite's parameter limit
CARD_REASONS = {
    CardStatus.NOT_ACTIVATED: "社保卡未激活金融功能",
    CardStatus.LOST: "社保卡已挂失",
    CardStatus.CANCELLED: "社保卡已注销",
}
NO_ACCOUNT_REASON = "无有效收款账户"
LIVE_BATCH_STATUSES = (BatchStatus.PREPARED, BatchStatus.RELEASED, BatchStatus.FETCHED, BatchStatus.PARTIAL,
                       BatchStatus.COMPLETED)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _execute(sql: str, params) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _chunks(ids: list):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def batch_snapshot(batch: PaymentBatch) -> dict:
    return {"number": batch.number, "kind": batch.kind, "status": batch.status, "item_count": batch.item_count,
            "total_amount": str(batch.total_amount), "bank": batch.bank_id}


# -- create ----------------------------------------------------------------------------------------------------
def batch_create(*, actor: Scope, plan_id) -> PaymentBatch:
    """Create the next batch of a plan (see the module doc). A racing duplicate batch number is retried."""
    for attempt in range(3):
        try:
            return _batch_create(actor=actor, plan_id=plan_id)
        except IntegrityError as exc:
            if connection.in_atomic_block or attempt == 2 or "number" not in str(exc):
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _batch_create(*, actor: Scope, plan_id) -> PaymentBatch:
    plan = lock_plan(plan_id)
    require_plan_scope(actor, plan, "payment.plan")
    if plan.status == PlanStatus.VOUCHERED:
        if plan.batches.filter(status__in=LIVE_BATCH_STATUSES).exists():
            raise DomainError(f"发放方案 {plan.number} 已生成首次发放批次，不能重复生成。", code="batch_exists")
        kind, statuses = BatchKind.FIRST, [ItemStatus.PENDING]
    elif plan.status == PlanStatus.PAYING:
        open_batch = plan.batches.filter(status=BatchStatus.PREPARED).first()
        if open_batch is not None:
            raise DomainError(f"发放方案 {plan.number} 尚有未发送的批次 {open_batch.number}，请先发送或撤销。",
                              code="batch_open")
        # Corrected items (their money went back to the treasury) and pending items of a paying plan (held
        # when the first batch was built and released since, their money still committed) are sent again.
        kind, statuses = BatchKind.RESEND, [ItemStatus.CORRECTED, ItemStatus.PENDING]
    else:
        raise DomainError(f"发放方案当前状态为“{plan.get_status_display()}”，不能生成代发批次：首次发放需已生成"
                          "支付凭证，补发需方案处于发放中。", code="bad_state")
    if plan.indicator_id is None:
        raise DomainError(f"发放方案 {plan.number} 尚未挂接预算指标，不能生成代发批次。", code="no_indicator")
    what = "待发放" if kind == BatchKind.FIRST else "已更正待补发"
    candidates = PaymentItem.objects.filter(plan_id=plan.pk, status__in=statuses)
    if not candidates.exists():
        raise DomainError(f"发放方案 {plan.number} 没有{what}的明细，无需生成批次。", code="nothing_to_send")

    number = next_number("PB", PaymentBatch)
    _jit_off()
    held_cards = _hold_unpayable_cards(actor, candidates)
    held_findings = 0
    if candidates.exists():
        held_findings = _check_and_hold(actor, plan, candidates, number)
    count, total = _totals(candidates)
    if count == 0:
        raise DomainError(f"发放方案 {plan.number} 的{what}明细均已暂缓发放（社保卡状态不可发放 {held_cards} 笔，"
                          f"比对疑点阻断 {held_findings} 笔），没有可发送的明细。", code="nothing_sendable")

    if kind == BatchKind.RESEND:
        _, returned_total = _totals(candidates.filter(status=ItemStatus.CORRECTED))
        if returned_total > 0:
            _commit_resend(actor, plan, returned_total, number)
    batch = PaymentBatch.objects.create(
        number=number, plan=plan, kind=kind, bank_id=plan.bank_id, policy_id=plan.policy_id, period=plan.period,
        region_id=plan.region_id, business_line=plan.business_line, indicator_id=plan.indicator_id,
        status=BatchStatus.PREPARED, created_by=actor.username)
    inserted = _insert_attempts(batch, plan, statuses)
    moved = _mark_sending(plan, statuses)
    batch.item_count, batch.total_amount = _attempt_totals(batch)
    if not (inserted == moved == count == batch.item_count and batch.total_amount == total):
        raise DomainError(f"生成批次时明细发生变化（候选 {count} 笔 {total} 元，写入 {inserted} 笔，"
                          f"合计 {batch.item_count} 笔 {batch.total_amount} 元），请重试。", code="totals_mismatch")
    batch.save(update_fields=["item_count", "total_amount"])
    plan.held_count = PaymentItem.objects.filter(plan_id=plan.pk, status=ItemStatus.HELD).count()
    plan.save(update_fields=["held_count", "committed_amount", "updated_at"])
    audit.record(actor=actor, action="payment_batch.create", obj=batch, after={
        **batch_snapshot(batch), "plan": plan.number, "held_card": held_cards, "held_finding": held_findings})
    return batch


def _totals(items) -> tuple[int, Decimal]:
    return count_and_sum(items)  # summed in integer fen: exact on SQLite too


def _attempt_totals(batch: PaymentBatch) -> tuple[int, Decimal]:
    return count_and_sum(PaymentAttempt.objects.filter(batch_id=batch.pk, status=AttemptStatus.SENT))


def _hold(actor: Scope, groups: dict[str, list[tuple[int, str]]], action_note: str) -> int:
    """Hold items set-based: {reason: [(item id, current status), …]} → status held, an ItemEvent each."""
    now, held = clock.now(), 0
    for reason, rows in groups.items():
        for chunk in _chunks(rows):
            ids = [pk for pk, _ in chunk]
            held += PaymentItem.objects.filter(pk__in=ids).update(status=ItemStatus.HELD, hold_reason=reason[:300],
                                                                  updated_at=now)
            ItemEvent.objects.bulk_create([
                ItemEvent(item_id=pk, action="hold", from_status=old, to_status=ItemStatus.HELD,
                          actor=actor.username, at=now, reason=f"{action_note}：{reason}"[:1000])
                for pk, old in chunk])
    return held


def _hold_unpayable_cards(actor: Scope, candidates) -> int:
    """Hold the candidates whose payee card cannot receive money (UNPAYABLE_CARD_STATUSES) or who have no
    account: the item's own payee account, or — when it names none — the person's active account."""
    own = PayeeAccount.objects.filter(pk=OuterRef("payee_account_id"))
    active = PayeeAccount.objects.filter(beneficiary_id=OuterRef("beneficiary_id"), is_active=True)
    annotated = candidates.annotate(
        card=Subquery(own.values("card_status")[:1]),
        active_card=Subquery(active.values("card_status")[:1]),
        has_active=Exists(active),
    )
    # The cheap null test FIRST in each branch (Q(a, b) would sort its keywords and put the subquery first):
    # PostgreSQL evaluates an OR's AND-branches in the written order, so the person's-active-account subqueries
    # only run for items without an own account — 1,000,000 candidates: 5.0 s → 2.3 s.
    has_own, no_own = Q(payee_account_id__isnull=False), Q(payee_account_id__isnull=True)
    bad = annotated.filter(
        (has_own & Q(card__in=UNPAYABLE_CARD_STATUSES))
        | (no_own & Q(active_card__in=UNPAYABLE_CARD_STATUSES))
        | (no_own & Q(has_active=False)))
    groups: dict[str, list] = {}
    for pk, status, card, active_card in bad.values_list("pk", "status", "card", "active_card").order_by("pk"):
        status_of_card = card or active_card
        reason = CARD_REASONS.get(status_of_card, NO_ACCOUNT_REASON)
        groups.setdefault(f"{reason}，暂缓发放", []).append((pk, status))
    return _hold(actor, groups, "生成代发批次前核验收款账户") if groups else 0


def _check_and_hold(actor: Scope, plan, candidates, number: str) -> int:
    """Run the cross-check rules on the candidates and hold those with an open/confirmed block finding."""
    from yikatong.checks.engine import catalogue
    from yikatong.checks.models import Finding
    from yikatong.checks.selectors_findings import payment_gate
    from yikatong.checks.services.runs import check_run_items

    check_run_items(
        actor=actor, item_type=ITEM_TYPE, items=candidates,
        columns={"payee_account_id": "payee_account_id", "account_digest": "account_digest",
                 "application_id": "application_id", "quantity": "application__quantity",
                 "tier": "application__tier"},
        ref_type="payment_batch", ref_id=number, label=f"代发批次 {number} 发送前核查",
        policy_code=plan.policy.code, period=plan.period, region_code=plan.region_id)
    flagged = {int(ref) for ref in Finding.objects.filter(
        ref_type=ITEM_TYPE, policy_id=plan.policy_id, period=plan.period, severity=catalogue.BLOCK,
        status__in=[Finding.Status.OPEN, Finding.Status.CONFIRMED]).values_list("ref_id", flat=True).distinct()
        if str(ref).isdigit()}
    if not flagged:
        return 0
    rows = []
    for chunk in _chunks(sorted(flagged)):
        rows += list(candidates.filter(pk__in=chunk).values_list("pk", "status"))
    gate = payment_gate(ITEM_TYPE, [pk for pk, _ in rows])
    groups: dict[str, list] = {}
    for pk, status in rows:
        message = gate.get(str(pk))
        if message:
            groups.setdefault(f"比对疑点未处理：{message}", []).append((pk, status))
    return _hold(actor, groups, f"代发批次 {number} 发送前交叉比对") if groups else 0


def _commit_resend(actor: Scope, plan, total: Decimal, number: str) -> None:
    try:
        indicator_commit(actor=actor, indicator_id=plan.indicator_id, amount=total, ref_type=REF_TYPE,
                         ref_id=plan.number, policy_code=plan.policy.code, fiscal_year=plan.fiscal_year,
                         region_code=plan.region_id, note=f"补发批次 {number}")
    except DomainError as exc:
        raise DomainError(f"补发需挂接预算指标 {total} 元，未能挂接：{exc.message}", code="indicator_insufficient",
                          field="indicator") from exc
    book(actor=actor, plan=plan, kind=EntryKind.COMMITTED, amount=total, note=f"补发批次 {number} 挂接指标")
    plan.committed_amount += total


def _jit_off() -> None:
    """PostgreSQL: no JIT for the rest of this transaction (SET LOCAL: back to normal at commit). For a plan of a
    million items the planner's costs pass the JIT thresholds, and compiling (≈ 0.5 s per query, measured on the
    card-hold query) costs more than it saves on these simple scans, inserts and updates."""
    if connection.vendor == "postgresql":
        _execute("SET LOCAL jit = off", [])


def _insert_attempts(batch: PaymentBatch, plan, statuses) -> int:
    """The batch's attempts, one INSERT … SELECT: seq 1..n by item id, attempt_no = attempt_count + 1."""
    marks = ", ".join(["%s"] * len(statuses))
    return _execute(f"""
        INSERT INTO {_table(PaymentAttempt)} (item_id, attempt_no, batch_id, seq, amount, payee_name, account_enc,
            account_digest, account_masked, bank_name, status, result_on, failure_reason, result_import_id,
            returned_on)
        SELECT i.id, i.attempt_count + 1, %s, ROW_NUMBER() OVER (ORDER BY i.id), i.amount, i.payee_name,
            i.account_enc, i.account_digest, i.account_masked, i.bank_name, %s, NULL, '', NULL, NULL
        FROM {_table(PaymentItem)} i
        WHERE i.plan_id = %s AND i.status IN ({marks})
    """, [batch.pk, AttemptStatus.SENT, plan.pk, *statuses])


def _mark_sending(plan, statuses) -> int:
    """Items → sending, one UPDATE by plan and status: the rows the INSERT just read. Every change that takes an
    item OUT of pending/corrected (hold, removal, another batch) locks the plan first, which batch_create holds;
    an item that ENTERS meanwhile (item_correct locks only the item: failed → corrected) makes this count differ
    from the attempts' and batch_create refuses ("明细发生变化…请重试", everything rolled back) — never an item
    sending without an attempt. (It used to join the attempts back, `id IN (SELECT item_id FROM attempts …)`:
    with no statistics on the just-inserted attempts PostgreSQL ran that as a million primary-key probes.)"""
    marks = ", ".join(["%s"] * len(statuses))
    now = connection.ops.adapt_datetimefield_value(clock.now())
    return _execute(f"""
        UPDATE {_table(PaymentItem)} SET status = %s, attempt_count = attempt_count + 1, updated_at = %s
        WHERE plan_id = %s AND status IN ({marks})
    """, [ItemStatus.SENDING, now, plan.pk, *statuses])


# -- release ---------------------------------------------------------------------------------------------------
def sync_file_limit() -> int:
    """Batches up to this many items get their bank files right after the release commits; larger ones in a
    background job with a progress bar."""
    return int(getattr(settings, "YIKATONG_BANK_FILE_SYNC_LIMIT", 20000))


@transaction.atomic
def batch_release(*, actor: Scope, batch_id) -> PaymentBatch:
    """Send a prepared batch to its bank (see the module doc)."""
    batch = lock_batch(batch_id)
    plan = lock_plan(batch.plan_id)
    require_plan_scope(actor, plan, "payment.plan")
    tr = workflow.batch_transition("release", batch.status)
    count, total = _attempt_totals(batch)
    if count != batch.item_count or total != batch.total_amount or count == 0:
        raise DomainError(f"批次 {batch.number} 的明细（{count} 笔，{total} 元）与批次合计（{batch.item_count} 笔，"
                          f"{batch.total_amount} 元）不符，不能发送。", code="totals_mismatch")
    before = batch_snapshot(batch)
    indicator_pay(actor=actor, indicator_id=batch.indicator_id or plan.indicator_id, amount=total,
                  ref_type=REF_TYPE, ref_id=plan.number, note=f"代发批次 {batch.number} 拨付银行")
    today, now = clock.today(), clock.now()
    entries = _execute(f"""
        INSERT INTO {_table(DisbursementEntry)} (plan_id, batch_id, attempt_id, item_id, indicator_id, kind,
            amount, booked_on, created_at, actor, note)
        SELECT %s, %s, a.id, a.item_id, %s, %s, a.amount, %s, %s, %s, %s
        FROM {_table(PaymentAttempt)} a WHERE a.batch_id = %s AND a.status = %s
    """, [plan.pk, batch.pk, batch.indicator_id or plan.indicator_id, EntryKind.SENT,
          connection.ops.adapt_datefield_value(today), connection.ops.adapt_datetimefield_value(now),
          actor.username[:150], f"代发批次 {batch.number}"[:200], batch.pk, AttemptStatus.SENT])
    if entries != count:
        raise DomainError(f"批次 {batch.number} 记账笔数 {entries} 与明细笔数 {count} 不符。", code="totals_mismatch")
    batch.status, batch.released_at, batch.pay_deadline = tr.target, now, deadline(tr.step, today)
    batch.save(update_fields=["status", "released_at", "pay_deadline"])
    if plan.status == PlanStatus.VOUCHERED:
        move_plan(actor, plan, "pay", reason=f"代发批次 {batch.number} 已发送银行")
    audit.record(actor=actor, action="payment_batch.release", obj=batch, before=before,
                 after={**batch_snapshot(batch), "pay_deadline": batch.pay_deadline})
    _schedule_files(actor, batch)
    return batch


def _schedule_files(actor: Scope, batch: PaymentBatch) -> None:
    from . import batch_files

    if batch.item_count > sync_file_limit():
        batch_files.payment_files_start(actor=actor, batch=batch)
        return
    batch_id = batch.pk

    def generate() -> None:
        try:
            batch_files.payment_files_generate(batch_id)
        except Exception:  # noqa: BLE001 - the release stands; files can be generated again from the page
            log.exception("bank files of batch %s could not be generated", batch_id)

    on_commit(generate)


# -- cancel ----------------------------------------------------------------------------------------------------
@transaction.atomic
def batch_cancel(*, actor: Scope, batch_id, reason: str) -> PaymentBatch:
    """Cancel a prepared batch: attempts withdrawn, items sendable again (the withdrawn attempt keeps its number,
    so the next attempt is numbered after it); a resend batch's commitment goes back to the indicator."""
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise DomainError("请填写撤销批次的原因。", field="reason")
    batch = lock_batch(batch_id)
    plan = lock_plan(batch.plan_id)
    require_plan_scope(actor, plan, "payment.plan")
    tr = workflow.batch_transition("cancel", batch.status)
    before = batch_snapshot(batch)
    # A cancelled resend releases its whole commitment, so every item of it goes back as corrected (uncommitted;
    # the next resend commits it again).
    back = ItemStatus.PENDING if batch.kind == BatchKind.FIRST else ItemStatus.CORRECTED
    now = connection.ops.adapt_datetimefield_value(clock.now())
    moved = _execute(f"""
        UPDATE {_table(PaymentItem)} SET status = %s, updated_at = %s
        WHERE status = %s AND id IN (SELECT a.item_id FROM {_table(PaymentAttempt)} a
                                     WHERE a.batch_id = %s AND a.status = %s)
    """, [back, now, ItemStatus.SENDING, batch.pk, AttemptStatus.SENT])
    withdrawn = PaymentAttempt.objects.filter(batch_id=batch.pk, status=AttemptStatus.SENT).update(
        status=AttemptStatus.WITHDRAWN)
    if moved != withdrawn:
        raise DomainError(f"批次 {batch.number} 的明细状态与发放记录不符（{moved}/{withdrawn}），不能撤销。",
                          code="state_mismatch")
    if batch.kind == BatchKind.RESEND and batch.total_amount > 0:
        indicator_release(actor=actor, indicator_id=batch.indicator_id or plan.indicator_id,
                          amount=batch.total_amount, ref_type=REF_TYPE, ref_id=plan.number,
                          note=f"补发批次 {batch.number} 撤销")
        book(actor=actor, plan=plan, kind=EntryKind.RELEASED, amount=batch.total_amount, batch=batch,
             note=f"补发批次 {batch.number} 撤销，释放挂接")
    batch.status = tr.target
    batch.save(update_fields=["status"])
    audit.record(actor=actor, action="payment_batch.cancel", obj=batch, before=before,
                 after=batch_snapshot(batch), reason=reason)
    return batch
