"""Long work with a progress bar: one protocol for services, two adapters (background job, CLI).

A service that processes many rows takes `progress: ProgressCallback`, a plain callable
`progress(done, total)` with the absolute count done so far and the total when known (None otherwise),
and calls it as often as it likes — both adapters make each call cheap:

- `JobReporter(job_id)` stores progress in a `JobProgress` row (written at most every `min_interval`
  seconds), which the UI polls with htmx (`core:job-progress`);
- `CliProgress` / `cli_progress(stream)` draws a text bar on stderr for management commands.

Both also offer `start / advance / set_total / succeed / fail` and work as context managers that mark
the work failed when an exception escapes: a `DomainError`'s message is shown as is, anything else
becomes "处理失败：内部错误，已记录日志" and its traceback goes to the log.

Background work: decorate `work(reporter, **kwargs) -> dict` with `@job_task`; it becomes a django
task taking `job_id`. A service creates the row with `job_create(...)` and starts it with
`job_enqueue(task, job=job, **kwargs)`; the worker (`yikatong db_worker`) runs it.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import task as django_task

from yikatong.core.errors import DomainError
from yikatong.core.models import JobProgress

log = logging.getLogger("yikatong.jobs")

ProgressCallback = Callable[[int, "int | None"], None]

INTERNAL_ERROR_MESSAGE = "处理失败：内部错误，已记录日志"
INTERRUPTED_MESSAGE = "处理被中断：后台任务进程已停止，请重新提交。"


def no_progress(done: int, total: int | None = None) -> None:
    """The default `progress` of a service: report nothing."""


class ProgressReporter(Protocol):
    def __call__(self, done: int, total: int | None = None) -> None: ...
    def start(self, total: int | None = None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def set_total(self, total: int | None) -> None: ...
    def succeed(self, result: dict | None = None, message: str = "") -> None: ...
    def fail(self, message: str) -> None: ...


def failure_message(exc: BaseException) -> str:
    """What a person reads when work stopped on `exc` (logs the traceback of unexpected errors)."""
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, Exception):
        log.error("background work failed", exc_info=(type(exc), exc, exc.__traceback__))
        return INTERNAL_ERROR_MESSAGE
    return INTERRUPTED_MESSAGE


class _Reporter:
    """Counting and throttling shared by both adapters; subclasses draw or store in `_emit`."""

    def __init__(self, *, total: int | None = None, min_interval: float = 0.5):
        self.total = total
        self.done = 0
        self.min_interval = min_interval
        self.finished = False
        self.started_at = time.monotonic()
        self._last_emit = 0.0

    # -- the service-level protocol ---------------------------------------------------------------
    def __call__(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None and total != self.total:
            self.total = total
            self._emit_now()
            return
        self._maybe_emit()

    # -- imperative interface ----------------------------------------------------------------------
    def start(self, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        self.started_at = time.monotonic()
        self._on_start()
        self._last_emit = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._maybe_emit()

    def set_total(self, total: int | None) -> None:
        self.total = total
        self._emit_now()

    def succeed(self, result: dict | None = None, message: str = "") -> None:
        if self.finished:
            return
        self.finished = True
        if self.total is None or self.done > self.total:
            self.total = self.done
        self._on_succeed(result or {}, message)

    def fail(self, message: str) -> None:
        if self.finished:
            return
        self.finished = True
        self._on_fail(message)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            self.succeed()
        else:
            self.fail(failure_message(exc))
        return False  # never swallow: the caller decides what an error means for it

    # -- throttling --------------------------------------------------------------------------------
    def _maybe_emit(self) -> None:
        now = time.monotonic()
        if now - self._last_emit >= self.min_interval:
            self._last_emit = now
            self._emit()

    def _emit_now(self) -> None:
        self._last_emit = time.monotonic()
        self._emit()

    # -- subclass hooks ----------------------------------------------------------------------------
    def _on_start(self) -> None:
        self._emit()

    def _emit(self) -> None:
        raise NotImplementedError

    def _on_succeed(self, result: dict, message: str) -> None:
        raise NotImplementedError

    def _on_fail(self, message: str) -> None:
        raise NotImplementedError


class JobReporter(_Reporter):
    """Progress of one `JobProgress` row. Progress writes are single-row UPDATEs, at most one per
    `min_interval` seconds however often `advance()` is called."""

    def __init__(self, job_id, *, min_interval: float = 0.5):
        job = JobProgress.objects.only("id", "total", "done").get(pk=job_id)
        super().__init__(total=job.total, min_interval=min_interval)
        self.job_id = job.pk
        self.done = job.done

    def _update(self, **fields) -> None:
        JobProgress.objects.filter(pk=self.job_id).update(**fields)

    def _on_start(self) -> None:
        self._update(status=JobProgress.Status.RUNNING, started_at=timezone.now(), total=self.total, done=self.done)

    def _emit(self) -> None:
        self._update(done=self.done, total=self.total)

    def _on_succeed(self, result: dict, message: str) -> None:
        self._update(
            status=JobProgress.Status.SUCCEEDED,
            done=self.done,
            total=self.total,
            result=_jsonable(result),
            message=message,
            finished_at=timezone.now(),
        )

    def _on_fail(self, message: str) -> None:
        self._update(
            status=JobProgress.Status.FAILED, done=self.done, message=message, finished_at=timezone.now()
        )


def _jsonable(value: Any):
    import json

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


class CliProgress(_Reporter):
    """A text progress bar for management commands, e.g. `[#####-----] 52% 520000/1000000 行 12.3s`.

    On a terminal it redraws one line (5 times a second at most); into a file or pipe it writes a
    line every `log_interval` seconds so logs stay readable.
    """

    WIDTH = 20

    def __init__(self, stream=None, *, label: str = "", unit: str = "行", total: int | None = None,
                 log_interval: float = 10.0):
        stream = sys.stderr if stream is None else stream
        self.stream = getattr(stream, "_out", stream)  # unwrap Django's OutputWrapper (adds newlines)
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        super().__init__(total=total, min_interval=0.2 if self.tty else log_interval)
        self.label = label
        self.unit = unit
        self._drawn = False

    def line(self) -> str:
        done, total = self.done, self.total
        if total:
            share = min(1.0, done / total)
            filled = int(share * self.WIDTH)
            bar = "[" + "#" * filled + "-" * (self.WIDTH - filled) + f"] {int(share * 100):3d}% {done}/{total}"
        else:
            bar = f"[处理中] {done}"
        prefix = f"{self.label} " if self.label else ""
        return f"{prefix}{bar} {self.unit} {self.elapsed:.1f}s"

    def _write(self, text: str, *, final: bool = False) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = not final

    def _emit(self) -> None:
        self._write(self.line())

    def _on_succeed(self, result: dict, message: str) -> None:
        self._write(self.line(), final=True)
        if message:
            self.stream.write(message + "\n")
            self.stream.flush()

    def _on_fail(self, message: str) -> None:
        self._write(self.line(), final=True)
        self.stream.write(f"失败：{message}\n")
        self.stream.flush()


def cli_progress(stream=None, *, label: str = "", unit: str = "行", total: int | None = None) -> CliProgress:
    """Progress for a management command: `with cli_progress(self.stderr) as progress: service(progress=progress)`."""
    return CliProgress(stream, label=label, unit=unit, total=total)


# -- jobs --------------------------------------------------------------------------------------------


def job_create(*, actor, kind: str, label: str, region_code: str | None = None,
               organization_id: int | None = None, total: int | None = None) -> JobProgress:
    """Record a piece of work before it is queued. Region and organization default to the actor's,
    so the job is visible to the same people who may see the work's data."""
    region_code = region_code if region_code is not None else (actor.region_code or None)
    if region_code:
        actor.require_region(region_code)
    if organization_id is None:
        organization_id = actor.organization_id
    return JobProgress.objects.create(
        kind=kind,
        label=label[:200],
        created_by_id=actor.user_id,
        organization_id=organization_id,
        region_id=region_code or None,
        total=total,
    )


