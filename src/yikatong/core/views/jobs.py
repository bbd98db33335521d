"""Background jobs: the list of a user's visible jobs and a page per job whose progress bar htmx polls."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from yikatong.core.jobs import job_reconcile, jobs_visible_to
from yikatong.core.models import JobProgress
from yikatong.core.navigation import NavEntry, register
from yikatong.core.scope import Scope

POLL_SECONDS = 1
LIST_LIMIT = 200


def register_nav() -> None:
    """Called from CoreConfig.ready()."""
    register(NavEntry("工作台", "后台作业", "core:job-list", "job.view", order=80))


def _scope(request) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require("job.view")
    return scope


def human_duration(seconds: float | None) -> str:
    """12.3 秒 · 3 分 20 秒 · 1 小时 5 分"""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} 秒"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} 分 {secs} 秒"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} 小时 {minutes} 分"


def _timing(job: JobProgress) -> dict:
    """Elapsed time and, while running with a known total, a rough estimate of the time left."""
    if not job.started_at:
        return {"elapsed": "", "remaining": ""}
    end = job.finished_at or timezone.now()
    elapsed = max(0.0, (end - job.started_at).total_seconds())
    remaining = None
    if job.status == JobProgress.Status.RUNNING and job.total and 0 < job.done < job.total and elapsed > 0:
        remaining = elapsed * (job.total - job.done) / job.done
    return {"elapsed": human_duration(elapsed), "remaining": human_duration(remaining)}


def _result_rows(result) -> tuple[list[tuple[str, str]], list[dict]]:
    """The job's result as label/value rows plus download links (see yikatong.core.jobs.job_task)."""
    if not isinstance(result, dict):
        return [], []
    links = [link for link in result.get("links") or [] if isinstance(link, dict) and link.get("url")]
    rows = []
    for key, value in result.items():
        if key == "links" or str(key).startswith("_"):
            continue
        if isinstance(value, list):
            value = "、".join(str(v) for v in value)
        rows.append((str(key), "" if value is None else str(value)))
    return rows, links


def _progress_context(job: JobProgress) -> dict:
    finished = job.status in (JobProgress.Status.SUCCEEDED, JobProgress.Status.FAILED)
    rows, links = _result_rows(job.result) if finished else ([], [])
    return {
        "job": job,
        "finished": finished,
        "poll_seconds": POLL_SECONDS,
        "result_rows": rows,
        "result_links": links,
        **_timing(job),
    }


@login_required
def job_list(request):
    scope = _scope(request)
    jobs = list(jobs_visible_to(scope).order_by("-created_at")[:LIST_LIMIT])
    return render(request, "core/jobs/list.html", {"title": "后台作业", "jobs": jobs, "limit": LIST_LIMIT})


@login_required
def job_detail(request, job_id):
    scope = _scope(request)
    job = job_reconcile(get_object_or_404(jobs_visible_to(scope), pk=job_id))
    return render(request, "core/jobs/detail.html", {"title": job.label, **_progress_context(job)})


@login_required
def job_progress(request, job_id):
    """The progress partial; once the job has finished it is drawn without the polling trigger."""
    scope = _scope(request)
    job = job_reconcile(get_object_or_404(jobs_visible_to(scope), pk=job_id))
    return render(request, "core/jobs/_progress.html", _progress_context(job))
