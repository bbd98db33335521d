"""What a bank may read through the bank API: its own batches once they were released to it.

A bank (paying bank credential, Scope of its organization) sees ONLY batches with `bank = its organization`
in a state the bank has a part in (released, fetched, partial, completed). A batch that is prepared or
cancelled, belongs to another bank or does not exist is the same "not found" to the bank, so a bank cannot
learn which batch numbers exist elsewhere.
"""

from __future__ import annotations

from django.db.models import QuerySet

from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.payments.models import BatchStatus, PaymentAttempt, PaymentBatch

BANK_VISIBLE_STATUSES = (BatchStatus.RELEASED, BatchStatus.FETCHED, BatchStatus.PARTIAL, BatchStatus.COMPLETED)
NOT_FOUND = "批次 {number} 不存在或不属于本行。请核对批次号。"


class BatchNotFound(DomainError):
    def __init__(self, number: str):
        super().__init__(NOT_FOUND.format(number=number or "（空）"), code="not_found", field="batch")


def bank_batches(scope: Scope, *, statuses: tuple[str, ...] | None = None) -> QuerySet[PaymentBatch]:
    """The bank's batches (newest first), optionally narrowed to `statuses` (each one of the visible ones)."""
    scope.require("bank.exchange")
    wanted = tuple(statuses) if statuses else BANK_VISIBLE_STATUSES
    unknown = [s for s in wanted if s not in BANK_VISIBLE_STATUSES]
    if unknown:
        known = "、".join(f"{s}（{BatchStatus(s).label}）" for s in BANK_VISIBLE_STATUSES)
        raise DomainError(f"批次状态“{'、'.join(unknown)}”无效：可选 {known}。", field="status")
    qs = PaymentBatch.objects.filter(bank_id=scope.organization_id, status__in=wanted)
    if scope.organization_id is None and not scope.is_system:
        return qs.none()
    return qs.select_related("policy", "plan__organization").order_by("-id")


def bank_batch(scope: Scope, number: str) -> PaymentBatch:
    """One of the bank's visible batches by number, or BatchNotFound."""
    scope.require("bank.exchange")
    number = (number or "").strip()
    batch = (PaymentBatch.objects.select_related("policy", "plan__organization")
             .filter(number=number, bank_id=scope.organization_id, status__in=BANK_VISIBLE_STATUSES).first())
    if batch is None or scope.organization_id is None:
        raise BatchNotFound(number)
    return batch


ATTEMPT_FIELDS = ("seq", "payee_name", "account_enc", "bank_name", "amount", "status", "result_on",
                  "failure_reason")


def batch_attempt_page(batch: PaymentBatch, *, offset: int, limit: int, after_seq: int | None = None) -> list[dict]:
    """One page of the batch's attempts in sequence order (account still encrypted): the `limit` attempts after
    sequence number `after_seq` (keyset paging on the (batch, seq) index: every page costs the same, however
    far into a million-line batch), or, without it, from position `offset`."""
    qs = PaymentAttempt.objects.filter(batch_id=batch.pk).order_by("seq").values(*ATTEMPT_FIELDS)
    if after_seq is not None:
        return list(qs.filter(seq__gt=after_seq)[:limit])
    return list(qs[offset:offset + limit])


def open_count(batch: PaymentBatch) -> int:
    """Attempts still waiting for the bank's result (kept in step by the result service)."""
    return max(0, batch.item_count - batch.paid_count - batch.failed_count)
