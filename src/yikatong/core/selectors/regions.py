"""Reads of regions, always within the user's own region and below.

A user may view regions within their subtree: a township collector sees its township and villages, not
the neighbouring township and not the county above (the names above appear only as context, in the
full name of the user's own region — never as something to select or open). Subtree queries are
range scans on the 12-digit code: one indexed query, no joins, whatever the number of regions.
"""

from django.db.models import Count, Q, QuerySet

from yikatong.core import regions as rules
from yikatong.core.errors import DomainError
from yikatong.core.models import Region
from yikatong.core.scope import Scope

SEARCH_LIMIT = 50


class RegionNotFound(DomainError):
    def __init__(self, code: str):
        super().__init__(f"区划 {code} 不存在。", field="code", code="not_found")


def clean_code(code: str) -> str:
    """The 12-digit form of a code typed by a user (6/9/12 digits), or a DomainError."""
    try:
        code = rules.normalize_code(str(code))
        rules.level_of(code)
    except rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="code", code="bad_code") from exc
    return code


def existing_code(code, *, field: str = "region_code") -> str:
    """The 12-digit code of an existing region named by a service argument, or a DomainError naming `field`
    (unscoped: the caller checks the actor's region)."""
    try:
        code = rules.normalize_code(str(code or "").strip())
    except rules.RegionCodeError as exc:
        raise DomainError(str(exc), field=field) from None
    if not Region.objects.filter(pk=code).exists():
        raise DomainError(f"行政区划 {code} 不存在。", field=field)
    return code


def _visible(scope: Scope) -> QuerySet:
    scope.require("region.view")
    # Regions are reference data, not owned by an organization: only the region range narrows them
    # (a bank sees the regions of its area), so Scope.filter's organization rule does not apply here.
    return Region.objects.filter(scope.region_q("code"))


def _check(scope: Scope, code: str) -> str:
    code = clean_code(code)
    scope.require("region.view")
    scope.require_region(code)
    return code


def region_get(scope: Scope, code: str) -> Region:
    """One region; ScopeError outside the user's subtree (checked before existence), RegionNotFound."""
    code = _check(scope, code)
    region = _visible(scope).select_related("parent").filter(code=code).first()
    if region is None:
        raise RegionNotFound(code)
    return region


def region_root(scope: Scope) -> Region | None:
    """The user's own region (the top of what they may browse); None for a system scope."""
    if not scope.region_code:
        return None
    return region_get(scope, scope.region_code)


def region_children(scope: Scope, code: str, *, active_only: bool = False) -> QuerySet:
    """Direct children of a region, each annotated with `child_count` (its own direct children)."""
    code = _check(scope, code)
    qs = _visible(scope).filter(parent_id=code)
    if active_only:
        qs = qs.filter(active=True)
    return qs.annotate(child_count=Count("children")).order_by("code")


def region_subtree(scope: Scope, code: str, level: int | None = None, *, active_only: bool = False) -> QuerySet:
    """The region and everything below it (optionally one level): a single range query on the code."""
    code = _check(scope, code)
    lo, hi = rules.subtree_range(code)
    qs = _visible(scope).filter(code__gte=lo, code__lte=hi)
    if level is not None:
        qs = qs.filter(level=level)
    if active_only:
        qs = qs.filter(active=True)
    return qs.order_by("code")


def region_breadcrumb(scope: Scope, code: str) -> list[Region]:
    """The regions from the user's own region down to `code` (inclusive), top first; one query."""
    code = _check(scope, code)
    codes = [c for c in [*rules.ancestor_codes(code), code] if scope.covers_region(c)]
    return list(_visible(scope).filter(code__in=codes).order_by("level", "code"))


def region_names_above(scope: Scope) -> list[str]:
    """Names of the regions above the user's own region, top first — context to show, never to open."""
    if not scope.region_code:
        return []
    scope.require("region.view")
    codes = rules.ancestor_codes(scope.region_code)
    return list(Region.objects.filter(code__in=codes).order_by("level").values_list("name", flat=True))


def region_search(scope: Scope, text: str, *, limit: int = SEARCH_LIMIT) -> list[Region]:
    """Regions in scope whose name contains `text`, or whose code starts with it (digits)."""
    text = (text or "").strip()
    if not text:
        return []
    qs = _visible(scope)
    if text.isdigit():
        qs = qs.filter(Q(code__startswith=text) | Q(name__contains=text))
    else:
        qs = qs.filter(name__contains=text)
    return list(qs.order_by("level", "code")[:limit])
