"""API of the registry (mounted at /api/registry/). Thin: the session user's scope, reads through
selectors, writes through services. Identifiers are masked; there is no bulk full view. Refusals: 400
(403 for scope) with the Chinese message from the services; "not found or not yours" is 404.

Registration answers 201 when it created the beneficiary and 200 when it was already registered; an
account answers 201 for a new version and 200 when it was already the active account.

The routes with a fixed segment (person, organization) are declared before /{beneficiary_id}."""

import datetime as dt

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from . import rules, selectors, services
from .models import Beneficiary, PayeeAccount

router = Router(tags=["一张卡片：补贴对象与收款账户"])


def _scope(request: HttpRequest) -> Scope:
    return Scope.for_user(request.user)


def _visible(scope: Scope, beneficiary_id: int) -> Beneficiary:
    try:
        return selectors.beneficiary_get(scope, beneficiary_id)
    except DomainError as exc:
        raise HttpError(404, exc.message) from exc


class AccountOut(Schema):
    id: int
    version: int
    kind: str
    kind_label: str
    bank_name: str
    account_masked: str
    card_status: str
    card_status_label: str
    card_status_checked_at: dt.datetime | None
    payable: bool
    warning: str
    exception_reason: str
    is_active: bool
    created_by: str
    created_at: dt.datetime
    superseded_at: dt.datetime | None
    superseded_reason: str

    @staticmethod
    def resolve_kind_label(obj: PayeeAccount) -> str:
        return obj.get_kind_display()

    @staticmethod
    def resolve_card_status_label(obj: PayeeAccount) -> str:
        return obj.get_card_status_display()

    @staticmethod
    def resolve_warning(obj: PayeeAccount) -> str:
        return rules.card_status_warning(obj.kind, obj.card_status)


class BeneficiaryOut(Schema):
    id: int
    kind: str
    name: str
    id_masked: str
    gender: str
    birth_date: dt.date | None
    household: str
    region_code: str
    region_name: str
    address: str
    phone_masked: str
    version: int

    @staticmethod
    def resolve_household(obj: Beneficiary) -> str:
        return obj.household.number if obj.household_id else ""

    @staticmethod
    def resolve_region_code(obj: Beneficiary) -> str:
        return obj.region_id

    @staticmethod
    def resolve_region_name(obj: Beneficiary) -> str:
        return obj.region.name


class BeneficiaryDetailOut(BeneficiaryOut):
    account: AccountOut | None = None


class BeneficiaryFilter(Schema):
    q: str = ""
    id_number: str = ""
    household: str = ""
    kind: str = ""
    region: str = ""


class PersonIn(Schema):
    name: str
    id_number: str
    region_code: str
    household_number: str = ""
    address: str = ""
    phone: str = ""
    reason: str = ""


class OrganizationIn(Schema):
    name: str
    credit_code: str
    region_code: str
    address: str = ""
    reason: str = ""


class BeneficiaryPatch(Schema):
    reason: str = ""
    name: str | None = None
    address: str | None = None
    phone: str | None = None
    household_number: str | None = None
    region_code: str | None = None


class AccountIn(Schema):
    kind: str | None = None
    bank_name: str
    account_number: str
    card_status: str | None = None
    exception_reason: str = ""
    reason: str = ""


class CardStatusIn(Schema):
    status: str
    source: str = ""


def _detail(scope: Scope, b: Beneficiary) -> Beneficiary:
    b.account = selectors.active_account(scope, b.pk)
    return b


@router.get("/beneficiaries", response=list[BeneficiaryOut], summary="补贴对象列表（脱敏；证件号码须完整，按摘要查找）")
@paginate(LimitOffsetPagination)
def list_beneficiaries(request: HttpRequest, filters: Query[BeneficiaryFilter]):
    return selectors.beneficiary_list(_scope(request), q=filters.q, id_number=filters.id_number,
                                      household=filters.household, kind=filters.kind, region_code=filters.region)


@router.post("/beneficiaries/person", response={200: BeneficiaryOut, 201: BeneficiaryOut}, summary="登记个人补贴对象")
def register_person(request: HttpRequest, payload: PersonIn):
    b = services.beneficiary_register_person(actor=_scope(request), **payload.dict())
    return Status(201 if b.registered_now else 200, b)


@router.post("/beneficiaries/organization", response={200: BeneficiaryOut, 201: BeneficiaryOut},
             summary="登记单位补贴对象")
def register_organization(request: HttpRequest, payload: OrganizationIn):
    b = services.beneficiary_register_organization(actor=_scope(request), **payload.dict())
    return Status(201 if b.registered_now else 200, b)


@router.get("/beneficiaries/{beneficiary_id}", response=BeneficiaryDetailOut, summary="补贴对象详情（脱敏）")
def get_beneficiary(request: HttpRequest, beneficiary_id: int):
    scope = _scope(request)
    return _detail(scope, _visible(scope, beneficiary_id))


@router.patch("/beneficiaries/{beneficiary_id}", response=BeneficiaryOut, summary="修改补贴对象（生成新版本）")
def update_beneficiary(request: HttpRequest, beneficiary_id: int, payload: BeneficiaryPatch):
    scope = _scope(request)
    b = _visible(scope, beneficiary_id)
    changes = {k: v for k, v in payload.dict().items() if v is not None and k != "reason"}
    return services.beneficiary_update(actor=scope, beneficiary_id=b.pk, reason=payload.reason, **changes)


@router.post("/beneficiaries/{beneficiary_id}/account", response={200: AccountOut, 201: AccountOut},
             summary="设置收款账户（原账户停用并保留）")
def set_account(request: HttpRequest, beneficiary_id: int, payload: AccountIn):
    scope = _scope(request)
    b = _visible(scope, beneficiary_id)
    before = selectors.active_account(scope, b.pk)
    account = services.payee_account_set(actor=scope, beneficiary_id=b.pk, **payload.dict())
    return Status(200 if before is not None and before.pk == account.pk else 201, account)


@router.get("/beneficiaries/{beneficiary_id}/accounts", response=list[AccountOut], summary="收款账户历史（各版本）")
def list_accounts(request: HttpRequest, beneficiary_id: int):
    scope = _scope(request)
    return list(selectors.account_history(scope, _visible(scope, beneficiary_id).pk))


@router.post("/accounts/{account_id}/card-status", response=AccountOut, summary="更新社保卡金融功能状态（人社、社保卡银行）")
def update_card_status(request: HttpRequest, account_id: int, payload: CardStatusIn):
    return services.card_status_update(actor=_scope(request), account_id=account_id, status=payload.status,
                                       source=payload.source)
