"""Background tasks of collection (run by `yikatong db_worker`)."""

from django.urls import reverse

from yikatong.core.errors import DomainError
from yikatong.core.jobs import job_task


@job_task
def roster_import_task(reporter, *, roster_import_id: str) -> dict:
    """Run a roster import with a progress bar; the job fails with the message that refused the file."""
    from yikatong.applications.models import RosterImport
    from yikatong.applications.roster import roster_import_run

    ri = roster_import_run(roster_import_id=roster_import_id, progress=reporter)
    if ri.status != RosterImport.Status.DONE:
        raise DomainError(ri.message or "花名册导入失败。")
    result = {
        "总行数": ri.total_rows,
        "已接收": ri.accepted,
        "已拒绝": ri.rejected,
        "重复（此前已导入）": ri.duplicates,
        "_roster_import_id": str(ri.pk),
    }
    if ri.rejected_file_id:
        result["links"] = [{"label": "下载错误行文件（改正后可重新上传）",
                            "url": reverse("core:file-download", args=[ri.rejected_file_id])}]
    return result
