"""Online application by the citizen (网上申请, [003 §11(一)]) and the status check by tracking number.

The platform itself acts (`Scope.system()`, shown as "网上申请" in the history and the audit trail): it
registers the person when unknown (the registry's own service), records the social security card account,
creates the application with channel "online" (the same `application_create` every entry path uses) and
keeps the uploaded documents. From then on the collector of the person's region verifies it like any other.

What a stranger who knows someone's ID number and name must not be able to do online: change a registered
person's phone, address or payee account. A known person therefore is never updated from here; an account
that differs from the registered one is refused with a pointer to the office.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from yikatong.core import audit, crypto
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.identity import validate_bank_account, validate_resident_id
from yikatong.core.models import Region, StoredFile
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_store
from yikatong.policies.models import Policy, PolicyStatus
from yikatong.registry.models import BeneficiaryKind, PayeeAccount
from yikatong.registry.services import beneficiary_lookup, beneficiary_register_person, payee_account_set

from ..models import Application, Channel, Status
from ..selectors import application_events
from .applications import application_create

ONLINE_ACTOR = "网上申请"
STATUS_ACTOR = "网上查询"
DOCUMENT_PURPOSE = "application_doc"
MAX_DOCUMENTS = 5
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# Accepted kinds of document, recognised by their first bytes (never by the name the browser sends).
DOCUMENT_SIGNATURES = {
    b"%PDF-": ("application/pdf", "PDF"),
    b"\xff\xd8\xff": ("image/jpeg", "JPG"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "PNG"),
}
NAME_MISMATCH = "身份证号与姓名不一致：请按身份证填写本人姓名和身份证号。"
ACCOUNT_MISMATCH = ("填写的社保卡银行账号与登记的收款账户不一致。网上申请不能变更收款账户：如需变更，"
                    "请本人携带身份证和社保卡到村（社区）或乡镇（街道）办理。")


def _system() -> Scope:
    return Scope.system(reason=ONLINE_ACTOR)


# -- what may be applied for ---------------------------------------------------------------------------------
def online_policies() -> QuerySet[Policy]:
    """Policies open for online application: public, in force, accepting online applications."""
    return (Policy.objects.filter(online_application=True, is_public=True, status=PolicyStatus.ACTIVE)
            .select_related("region", "department").order_by("code"))


def online_policy(code) -> Policy:
    policy = online_policies().filter(code=str(code or "").strip()).first()
    if policy is None:
        raise DomainError(f"补贴项目 {code or '（空）'} 不受理网上申请，请到村（社区）或乡镇（街道）申报。",
                          field="policy_code", code="not_found")
    return policy


def online_villages(policy: Policy, limit: int = 3000) -> QuerySet[Region]:
    """The villages (communities) an applicant may choose: active ones under the policy's region."""
    lo, hi = region_rules.subtree_range(policy.region_id)
    return (Region.objects.filter(active=True, level=region_rules.VILLAGE, code__gte=lo, code__lte=hi)
            .order_by("code")[:limit])


def _village(policy: Policy, region_code) -> Region:
    code = str(region_code or "").strip()
    region = Region.objects.filter(pk=code, active=True, level=region_rules.VILLAGE).first()
    lo, hi = region_rules.subtree_range(policy.region_id)
    if region is None or not lo <= region.code <= hi:
        raise DomainError("请选择您户籍或居住所在的村（社区）。", field="region_code")
    return region


# -- documents -----------------------------------------------------------------------------------------------
def check_documents(documents) -> list:
    """Refuse too many, too large, empty or unrecognised files before anything is written."""
    documents = [doc for doc in documents or [] if doc is not None]
    if len(documents) > MAX_DOCUMENTS:
        raise DomainError(f"申请材料最多上传 {MAX_DOCUMENTS} 个文件，当前 {len(documents)} 个。", field="documents")
    for doc in documents:
        name = getattr(doc, "name", "") or "文件"
        size = getattr(doc, "size", None)
        if not size:
            raise DomainError(f"申请材料“{name}”是空文件，请重新选择。", field="documents")
        if size > MAX_DOCUMENT_BYTES:
            raise DomainError(f"申请材料“{name}”超过 {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB，请压缩后重新上传。",
                              field="documents")
        head = doc.read(16)
        doc.seek(0)
        if not any(head.startswith(sig) for sig in DOCUMENT_SIGNATURES):
            raise DomainError(f"申请材料“{name}”不是 PDF、JPG 或 PNG 文件，请上传证件照片或扫描件。",
                              field="documents")
    return documents


def _content_type(doc) -> str:
    head = doc.read(16)
    doc.seek(0)
    for sig, (content_type, _label) in DOCUMENT_SIGNATURES.items():
        if head.startswith(sig):
            return content_type
    return "application/octet-stream"


