"""The bank's actions through the bank API: download a batch's details (audited, marks the batch fetched),
post results (handed to the one result import of the payments app), verify an account.

Every function takes the bank's Scope (core.apikey_auth builds it from the credential) and enforces it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction

from yikatong.core import audit, clock, crypto, masking
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.payments import workflow
from yikatong.payments.models import BatchStatus, PaymentBatch
from yikatong.registry.models import CardStatus, PayeeAccount

from . import selectors
from .formats import batch_summary

MAX_PAGE = 10_000
MAX_RESULTS = 100_000
RESULT_HEADERS = ("批次号", "序号", "收款账号", "金额", "处理结果", "失败原因", "处理日期")


def payment_summary(batch: PaymentBatch) -> str:
    """摘要 of a payment line: the payment file's wording, so file and API say the same."""
    return batch_summary(batch)


# -- fetching ---------------------------------------------------------------------------------------------
def _mark_fetched(actor: Scope, batch_id: int) -> PaymentBatch:
    """released → fetched (once; later downloads change nothing). Caller holds the transaction."""
    batch = PaymentBatch.objects.select_for_update(of=("self",)).get(pk=batch_id)
    if batch.status != BatchStatus.RELEASED:
        return batch
    workflow.batch_transition("fetch", batch.status)
    actor.require_write("bank.exchange")
    batch.status = BatchStatus.FETCHED
    batch.fetched_at = clock.now()
    batch.save(update_fields=["status", "fetched_at"])
    audit.record(actor=actor, action="payment_batch.fetch", obj=batch, before={"status": BatchStatus.RELEASED},
                 after={"status": batch.status, "fetched_at": batch.fetched_at})
    return batch


@dataclass
class ItemPage:
    batch: PaymentBatch
    offset: int
    limit: int
    items: list[dict]
    after_seq: int | None = None

    @property
    def next_after_seq(self) -> int | None:
        """The `after_seq` of the next page; None when this page is the last."""
        return self.items[-1]["seq"] if len(self.items) == self.limit else None


def batch_items_read(*, actor: Scope, number: str, offset: int = 0, limit: int = 1000,
                     after_seq: int | None = None) -> ItemPage:
    """One page of a batch's payment details with FULL account numbers for the paying bank: after sequence
    number `after_seq` (keyset paging, the way for big batches) or from position `offset`. The read is one
    audit event per request ("bank.batch_items": which batch, which sequence numbers); the first read of a
    released batch marks it fetched."""
    if offset < 0:
        raise DomainError("offset 不能为负数。", field="offset")
    if after_seq is not None and after_seq < 0:
        raise DomainError("after_seq 不能为负数。", field="after_seq")
    if not 1 <= limit <= MAX_PAGE:
        raise DomainError(f"limit 须在 1 到 {MAX_PAGE} 之间。", field="limit")
    batch = selectors.bank_batch(actor, number)
    summary, policy = payment_summary(batch), batch.policy
    with transaction.atomic():
        if batch.status == BatchStatus.RELEASED:  # lock only for the one transition, not on every page
            batch = _mark_fetched(actor, batch.pk)
        rows = selectors.batch_attempt_page(batch, offset=offset, limit=limit, after_seq=after_seq)
        items = [{
            "seq": row["seq"], "payee_name": row["payee_name"], "account": crypto.decrypt_text(row["account_enc"]),
            "bank_name": row["bank_name"], "amount": row["amount"], "policy_code": policy.code,
            "policy_name": policy.name, "period": batch.period, "summary": summary, "status": row["status"],
            "result_on": row["result_on"], "failure_reason": row["failure_reason"],
        } for row in rows]
        if items:
            audit.record(actor=actor, action="bank.batch_items", obj=batch, reason="银行下载代发明细（完整账号）",
                         after={"batch": batch.number, "offset": offset, "after_seq": after_seq, "limit": limit,
                                "count": len(items),
                                "first_seq": items[0]["seq"], "last_seq": items[-1]["seq"]})
    batch.policy = policy
    return ItemPage(batch=batch, offset=offset, limit=limit, items=items, after_seq=after_seq)


FILE_FORMATS = ("csv", "xlsx", "pain001")


