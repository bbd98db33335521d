"""Helpers shared by the one-list pages: the reader's scope, showing a service's refusal, paging, defaults."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404

from yikatong.core import clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope

PAGE_SIZE = 50
LIST_LEVELS = (region_rules.PROVINCE, region_rules.PREFECTURE, region_rules.COUNTY)


def scope_for(request, permission: str | None = None) -> Scope:
    """The request user's scope; ScopeError (→ 403 page) without the permission."""
    scope = Scope.for_user(request.user)
    if permission:
        scope.require(permission)
    return scope


def show_error(form: forms.Form, exc: DomainError, field_map: dict[str, str] | None = None) -> None:
    """A service's refusal next to the field it names (when the form shows that field), else on top."""
    field = (field_map or {}).get(exc.field, exc.field)
    form.add_error(field if field and field in form.fields else None, exc.message)


def error_status(exc: DomainError) -> int:
    return 403 if isinstance(exc, ScopeError) else 400


def flash_error(request, exc: DomainError) -> None:
    messages.error(request, exc.message)


def not_found(exc: DomainError):
    """Selectors say "not found or not yours" with code not_found: a 404 page with their message."""
    return Http404(exc.message)


def page_of(request, queryset):
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def filter_query(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def default_year() -> int:
    """The year whose list is being worked on: from October on, next year's list (departments submit by
    Nov 30, prefectures file by Dec 20); before that, the current year's."""
    today = clock.today()
    return today.year + 1 if today.month >= 10 else today.year


def list_region_for(scope: Scope) -> str:
    """The list a reader looks at first: their own region's, or the county's for townships and villages."""
    code = scope.region_code
    if not code:
        return ""
    level = region_rules.level_of(code)
    if level in LIST_LEVELS:
        return code
    return region_rules.ancestor_codes(code)[region_rules.COUNTY - 1]


def int_param(value, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
