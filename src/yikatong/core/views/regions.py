"""The 行政区划 page: browse the region tree from the user's own region downward, search, and (admins)
import the official region list from a CSV file."""

from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yikatong.core import regions as rules
from yikatong.core.navigation import NavEntry, register
from yikatong.core.scope import Scope
from yikatong.core.selectors import regions as selectors
from yikatong.core.services import regions as services

MAX_UPLOAD_MB = 100


def register_nav() -> None:
    """Called from CoreConfig.ready()."""
    register(NavEntry("基础数据", "行政区划", "core:regions", "region.view", order=500))


class RegionImportForm(forms.Form):
    file = forms.FileField(
        label="区划 CSV 文件",
        help_text=f"UTF-8 编码的 CSV，第一行为表头 code,name,parent_code（或 区划代码,名称,上级代码），"
                  f"上级代码可留空；不超过 {MAX_UPLOAD_MB} MB。",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(f"文件过大：不超过 {MAX_UPLOAD_MB} MB。更大的文件请由运维人员用命令行 "
                                        "yikatong import-regions 导入。")
        return upload


def _can_manage(scope: Scope) -> bool:
    return scope.can("region.manage") and not scope.read_only


@login_required
def region_browse(request):
    scope = Scope.for_user(request.user)
    scope.require("region.view")
    code = request.GET.get("code") or scope.region_code
    try:
        region = selectors.region_get(scope, code)
    except selectors.RegionNotFound as exc:
        raise Http404(exc.message) from exc
    query = request.GET.get("q", "").strip()
    results = selectors.region_search(scope, query) if query else None
    if request.htmx and request.htmx.target == "region-search-results":
        return render(request, "core/regions/_search_results.html", {"query": query, "results": results})
    breadcrumb = selectors.region_breadcrumb(scope, region.code)
    # Names above the user's own region are context only: shown as text, never as links.
    above = "/".join(selectors.region_names_above(scope))
    context = {
        "title": "行政区划",
        "region": region,
        "level_name": rules.LEVEL_NAMES.get(region.level, ""),
        "breadcrumb": breadcrumb,
        "above": above,
        "children": list(selectors.region_children(scope, region.code)),
        "query": query,
        "results": results,
        "can_manage": _can_manage(scope),
        "form": RegionImportForm() if _can_manage(scope) else None,
    }
    return render(request, "core/regions/index.html", context)


@login_required
@require_POST
def region_import(request):
    scope = Scope.for_user(request.user)
    scope.require_write("region.manage")  # refused before anything is stored
    form = RegionImportForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("core:regions")
    upload = form.cleaned_data["file"]
    stored = services.store_import_file(upload)
    result = services.region_import_csv(actor=scope, path_or_file=stored, source_name=upload.name)
    context = {
        "title": "行政区划导入结果",
        "result": result,
        "stored": stored.relative_to(Path(settings.MEDIA_ROOT)),
    }
    return render(request, "core/regions/import_result.html", context)
