"""Project library pages: the year's entries that apply to the reader, lock state, building from the published
list (province finance), locking, expiry and corrections (finance), and the "may this be paid?" check."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Role
from yikatong.core.scope import Scope

from .. import rules, selectors
from ..forms import LibraryCheckForm, LibraryRemoveForm
from ..models import EntryStatus
from ..services import (
    library_allows,
    library_build_from_list,
    library_entry_remove,
    library_expire,
    library_is_locked,
    library_lock,
    library_require,
)
from ._common import default_year, flash_error, int_param, scope_for


def _year(value) -> int:
    year = int_param(value, default_year())
    return year if 2000 <= year <= 2100 else default_year()


def _library_url(year: int) -> str:
    return f"{reverse('policies:library')}?year={year}"


def _is_finance(scope: Scope) -> bool:
    return scope.role == Role.FINANCE and not scope.read_only and scope.can("library.manage")


def check_region_visible(scope: Scope, region_code: str) -> None:
    """The check answers for the reader's own subtree and the regions above it."""
    if scope.is_system or scope.covers_region(region_code):
        return
    if scope.region_code and region_code in rules.covering_region_codes(scope.region_code):
        return
    raise ScopeError(f"无权查询区划 {region_code}：不在您的管辖范围内。")


def run_check(scope: Scope, *, policy: str, region: str, year: int) -> dict:
    """{"allowed": bool, "message": str} for the library check form and the API."""
    try:
        region = region_rules.normalize_code(region)
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region") from exc
    check_region_visible(scope, region)
    policy = policy.strip()
    if library_allows(policy=policy, region_code=region, year=year):
        name = selectors.region_name(region)
        return {"allowed": True, "policy": policy, "region": region, "year": year,
                "message": f"补贴项目 {policy} 在 {year} 年度 {name}（{region}）的补贴项目库中，可以发放。"}
    try:
        library_require(policy=policy, region_code=region, year=year)
    except DomainError as exc:
        return {"allowed": False, "policy": policy, "region": region, "year": year, "message": exc.message}
    raise AssertionError("library_allows and library_require disagree")  # pragma: no cover


@login_required
def library_page(request):
    scope = scope_for(request, "policy.view")
    year = _year(request.GET.get("year"))
    show_removed = request.GET.get("removed") == "1"
    entries = list(selectors.library_entries(scope, year, include_removed=show_removed)
                   .select_related("policy__department", "source_change"))
    locked = bool(scope.region_code) and library_is_locked(region_code=scope.region_code, year=year)
    finance = _is_finance(scope)
    this_year = default_year()
    context = {
        "title": f"{year} 年度补贴项目库",
        "year": year,
        "years": sorted({this_year - 1, this_year, this_year + 1, year}),
        "entries": entries,
        "active_count": sum(1 for e in entries if e.status == EntryStatus.ACTIVE),
        "show_removed": show_removed,
        "locked": locked,
        "can_build": finance and bool(scope.region_code)
        and region_rules.level_of(scope.region_code) == region_rules.PROVINCE,
        "can_lock": finance and not locked,
        "can_expire": finance,
        "can_remove": finance and not locked,
        "check_form": LibraryCheckForm(initial={"region": scope.region_code, "year": year}),
    }
    return render(request, "policies/library/page.html", context)


def _finance_action(request, action, success):
    scope = scope_for(request, "policy.view")
    scope.require_write("library.manage")
    year = _year(request.POST.get("year"))
    try:
        result = action(scope, year)
    except ScopeError:
        raise
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, success(result))
    return redirect(_library_url(year))


@login_required
@require_POST
def library_build(request):
    return _finance_action(
        request,
        lambda scope, year: library_build_from_list(actor=scope, province_code=scope.region_code, year=year),
        lambda created: f"已根据公布的清单建立补贴项目库：新增 {len(created)} 个条目。" if created
        else "补贴项目库已是最新，没有新增条目。",
    )


@login_required
@require_POST
def library_lock_view(request):
    return _finance_action(
        request,
        lambda scope, year: library_lock(actor=scope, region_code=scope.region_code, year=year),
        lambda lock: f"{lock.year} 年度补贴项目库已锁定；此后只能通过调整变更申请变更。",
    )


@login_required
@require_POST
def library_expire_view(request):
    return _finance_action(
        request,
        lambda scope, year: library_expire(actor=scope, year=year),
        lambda removed: f"已将 {len(removed)} 个到期政策移出补贴项目库。" if removed else "没有到期的政策需要移出。",
    )


@login_required
@require_POST
def library_entry_remove_view(request):
    scope = scope_for(request, "policy.view")
    scope.require_write("library.manage")
    year = _year(request.POST.get("year"))
    form = LibraryRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写移出原因。")
        return redirect(_library_url(year))
    data = form.cleaned_data
    try:
        library_entry_remove(actor=scope, region_code=data["region"], year=year, policy_code=data["policy"],
                             reason=data["reason"])
    except ScopeError:
        raise
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"已将补贴项目 {data['policy']} 移出 {year} 年度补贴项目库。")
    return redirect(_library_url(year))


@login_required
def library_check(request):
    """GET with policy, region, year. With htmx only the result box is returned."""
    scope = scope_for(request, "policy.view")
    form = LibraryCheckForm(request.GET or None)
    result, status = None, 200
    if form.is_valid():
        try:
            result = run_check(scope, **form.cleaned_data)
        except ScopeError as exc:
            form.add_error("region", exc.message)
            status = 403
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            status = 400
    elif request.GET:
        status = 400
    context = {"title": "补贴项目库核验", "check_form": form, "result": result}
    if request.htmx:
        # htmx swaps only 2xx answers: the refusal is in the box either way.
        return render(request, "policies/library/_check_result.html", context)
    return render(request, "policies/library/check.html", context, status=status)
