"""Roster upload (花名册导入): choose policy and period, upload the file → the import runs as a background
job whose progress bar htmx polls → the result: counts, every rejected row with its row number, column and
reason, and the rejected-rows file to correct and upload again (accepted rows are never duplicated)."""

import importlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import redirect, render

from yikatong.core.errors import DomainError
from yikatong.core.models import JobProgress
from yikatong.core.scope import Scope

from ..forms import RosterUploadForm
from ..models import RosterImport, RosterRowError
from ._common import can, policy_choices, scope_for, show_error

SERVICE_MODULE = "yikatong.applications.roster.service"
ERRORS_PAGE = 100
LIST_LIMIT = 50
POLL_SECONDS = 1
FINISHED = (RosterImport.Status.DONE, RosterImport.Status.FAILED)
NOT_READY = "花名册导入服务尚未就绪，请稍后再试或联系系统管理员。"


def roster_service():
    """The roster import service module (yikatong.applications.roster.service), or None when missing."""
    try:
        return importlib.import_module(SERVICE_MODULE)
    except ImportError:
        return None


def rosters_visible(scope: Scope) -> QuerySet[RosterImport]:
    scope.require("application.view")
    qs = RosterImport.objects.select_related("policy", "region", "organization", "job", "rejected_file", "file")
    return scope.filter(qs, region_field="region_id", business_line_field="policy__business_line")


def _get(scope: Scope, pk) -> RosterImport:
    roster = rosters_visible(scope).filter(pk=pk).first()
    if roster is None:
        raise Http404("该花名册导入记录不存在或不在您的管辖范围内。")
    return roster


@login_required
def roster_upload(request):
    scope = scope_for(request, "application.view")
    scope.require_write("application.collect")
    choices = policy_choices(scope)
    status = 200
    service = roster_service()
    if request.method == "POST":
        form = RosterUploadForm(request.POST, request.FILES, policy_choices=choices)
        if service is None:
            form.add_error(None, NOT_READY)
            status = 503
        elif form.is_valid():
            data = form.cleaned_data
            upload = data["file"]
            try:
                roster = service.roster_import_start(actor=scope, fileobj=upload, original_name=upload.name,
                                                     policy_code=data["policy_code"], period=data["period"])
            except DomainError as exc:
                status = show_error(form, exc)
            else:
                messages.success(request, f"花名册“{upload.name}”已上传，正在后台导入。")
                return redirect("applications:roster-detail", pk=roster.pk)
        else:
            status = 400
    else:
        form = RosterUploadForm(policy_choices=choices,
                                initial={k: request.GET.get(k, "") for k in ("policy_code", "period")})
    context = {
        "title": "花名册导入",
        "form": form,
        "imports": list(rosters_visible(scope).order_by("-created_at")[:LIST_LIMIT]),
        "ready": service is not None,
    }
    return render(request, "applications/rosters/upload.html", context, status=status)


def _percent(roster: RosterImport) -> int:
    job = roster.job
    if roster.status == RosterImport.Status.DONE:
        return 100
    if job is not None:
        return job.percent
    return 0


def _progress_context(roster: RosterImport) -> dict:
    job = roster.job
    finished = roster.status in FINISHED
    if not finished and job is not None and job.status == JobProgress.Status.FAILED:
        finished = True  # the job died before the import could record it
    return {"roster": roster, "job": job, "finished": finished, "percent": _percent(roster),
            "poll_seconds": POLL_SECONDS,
            "failed": roster.status == RosterImport.Status.FAILED
            or (job is not None and job.status == JobProgress.Status.FAILED)}


def _errors_page(request, roster: RosterImport):
    errors = RosterRowError.objects.filter(roster_import=roster).order_by("row_number", "pk")
    return Paginator(errors, ERRORS_PAGE).get_page(request.GET.get("page"))


@login_required
def roster_detail(request, pk):
    scope = scope_for(request, "application.view")
    roster = _get(scope, pk)
    context = {"title": f"花名册导入 {roster.file.original_name}", **_progress_context(roster),
               "errors": _errors_page(request, roster), "can_upload": can(scope, "application.collect")}
    return render(request, "applications/rosters/detail.html", context)


@login_required
def roster_progress(request, pk):
    """htmx: the progress bar while the import runs; once finished the result (counts, errors, file)."""
    scope = scope_for(request, "application.view")
    roster = _get(scope, pk)
    context = {**_progress_context(roster), "errors": _errors_page(request, roster),
               "can_upload": can(scope, "application.collect")}
    return render(request, "applications/rosters/_progress.html", context)
