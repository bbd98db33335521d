"""Background work of the shared-data sources (run by `yikatong db_worker`)."""

from django.urls import reverse

from yikatong.core.errors import DomainError
from yikatong.core.jobs import job_create, job_enqueue, job_task
from yikatong.core.models import JobProgress
from yikatong.core.scope import Scope

from .models import SourceImport
from .sources import source_import_run
from .sources.spec import SPECS


@job_task
def source_import_task(reporter, *, source_import_id: str) -> dict:
    """Run one source import; the job fails with the import's reason when the import fails."""
    imp = source_import_run(source_import_id=source_import_id, progress=reporter)
    if imp.status == SourceImport.Status.FAILED:
        raise DomainError(imp.message)
    result = {
        "数据源": SPECS[imp.source].label,
        "数据日期": imp.data_date.isoformat() if imp.data_date else "",
        "总行数": imp.total_rows,
        "导入行数": imp.accepted,
        "拒绝行数": imp.rejected,
        "links": [{"label": "查看导入结果", "url": reverse("sources:import-detail", args=[imp.pk])}],
    }
    counts = getattr(imp, "card_refresh", None)
    if counts:
        result["社保卡状态变化的收款账户"] = counts["updated"]
    return result


def source_import_enqueue(*, actor: Scope, source_import: SourceImport) -> JobProgress:
    """Queue the run of an import started with source_import_start; returns the job to follow."""
    label = f"导入共享数据：{SPECS[source_import.source].label}"
    job = job_create(actor=actor, kind="source.import", label=label)
    SourceImport.objects.filter(pk=source_import.pk).update(job=job)
    source_import.job = job
    return job_enqueue(source_import_task, job=job, source_import_id=str(source_import.pk))
