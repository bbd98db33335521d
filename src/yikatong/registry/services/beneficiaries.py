"""Registering and correcting beneficiaries (persons by resident ID, organizations by credit code).

Registration is idempotent on the identifier's digest: registering a known person again returns the
existing record (after checking the name), filling in what changed. Every change bumps `version` and
writes a BeneficiaryVersion with masked values and digests; version 1 is written on registration.
"""

from django.db import IntegrityError, transaction

from yikatong.core import audit, crypto, masking
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.identity import validate_credit_code, validate_mobile, validate_resident_id
from yikatong.core.models import Region
from yikatong.core.scope import Scope
from yikatong.registry import rules
from yikatong.registry.models import Beneficiary, BeneficiaryKind

from ._common import (
    household_for,
    locked_beneficiary,
    region_for_write,
    state,
    write_out_first_version,
    write_version,
)

REREGISTER_REASON = "重复登记时补充信息"
OUT_OF_SCOPE_EXISTING = ("该证件号码已在其他区划登记，不在您的管辖范围内：如本人户籍已迁入本辖区，"
                         "请由共同的上级部门办理区划变更。")
UPDATABLE = {"name", "address", "phone", "household_number", "region_code"}


def _phone(phone: str | None) -> str:
    return validate_mobile(phone) if (phone or "").strip() else ""


def _reason(reason: str | None) -> str:
    return rules.clean_text(reason, field="reason", label="原因", max_length=rules.REASON_MAX)


def _address(address: str | None) -> str:
    return rules.clean_text(address, field="address", label="地址", max_length=rules.ADDRESS_MAX)


def _set_phone(b: Beneficiary, phone: str) -> None:
    b.phone_enc, digest = crypto.protect("phone", phone)
    b.phone_digest = digest or ""
    b.phone_masked = masking.mask_phone(phone)


def _locked_by_digest(digest: str) -> Beneficiary | None:
    return Beneficiary.objects.select_for_update().filter(id_digest=digest).first()


def _create_or_existing(actor: Scope, digest: str, build) -> tuple[Beneficiary, bool]:
    """Create the beneficiary `build()` makes, or return the one with this digest (locked). Two concurrent
    registrations of one person meet at the unique digest: the second finds the first's row."""
    existing = _locked_by_digest(digest)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            b = build()
            b.save(force_insert=True)
    except IntegrityError:
        existing = _locked_by_digest(digest)
        if existing is None:
            raise
        return existing, False
    write_version(actor, b, "登记")
    return b, True


def beneficiary_register_person(
    *, actor: Scope, name: str, id_number: str, region_code: str, household_number: str = "",
    address: str = "", phone: str = "", reason: str = "",
) -> Beneficiary:
    """Register a person (or return the existing record of the same ID number).

    The returned instance carries `registered_now` (True when this call created it)."""
    actor.require_write("beneficiary.manage")
    region = region_for_write(actor, region_code)
    resident = validate_resident_id(id_number)
    name = rules.clean_person_name(name)
    phone = _phone(phone)
    address = _address(address)
    household_number = rules.clean_household_number(household_number)
    reason = _reason(reason)
    id_blob, id_digest = crypto.protect("id", resident.number)

    with transaction.atomic():
        def build() -> Beneficiary:
            b = Beneficiary(
                kind=BeneficiaryKind.PERSON, name=name, id_number_enc=id_blob, id_digest=id_digest,
                id_masked=masking.mask_id_number(resident.number), gender=resident.gender,
                birth_date=resident.birth_date, household=household_for(household_number, region), region=region,
                address=address,
            )
            _set_phone(b, phone)
            return b

        b, created = _create_or_existing(actor, id_digest, build)
        if created:
            audit.record(actor=actor, action="beneficiary.register", obj=b, after=state(b), reason=reason)
        else:
            if not actor.covers_region(b.region_id):
                raise ScopeError(OUT_OF_SCOPE_EXISTING, field="id_number")
            if b.name != name:
                raise DomainError(
                    f"身份证号 {rules.short_id(resident.number)} 已登记为 {masking.mask_name(b.name)} ，"
                    "与填写的姓名不一致，请核对",
                    field="name", code="name_mismatch",
                )
            changes = {}
            if address and address != b.address:
                changes["address"] = address
            if phone and crypto.digest("phone", phone) != b.phone_digest:
                changes["phone"] = phone
            if household_number and household_number != (b.household.number if b.household_id else ""):
                changes["household_number"] = household_number
            _apply(actor, b, changes, reason or REREGISTER_REASON)
    b.registered_now = created
    return b


