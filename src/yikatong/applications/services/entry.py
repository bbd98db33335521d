"""The typed application (经办录入) in one step: the person by resident ID (registered on the spot through
the registry's service when unknown, with the social security card account), then the application through
`application_create`. The entry page and the API's /applications/enter call this one implementation."""

from django.db import transaction

from yikatong.core import crypto
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.identity import validate_bank_account, validate_resident_id
from yikatong.core.scope import Scope
from yikatong.registry.models import PayeeAccount
from yikatong.registry.services import beneficiary_lookup, beneficiary_register_person, payee_account_set

from ..models import Application, Channel
from .applications import application_create

OUT_OF_SCOPE = "该身份证号已在其他区划登记，不在您的管辖范围内：请由其户籍所在地的采集单位录入。"
NO_ACCOUNT = "该补贴对象还没有收款账户：请填写本人社会保障卡的开户银行和银行账号。"
OTHER_ACCOUNT = ("填写的银行账号与该补贴对象登记的收款账户不一致：如需更换收款账户，请到补贴对象页面办理账户变更"
                 "（须填写变更原因），或清空账号一栏。")


@transaction.atomic
def application_enter(
    *,
    actor: Scope,
    id_number: str,
    policy_code: str,
    period: str,
    name: str = "",
    region_code: str = "",
    phone: str = "",
    bank_name: str = "",
    account_number: str = "",
    amount=None,
    quantity=None,
    tier: str = "",
    remarks: str = "",
) -> Application:
    """Register the person if needed, record the card account if the person has none, create the
    application (channel "typed"). A registered person keeps their data: a differing name or account is
    refused (a change of account has its own page with a reason). Everything or nothing is written."""
    actor.require_write("application.collect")
    resident = validate_resident_id(id_number)
    person = beneficiary_lookup(id_number=resident.number)
    if person is not None:
        if not actor.covers_region(person.region_id):
            raise ScopeError(OUT_OF_SCOPE, field="id_number")
        name = str(name or "").strip()
        if name and name != person.name:
            raise DomainError(f"该身份证号已登记为“{person.name}”，与填写的姓名“{name}”不一致，请核对。",
                              field="name", code="name_mismatch")
    else:
        if not str(region_code or "").strip():
            raise DomainError("该身份证号尚未登记：请选择户籍/住址区划。", field="region_code")
        person = beneficiary_register_person(actor=actor, name=name, id_number=resident.number,
                                             region_code=region_code, phone=phone, reason="录入申报时登记")
    active = PayeeAccount.objects.filter(beneficiary=person, is_active=True).first()
    has_account = bool(str(account_number or "").strip())
    if active is None:
        if not has_account:
            raise DomainError(NO_ACCOUNT, field="account_number")
        payee_account_set(actor=actor, beneficiary_id=person.pk, bank_name=bank_name, account_number=account_number,
                          reason="录入申报时登记")
    elif has_account:
        digits = validate_bank_account(account_number)
        if crypto.digest("account", digits) != active.account_digest:
            raise DomainError(OTHER_ACCOUNT, field="account_number", code="account_mismatch")
    return application_create(actor=actor, beneficiary_id=person.pk, policy_code=policy_code, period=period,
                              amount=amount, quantity=quantity, tier=tier, channel=Channel.TYPED, remarks=remarks)
