"""Annual policy lists [003 §12; 004 §4]: departments submit their items (by Nov 30 of the year before),
the prefecture finance bureau files the prefecture's and its counties' lists with the province (by Dec 20),
the province finance bureau publishes its own list with every filed list below it (by the end of February).

Late actions are allowed and flagged (submitted_late / filed_late / published_late).
"""

from django.db import transaction

from yikatong.core import audit, clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Organization, Region
from yikatong.core.scope import Scope

from .. import rules
from ..models import (
    AnnualListItem,
    AnnualListVersion,
    AnnualPolicyList,
    ItemStatus,
    ListPart,
    ListStatus,
    Policy,
    PolicyStatus,
)
from ..workflow import ITEM_TRANSITIONS, LIST_TRANSITIONS, next_state

LIST_LEVELS = (region_rules.PROVINCE, region_rules.PREFECTURE, region_rules.COUNTY)


def _region(code: str) -> Region:
    try:
        code = region_rules.normalize_code(code)
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region") from exc
    region = Region.objects.filter(pk=code).first()
    if region is None:
        raise DomainError(f"行政区划 {code} 不存在。", field="region")
    if region.level not in LIST_LEVELS:
        raise DomainError("年度补贴政策清单按省、市（州）、县（区）三级编制，请选择相应层级的区划。", field="region")
    return region


def _check_year(year) -> int:
    try:
        year = int(year)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"年度“{year}”无效。", field="year") from exc
    if not 2000 <= year <= 2100:
        raise DomainError(f"年度“{year}”无效。", field="year")
    return year


def list_snapshot(policy_list: AnnualPolicyList) -> list[dict]:
    return [
        {"policy": i.policy.code, "name": i.policy.name, "part": i.part, "department": i.department.code,
         "status": i.status}
        for i in policy_list.items.select_related("policy", "department").order_by("part", "policy__code")
    ]


def write_list_version(policy_list: AnnualPolicyList, *, changed_by: str, reason: str) -> AnnualListVersion:
    policy_list.version += 1
    policy_list.save(update_fields=["version"])
    return AnnualListVersion.objects.create(
        policy_list=policy_list, version=policy_list.version, status=policy_list.status,
        items=list_snapshot(policy_list), changed_by=changed_by, changed_at=clock.now(), reason=reason,
    )


def get_or_create_list(region: Region, year: int) -> AnnualPolicyList:
    policy_list, _ = AnnualPolicyList.objects.get_or_create(region=region, year=year)
    return AnnualPolicyList.objects.select_for_update().get(pk=policy_list.pk)


def _require_own_region(actor: Scope, region: Region, what: str) -> None:
    actor.require_region(region.code)
    if not actor.is_system and actor.region_code != region.code:
        raise ScopeError(f"只能{what}本级（{actor.region_code}）的年度补贴政策清单。")


def _require_draft(policy_list: AnnualPolicyList) -> None:
    if policy_list.status != ListStatus.DRAFT:
        label = ListStatus(policy_list.status).label
        raise DomainError(f"{policy_list.year}年度清单{label}，不能再修改清单项目；如需调整请提交调整变更申请。")


@transaction.atomic
def list_item_add(*, actor: Scope, region_code: str, year: int, policy_code: str, part: str | None = None
                  ) -> AnnualListItem:
    """A department adds one of its line's active policies to its own region's draft list. `part` defaults to
    prescribed for policies set above the region (or by central/provincial government), else self-defined."""
    actor.require_write("list.submit")
    region, year = _region(region_code), _check_year(year)
    _require_own_region(actor, region, "填报")
    policy = Policy.objects.select_related("department").filter(code=str(policy_code or "").strip()).first()
    if policy is None:
        raise DomainError(f"补贴项目 {policy_code} 不存在。", field="policy")
    actor.require_business_line(policy.business_line)
    if policy.status != PolicyStatus.ACTIVE:
        raise DomainError(f"补贴项目 {policy.code} 不在执行状态（{PolicyStatus(policy.status).label}），不能列入清单。")
    if not region_rules.is_within(region.code, policy.region_id):
        raise DomainError(f"补贴项目 {policy.code} 由其他地区制定，不能列入本地区清单。", field="policy")
    if policy.valid_to and policy.valid_to.year < year:
        raise DomainError(f"补贴项目 {policy.code} 的有效期至 {policy.valid_to}，不能列入 {year} 年度清单。")
    if part is None:
        above = policy.region_id != region.code
        part = ListPart.PRESCRIBED if above or policy.level_set in ("central", "provincial") else ListPart.SELF_DEFINED
    if part not in ListPart.values:
        raise DomainError("清单类别应为“规定清单”或“自定清单”。", field="part")
    policy_list = get_or_create_list(region, year)
    _require_draft(policy_list)
    if policy_list.items.filter(policy=policy).exists():
        raise DomainError(f"补贴项目 {policy.code} 已在 {year} 年度清单中。", field="policy")
    department = Organization.objects.get(pk=actor.organization_id) if actor.organization_id else policy.department
    item = AnnualListItem.objects.create(
        policy_list=policy_list, policy=policy, part=part, department=department,
        added_at=clock.now(), added_by=actor.username,
    )
    audit.record(actor=actor, action="list.item_add", obj=item, region_code=region.code,
                 after={"year": year, "policy": policy.code, "part": part})
    return item


