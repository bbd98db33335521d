"""Every read of the registry, scoped to the reader's region (the beneficiary's region lies within it).

Lists show masked values only; searching by a full ID number goes through its digest (nothing is
decrypted in bulk). The one way to see a value in full is `beneficiary_full_view`, which is logged.
"""

from django.db.models import QuerySet

from yikatong.core import crypto
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.identity import compact_credit_code, compact_resident_id
from yikatong.core.models import Region
from yikatong.core.scope import Scope
from yikatong.core.services.pii import pii_reveal
from yikatong.registry import rules
from yikatong.registry.models import Beneficiary, BeneficiaryVersion, PayeeAccount

FULL_VIEW_FIELDS = {"id_number": "证件号码", "phone": "手机号码", "account": "收款账号"}
NOT_FOUND = "补贴对象不存在或不在您的管辖范围内。"


def beneficiaries_visible(scope: Scope) -> QuerySet:
    scope.require("beneficiary.view")
    qs = Beneficiary.objects.select_related("region", "household")
    return scope.filter(qs, region_field="region_id")


def _looks_like_identifier(text: str) -> bool:
    """A full resident ID or credit code (18 characters): searched by digest, never by substring."""
    value = compact_resident_id(text)
    return len(value) == 18 and value.isalnum() and value.isascii()


def identifier_digests(text: str) -> list[str]:
    """Digests under which an 18-character identifier may be stored (resident ID and credit code)."""
    digests = []
    for kind, compact in (("id", compact_resident_id), ("uscc", compact_credit_code)):
        if compact(text):
            digests.append(crypto.digest(kind, text))
    return digests


def beneficiary_list(
    scope: Scope, *, q: str = "", id_number: str = "", household: str = "", kind: str = "", region_code: str = "",
) -> QuerySet:
    """Beneficiaries in scope. `q` is a name (substring) or a full ID number / credit code (exact, by
    digest); `id_number` is always an exact identifier; `household` a 户号; `region_code` a subtree."""
    qs = beneficiaries_visible(scope)
    q = (q or "").strip()
    if q and _looks_like_identifier(q):
        id_number, q = q, ""
    if id_number.strip():
        qs = qs.filter(id_digest__in=identifier_digests(id_number))
    if q:
        qs = qs.filter(name__contains=q)
    if household.strip():
        qs = qs.filter(household__number=household.strip().upper())
    if kind:
        qs = qs.filter(kind=kind)
    if region_code.strip():
        try:
            lo, hi = region_rules.subtree_range(region_code.strip())
        except region_rules.RegionCodeError as exc:
            raise DomainError(str(exc), field="region_code", code="invalid") from exc
        qs = qs.filter(region_id__gte=lo, region_id__lte=hi)
    return qs.order_by("region_id", "name", "id")


def beneficiary_get(scope: Scope, beneficiary_id) -> Beneficiary:
    """One beneficiary in scope; DomainError(code="not_found") otherwise (the same for both cases)."""
    try:
        pk = int(beneficiary_id)
    except (TypeError, ValueError):
        raise DomainError(NOT_FOUND, code="not_found") from None
    b = beneficiaries_visible(scope).filter(pk=pk).first()
    if b is None:
        raise DomainError(NOT_FOUND, code="not_found")
    return b


def active_account(scope: Scope, beneficiary_id) -> PayeeAccount | None:
    b = beneficiary_get(scope, beneficiary_id)
    return PayeeAccount.objects.filter(beneficiary=b, is_active=True).first()


def account_history(scope: Scope, beneficiary_id) -> QuerySet:
    """Every payee account of the beneficiary, newest version first (masked numbers only)."""
    b = beneficiary_get(scope, beneficiary_id)
    return PayeeAccount.objects.filter(beneficiary=b).defer("account_enc").order_by("-version")


def beneficiary_versions(scope: Scope, beneficiary_id) -> list[BeneficiaryVersion]:
    """Every version, newest first; an implied version-1 snapshot (roster import) filled in."""
    b = beneficiary_get(scope, beneficiary_id)
    return rules.with_implied_snapshots(b, BeneficiaryVersion.objects.filter(beneficiary=b).order_by("-version"))


def beneficiary_full_view(scope: Scope, beneficiary_id, field: str, reason: str, *, account_id=None) -> str:
    """The full ID number, phone or account number (the active one, or `account_id` of its history) of a
    beneficiary, for roles with "pii.view_full"; each view is an audit event "pii.view" with the reason."""
    b = beneficiary_get(scope, beneficiary_id)
    if field not in FULL_VIEW_FIELDS:
        raise DomainError(f"不能查看的字段：{field}", field="field", code="invalid")
    if field == "id_number":
        return pii_reveal(actor=scope, subject=b, field="id_number", value_blob=b.id_number_enc, reason=reason)
    if field == "phone":
        return pii_reveal(actor=scope, subject=b, field="phone", value_blob=b.phone_enc, reason=reason)
    accounts = PayeeAccount.objects.filter(beneficiary=b)
    if account_id:
        try:
            account = accounts.filter(pk=int(account_id)).first()
        except (TypeError, ValueError):
            account = None
    else:
        account = accounts.filter(is_active=True).first()
    if account is None:
        raise DomainError("该补贴对象没有此收款账户。", field="account", code="not_found")
    return pii_reveal(actor=scope, subject=b, field=f"account:{account.pk}", value_blob=account.account_enc,
                      reason=reason)


REGION_CHOICES_LIMIT = 3000


def region_choices(scope: Scope) -> list[tuple[str, str]]:
    """Townships and villages (active) in scope, for the registration forms: (code, "name（code）")."""
    qs = scope.filter(Region.objects.filter(active=True, level__gte=region_rules.TOWNSHIP), region_field="code")
    return [(r.code, f"{r.name}（{r.code}）")
            for r in qs.order_by("code").only("code", "name")[:REGION_CHOICES_LIMIT]]
