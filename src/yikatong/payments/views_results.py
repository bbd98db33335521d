"""Pages of bank results (回盘):

  /payments/results/                         imports (newest first) and the upload form (department, finance, bank)
  /payments/results/<uuid>/                  one import: counts, the stored (not applied) lines, the original file
  /payments/results/lines/<id>/review/       close a stored line with a note (POST)

A small file is imported while the page waits; a large one runs as a background job with a progress bar.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Organization, OrgKind
from yikatong.core.scope import Scope

from .models import LineDisposition, ResultImport, ResultLine
from .selectors.results import result_import_get, result_import_summary, result_imports_visible, result_lines
from .services.results import result_import, result_import_receive, result_line_review

SYNC_LIMIT = 2 * 1024 * 1024  # bytes; above: background job (about 30,000 lines)
PAGE = 50


class ResultUploadForm(forms.Form):
    file = forms.FileField(label="回盘文件", help_text="XLSX 或 UTF-8 CSV；表头：批次号, 序号, 收款账号, 金额, 处理结果, "
                                                     "失败原因, 处理日期（列顺序不限，多余的列忽略）。")
    bank_code = forms.ChoiceField(label="发来回盘的代发银行", required=False,
                                  help_text="指定后，其他银行批次的行不入账，存档待复核。")

    def __init__(self, *args, banks=None, **kwargs):
        super().__init__(*args, **kwargs)
        if banks is None:
            del self.fields["bank_code"]
        else:
            self.fields["bank_code"].choices = [("", "（不限）"), *banks]


def _scope(request, permission: str = "payment.view") -> Scope:
    scope = Scope.for_user(request.user)
    scope.require(permission)
    return scope


def _can_import(scope: Scope) -> bool:
    return scope.can("payment.result") and not scope.read_only


def _banks(scope: Scope):
    if scope.own_org_only:
        return None
    qs = scope.filter(Organization.objects.filter(kind=OrgKind.PAYING_BANK, active=True), region_field="region_id")
    return [(o.code, f"{o.name}（{o.code}）") for o in qs.order_by("code")[:200]]


@login_required
def result_list(request):
    scope = _scope(request)
    can_import = _can_import(scope)
    form, status = None, 200
    if can_import:
        if request.method == "POST":
            form = ResultUploadForm(request.POST, request.FILES, banks=_banks(scope))
            if form.is_valid():
                response = _upload(request, scope, form)
                if response is not None:
                    return response
            status = 400
        else:
            form = ResultUploadForm(banks=_banks(scope))
    elif request.method == "POST":
        raise ScopeError("无权导入回盘：您的角色没有该权限。", code="forbidden")
    page = Paginator(result_imports_visible(scope).order_by("-received_at"), PAGE).get_page(request.GET.get("page"))
    return render(request, "payments/result_list.html", {"form": form, "page": page}, status=status)


def _upload(request, scope: Scope, form: ResultUploadForm):
    upload = form.cleaned_data["file"]
    bank_code = form.cleaned_data.get("bank_code") or None
    try:
        if upload.size > SYNC_LIMIT:
            from .tasks_results import result_import_enqueue

            ri = result_import_receive(actor=scope, fileobj=upload, original_name=upload.name, bank_code=bank_code)
            job = result_import_enqueue(actor=scope, result_import=ri)
            messages.info(request, f"回盘文件“{upload.name}”较大，正在后台导入，完成后可在结果页查看。")
            return redirect("core:job-detail", job_id=job.pk)
        ri = result_import(actor=scope, fileobj=upload, original_name=upload.name, bank_code=bank_code)
    except DomainError as exc:
        form.add_error(None, exc.message)
        return None
    if ri.status == ResultImport.Status.DONE:
        messages.success(request, f"回盘文件“{upload.name}”已导入：{ri.message}")
    else:
        messages.error(request, f"回盘文件“{upload.name}”未导入：{ri.message}")
    return redirect("payments:result-detail", pk=ri.pk)


@login_required
def result_detail(request, pk):
    scope = _scope(request)
    try:
        ri = result_import_get(scope, pk)
    except DomainError as exc:
        raise Http404(exc.message) from None
    disposition = request.GET.get("disposition", "")
    review = request.GET.get("review", "")
    lines = Paginator(result_lines(ri, disposition=disposition, review=review), PAGE).get_page(request.GET.get("page"))
    return render(request, "payments/result_detail.html", {
        "ri": ri, "summary": result_import_summary(ri), "lines": lines, "disposition": disposition,
        "review": review, "dispositions": LineDisposition.choices, "reviews": ResultLine.Review.choices,
        "can_review": _can_import(scope), "running": ri.status == ResultImport.Status.RUNNING})


@login_required
@require_POST
def result_line_close(request, line_id):
    scope = _scope(request)
    line = ResultLine.objects.filter(pk=line_id).only("result_import_id").first()
    if line is None:
        raise Http404("该回盘行不存在。")
    try:
        result_line_review(actor=scope, line_id=line_id, note=request.POST.get("note", ""))
    except ScopeError:
        raise
    except DomainError as exc:
        if exc.code == "not_found":
            raise Http404(exc.message) from None
        messages.error(request, exc.message)
    else:
        messages.success(request, "该行已复核关闭。")
    return redirect("payments:result-detail", pk=line.result_import_id)
