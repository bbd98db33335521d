"""Helpers shared by the registry services: the region a record goes to, locking, version snapshots."""

from django.db import IntegrityError, transaction

from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Region
from yikatong.core.scope import Scope
from yikatong.registry import rules
from yikatong.registry.models import Beneficiary, BeneficiaryVersion, Household


def region_for_write(actor: Scope, region_code: str | None) -> Region:
    """The (active, existing) region a beneficiary is registered in; it must lie within the actor's scope."""
    try:
        code = region_rules.normalize_code(str(region_code or "").strip())
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region_code", code="invalid") from exc
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise DomainError(f"行政区划代码 {code} 不存在：请选择本辖区的乡镇（街道）或村（社区）", field="region_code",
                          code="unknown")
    if not region.active:
        raise DomainError(f"行政区划 {region.name}（{code}）已撤销：请选择现行区划", field="region_code", code="inactive")
    if not actor.covers_region(code):
        raise ScopeError(f"无权在区划 {region.name}（{code}）登记补贴对象：不在您的管辖范围内。", field="region_code")
    return region


def locked_beneficiary(actor: Scope, beneficiary_id) -> Beneficiary:
    """The beneficiary row, locked for update (views and the API look it up through the selectors first,
    so a user never learns here whether an id outside their scope exists)."""
    try:
        pk = int(beneficiary_id)
    except (TypeError, ValueError):
        pk = None
    b = Beneficiary.objects.select_for_update().filter(pk=pk).first() if pk is not None else None
    if b is None:
        raise DomainError("补贴对象不存在或不在您的管辖范围内。", code="not_found")
    if not actor.covers_region(b.region_id):
        raise ScopeError("无权操作该补贴对象：不在您的管辖范围内。")
    return b


def household_for(number: str, region: Region) -> Household | None:
    """Get or create the household 户号 `number` in `region` (None without a number)."""
    if not number:
        return None
    household = Household.objects.select_for_update().filter(number=number).first()
    if household is None:
        try:
            with transaction.atomic():
                return Household.objects.create(number=number, region=region)
        except IntegrityError:  # created by a concurrent registration of the same household
            household = Household.objects.select_for_update().get(number=number)
    if household.region_id != region.code:
        raise DomainError(
            f"户号 {number} 已登记在区划 {household.region_id}，与填写的区划 {region.code} 不一致：请核对户口簿",
            field="household_number", code="household_region",
        )
    return household


def state(b: Beneficiary) -> dict:
    """What a version records: masked values and digests, never plain identifiers."""
    return rules.state_of(b)


def write_out_first_version(b: Beneficiary) -> None:
    """Before the first change of a beneficiary registered by a roster import: store its version 1
    snapshot, implied until now (registry.rules.snapshot_implied). Call with `b` as it still is."""
    if b.version != 1:
        return
    first = BeneficiaryVersion.objects.filter(beneficiary=b, version=1).first()
    if first is not None and not first.snapshot:
        first.snapshot = state(b)
        first.save(update_fields=["snapshot"])


def write_version(actor: Scope, b: Beneficiary, reason: str) -> BeneficiaryVersion:
    return BeneficiaryVersion.objects.create(
        beneficiary=b, version=b.version, snapshot=state(b), changed_by=actor.username, reason=reason
    )
