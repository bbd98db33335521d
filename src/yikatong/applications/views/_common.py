"""Helpers shared by the collection pages: the reader's scope, showing a service's refusal, paging, choices."""

from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.utils.http import url_has_allowed_host_and_scheme

from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Region
from yikatong.core.scope import Scope
from yikatong.policies.models import PolicyStatus
from yikatong.policies.selectors import policies_visible

PAGE_SIZE = 50
CHOICES_LIMIT = 3000
# Services name some fields differently from the forms.
FIELD_MAP = {"account": "account_number", "beneficiary_id": "id_number", "policy": "policy_code"}


def scope_for(request, permission: str | None = None) -> Scope:
    """The request user's scope; ScopeError (→ 403 page) without the permission."""
    scope = Scope.for_user(request.user)
    if permission:
        scope.require(permission)
    return scope


def can(scope: Scope, permission: str) -> bool:
    return scope.can(permission) and not scope.read_only


def show_error(form: forms.Form, exc: DomainError, field_map: dict | None = None) -> int:
    """Put a service's refusal under its field (or on top); the HTTP status to answer with."""
    mapping = {**FIELD_MAP, **(field_map or {})}
    field = mapping.get(exc.field, exc.field)
    form.add_error(field if field and field in form.fields else None, exc.message)
    return 403 if isinstance(exc, ScopeError) else 400


def not_found(exc: DomainError) -> Http404:
    return Http404(exc.message)


def page_of(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def filter_query(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def safe_next(request, value: str, default: str) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return default


def policy_choices(scope: Scope) -> list[tuple[str, str]]:
    """Policies in force that the reader sees (their line for departments)."""
    return [(p.code, f"{p.name}（{p.code}）")
            for p in policies_visible(scope, status=PolicyStatus.ACTIVE).select_related(None).only("code", "name")[:CHOICES_LIMIT]]


def region_choices(scope: Scope, level: int) -> list[tuple[str, str]]:
    """Active regions of one level in the reader's scope: (code, "name（code）")."""
    qs = scope.filter(Region.objects.filter(active=True, level=level), region_field="code")
    return [(r.code, f"{r.name}（{r.code}）") for r in qs.order_by("code").only("code", "name")[:CHOICES_LIMIT]]


def village_choices(scope: Scope) -> list[tuple[str, str]]:
    return region_choices(scope, region_rules.VILLAGE)


def township_choices(scope: Scope) -> list[tuple[str, str]]:
    return region_choices(scope, region_rules.TOWNSHIP)