def job_enqueue(task, *, job: JobProgress, **kwargs) -> JobProgress:
    """Queue `task` (made with `@job_task`) for `job`; returns the job as stored after enqueueing.

    Inside a service's transaction the queued task row commits (or rolls back) together with the
    job, so the worker never sees a job that does not exist. `kwargs` must be JSON-serialisable.
    """
    result = task.enqueue(job_id=str(job.pk), **kwargs)
    JobProgress.objects.filter(pk=job.pk).update(task_result_id=str(result.id))
    job.refresh_from_db()
    return job


def run_job(work: Callable[..., dict | None], job_id: str, **kwargs) -> dict:
    """Run `work(reporter, **kwargs)` for the job and record its outcome.

    A DomainError ends the job as failed with its message and the task itself succeeds (nothing for an
    operator to do); any other error is recorded on the job and re-raised so the task result keeps the
    traceback."""
    reporter = JobReporter(job_id)
    try:
        with reporter:
            reporter.start()
            result = work(reporter, **kwargs)
            reporter.succeed(result or {})
    except DomainError:
        return {"job_id": str(job_id), "status": JobProgress.Status.FAILED}
    return {"job_id": str(job_id), "status": JobProgress.Status.SUCCEEDED}


def job_task(func=None, **task_options):
    """Decorator: `work(reporter, **kwargs) -> dict | None` becomes a django task `task(job_id, **kwargs)`.

    The returned dict is the job's result shown on its page: keys are labels (write them in Chinese),
    keys starting with "_" are hidden, and `links` may hold `[{"label": ..., "url": ...}]`.
    """

    def decorate(work):
        @functools.wraps(work)
        def run(job_id: str, **kwargs):
            return run_job(work, job_id, **kwargs)

        # functools.wraps keeps the work's module and name, so the worker finds the Task by that path.
        return django_task(run, **task_options)

    return decorate(func) if func is not None else decorate