def beneficiary_register_organization(
    *, actor: Scope, name: str, credit_code: str, region_code: str, address: str = "", reason: str = "",
) -> Beneficiary:
    """Register an organization by unified social credit code (or return the existing record)."""
    actor.require_write("beneficiary.manage")
    region = region_for_write(actor, region_code)
    code = validate_credit_code(credit_code)
    name = rules.clean_org_name(name)
    address = _address(address)
    reason = _reason(reason)
    blob, digest = crypto.protect("uscc", code)

    with transaction.atomic():
        def build() -> Beneficiary:
            # Organizations are public: the code is shown in full (SPEC §7).
            return Beneficiary(kind=BeneficiaryKind.ORGANIZATION, name=name, id_number_enc=blob, id_digest=digest,
                               id_masked=code, region=region, address=address)

        b, created = _create_or_existing(actor, digest, build)
        if created:
            audit.record(actor=actor, action="beneficiary.register", obj=b, after=state(b), reason=reason)
        else:
            if not actor.covers_region(b.region_id):
                raise ScopeError(OUT_OF_SCOPE_EXISTING, field="credit_code")
            if b.name != name:
                raise DomainError(
                    f"统一社会信用代码 {code} 已登记为 {b.name} ，与填写的单位名称不一致，请核对",
                    field="name", code="name_mismatch",
                )
            if address and address != b.address:
                _apply(actor, b, {"address": address}, reason or REREGISTER_REASON)
    b.registered_now = created
    return b


def beneficiary_update(*, actor: Scope, beneficiary_id, reason: str = "", **changes) -> Beneficiary:
    """Correct a beneficiary: name, address, phone, household_number, region_code (a field given as ""
    is cleared, except name and region). A name or region change needs a reason. Versioned, audited."""
    actor.require_write("beneficiary.manage")
    unknown = set(changes) - UPDATABLE
    if unknown & {"id_number", "credit_code", "gender", "birth_date"}:
        raise DomainError("证件号码及由其得出的性别、出生日期不能修改：号码录错的，请按正确号码重新登记", field="id_number",
                          code="immutable")
    if unknown:
        raise DomainError(f"不能修改的字段：{'、'.join(sorted(unknown))}", code="unknown_field")
    reason = _reason(reason)
    with transaction.atomic():
        b = locked_beneficiary(actor, beneficiary_id)
        wanted = {}
        if "name" in changes:
            clean = rules.clean_person_name if b.kind == BeneficiaryKind.PERSON else rules.clean_org_name
            wanted["name"] = clean(changes["name"])
        if "address" in changes:
            wanted["address"] = _address(changes["address"])
        if "phone" in changes:
            if b.kind == BeneficiaryKind.ORGANIZATION and (changes["phone"] or "").strip():
                raise DomainError("单位补贴对象不登记手机号码", field="phone", code="kind")
            wanted["phone"] = _phone(changes["phone"])
        if "household_number" in changes:
            if b.kind == BeneficiaryKind.ORGANIZATION and (changes["household_number"] or "").strip():
                raise DomainError("单位补贴对象没有户号", field="household_number", code="kind")
            wanted["household_number"] = rules.clean_household_number(changes["household_number"])
        if "region_code" in changes:
            wanted["region_code"] = region_for_write(actor, changes["region_code"]).code
        effective = _effective(b, wanted)
        if ("region_code" in effective and b.household_id and "household_number" not in effective
                and b.household.region_id != effective["region_code"]):
            raise DomainError("变更区划时请同时填写新区划的户号（或清空户号）", field="household_number",
                              code="household_region")
        if {"name", "region_code"} & set(effective) and not reason:
            raise DomainError("更正姓名或变更区划须填写原因（如：依据户口簿更正）", field="reason", code="reason_required")
        _apply(actor, b, effective, reason)
    return b


def _effective(b: Beneficiary, wanted: dict) -> dict:
    """The wanted changes that really change something."""
    current = {
        "name": b.name, "address": b.address, "region_code": b.region_id,
        "household_number": b.household.number if b.household_id else "",
    }
    out = {key: value for key, value in wanted.items() if key != "phone" and value != current[key]}
    if "phone" in wanted:
        phone = wanted["phone"]
        if (crypto.digest("phone", phone) if phone else "") != b.phone_digest:
            out["phone"] = phone
    return out


def _apply(actor: Scope, b: Beneficiary, changes: dict, reason: str) -> None:
    """Write `changes` (already cleaned and effective) as the next version; nothing when empty."""
    if not changes:
        return
    before = state(b)
    write_out_first_version(b)
    if "region_code" in changes:
        b.region_id = changes["region_code"]
    if "name" in changes:
        b.name = changes["name"]
    if "address" in changes:
        b.address = changes["address"]
    if "phone" in changes:
        _set_phone(b, changes["phone"])
    if "household_number" in changes:
        b.household = household_for(changes["household_number"], Region.objects.get(code=b.region_id))
    b.version += 1
    b.save()
    write_version(actor, b, reason)
    audit.record(actor=actor, action="beneficiary.update", obj=b, before=before, after=state(b), reason=reason)


def beneficiary_lookup(*, id_number: str) -> Beneficiary | None:
    """The beneficiary with this resident ID or credit code (by digest), or None. Unscoped: for services
    (imports, checks) that go on to scope what they do; pages use selectors.beneficiary_list."""
    values = []
    for kind in ("id", "uscc"):
        try:
            values.append(crypto.digest(kind, id_number))
        except ValueError:
            continue
    if not values:
        return None
    return Beneficiary.objects.filter(id_digest__in=values).select_related("region", "household").first()