@transaction.atomic
def list_item_remove(*, actor: Scope, region_code: str, year: int, policy_code: str) -> None:
    """Take an item off a list that is still being drafted (its department or finance of the region)."""
    region, year = _region(region_code), _check_year(year)
    item = (AnnualListItem.objects.select_for_update().select_related("policy", "policy_list")
            .filter(policy_list__region=region, policy_list__year=year, policy__code=policy_code).first())
    if item is None:
        raise DomainError(f"{year} 年度清单中没有补贴项目 {policy_code}。")
    actor.require_write("list.submit" if actor.role == "department" else "library.manage")
    actor.require_region(region.code)
    actor.require_business_line(item.policy.business_line)
    _require_draft(item.policy_list)
    audit.record(actor=actor, action="list.item_remove", obj=item, region_code=region.code,
                 before={"year": year, "policy": item.policy.code, "status": item.status})
    item.delete()


@transaction.atomic
def list_items_submit(*, actor: Scope, region_code: str, year: int) -> list[AnnualListItem]:
    """A department submits all its draft items of the region's list; after Nov 30 they are flagged late."""
    actor.require_write("list.submit")
    region, year = _region(region_code), _check_year(year)
    _require_own_region(actor, region, "提交")
    policy_list = AnnualPolicyList.objects.select_for_update().filter(region=region, year=year).first()
    if policy_list is None:
        raise DomainError(f"{region.name} {year} 年度清单尚无项目，请先添加补贴项目。")
    _require_draft(policy_list)
    items = policy_list.items.select_for_update().filter(status=ItemStatus.DRAFT)
    if not actor.is_system:
        items = items.filter(department_id=actor.organization_id)
    items = list(items.select_related("policy"))
    if not items:
        raise DomainError("没有待提交的清单项目（已全部提交或尚未添加）。")
    now, today = clock.now(), clock.today()
    late = rules.is_late(rules.list_deadlines(year)["department_submit"], today)
    for item in items:
        item.status = next_state(ITEM_TRANSITIONS, item.status, "submit", what=f"清单项目 {item.policy.code} ")
        item.submitted_at, item.submitted_by, item.submitted_late = now, actor.username, late
        item.save(update_fields=["status", "submitted_at", "submitted_by", "submitted_late"])
    audit.record(actor=actor, action="list.items_submit", obj=policy_list,
                 after={"policies": [i.policy.code for i in items], "late": late})
    return items


def _lists_to_file(prefecture: Region, year: int) -> list[AnnualPolicyList]:
    lo, hi = prefecture.subtree_range
    return list(AnnualPolicyList.objects.select_for_update()
                .filter(year=year, region_id__gte=lo, region_id__lte=hi, status=ListStatus.DRAFT)
                .order_by("region_id"))


def _refuse_unsubmitted(lists: list[AnnualPolicyList]) -> None:
    pending = (AnnualListItem.objects.filter(policy_list__in=lists, status=ItemStatus.DRAFT)
               .select_related("policy", "department").order_by("policy__code"))
    if pending:
        names = "、".join(f"{i.department.name}的{i.policy.code}" for i in pending[:10])
        raise DomainError(f"尚有 {len(pending)} 个清单项目未提交（{names}），请相关部门提交或删除后再办理。")


