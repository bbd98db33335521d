"""Reads of user accounts, narrowed to the reader's region (by the user's organization)."""

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from yikatong.core.models import User
from yikatong.core.scope import Scope


def users_visible(scope: Scope) -> QuerySet[User]:
    scope.require("user.view")
    qs = User.objects.select_related("organization", "organization__region")
    return scope.filter(qs, region_field="organization__region_id", organization_field="organization_id")


def user_list(
    scope: Scope, *, organization_code: str = "", role: str = "", q: str = "", active: bool | None = None,
) -> QuerySet[User]:
    qs = users_visible(scope)
    if organization_code:
        qs = qs.filter(organization__code=organization_code.strip())
    if role:
        qs = qs.filter(role=role)
    if q:
        q = q.strip()
        qs = qs.filter(Q(username__icontains=q) | Q(full_name__icontains=q))
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.order_by("organization__region_id", "organization__code", "username")


def user_get(scope: Scope, username: str) -> User:
    """One user in scope; raises User.DoesNotExist when absent or out of scope."""
    return users_visible(scope).get(username=username)


def user_lockout_state(username: str) -> dict:
    """Failed logins counted by django-axes in the current cool-off window, and whether they lock."""
    qs = AccessAttempt.objects.filter(username=username)
    cool_off = get_cool_off()
    if cool_off:
        qs = qs.filter(attempt_time__gte=timezone.now() - cool_off)
    failures = qs.aggregate(n=Max("failures_since_start"))["n"] or 0
    limit = settings.AXES_FAILURE_LIMIT
    return {"failures": failures, "locked": isinstance(limit, int) and failures >= limit, "limit": limit}
