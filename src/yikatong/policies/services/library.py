"""The project library [003 §12-14]: nothing can be paid for a project that is not in the year's library.

An active entry (policy, year, region) covers that region and everything below it: a provincial entry
covers every county. `library_allows` / `library_require` are what every payment path calls.
The library is built from the published list; it is locked explicitly (library_lock) and in any case from
January 1 of its year once built. A locked library changes only by approved change requests and by expiry.
"""

from django.db import transaction

from yikatong.core import audit, clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Region
from yikatong.core.scope import Scope

from .. import rules
from ..models import (
    AnnualListItem,
    EntryStatus,
    ItemStatus,
    LibraryEntry,
    LibraryLock,
    ListStatus,
    Policy,
    PolicyStatus,
)


def _policy_filter(policy) -> dict:
    if isinstance(policy, Policy):
        return {"policy_id": policy.pk}
    return {"policy__code": str(policy or "").strip()}


def library_allows(*, policy, region_code: str, year: int) -> bool:
    """True when `policy` (a Policy or its code) may be paid in `region_code` for `year`: an active entry
    exists for that year at the region or any region above it, and the policy is in force. One indexed query."""
    try:
        codes = rules.covering_region_codes(region_code)
    except region_rules.RegionCodeError:
        return False
    return LibraryEntry.objects.filter(
        **_policy_filter(policy), year=int(year), status=EntryStatus.ACTIVE, region_id__in=codes,
        policy__status=PolicyStatus.ACTIVE,
    ).exists()


def library_require(*, policy, region_code: str, year: int) -> None:
    """Raise DomainError unless library_allows(...)."""
    if library_allows(policy=policy, region_code=region_code, year=year):
        return
    code = policy.code if isinstance(policy, Policy) else str(policy or "").strip()
    region = Region.objects.filter(pk=str(region_code)).first()
    where = f"{region.name}（{region.code}）" if region else str(region_code)
    raise DomainError(
        f"补贴项目 {code} 不在 {year} 年度 {where} 的补贴项目库中，不能发放。"
        "请核对补贴项目编码、年度和区划；确需发放的，请先通过《惠民惠农财政补贴项目调整变更申请表》申请纳入项目库。",
        code="not_in_library",
    )


def library_is_locked(*, region_code: str, year: int) -> bool:
    """Locked explicitly at the region or above, or from Jan 1 of the year once entries exist above/at it."""
    codes = rules.covering_region_codes(region_code)
    if LibraryLock.objects.filter(region_id__in=codes, year=year).exists():
        return True
    if not rules.locked_by_date(year, clock.today()):
        return False
    lo, hi = region_rules.subtree_range(codes[-1])  # the province's library
    return LibraryEntry.objects.filter(year=year, region_id__gte=lo, region_id__lte=hi).exists()


def _require_finance_at(actor: Scope, region_code: str, what: str) -> None:
    actor.require_write("library.manage")
    actor.require_region(region_code)
    if not actor.is_system and actor.region_code != region_code:
        raise ScopeError(f"{what}须由本级财政部门办理。")


@transaction.atomic
def library_build_from_list(*, actor: Scope, province_code: str, year: int) -> list[LibraryEntry]:
    """Project the published list of a province into the library: one entry per published item (region = the
    region of the list it came from). Idempotent: run again after a later publication to add what is new.
    Returns the entries created."""
    province_code = region_rules.normalize_code(province_code)
    if region_rules.level_of(province_code) != region_rules.PROVINCE:
        raise DomainError("补贴项目库由省级财政部门统一建立，请选择省级区划。", field="region")
    _require_finance_at(actor, province_code, "建立补贴项目库")
    lo, hi = region_rules.subtree_range(province_code)
    items = list(
        AnnualListItem.objects.select_related("policy_list", "policy")
        .filter(policy_list__year=year, policy_list__status=ListStatus.PUBLISHED,
                policy_list__region_id__gte=lo, policy_list__region_id__lte=hi, status=ItemStatus.SUBMITTED)
        .order_by("policy_list__region_id", "policy__code")
    )
    if not items and not LibraryEntry.objects.filter(year=year, region_id__gte=lo, region_id__lte=hi).exists():
        raise DomainError(f"{year} 年度补贴政策清单尚未公布，不能建立补贴项目库。")
    entries = LibraryEntry.objects.filter(year=year, region_id__gte=lo, region_id__lte=hi)
    seen_sources = set(entries.exclude(source_item=None).values_list("source_item_id", flat=True))
    active = set(entries.filter(status=EntryStatus.ACTIVE).values_list("region_id", "policy_id"))
    now, created, added = clock.now(), [], []
    for item in items:
        key = (item.policy_list.region_id, item.policy_id)
        # An item removed from the library (change request, expiry) is not brought back by a rebuild.
        if item.pk in seen_sources or key in active:
            continue
        if item.policy.status != PolicyStatus.ACTIVE:
            continue
        entry = LibraryEntry.objects.create(
            year=year, region_id=key[0], policy_id=key[1], source_item=item, created_at=now,
            created_by=actor.username,
        )
        active.add(key)
        created.append(entry)
        added.append(f"{key[0]}:{item.policy.code}")
    audit.record(actor=actor, action="library.build", object_type="policies.libraryentry",
                 object_id=f"{province_code}/{year}", region_code=province_code,
                 after={"year": year, "created": added})
    return created


