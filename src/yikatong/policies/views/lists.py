"""Annual policy list pages: one region's list for a year with its deadlines, items by part, versions, and the
actions of each role — departments add and submit, the prefecture finance bureau files, the province
finance bureau publishes or returns; XLSX export and import."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Region, Role
from yikatong.core.scope import Scope
from yikatong.core.tabular import attachment_header

from .. import rules, selectors, xlsx
from ..forms import ListItemAddForm, ListUploadForm, ReasonForm, VersionPairForm
from ..models import AnnualPolicyList, ItemStatus, ListPart, ListStatus, PolicyStatus
from ..services import (
    list_file,
    list_item_add,
    list_item_remove,
    list_items_submit,
    list_publish,
    list_return,
)
from ._common import LIST_LEVELS, default_year, flash_error, int_param, list_region_for, scope_for

BADGE = {"ok": "badge-ok", "near": "badge-warn", "overdue": "badge-danger"}
STATUS_BADGE = {ListStatus.DRAFT: "badge-info", ListStatus.FILED: "badge-warn", ListStatus.PUBLISHED: "badge-ok"}


def visible_region(scope: Scope, code: str) -> Region:
    """A list-level region the reader may look at: their own subtree or a region above them."""
    try:
        code = region_rules.normalize_code(code)
    except region_rules.RegionCodeError as exc:
        raise Http404(str(exc)) from exc
    region = Region.objects.filter(pk=code).first()
    if region is None or region.level not in LIST_LEVELS:
        raise Http404("年度补贴政策清单按省、市（州）、县（区）三级编制，该区划没有清单。")
    above = scope.region_code and code in rules.covering_region_codes(scope.region_code)
    if not (scope.is_system or scope.covers_region(code) or above):
        raise ScopeError(f"无权查看 {region.name} 的年度补贴政策清单：不在您的管辖范围内。")
    return region


def _check_year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise Http404("年度无效。")
    return year


def _list_url(region_code: str, year: int) -> str:
    return f"{reverse('policies:lists')}?region={region_code}&year={year}"


def _actions(scope: Scope, region: Region, policy_list: AnnualPolicyList | None) -> dict:
    own = scope.region_code == region.code and not scope.read_only
    status = policy_list.status if policy_list else ListStatus.DRAFT
    province = region.code[:2].ljust(12, "0")
    return {
        "can_add": own and scope.can("list.submit") and status == ListStatus.DRAFT,
        "can_file": own and scope.role == Role.FINANCE and region.level == region_rules.PREFECTURE
        and status == ListStatus.DRAFT,
        "can_publish": own and scope.role == Role.FINANCE and region.level == region_rules.PROVINCE,
        "can_return": (scope.role == Role.FINANCE and not scope.read_only and scope.region_code == province
                       and region.level == region_rules.PREFECTURE and status == ListStatus.FILED),
    }


def _candidates(scope: Scope, region: Region, year: int, policy_list: AnnualPolicyList | None):
    """Active policies of the reader's line, set at or above the region, in force in `year`, not yet listed."""
    qs = (selectors.policies_visible(scope, status=PolicyStatus.ACTIVE)
          .filter(region_id__in=rules.covering_region_codes(region.code))
          .exclude(valid_to__lt=dt.date(year, 1, 1)))
    if policy_list is not None:
        qs = qs.exclude(list_items__policy_list=policy_list)
    return qs


