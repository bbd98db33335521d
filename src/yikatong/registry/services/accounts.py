"""Payee accounts: one person, one card.

A person is paid into their own social security card's bank account; another bank account is a recorded,
transitional exception (with its reason); an organization into its corporate account. A beneficiary has
at most one active account: setting a new one supersedes the previous one in the same transaction,
under a lock on the beneficiary row (and the partial unique constraint `one_active_payee_account`).
"""

from django.db import transaction
from django.db.models import Max

from yikatong.core import audit, clock, crypto, masking
from yikatong.core.errors import DomainError
from yikatong.core.identity import validate_bank_account
from yikatong.core.scope import Scope
from yikatong.registry import rules
from yikatong.registry.models import AccountKind, CardStatus, PayeeAccount

from ._common import locked_beneficiary


def account_state(account: PayeeAccount | None) -> dict | None:
    """What the audit trail records of an account: masked number and digest, never the number."""
    if account is None:
        return None
    return {
        "id": account.pk, "version": account.version, "kind": account.kind, "bank_name": account.bank_name,
        "account_masked": account.account_masked, "account_digest": account.account_digest,
        "card_status": account.card_status, "exception_reason": account.exception_reason,
        "is_active": account.is_active,
    }


def payee_account_set(
    *, actor: Scope, beneficiary_id, kind: str | None = None, bank_name: str, account_number: str,
    card_status: str | None = None, exception_reason: str = "", reason: str = "",
) -> PayeeAccount:
    """Make this account the beneficiary's active payee account and return it.

    kind defaults to ssc_card for persons, corporate for organizations. Setting the account that is
    already active changes nothing (no new version; a given card status is still recorded). Replacing
    an active account needs a reason; the old one is kept, inactive, with when and why.
    """
    actor.require_write("account.manage")
    bank_name = rules.clean_text(bank_name, field="bank_name", label="开户银行", max_length=rules.BANK_NAME_MAX,
                                 required=True)
    reason = rules.clean_text(reason, field="reason", label="变更原因", max_length=rules.REASON_MAX)
    status = rules.card_status_value(card_status) if card_status else None
    with transaction.atomic():
        b = locked_beneficiary(actor, beneficiary_id)  # serializes account changes of this beneficiary
        kind = kind or rules.default_account_kind(b.kind)
        rules.check_account_kind(b.kind, kind)
        number = validate_bank_account(account_number, require_luhn=rules.luhn_rule(kind))
        exception_reason = rules.clean_exception_reason(kind, exception_reason)
        if kind != AccountKind.SSC_CARD:
            status = None  # only a social security card has a financial-function status
        blob, digest = crypto.protect("account", number)

        current = PayeeAccount.objects.select_for_update().filter(beneficiary=b, is_active=True).first()
        if current is not None and (current.account_digest, current.kind, current.bank_name,
                                    current.exception_reason) == (digest, kind, bank_name, exception_reason):
            if status and status != current.card_status:
                _set_status(actor, current, status, clock.now(), source=reason or "收款账户登记")
            return current
        if current is not None:
            if not reason:
                raise DomainError("更换收款账户须填写变更原因", field="reason", code="reason_required")
            current.is_active = False
            current.superseded_at = clock.now()
            current.superseded_reason = reason
            current.save(update_fields=["is_active", "superseded_at", "superseded_reason"])
        last = PayeeAccount.objects.filter(beneficiary=b).aggregate(v=Max("version"))["v"] or 0
        account = PayeeAccount.objects.create(
            beneficiary=b, kind=kind, bank_name=bank_name, account_enc=blob, account_digest=digest,
            account_masked=masking.mask_account(number), card_status=status or CardStatus.UNKNOWN,
            card_status_checked_at=clock.now() if status else None, exception_reason=exception_reason,
            version=last + 1, created_by=actor.username,
        )
        audit.record(actor=actor, action="account.set", obj=account, region_code=b.region_id,
                     before=account_state(current), after=account_state(account), reason=reason)
    return account


def _set_status(actor: Scope, account: PayeeAccount, status: str, checked_at, source: str) -> None:
    before = account_state(account)
    account.card_status = status
    account.card_status_checked_at = checked_at
    account.save(update_fields=["card_status", "card_status_checked_at"])
    audit.record(actor=actor, action="card_status.update", obj=account, region_code=account.beneficiary.region_id,
                 before=before, after=account_state(account), reason=source)
