"""Regions API (scoped): one region, and the children of a region.

403 for a region outside the caller's own region and below, 404 for a code that does not exist,
400 for a malformed code.
"""

from ninja import Router, Schema
from ninja.errors import HttpError

from yikatong.core import regions as rules
from yikatong.core.models import Region
from yikatong.core.scope import Scope
from yikatong.core.selectors import regions as selectors

router = Router(tags=["行政区划"])


class RegionOut(Schema):
    code: str
    name: str
    level: int
    level_name: str
    parent_code: str | None
    full_name: str
    active: bool


class RegionChildOut(RegionOut):
    child_count: int


def _out(region: Region, **extra) -> dict:
    return {
        "code": region.code,
        "name": region.name,
        "level": region.level,
        "level_name": rules.LEVEL_NAMES.get(region.level, ""),
        "parent_code": region.parent_id,
        "full_name": region.full_name,
        "active": region.active,
        **extra,
    }


def _get(scope: Scope, code: str) -> Region:
    try:
        return selectors.region_get(scope, code)
    except selectors.RegionNotFound as exc:
        raise HttpError(404, exc.message) from exc


@router.get("/{code}", response=RegionOut, summary="查询区划")
def region_detail(request, code: str):
    scope = Scope.for_user(request.user)
    return _out(_get(scope, code))


@router.get("/{code}/children", response=list[RegionChildOut], summary="下级区划")
def region_children(request, code: str):
    scope = Scope.for_user(request.user)
    parent = _get(scope, code)
    return [_out(r, child_count=r.child_count) for r in selectors.region_children(scope, parent.code)]
