"""Every read of the one list, scoped to the reader.

Policies are visible in the reader's region and everything below it, and also when they were set above it
(a county sees the provincial policies it carries out). A competent department sees its own business line.
"""

from typing import NamedTuple

from django.db.models import Q, QuerySet

from yikatong.core import clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.models import BusinessLine, Region
from yikatong.core.scope import Scope

from . import rules
from .models import (
    AnnualListItem,
    AnnualListVersion,
    AnnualPolicyList,
    ChangeRequest,
    ChangeStatus,
    Cycle,
    EntryStatus,
    GovLevel,
    ItemStatus,
    LibraryEntry,
    ListStatus,
    Policy,
    PolicyStatus,
    PolicyVersion,
    StandardType,
)
from .services.policy_fields import POLICY_FIELDS

_CHOICES = {
    "business_line": dict(BusinessLine.choices), "level_set": dict(GovLevel.choices),
    "standard_type": dict(StandardType.choices), "cycle": dict(Cycle.choices), "status": dict(PolicyStatus.choices),
}


def _region_visible_q(scope: Scope, field: str) -> Q:
    """The reader's subtree plus the regions above the reader."""
    q = scope.region_q(field)
    if scope.region_code:
        q |= Q(**{f"{field}__in": rules.covering_region_codes(scope.region_code)})
    return q


def _line_narrowed(scope: Scope, queryset: QuerySet, field: str) -> QuerySet:
    if not scope.sees_all_lines and scope.business_line:
        queryset = queryset.filter(**{field: scope.business_line})
    return queryset


# -- policies ----------------------------------------------------------------------------------------
def policies_visible(scope: Scope, *, status: str | None = None, business_line: str | None = None) -> QuerySet:
    scope.require("policy.view")
    qs = Policy.objects.select_related("department", "region")
    if not (scope.is_system and not scope.region_code):
        qs = qs.filter(_region_visible_q(scope, "region_id"))
    qs = _line_narrowed(scope, qs, "business_line")
    if status:
        qs = qs.filter(status=status)
    if business_line:
        qs = qs.filter(business_line=business_line)
    return qs.order_by("code")


def policies_public() -> QuerySet:
    """The policy list of the public column: public policies in force (no login, no scope)."""
    return (Policy.objects.filter(is_public=True, status=PolicyStatus.ACTIVE)
            .select_related("department", "region").order_by("code"))


def policy_get(scope: Scope, code: str) -> Policy:
    policy = policies_visible(scope).filter(code=code).first()
    if policy is None:
        raise DomainError(f"补贴项目 {code} 不存在或不在您的查看范围内。", code="not_found")
    return policy


def policy_versions(scope: Scope, code: str) -> QuerySet:
    policy = policy_get(scope, code)
    return PolicyVersion.objects.filter(policy=policy).order_by("-version")


class FieldDiff(NamedTuple):
    """One row of the side-by-side page; unpacks as (label, old, new, changed)."""

    label: str
    old: str
    new: str
    changed: bool