# -- reads ---------------------------------------------------------------------------------------------


def jobs_visible_to(scope) -> QuerySet[JobProgress]:
    """Jobs a user may see: those in their region (banks: of their organization), and their own."""
    jobs = JobProgress.objects.select_related("created_by", "region")
    visible = scope.filter(jobs, region_field="region_id", organization_field="organization_id")
    if scope.user_id is not None:
        visible = visible | jobs.filter(created_by_id=scope.user_id)
    return visible


def job_reconcile(job: JobProgress) -> JobProgress:
    """A job still open whose task already ended failed outside the job's own error handling
    (e.g. the task could not even start): record that, so its page does not poll forever."""
    if job.status in (JobProgress.Status.SUCCEEDED, JobProgress.Status.FAILED) or not job.task_result_id:
        return job
    from django_tasks import TaskResultStatus, task_backends
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if not isinstance(task_backends["default"], DatabaseBackend):
        return job
    # Read the stored status only: building the TaskResult would import the task, which may be what failed.
    try:
        status = DBTaskResult.objects.filter(id=job.task_result_id).values_list("status", flat=True).first()
    except (ValueError, ValidationError):  # an id from another backend
        return job
    if status == TaskResultStatus.FAILED:
        log.warning("job %s: task %s failed before reporting; marking the job failed", job.pk, job.task_result_id)
        open_jobs = JobProgress.objects.filter(
            pk=job.pk, status__in=[JobProgress.Status.QUEUED, JobProgress.Status.RUNNING]
        )
        open_jobs.update(status=JobProgress.Status.FAILED, message=INTERNAL_ERROR_MESSAGE, finished_at=timezone.now())
        job.refresh_from_db()
    return job