def _render_page(request, scope: Scope, region: Region, year: int, *, add_form=None, upload_form=None,
                 import_errors=None, status=200):
    policy_list = selectors.annual_lists(scope, year).filter(region_id=region.code).first()
    items = list(selectors.annual_list_items(scope, region.code, year, include_removed=True))
    actions = _actions(scope, region, policy_list)
    own_drafts = [i for i in items if i.status == ItemStatus.DRAFT and i.department_id == scope.organization_id]
    if actions["can_add"] and add_form is None:
        add_form = ListItemAddForm(policies=_candidates(scope, region, year, policy_list))
    deadlines = selectors.list_deadline_status(year)
    for row in deadlines:
        row["badge"], row["abs_days"] = BADGE[row["state"]], abs(row["days_left"])
    other_lists = selectors.annual_lists(scope, year).exclude(region_id=region.code)
    versions = list(selectors.list_versions(scope, region.code, year))
    this_year = default_year()
    context = {
        "title": f"{region.name} {year} 年度补贴政策清单",
        "region": region,
        "year": year,
        "years": sorted({this_year - 1, this_year, this_year + 1, year}),
        "policy_list": policy_list,
        "status_badge": STATUS_BADGE.get(policy_list.status if policy_list else ListStatus.DRAFT),
        "parts": [(label, [i for i in items if i.part == value]) for value, label in ListPart.choices],
        "item_count": sum(1 for i in items if i.status != ItemStatus.REMOVED),
        "deadlines": deadlines,
        "other_lists": other_lists,
        "versions": versions,
        "version_form": VersionPairForm(initial={"v1": versions[1].version, "v2": versions[0].version})
        if len(versions) > 1 else None,
        "add_form": add_form,
        "upload_form": upload_form or (ListUploadForm() if actions["can_add"] else None),
        "import_errors": import_errors,
        "can_submit": actions["can_add"] and bool(own_drafts),
        "own_drafts": len(own_drafts),
        "return_form": ReasonForm() if actions["can_return"] else None,
        **actions,
    }
    return render(request, "policies/lists/page.html", context, status=status)


@login_required
def list_page(request):
    scope = scope_for(request, "policy.view")
    region_code = request.GET.get("region") or list_region_for(scope)
    if not region_code:
        raise Http404("请选择区划。")
    year = _check_year(int_param(request.GET.get("year"), default_year()))
    region = visible_region(scope, region_code)
    return _render_page(request, scope, region, year)


def _act(request, region_code: str, year: int, action, success) -> HttpResponse:
    """Run one service for a list action: a refusal is shown on the list page, a wrong role gets 403."""
    scope = scope_for(request, "policy.view")
    region = visible_region(scope, region_code)
    year = _check_year(year)
    try:
        result = action(scope, region, year)
    except ScopeError:
        raise
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, success(result) if callable(success) else success)
    return redirect(_list_url(region.code, year))


@login_required
@require_POST
def item_add(request, region: str, year: int):
    scope = scope_for(request, "policy.view")
    scope.require_write("list.submit")
    reg = visible_region(scope, region)
    policy_list = selectors.annual_lists(scope, year).filter(region_id=reg.code).first()
    form = ListItemAddForm(request.POST, policies=_candidates(scope, reg, year, policy_list))
    if not form.is_valid():
        return _render_page(request, scope, reg, _check_year(year), add_form=form, status=400)
    try:
        item = list_item_add(actor=scope, region_code=reg.code, year=year, policy_code=form.cleaned_data["policy"],
                             part=form.cleaned_data["part"] or None)
    except ScopeError:
        raise
    except DomainError as exc:
        form.add_error("policy" if exc.field in ("policy", None) else None, exc.message)
        return _render_page(request, scope, reg, year, add_form=form, status=400)
    messages.success(request, f"已将 {item.policy.code} {item.policy.name} 列入{item.get_part_display()}（待提交）。")
    return redirect(_list_url(reg.code, year))


@login_required
@require_POST
def item_remove(request, region: str, year: int, code: str):
    return _act(request, region, year,
                lambda scope, reg, y: list_item_remove(actor=scope, region_code=reg.code, year=y, policy_code=code),
                f"已将补贴项目 {code} 移出清单。")


@login_required
@require_POST
def items_submit(request, region: str, year: int):
    return _act(request, region, year,
                lambda scope, reg, y: list_items_submit(actor=scope, region_code=reg.code, year=y),
                lambda items: f"已提交 {len(items)} 个清单项目"
                + ("（已过 11 月 30 日，记为逾期提交）。" if items and items[0].submitted_late else "。"))


