"""Background jobs: progress reporting, the task wrapper, the CLI bar, the job pages and their scope."""

import io
import logging
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from yikatong.core import audit
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.jobs import (
    INTERNAL_ERROR_MESSAGE,
    INTERRUPTED_MESSAGE,
    CliProgress,
    JobReporter,
    cli_progress,
    job_create,
    job_enqueue,
    job_task,
    jobs_visible_to,
    run_job,
)
from yikatong.core.models import AuditEvent, JobProgress
from yikatong.core.scope import Scope
from yikatong.core.tasks import audit_verification_start


# -- demo tasks (module level: the worker imports them by path) -----------------------------------------
def count_rows(n: int, progress) -> int:
    """A service in miniature: reports absolute progress through the plain callable protocol."""
    for i in range(1, n + 1):
        progress(i, n)
    return n


@job_task
def count_to(reporter, n: int) -> dict:
    reporter.set_total(n)
    counted = 0
    for _ in range(n):
        reporter.advance(1)
        counted += 1
    return {"已计数": counted}


@job_task
def count_via_protocol(reporter, n: int) -> dict:
    return {"已计数": count_rows(n, reporter)}


@job_task
def refuse_half_way(reporter, n: int) -> dict:
    reporter.set_total(n)
    reporter.advance(n // 2)
    raise DomainError("第 7 行 身份证号 校验位错误：请核对后重新上传。")


@job_task
def crash(reporter) -> dict:
    raise RuntimeError("secret internal detail")


def _job(user, **kwargs) -> JobProgress:
    return job_create(actor=Scope.for_user(user), kind="test", label=kwargs.pop("label", "测试作业"), **kwargs)


# -- the task wrapper with the ImmediateBackend (tests/conftest.py) -----------------------------------------
def test_job_runs_to_success_with_done_equal_total(world):
    job = _job(world.users["finance"])
    assert job.status == JobProgress.Status.QUEUED and job.region_id == "500101000000"
    job = job_enqueue(count_to, job=job, n=1234)
    assert job.status == JobProgress.Status.SUCCEEDED
    assert job.done == job.total == 1234
    assert job.percent == 100
    assert job.result == {"已计数": 1234}
    assert job.task_result_id
    assert job.started_at and job.finished_at and job.started_at <= job.finished_at


def test_service_protocol_callable_drives_the_job(world):
    job = job_enqueue(count_via_protocol, job=_job(world.users["finance"]), n=300)
    assert (job.status, job.done, job.total) == (JobProgress.Status.SUCCEEDED, 300, 300)


def test_domain_error_fails_job_with_its_message_and_keeps_progress(world):
    job = job_enqueue(refuse_half_way, job=_job(world.users["finance"]), n=100)
    assert job.status == JobProgress.Status.FAILED
    assert job.message == "第 7 行 身份证号 校验位错误：请核对后重新上传。"
    assert job.done == 50 and job.total == 100
    assert job.finished_at is not None


def test_unexpected_error_shows_generic_message_and_logs_traceback(world, caplog):
    with caplog.at_level(logging.ERROR, logger="yikatong.jobs"):
        job = job_enqueue(crash, job=_job(world.users["finance"]))
    assert job.status == JobProgress.Status.FAILED
    assert job.message == INTERNAL_ERROR_MESSAGE
    assert "secret" not in job.message
    logged = [r for r in caplog.records if r.name == "yikatong.jobs" and r.exc_info]
    assert logged and str(logged[0].exc_info[1]) == "secret internal detail"


def test_reporter_context_manager_marks_failure_and_reraises(world):
    job = _job(world.users["finance"])
    with pytest.raises(ValueError):
        with JobReporter(job.pk) as reporter:
            reporter.start(total=10)
            reporter.advance(3)
            raise ValueError("boom")
    job.refresh_from_db()
    assert (job.status, job.message, job.done) == (JobProgress.Status.FAILED, INTERNAL_ERROR_MESSAGE, 3)


def test_worker_shutdown_inside_a_task_records_an_interrupted_job(world):
    # a second SIGTERM makes db_worker call sys.exit() in the middle of the task
    job = _job(world.users["finance"])
    with pytest.raises(SystemExit):
        run_job(_exit_half_way, str(job.pk), n=10)
    job.refresh_from_db()
    assert (job.status, job.message, job.done) == (JobProgress.Status.FAILED, INTERRUPTED_MESSAGE, 5)


def _exit_half_way(reporter, n):
    reporter.set_total(n)
    reporter.advance(n // 2)
    raise SystemExit(1)


def test_reporter_context_manager_succeeds_on_clean_exit(world):
    job = _job(world.users["finance"])
    with JobReporter(job.pk) as reporter:
        reporter.start()
        reporter.advance(7)
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == (JobProgress.Status.SUCCEEDED, 7, 7)


def test_advance_is_throttled_to_few_writes(world):
    job = _job(world.users["finance"])
    reporter = JobReporter(job.pk, min_interval=60)
    reporter.start(total=200_000)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(200_000):
            reporter.advance(1)
    assert len(queries) == 0  # nothing written inside the interval …
    job.refresh_from_db()
    assert job.done == 0
    reporter.set_total(200_000)  # … until something forces a write
    job.refresh_from_db()
    assert job.done == 200_000


def test_advance_writes_again_after_the_interval(world):
    job = _job(world.users["finance"])
    reporter = JobReporter(job.pk, min_interval=0)
    reporter.start(total=10)
    reporter.advance(4)
    job.refresh_from_db()
    assert job.done == 4 and job.status == JobProgress.Status.RUNNING


def test_job_create_refuses_region_outside_scope(world):
    with pytest.raises(ScopeError):
        job_create(actor=Scope.for_user(world.users["collector"]), kind="t", label="x", region_code="500101002000")


def test_audit_verification_job_succeeds_on_intact_chain_and_fails_on_tampering(world):
    for i in range(5):
        audit.record(actor=world.users["admin"], action="test.event", object_type="t", object_id=str(i))
    job = audit_verification_start(actor=Scope.for_user(world.users["admin"]))
    assert job.status == JobProgress.Status.SUCCEEDED, job.message
    assert job.done == job.total == AuditEvent.objects.count() >= 5

    AuditEvent.objects.filter(seq=3).update(reason="tampered")
    job = audit_verification_start(actor=Scope.for_user(world.users["admin"]))
    assert job.status == JobProgress.Status.FAILED
    assert "审计链校验未通过" in job.message and "第 3 号" in job.message


def test_audit_verification_needs_permission(world):
    with pytest.raises(ScopeError):
        audit_verification_start(actor=Scope.for_user(world.users["collector"]))


# -- CLI progress ---------------------------------------------------------------------------------------------
def test_cli_progress_bar_format_and_outcome():
    out = io.StringIO()
    progress = CliProgress(out, total=1_000_000)
    progress.start()
    progress(520_000, 1_000_000)
    line = progress.line()
    assert line.startswith("[##########----------]  52% 520000/1000000 行 ")
    assert line.endswith("s")
    progress.succeed({}, message="已导入 1000000 行")
    text = out.getvalue()
    assert "52% 520000/1000000 行" in text
    assert text.rstrip().endswith("已导入 1000000 行")


def test_cli_progress_unknown_total_and_failure_inside_context_manager():
    out = io.StringIO()
    with pytest.raises(DomainError):
        with cli_progress(out, label="导入") as progress:
            progress.start()
            progress.advance(42)
            raise DomainError("第 3 行 姓名 为空")
    assert "导入 [处理中] 42 行" in progress.line()
    assert out.getvalue().rstrip().endswith("失败：第 3 行 姓名 为空")


def test_cli_progress_unwraps_django_output_wrapper():
    from django.core.management.base import OutputWrapper

    raw = io.StringIO()
    progress = cli_progress(OutputWrapper(raw))
    assert progress.stream is raw


# -- pages ------------------------------------------------------------------------------------------------------
def _running_job(user, done=52, total=100, **kwargs) -> JobProgress:
    job = _job(user, **kwargs)
    JobProgress.objects.filter(pk=job.pk).update(status=JobProgress.Status.RUNNING, done=done, total=total)
    job.refresh_from_db()
    return job


def test_progress_partial_renders_percent_and_keeps_polling_while_running(client, world):
    job = _running_job(world.users["finance"])
    client.force_login(world.users["finance"])
    response = client.get(reverse("core:job-progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "52%" in html and 'aria-valuenow="52"' in html
    assert "hx-trigger" in html and reverse("core:job-progress", args=[job.pk]) in html


def test_progress_partial_stops_polling_when_finished_and_shows_result(client, world):
    job = job_enqueue(count_to, job=_job(world.users["finance"]), n=20)
    client.force_login(world.users["finance"])
    html = client.get(reverse("core:job-progress", args=[job.pk])).content.decode()
    assert "hx-trigger" not in html
    assert "100%" in html and "已计数" in html and "处理完成" in html


def test_failed_job_page_shows_message(client, world):
    job = job_enqueue(refuse_half_way, job=_job(world.users["finance"]), n=10)
    client.force_login(world.users["finance"])
    html = client.get(reverse("core:job-detail", args=[job.pk])).content.decode()
    assert "第 7 行 身份证号 校验位错误" in html
    assert 'data-status="failed"' in html and "hx-trigger" not in html


def test_detail_page_polls_running_job(client, world):
    job = _running_job(world.users["collector"], label="导入花名册 高笋塘.xlsx")
    client.force_login(world.users["collector"])
    response = client.get(reverse("core:job-detail", args=[job.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "导入花名册 高笋塘.xlsx" in html and "hx-trigger" in html


@pytest.mark.parametrize("viewer", ["collector2", "finance_other", "collector_other", "paying_bank"])
def test_other_regions_and_orgs_get_404(client, world, viewer):
    job = _running_job(world.users["collector"])
    client.force_login(world.users[viewer])
    assert client.get(reverse("core:job-detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("core:job-progress", args=[job.pk])).status_code == 404
    listing = client.get(reverse("core:job-list")).content.decode()
    assert str(job.pk) not in listing


def test_upper_region_sees_lower_region_job(client, world):
    job = _running_job(world.users["collector"])
    client.force_login(world.users["finance"])
    assert client.get(reverse("core:job-detail", args=[job.pk])).status_code == 200
    assert str(job.pk) in client.get(reverse("core:job-list")).content.decode()


def test_bank_sees_only_own_organization_jobs(world):
    own = _running_job(world.users["paying_bank"])
    other = _running_job(world.users["paying_bank2"])
    visible = set(jobs_visible_to(Scope.for_user(world.users["paying_bank"])).values_list("pk", flat=True))
    assert own.pk in visible and other.pk not in visible


def test_system_job_without_region_is_not_shown_to_users_but_to_its_creator_only(world):
    system_job = job_create(actor=Scope.system(), kind="t", label="系统作业")
    assert system_job.region_id is None and system_job.created_by_id is None
    for key in ("admin", "finance", "supervisor"):
        assert not jobs_visible_to(Scope.for_user(world.users[key])).filter(pk=system_job.pk).exists()
    assert jobs_visible_to(Scope.system()).filter(pk=system_job.pk).exists()


def test_unknown_job_is_404_and_anonymous_is_redirected(client, world):
    assert client.get(reverse("core:job-list")).status_code == 302
    client.force_login(world.users["finance"])
    assert client.get(reverse("core:job-detail", args=[uuid.uuid4()])).status_code == 404


def test_navigation_lists_jobs_for_every_role(client, world):
    for key in ("collector", "paying_bank", "supervisor"):
        client.force_login(world.users[key])
        html = client.get(reverse("core:home")).content.decode()
        assert "后台作业" in html and reverse("core:job-list") in html


# -- the real queue: DatabaseBackend + `yikatong db_worker` ----------------------------------------------------
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def _run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_database_queue_and_worker_run_a_job(settings):
    settings.TASKS = DB_TASKS
    job = job_enqueue(count_to, job=job_create(actor=Scope.system(), kind="t", label="计数"), n=50)
    assert job.status == JobProgress.Status.QUEUED and job.task_result_id
    _run_worker()
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == (JobProgress.Status.SUCCEEDED, 50, 50)


@pytest.mark.django_db(transaction=True)
def test_task_that_cannot_start_marks_job_failed_when_its_page_is_polled(settings, client):
    from tests.world import build_world

    settings.TASKS = DB_TASKS
    world = build_world()
    job = _job(world.users["finance"])
    job = job_enqueue(count_to, job=job, n=5)
    # The code changed between enqueueing and running: the worker cannot even import the task.
    DBTaskResult.objects.filter(id=job.task_result_id).update(task_path="tests.core.test_jobs.renamed_task")
    _run_worker()
    assert DBTaskResult.objects.get(id=job.task_result_id).status == "FAILED"
    job.refresh_from_db()
    assert job.status == JobProgress.Status.QUEUED
    client.force_login(world.users["finance"])
    html = client.get(reverse("core:job-progress", args=[job.pk])).content.decode()
    job.refresh_from_db()
    assert job.status == JobProgress.Status.FAILED and job.message == INTERNAL_ERROR_MESSAGE
    assert "hx-trigger" not in html and INTERNAL_ERROR_MESSAGE in html


@pytest.mark.django_db(transaction=True)
def test_audit_verification_runs_in_the_worker(settings):
    from tests.world import build_world

    settings.TASKS = DB_TASKS
    world = build_world()
    audit.record(actor=world.users["admin"], action="test.event", object_type="t", object_id="1")
    job = audit_verification_start(actor=Scope.for_user(world.users["admin"]))
    assert job.status == JobProgress.Status.QUEUED
    _run_worker()
    job.refresh_from_db()
    assert job.status == JobProgress.Status.SUCCEEDED, job.message
    assert job.result["结论"].startswith("审计链完整")