@transaction.atomic
def list_file(*, actor: Scope, region_code: str, year: int) -> list[AnnualPolicyList]:
    """The prefecture finance bureau files its prefecture's list and the draft lists of its counties with the
    province (after Dec 20: flagged late). Returns the filed lists."""
    actor.require_write("list.file")
    region, year = _region(region_code), _check_year(year)
    if region.level != region_rules.PREFECTURE:
        raise DomainError("报备由市（州）财政部门办理，请选择市（州）级区划。", field="region")
    if not actor.is_system and actor.role != "finance":
        raise ScopeError("清单报备须由市（州）财政部门办理。")
    _require_own_region(actor, region, "报备")
    get_or_create_list(region, year)
    lists = _lists_to_file(region, year)
    if not lists:
        raise DomainError(f"{region.name} {year} 年度清单已报备，无需重复报备。")
    _refuse_unsubmitted(lists)
    now = clock.now()
    late = rules.is_late(rules.list_deadlines(year)["prefecture_file"], clock.today())
    for policy_list in lists:
        policy_list.status = next_state(LIST_TRANSITIONS, policy_list.status, "file", what="清单")
        policy_list.filed_at, policy_list.filed_by, policy_list.filed_late = now, actor.username, late
        policy_list.returned_reason = ""
        policy_list.save(update_fields=["status", "filed_at", "filed_by", "filed_late", "returned_reason"])
        write_list_version(policy_list, changed_by=actor.username, reason="报省财政备案")
        audit.record(actor=actor, action="list.file", obj=policy_list, after={"year": year, "late": late})
    return lists


@transaction.atomic
def list_return(*, actor: Scope, region_code: str, year: int, reason: str) -> list[AnnualPolicyList]:
    """The province finance bureau returns a filed prefecture (with its counties) to be corrected and refiled."""
    actor.require_write("list.publish")
    region, year = _region(region_code), _check_year(year)
    if not (reason or "").strip():
        raise DomainError("请填写退回原因。", field="reason")
    if region.level != region_rules.PREFECTURE:
        raise DomainError("只能退回市（州）报备的清单，请选择市（州）级区划。", field="region")
    _require_province_finance(actor, region.code[:2].ljust(12, "0"))
    lo, hi = region.subtree_range
    lists = list(AnnualPolicyList.objects.select_for_update()
                 .filter(year=year, region_id__gte=lo, region_id__lte=hi).order_by("region_id"))
    if not lists:
        raise DomainError(f"{region.name} {year} 年度没有清单。")
    if not any(pl.status == ListStatus.FILED for pl in lists):
        next_state(LIST_TRANSITIONS, lists[0].status, "return", what="清单")
    lists = [pl for pl in lists if pl.status == ListStatus.FILED]
    for policy_list in lists:
        policy_list.status = next_state(LIST_TRANSITIONS, policy_list.status, "return", what="清单")
        policy_list.returned_reason = reason.strip()
        policy_list.save(update_fields=["status", "returned_reason"])
        write_list_version(policy_list, changed_by=actor.username, reason=f"退回：{reason.strip()}")
        audit.record(actor=actor, action="list.return", obj=policy_list, reason=reason.strip())
    return lists


def _require_province_finance(actor: Scope, province_code: str) -> None:
    if actor.is_system:
        return
    if actor.role != "finance" or actor.region_code != province_code:
        raise ScopeError("年度补贴政策清单由省级财政部门公布或退回。")


@transaction.atomic
def list_publish(*, actor: Scope, province_code: str, year: int) -> list[AnnualPolicyList]:
    """The province finance bureau publishes its own list and every filed list below it (after the end of
    February: flagged late). Run again later to publish lists filed afterwards. Returns the lists published."""
    actor.require_write("list.publish")
    region, year = _region(province_code), _check_year(year)
    if region.level != region_rules.PROVINCE:
        raise DomainError("请选择省级区划公布年度补贴政策清单。", field="region")
    _require_province_finance(actor, region.code)
    get_or_create_list(region, year)
    lo, hi = region.subtree_range
    lists = list(AnnualPolicyList.objects.select_for_update()
                 .filter(year=year, region_id__gte=lo, region_id__lte=hi)
                 .filter(status__in=[ListStatus.FILED, ListStatus.DRAFT]).order_by("region_id"))
    own = [pl for pl in lists if pl.region_id == region.code]
    lists = own + [pl for pl in lists if pl.status == ListStatus.FILED]
    if not lists:
        raise DomainError(f"{year} 年度没有待公布的清单（省级清单已公布，下级清单尚未报备）。")
    _refuse_unsubmitted(lists)
    now = clock.now()
    late = rules.is_late(rules.list_deadlines(year)["province_publish"], clock.today())
    for policy_list in lists:
        policy_list.status = next_state(LIST_TRANSITIONS, policy_list.status, "publish", what="清单")
        policy_list.published_at, policy_list.published_by, policy_list.published_late = now, actor.username, late
        policy_list.save(update_fields=["status", "published_at", "published_by", "published_late"])
        write_list_version(policy_list, changed_by=actor.username, reason="公布")
        audit.record(actor=actor, action="list.publish", obj=policy_list, after={"year": year, "late": late})
    return lists