@login_required
@require_POST
def list_file_view(request, region: str, year: int):
    return _act(request, region, year,
                lambda scope, reg, y: list_file(actor=scope, region_code=reg.code, year=y),
                lambda lists: f"已向省财政报备 {len(lists)} 份清单（本级及所辖区县）"
                + ("，已过 12 月 20 日，记为逾期报备。" if lists and lists[0].filed_late else "。"))


@login_required
@require_POST
def list_publish_view(request, region: str, year: int):
    return _act(request, region, year,
                lambda scope, reg, y: list_publish(actor=scope, province_code=reg.code, year=y),
                lambda lists: f"已公布 {len(lists)} 份清单"
                + ("，已过 2 月底，记为逾期公布。" if lists and lists[0].published_late else "。"))


@login_required
@require_POST
def list_return_view(request, region: str, year: int):
    form = ReasonForm(request.POST)
    if not form.is_valid():
        scope = scope_for(request, "policy.view")
        scope.require_write("list.publish")
        messages.error(request, "退回须填写原因。")
        return redirect(_list_url(visible_region(scope, region).code, year))
    reason = form.cleaned_data["reason"]
    return _act(request, region, year,
                lambda scope, reg, y: list_return(actor=scope, region_code=reg.code, year=y, reason=reason),
                lambda lists: f"已退回 {len(lists)} 份清单，市（州）财政部门修改后重新报备。")


@login_required
def list_export(request, region: str, year: int):
    scope = scope_for(request, "policy.view")
    reg = visible_region(scope, region)
    content = xlsx.export_list(scope, reg.code, _check_year(year))
    response = HttpResponse(content, content_type=xlsx.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = attachment_header(f"{reg.name}{year}年度补贴政策清单.xlsx")
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def list_import(request, region: str, year: int):
    scope = scope_for(request, "policy.view")
    scope.require_write("list.submit")
    reg = visible_region(scope, region)
    year = _check_year(year)
    form = ListUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_page(request, scope, reg, year, upload_form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        result = xlsx.import_list(actor=scope, region_code=reg.code, year=year, fileobj=upload,
                                  original_name=upload.name)
    except ScopeError:
        raise
    except xlsx.ImportRefused as exc:
        form.add_error("file", exc.message)
        return _render_page(request, scope, reg, year, upload_form=form, import_errors=exc.errors, status=400)
    except DomainError as exc:
        form.add_error("file", exc.message)
        return _render_page(request, scope, reg, year, upload_form=form, status=400)
    messages.success(request, f"已从 {upload.name} 导入 {len(result.added)} 个清单项目（待提交）。")
    return redirect(_list_url(reg.code, year))


def _labelled(item: dict) -> dict:
    return {**item, "part_label": ListPart(item["part"]).label if item.get("part") in ListPart.values else "",
            "status_label": ItemStatus(item["status"]).label if item.get("status") in ItemStatus.values else ""}


@login_required
def list_compare(request, region: str, year: int):
    scope = scope_for(request, "policy.view")
    reg = visible_region(scope, region)
    year = _check_year(year)
    form = VersionPairForm(request.GET or None)
    diff, status = None, 200
    if form.is_valid():
        v1, v2 = sorted([form.cleaned_data["v1"], form.cleaned_data["v2"]])
        try:
            diff = selectors.list_versions_compare(scope, reg.code, year, v1, v2)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 400
    elif request.GET:
        status = 400
    if diff is not None:
        diff = {"added": [_labelled(i) for i in diff["added"]], "removed": [_labelled(i) for i in diff["removed"]],
                "changed": [(_labelled(a), _labelled(b)) for a, b in diff["changed"]]}
    context = {
        "title": f"{reg.name} {year} 年度清单版本对比",
        "region": reg,
        "year": year,
        "form": form,
        "diff": diff,
        "versions": selectors.list_versions(scope, reg.code, year),
        "list_url": _list_url(reg.code, year),
    }
    return render(request, "policies/lists/compare.html", context, status=status)