def batch_file_get(*, actor: Scope, number: str, fmt: str):
    """The payment file of one of the bank's batches in `fmt` (csv, xlsx, pain001): the document generated at
    release, or generated now by payments.services.batch_files. The download (full account numbers) is one
    audit event; the first download of a released batch marks it fetched. Returns the PaymentDocument."""
    from yikatong.payments.services.batch_files import payment_files_generate

    fmt = (fmt or "").strip().lower()
    if fmt not in FILE_FORMATS:
        raise DomainError(f"文件格式“{fmt}”无效：可选 csv、xlsx、pain001。", field="format")
    batch = selectors.bank_batch(actor, number)
    document = payment_files_generate(batch.pk, (fmt,), actor=actor)[0]
    with transaction.atomic():
        if batch.status == BatchStatus.RELEASED:
            batch = _mark_fetched(actor, batch.pk)
        audit.record(actor=actor, action="bank.batch_file", obj=batch, reason="银行下载代发文件（完整账号）",
                     after={"batch": batch.number, "format": fmt, "document": document.pk,
                            "sha256": document.digest, "item_count": document.item_count})
    return document


# -- results ------------------------------------------------------------------------------------------------
def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def result_rows(batch_number: str, results: Iterable[Mapping]) -> list[dict[str, str]]:
    """API result objects → rows keyed by the result file's Chinese headers (SPEC §5.3), as text, so the API
    and the file go through exactly the same checks."""
    return [{
        "批次号": batch_number, "序号": _text(r.get("seq")), "收款账号": _text(r.get("account")),
        "金额": _text(r.get("amount")), "处理结果": _text(r.get("outcome")), "失败原因": _text(r.get("reason")),
        "处理日期": _text(r.get("processed_on")),
    } for r in results]


def bank_results_post(*, actor: Scope, batch_number: str, results: list[Mapping]):
    """Results of one of the bank's batches, applied by payments.services.results.result_import (channel
    "api"): idempotent, conflicting lines stored for review. Another bank's batch is "not found"."""
    actor.require_write("bank.exchange")
    batch = selectors.bank_batch(actor, batch_number)
    if not results:
        raise DomainError("results 为空：请至少回传一条处理结果。", field="results")
    if len(results) > MAX_RESULTS:
        raise DomainError(f"一次最多回传 {MAX_RESULTS} 条结果：请分几次回传。", field="results")
    from yikatong.payments.services.results import result_import

    return result_import(actor=actor, rows=result_rows(batch.number, results), channel="api",
                         bank_code=actor.organization_code)


# -- account verification -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verification:
    matched: bool
    card_status: str | None
    card_status_label: str | None
    payable: bool
    message: str


def account_verify(*, actor: Scope, name: str, account: str, id_number: str = "") -> Verification:
    """Is `account` the CURRENT payee account of the beneficiary called `name` (and, when given, with this ID
    number), and what is the card's status? The answer says only yes/no and, on yes, the card status: it
    never tells which part did not match nor anything else about the person. Audited (masked values)."""
    actor.require_write("bank.verify_account")
    name = (name or "").strip()
    if not name:
        raise DomainError("请填写户名（收款人姓名）。", field="name")
    normalized = crypto.normalize("account", account)
    if not normalized:
        raise DomainError("请填写账号。", field="account")
    accounts = (PayeeAccount.objects.select_related("beneficiary")
                .filter(account_digest=crypto.digest("account", normalized), is_active=True))
    id_number = (id_number or "").strip()
    if id_number:
        digests = []
        for kind in ("id", "uscc"):
            try:
                digests.append(crypto.digest(kind, id_number))
            except ValueError:
                continue
        accounts = accounts.filter(beneficiary__id_digest__in=digests)
    match = next((a for a in accounts if a.beneficiary.name == name
                  and actor.covers_region(a.beneficiary.region_id)), None)
    if match is None:
        result = Verification(False, None, None, False, "核验不通过：该账号不是此人当前有效的收款账户。")
    else:
        label = CardStatus(match.card_status).label
        result = Verification(True, match.card_status, label, match.payable,
                              f"核验通过：该账号是此人当前有效的收款账户，金融功能状态：{label}。")
    with transaction.atomic():
        audit.record(
            actor=actor, action="bank.verify_account", obj=match,
            object_type="" if match else "registry.payeeaccount",
            region_code=match.beneficiary.region_id if match else actor.region_code,
            after={"matched": result.matched, "account": masking.mask_account(normalized),
                   "name": masking.mask_name(name), "with_id_number": bool(id_number),
                   "card_status": result.card_status})
    return result