def display_value(field: str, value) -> str:
    """A snapshot value as shown on the comparison page."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if field in _CHOICES:
        return _CHOICES[field].get(value, str(value))
    if field == "funding_sources":
        return "；".join(f"{GovLevel(s['level']).label} {s['share']}%" for s in value)
    if field == "tiers":
        return "；".join(f"{t['code']} {t['label']} {t['amount']}元" for t in value)
    if field == "documents":
        return "；".join(d["title"] for d in value)
    if field == "exclusive_with":
        return "、".join(value)
    if isinstance(value, dict):
        return "；".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def policy_versions_compare(scope: Scope, code: str, v1: int, v2: int) -> list[FieldDiff]:
    """Side by side: every attribute of versions v1 and v2 (label, old, new, changed?)."""
    versions = {v.version: v.snapshot for v in policy_versions(scope, code).filter(version__in=[v1, v2])}
    for wanted in (v1, v2):
        if wanted not in versions:
            raise DomainError(f"补贴项目 {code} 没有第 {wanted} 版。", code="not_found")
    old, new = versions[v1], versions[v2]
    rows = []
    for field, label in POLICY_FIELDS:
        a, b = old.get(field), new.get(field)
        if field == "department":
            a = f"{old.get('department_name', '')}（{a}）" if a else a
            b = f"{new.get('department_name', '')}（{b}）" if b else b
        rows.append(FieldDiff(label, display_value(field, a), display_value(field, b), a != b))
    return rows


# -- lists -------------------------------------------------------------------------------------------
def list_deadline_status(year: int, today=None) -> list[dict]:
    """The three deadlines of the `year` list with their state (ok / near / overdue) for the UI."""
    today = today or clock.today()
    rows = []
    for key, deadline in rules.list_deadlines(year).items():
        state = rules.deadline_state(deadline, today)
        rows.append({"key": key, "label": rules.DEADLINE_LABELS[key], "deadline": deadline, "state": state,
                     "state_label": rules.DEADLINE_STATE_LABELS[state], "days_left": (deadline - today).days})
    return rows


def annual_lists(scope: Scope, year: int) -> QuerySet:
    scope.require("policy.view")
    qs = AnnualPolicyList.objects.filter(year=year).select_related("region")
    if not (scope.is_system and not scope.region_code):
        qs = qs.filter(_region_visible_q(scope, "region_id"))
    return qs.order_by("region_id")


def annual_list_items(scope: Scope, region_code: str, year: int, *, include_removed: bool = False) -> QuerySet:
    scope.require("policy.view")
    qs = AnnualListItem.objects.filter(policy_list__region_id=region_code, policy_list__year=year)
    if not (scope.is_system and not scope.region_code):
        qs = qs.filter(_region_visible_q(scope, "policy_list__region_id"))
    if not include_removed:
        qs = qs.exclude(status=ItemStatus.REMOVED)
    qs = _line_narrowed(scope, qs, "policy__business_line")
    return qs.select_related("policy", "department").order_by("part", "policy__code")


def published_list(province_code: str, year: int) -> QuerySet:
    """The consolidated published list of a province (public): items of every published list under it."""
    lo, hi = region_rules.subtree_range(province_code)
    return (AnnualListItem.objects
            .filter(policy_list__year=year, policy_list__status=ListStatus.PUBLISHED,
                    policy_list__region_id__gte=lo, policy_list__region_id__lte=hi,
                    status=ItemStatus.SUBMITTED, policy__is_public=True)
            .select_related("policy", "policy_list__region", "department")
            .order_by("policy_list__region_id", "part", "policy__code"))


def list_versions(scope: Scope, region_code: str, year: int) -> QuerySet:
    lists = annual_lists(scope, year).filter(region_id=region_code)
    return AnnualListVersion.objects.filter(policy_list__in=lists).order_by("-version")


def list_versions_compare(scope: Scope, region_code: str, year: int, v1: int, v2: int) -> dict:
    """Items added, removed and changed between two versions of a list."""
    versions = {v.version: v.items for v in list_versions(scope, region_code, year).filter(version__in=[v1, v2])}
    for wanted in (v1, v2):
        if wanted not in versions:
            raise DomainError(f"{year} 年度清单没有第 {wanted} 版。", code="not_found")
    old = {i["policy"]: i for i in versions[v1]}
    new = {i["policy"]: i for i in versions[v2]}
    return {
        "added": [new[c] for c in sorted(set(new) - set(old))],
        "removed": [old[c] for c in sorted(set(old) - set(new))],
        "changed": [(old[c], new[c]) for c in sorted(set(old) & set(new)) if old[c] != new[c]],
    }


# -- library -----------------------------------------------------------------------------------------
def library_entries(scope: Scope, year: int, *, include_removed: bool = False) -> QuerySet:
    """Entries that apply to the reader: at the reader's region, above it or below it."""
    scope.require("policy.view")
    qs = LibraryEntry.objects.filter(year=year).select_related("policy", "region")
    if not (scope.is_system and not scope.region_code):
        qs = qs.filter(_region_visible_q(scope, "region_id"))
    if not include_removed:
        qs = qs.filter(status=EntryStatus.ACTIVE)
    qs = _line_narrowed(scope, qs, "policy__business_line")
    return qs.order_by("region_id", "policy__code")


def library_payable_policies(region_code: str, year: int) -> QuerySet:
    """Policies that may be paid in a region for a year (the same rule as services.library_allows)."""
    codes = rules.covering_region_codes(region_code)
    return (Policy.objects.filter(status=PolicyStatus.ACTIVE, library_entries__year=year,
                                  library_entries__status=EntryStatus.ACTIVE,
                                  library_entries__region_id__in=codes).distinct().order_by("code"))


# -- change requests ---------------------------------------------------------------------------------
def change_requests(scope: Scope, *, status: str | None = None, year: int | None = None) -> QuerySet:
    """Requests of the reader's region and below, and — for reviewers above — those that reach them."""
    scope.require("policy.view")
    qs = ChangeRequest.objects.select_related("policy", "region", "applicant")
    qs = scope.filter(qs, region_field="region_id")  # banks (own-organization scope) see none
    qs = _line_narrowed(scope, qs, "policy__business_line")
    if status:
        qs = qs.filter(status=status)
    if year:
        qs = qs.filter(year=year)
    return qs.order_by("-created_at")


def change_request_detail(scope: Scope, pk: int) -> ChangeRequest:
    cr = change_requests(scope).filter(pk=pk).prefetch_related("steps", "documents").first()
    if cr is None:
        raise DomainError("调整变更申请不存在或不在您的查看范围内。", code="not_found")
    return cr


def change_requests_awaiting(scope: Scope) -> list[ChangeRequest]:
    """Requests in review whose current step this reader may act on (the reviewer's to-do list)."""
    if scope.is_system:
        return list(change_requests(scope, status=ChangeStatus.IN_REVIEW))
    result = []
    for cr in change_requests(scope, status=ChangeStatus.IN_REVIEW):
        step = rules.change_chain(cr.region.level)[cr.current_step]
        if rules.step_refusal(step, role=scope.role, actor_region_code=scope.region_code,
                              actor_line=scope.business_line, request_region_code=cr.region_id,
                              policy_line=cr.policy.business_line) is None:
            result.append(cr)
    return result


def region_name(code: str) -> str:
    region = Region.objects.filter(pk=code).only("name").first()
    return region.name if region else code
