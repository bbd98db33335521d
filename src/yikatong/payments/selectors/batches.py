"""Reads of payment batches, always scoped to the reader.

- departments see the batches of their region (and below) and business line; finance, supervisors and other
  all-line roles those of their region;
- a paying bank sees ONLY the batches addressed to it (batch.bank = its organization), and only from
  `released` on (a prepared or cancelled batch never reached it);
- attempts are shown masked (account tail only; names masked for bank users).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet, Sum

from yikatong.core import clock
from yikatong.core.errors import DomainError
from yikatong.core.masking import mask_name
from yikatong.core.models import Role
from yikatong.core.scope import Scope

from ..models import AttemptStatus, BatchStatus, PaymentAttempt, PaymentBatch

BANK_VISIBLE = (BatchStatus.RELEASED, BatchStatus.FETCHED, BatchStatus.PARTIAL, BatchStatus.COMPLETED)
OPEN_AT_BANK = (BatchStatus.RELEASED, BatchStatus.FETCHED, BatchStatus.PARTIAL)


def batches_visible(scope: Scope) -> QuerySet[PaymentBatch]:
    scope.require("payment.view")
    qs = PaymentBatch.objects.select_related("plan", "policy", "bank", "region")
    if scope.role == Role.PAYING_BANK and not scope.is_system:
        return qs.filter(bank_id=scope.organization_id, status__in=BANK_VISIBLE)
    if scope.own_org_only:  # other bank roles (card bank) have no batches
        return qs.none()
    return scope.filter(qs, region_field="region_id", business_line_field="business_line")


def batch_list(scope: Scope, *, status: str = "", plan_number: str = "", kind: str = "",
               period: str = "") -> QuerySet[PaymentBatch]:
    qs = batches_visible(scope)
    if status:
        qs = qs.filter(status=status)
    if plan_number:
        qs = qs.filter(plan__number=plan_number.strip())
    if kind:
        qs = qs.filter(kind=kind)
    if period:
        qs = qs.filter(period=period.strip())
    return qs.order_by("-id")


def batch_get(scope: Scope, batch_id) -> PaymentBatch:
    """The batch if the reader may see it (an outsider cannot tell "not visible" from "not there")."""
    try:
        return batches_visible(scope).get(pk=int(batch_id))
    except (PaymentBatch.DoesNotExist, ValueError, TypeError):
        raise DomainError("代发批次不存在或无权查看。", code="not_found") from None


def batch_counts(batch: PaymentBatch) -> dict:
    """Counts and amounts per attempt status, computed by the database: {"sent": (n, amount), …, "total": …}."""
    rows = (PaymentAttempt.objects.filter(batch_id=batch.pk).values("status")
            .annotate(n=Count("id"), amount=Sum("amount")).order_by())
    out = {status: {"count": 0, "amount": 0} for status in AttemptStatus.values}
    for row in rows:
        out[row["status"]] = {"count": row["n"], "amount": row["amount"]}
    out["pending"] = out[AttemptStatus.SENT]
    return out


def deadline_state(batch: PaymentBatch, today: dt.date | None = None) -> str:
    """"overdue" / "due" (today is the last day) / "ok" / "" for the bank's pay deadline of an open batch."""
    if batch.status not in OPEN_AT_BANK or not batch.pay_deadline:
        return ""
    today = today or clock.today()
    if today > batch.pay_deadline:
        return "overdue"
    if today == batch.pay_deadline:
        return "due"
    return "ok"


def batch_attempts(scope: Scope, batch: PaymentBatch, *, status: str = "", query: str = "") -> QuerySet:
    """The attempts of a visible batch (masked fields only), ordered by seq."""
    qs = PaymentAttempt.objects.filter(batch_id=batch.pk).order_by("seq").only(
        "id", "seq", "attempt_no", "amount", "payee_name", "account_masked", "bank_name", "status", "result_on",
        "failure_reason", "item_id", "batch_id")
    if status:
        qs = qs.filter(status=status)
    if query:
        query = query.strip()
        qs = qs.filter(Q(seq=int(query)) if query.isdigit() else Q(payee_name__contains=query))
    return qs


def attempt_row(scope: Scope, attempt: PaymentAttempt) -> dict:
    bank_reader = scope.role == Role.PAYING_BANK and not scope.is_system
    return {
        "id": attempt.pk, "seq": attempt.seq, "attempt_no": attempt.attempt_no, "item_id": attempt.item_id,
        "payee_name": mask_name(attempt.payee_name) if bank_reader else attempt.payee_name,
        "account_masked": attempt.account_masked, "bank_name": attempt.bank_name, "amount": attempt.amount,
        "status": attempt.status, "status_label": AttemptStatus(attempt.status).label,
        "result_on": attempt.result_on, "failure_reason": attempt.failure_reason,
    }
