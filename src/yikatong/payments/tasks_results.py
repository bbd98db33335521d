"""Background run of a large bank result import (the UI starts it and follows the job's progress bar)."""

from django.urls import reverse

from yikatong.core.errors import DomainError
from yikatong.core.jobs import job_create, job_enqueue, job_task
from yikatong.core.models import JobProgress, User
from yikatong.core.scope import Scope

from .models import ResultImport
from .services.results import result_import_run


@job_task
def result_import_task(reporter, *, result_import_id: str, user_id: int) -> dict:
    actor = Scope.for_user(User.objects.get(pk=user_id))
    ri = result_import_run(actor=actor, result_import_id=result_import_id, progress=reporter)
    if ri.status != ResultImport.Status.DONE:
        raise DomainError(ri.message)
    return {"总行数": ri.line_count, "入账": ri.applied_count, "重复（未变更）": ri.duplicate_count,
            "拒收待复核": ri.rejected_count,
            "links": [{"label": "查看回盘导入结果", "url": reverse("payments:result-detail", args=[ri.pk])}]}


def result_import_enqueue(*, actor: Scope, result_import: ResultImport) -> JobProgress:
    job = job_create(actor=actor, kind="payment.result_import",
                     label=f"导入回盘：{result_import.file.original_name}")
    return job_enqueue(result_import_task, job=job, result_import_id=str(result_import.pk), user_id=actor.user_id)