# -- the application -----------------------------------------------------------------------------------------
@transaction.atomic
def online_application_submit(
    *,
    policy_code: str,
    period: str,
    name: str,
    id_number: str,
    phone: str,
    region_code: str,
    bank_name: str,
    account_number: str,
    quantity=None,
    tier: str = "",
    address: str = "",
    documents=(),
) -> Application:
    """File an application online and return it (its `number` is the applicant's tracking number).

    Refuses (DomainError naming the field) a policy not open online, a village outside the policy's region,
    an invalid ID number, phone or card number, a name that does not match a registered ID number, a card
    number other than the registered payee account, bad documents, and everything application_create
    refuses (period, library, quantity, tier, a second application for the same period)."""
    actor = _system()
    policy = online_policy(policy_code)
    region = _village(policy, region_code)
    resident = validate_resident_id(id_number)
    account_digits = validate_bank_account(account_number, require_luhn=True)
    docs = check_documents(documents)

    person = beneficiary_lookup(id_number=resident.number)
    if person is not None:
        if person.kind != BeneficiaryKind.PERSON or person.name != str(name or "").strip():
            raise DomainError(NAME_MISMATCH, field="name", code="name_mismatch")
    else:
        person = beneficiary_register_person(actor=actor, name=name, id_number=resident.number,
                                             region_code=region.code, phone=phone, address=address,
                                             reason="网上申请时登记")
    active = PayeeAccount.objects.filter(beneficiary=person, is_active=True).first()
    if active is None:
        payee_account_set(actor=actor, beneficiary_id=person.pk, kind="ssc_card", bank_name=bank_name,
                          account_number=account_digits, reason="网上申请时登记社保卡账户")
    elif active.account_digest != crypto.digest("account", account_digits):
        raise DomainError(ACCOUNT_MISMATCH, field="account_number", code="account_mismatch")

    app = application_create(actor=actor, beneficiary_id=person.pk, policy_code=policy.code, period=period,
                             quantity=quantity, tier=tier, channel=Channel.ONLINE, remarks="网上申请")
    stored = [
        file_store(actor=actor, fileobj=doc, original_name=getattr(doc, "name", "") or "申请材料",
                   purpose=DOCUMENT_PURPOSE, region_code=app.region_id, content_type=_content_type(doc))
        for doc in docs
    ]
    if stored:
        app.documents.add(*stored)
    return app


# -- the status check ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OnlineStep:
    day: dt.date
    label: str


@dataclass(frozen=True)
class OnlineStatus:
    """What the applicant sees: masked personal data only, the status and the reason of a refusal."""

    number: str
    policy_name: str
    period: str
    channel_label: str
    status: str
    status_label: str
    name_masked: str
    id_masked: str
    region_name: str
    amount: Decimal
    account_masked: str
    created_on: dt.date
    reason: str
    steps: list[OnlineStep] = field(default_factory=list)


REASON_STATUSES = (Status.REJECTED, Status.RETURNED)


def online_status_query(*, number: str, id_number: str) -> OnlineStatus | None:
    """The status of an application by tracking number and the applicant's ID number; None when either is
    wrong (the two cases look the same). A successful query is logged in the audit trail."""
    from yikatong.core.masking import mask_name

    number = str(number or "").strip().upper()
    try:
        digest = crypto.digest("id", id_number)
    except ValueError:
        return None
    app = (Application.objects.select_related("beneficiary", "policy", "region", "payee_account")
           .filter(number=number).first())
    if app is None or app.beneficiary.id_digest != digest:
        return None
    events = application_events(app)
    reason = ""
    if app.status == Status.REJECTED:
        reason = app.rejection_reason
    elif app.status == Status.RETURNED and events:
        reason = events[-1].reason
    person = app.beneficiary
    status = OnlineStatus(
        number=app.number, policy_name=app.policy.name, period=app.period,
        channel_label=app.get_channel_display(), status=app.status, status_label=app.get_status_display(),
        name_masked=mask_name(person.name), id_masked=person.id_masked, region_name=app.region.name,
        amount=app.amount, account_masked=app.payee_account.account_masked if app.payee_account_id else "",
        created_on=timezone.localdate(app.created_at), reason=reason,
        steps=[OnlineStep(timezone.localdate(e.at), Status(e.to_status).label) for e in events if e.to_status in Status.values],
    )
    with transaction.atomic():
        audit.record(actor=Scope.system(reason=STATUS_ACTOR), action="application.status_query", obj=app,
                     after={"number": app.number, "status": app.status})
    return status


def application_documents(app: Application) -> QuerySet[StoredFile]:
    return app.documents.order_by("created_at")
