"""Pages of the shared-data sources and the credit list. Thin: reads through selectors, writes through
the services (sources.service, credit), refusals shown next to the field they name.

  /sources/                         every source: the import in force, its data date and rows, the latest import
  /sources/<source>/                history of the source's imports; upload form (who may import it)
  /sources/imports/<id>/            one import: outcome, progress bar while it runs, rejected rows
  /sources/imports/<id>/errors.csv  the rejected rows as a file
  /sources/credit/                  the credit list: filter, add, lift, import
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope
from yikatong.core.tabular import csv_streaming_response

from . import credit
from .models import CreditListEntry
from .sources import SPECS, importable_sources, require_import, source_import_start
from .sources import selectors as source_selectors
from .tasks_sources import source_import_enqueue

PAGE_SIZE = 50
ERROR_PAGE_SIZE = 100


def _scope(request, permission: str) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require(permission)
    return scope


def _show(form: forms.Form, exc: DomainError) -> int:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)
    return 403 if isinstance(exc, ScopeError) else 400


# -- forms ------------------------------------------------------------------------------------------------
class SourceUploadForm(forms.Form):
    file = forms.FileField(label="数据文件", help_text="UTF-8 CSV（可带 BOM）或 XLSX；第一行为表头，列顺序不限，多余的列会被忽略。")
    data_date = forms.DateField(label="数据日期", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                help_text="数据的截止日期，默认今天；晚于该日期的死亡、登记日期会被拒绝。")


class CreditAddForm(forms.Form):
    id_number = forms.CharField(label="身份证号", max_length=30)
    name = forms.CharField(label="姓名", max_length=100)
    severity = forms.ChoiceField(label="限制类型", choices=CreditListEntry.Severity.choices)
    reason = forms.CharField(label="列入原因", max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
    region_code = forms.CharField(label="所属区划代码", max_length=12)
    valid_from = forms.DateField(label="有效期起", widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = forms.DateField(label="有效期止", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                               help_text="留空表示长期有效，直至解除。")


class CreditLiftForm(forms.Form):
    reason = forms.CharField(label="解除原因", max_length=300)


class CreditImportForm(forms.Form):
    file = forms.FileField(label="名单文件", help_text="UTF-8 CSV 或 XLSX，表头：身份证号, 姓名, 列入原因, 限制类型, 有效期起, 有效期止。")
    region_code = forms.CharField(label="所属区划代码", max_length=12)


class CreditFilterForm(forms.Form):
    state = forms.ChoiceField(label="状态", required=False,
                              choices=[("active", "生效中"), ("lifted", "已解除"), ("all", "全部")])
    q = forms.CharField(label="姓名或完整身份证号", required=False, max_length=30)


# -- sources ------------------------------------------------------------------------------------------------
@login_required
def overview(request):
    scope = _scope(request, "source.view")
    context = {"title": "共享数据源", "sources": source_selectors.source_overview(scope)}
    return render(request, "sources/overview.html", context)


def _spec_or_404(source: str):
    if source not in SPECS:
        raise Http404("数据源不存在。")
    return SPECS[source]


def _source_context(request, scope: Scope, source: str, form: SourceUploadForm | None = None) -> dict:
    spec = _spec_or_404(source)
    imports = source_selectors.source_imports(scope, source)
    can_import = source in importable_sources(scope)
    return {
        "title": f"共享数据源：{spec.label}",
        "spec": spec,
        "page": Paginator(imports, PAGE_SIZE).get_page(request.GET.get("page")),
        "can_import": can_import,
        "form": form if form is not None else (SourceUploadForm() if can_import else None),
        "scope": scope,
    }


@login_required
def source_detail(request, source: str):
    scope = _scope(request, "source.view")
    return render(request, "sources/source.html", _source_context(request, scope, source))


@login_required
def source_upload(request, source: str):
    scope = Scope.for_user(request.user)
    _spec_or_404(source)
    require_import(scope, source)  # refused (403) before anything is stored
    if request.method != "POST":
        return redirect("sources:source-detail", source=source)
    form = SourceUploadForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            imp = source_import_start(actor=scope, source=source, fileobj=upload, original_name=upload.name,
                                      data_date=form.cleaned_data["data_date"], channel="file")
        except DomainError as exc:
            status = _show(form, exc)
        else:
            source_import_enqueue(actor=scope, source_import=imp)
            messages.info(request, "文件已上传，正在后台导入；导入成功后整体替换该数据源，失败则现有数据不变。")
            return redirect("sources:import-detail", import_id=imp.pk)
    scope.require("source.view")
    return render(request, "sources/source.html", _source_context(request, scope, source, form), status=status)


def _import_or_404(scope: Scope, import_id):
    try:
        return source_selectors.source_import_get(scope, import_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc


@login_required
def import_detail(request, import_id):
    scope = _scope(request, "source.view")
    imp = _import_or_404(scope, import_id)
    errors = source_selectors.source_import_errors(scope, imp)
    context = {
        "title": f"{imp.get_source_display()}数据导入",
        "imp": imp,
        "spec": SPECS[imp.source],
        "errors": Paginator(errors, ERROR_PAGE_SIZE).get_page(request.GET.get("page")),
        "file_visible": bool(imp.file_id) and scope.covers_region(imp.file.region_id),
    }
    if imp.job_id:
        from yikatong.core.jobs import job_reconcile
        from yikatong.core.views.jobs import _progress_context

        context.update(_progress_context(job_reconcile(imp.job)))
        context["job"] = imp.job
    return render(request, "sources/import.html", context)


@login_required
def import_errors_csv(request, import_id):
    scope = _scope(request, "source.view")
    imp = _import_or_404(scope, import_id)
    rows = source_selectors.source_import_errors(scope, imp).values_list("row_number", "column", "value", "reason")
    return csv_streaming_response(f"{imp.get_source_display()}_拒绝行_{imp.created_at:%Y%m%d%H%M}.csv",
                                  ["行号", "列", "值", "原因"], rows.iterator(chunk_size=2000))


@login_required
def source_template(request, source: str):
    _scope(request, "source.view")
    spec = _spec_or_404(source)
    return csv_streaming_response(f"{spec.label}_模板.csv", list(spec.columns), [])


# -- credit list ----------------------------------------------------------------------------------------------
def _credit_context(request, scope: Scope, *, add_form=None, import_form=None) -> dict:
    filters = CreditFilterForm(request.GET or None)
    state, q = "active", ""
    if filters.is_valid():
        state = filters.cleaned_data["state"] or "active"
        q = filters.cleaned_data["q"]
    entries = credit.credit_entries(scope, state=state, q=q)
    query = request.GET.copy()
    query.pop("page", None)
    can_manage = scope.can("credit.manage") and not scope.read_only
    initial = {"region_code": scope.region_code}
    return {
        "title": "信用名单",
        "filters": filters,
        "page": Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page")),
        "filter_query": query.urlencode(),
        "can_manage": can_manage,
        "add_form": add_form or (CreditAddForm(initial=initial) if can_manage else None),
        "import_form": import_form or (CreditImportForm(initial=initial) if can_manage else None),
        "lift_form": CreditLiftForm() if can_manage else None,
    }


@login_required
def credit_list(request):
    scope = _scope(request, "credit.view")
    return render(request, "sources/credit.html", _credit_context(request, scope))


@login_required
@require_POST
def credit_add(request):
    scope = Scope.for_user(request.user)
    scope.require_write("credit.manage")
    form = CreditAddForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            entry = credit.credit_add(actor=scope, source="manual", **form.cleaned_data)
        except DomainError as exc:
            status = _show(form, exc)
        else:
            messages.success(request, f"已将 {entry.name}（{entry.id_masked}）列入信用名单：{entry.get_severity_display()}。")
            return redirect("sources:credit-list")
    return render(request, "sources/credit.html", _credit_context(request, scope, add_form=form), status=status)


@login_required
@require_POST
def credit_lift(request, pk: int):
    scope = Scope.for_user(request.user)
    scope.require_write("credit.manage")
    form = CreditLiftForm(request.POST)
    if not form.is_valid():
        messages.error(request, "请填写解除原因。")
        return redirect("sources:credit-list")
    try:
        entry = credit.credit_lift(actor=scope, entry_id=pk, reason=form.cleaned_data["reason"])
    except ScopeError:
        raise
    except DomainError as exc:
        if exc.code == "not_found":
            raise Http404(exc.message) from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, f"已解除 {entry.name}（{entry.id_masked}）的信用名单记录。")
    return redirect("sources:credit-list")


@login_required
@require_POST
def credit_import(request):
    scope = Scope.for_user(request.user)
    scope.require_write("credit.manage")
    form = CreditImportForm(request.POST, request.FILES)
    status = 400
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = credit.credit_import(actor=scope, fileobj=upload, original_name=upload.name,
                                          region_code=form.cleaned_data["region_code"])
        except DomainError as exc:
            status = _show(form, exc)
        else:
            return render(request, "sources/credit_import_result.html",
                          {"title": "信用名单导入结果", "result": result})
    return render(request, "sources/credit.html", _credit_context(request, scope, import_form=form), status=status)


@login_required
def credit_template(request):
    _scope(request, "credit.view")
    return csv_streaming_response("信用名单_模板.csv", list(credit.IMPORT_HEADERS), [])
