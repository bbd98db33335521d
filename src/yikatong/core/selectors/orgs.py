"""Reads of organizations, always narrowed to the reader's scope.

Organizations are directory data: a reader with "org.view" sees every organization whose region lies in
their own region range (all kinds and business lines — a department needs to know the banks and
collectors of its county); bank roles only ever see their own organization.
"""

from django.db.models import Q, QuerySet

from yikatong.core.errors import DomainError
from yikatong.core.models import Organization
from yikatong.core.regions import RegionCodeError, normalize_code, subtree_range
from yikatong.core.scope import Scope


def organizations_visible(scope: Scope) -> QuerySet[Organization]:
    scope.require("org.view")
    return scope.filter(Organization.objects.select_related("region"), region_field="region_id",
                        organization_field="pk")


def organization_list(
    scope: Scope, *, kind: str = "", region_code: str = "", business_line: str = "", q: str = "",
    active: bool | None = None,
) -> QuerySet[Organization]:
    """Organizations in scope, filtered. `region_code` narrows to that region and everything below."""
    qs = organizations_visible(scope)
    if kind:
        qs = qs.filter(kind=kind)
    if business_line:
        qs = qs.filter(business_line=business_line)
    if region_code:
        try:
            lo, hi = subtree_range(normalize_code(region_code))
        except RegionCodeError as exc:
            raise DomainError(str(exc), field="region") from exc
        qs = qs.filter(region_id__gte=lo, region_id__lte=hi)
    if q:
        q = q.strip()
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q))
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("region_id", "kind", "code")


def organization_get(scope: Scope, code: str) -> Organization:
    """One organization in scope; raises Organization.DoesNotExist when absent or out of scope (an
    outsider cannot tell the two apart)."""
    return organizations_visible(scope).get(code=code)