@transaction.atomic
def library_lock(*, actor: Scope, region_code: str, year: int) -> LibraryLock:
    """Fix the library of a region and year ahead of Jan 1 (finance of that region)."""
    region_code = region_rules.normalize_code(region_code)
    _require_finance_at(actor, region_code, "锁定补贴项目库")
    if LibraryLock.objects.filter(region_id=region_code, year=year).exists():
        raise DomainError(f"{year} 年度补贴项目库已锁定，无需重复锁定。")
    lock = LibraryLock.objects.create(region_id=region_code, year=year, locked_at=clock.now(),
                                      locked_by=actor.username)
    audit.record(actor=actor, action="library.lock", obj=lock, after={"year": year})
    return lock


def remove_entry(actor: Scope, entry: LibraryEntry, *, reason: str, change=None) -> LibraryEntry:
    """Mark a locked entry removed (kept, with reason and, for a change request, its source)."""
    before = {"status": entry.status}
    entry.status = EntryStatus.REMOVED
    entry.removed_at, entry.removed_by, entry.removed_reason = clock.now(), actor.username, reason
    entry.removal_change = change
    entry.save(update_fields=["status", "removed_at", "removed_by", "removed_reason", "removal_change"])
    audit.record(actor=actor, action="library.remove", obj=entry, before=before,
                 after={"status": entry.status, "year": entry.year, "policy_id": entry.policy_id}, reason=reason)
    return entry


@transaction.atomic
def library_entry_remove(*, actor: Scope, region_code: str, year: int, policy_code: str, reason: str
                         ) -> LibraryEntry:
    """Correct an unlocked library by hand (finance of the entry's region); a locked one needs a change request."""
    region_code = region_rules.normalize_code(region_code)
    _require_finance_at(actor, region_code, "调整补贴项目库")
    if not (reason or "").strip():
        raise DomainError("请填写移出原因。", field="reason")
    if library_is_locked(region_code=region_code, year=year):
        raise DomainError(f"{year} 年度补贴项目库已锁定，执行中不作变更；确需调整请提交调整变更申请。")
    entry = LibraryEntry.objects.select_for_update(of=("self",)).filter(
        region_id=region_code, year=year, policy__code=policy_code, status=EntryStatus.ACTIVE).first()
    if entry is None:
        raise DomainError(f"{year} 年度本区划补贴项目库中没有补贴项目 {policy_code}。")
    return remove_entry(actor, entry, reason=reason.strip())


@transaction.atomic
def library_expire(*, actor: Scope, year: int) -> list[LibraryEntry]:
    """Policies past their validity leave the library [003 §13]: active entries of `year` in the actor's
    region whose policy ended before today are marked removed (kept, with the reason). Returns them."""
    actor.require_write("library.manage")
    today = clock.today()
    entries = actor.filter(
        LibraryEntry.objects.select_for_update(of=("self",)).filter(year=year, status=EntryStatus.ACTIVE,
                                                        policy__valid_to__lt=today)
    )
    removed = []
    for entry in entries.select_related("policy").order_by("region_id", "policy_id"):
        reason = f"政策已到期（有效期至 {entry.policy.valid_to}），移出补贴项目库。"
        removed.append(remove_entry(actor, entry, reason=reason))
    return removed


def add_entry(actor: Scope, *, policy: Policy, region_code: str, year: int, change=None) -> LibraryEntry:
    """Admit a policy for an approved change request (the approval chain is the authority)."""
    if LibraryEntry.objects.filter(policy=policy, region_id=region_code, year=year,
                                   status=EntryStatus.ACTIVE).exists():
        raise DomainError(f"补贴项目 {policy.code} 已在 {year} 年度本区划补贴项目库中。")
    entry = LibraryEntry.objects.create(year=year, region_id=region_code, policy=policy, source_change=change,
                                        created_at=clock.now(), created_by=actor.username)
    audit.record(actor=actor, action="library.add", obj=entry, after={"year": year, "policy": policy.code})
    return entry
