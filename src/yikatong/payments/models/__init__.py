"""Payments (一个平台管发放): plans, items and their attempts, batches, bank results, the disbursement ledger,
daily closes, notices. The money-path invariants are database constraints here (see docs/payments.md)."""

from .batches import BatchKind, BatchStatus, DocumentKind, PaymentBatch, PaymentDocument
from .items import AttemptStatus, ItemEvent, ItemStatus, PaymentAttempt, PaymentItem
from .ledger import ENTRY_CONTROLS, DailyClose, DisbursementEntry, EntryKind
from .notices import ResultPublication, SmsMessage, SmsStatus
from .plans import DisbursementPlan, PlanEvent, PlanStatus
from .results import LineDisposition, ResultImport, ResultLine

__all__ = [
    "ENTRY_CONTROLS", "AttemptStatus", "BatchKind", "BatchStatus", "DailyClose", "DisbursementEntry", "DisbursementPlan",
    "DocumentKind", "EntryKind", "ItemEvent", "ItemStatus", "LineDisposition", "PaymentAttempt", "PaymentBatch",
    "PaymentDocument", "PaymentItem", "PlanEvent", "PlanStatus", "ResultImport", "ResultLine",
    "ResultPublication", "SmsMessage", "SmsStatus",
]
