"""Background tasks of the core app (run by `yikatong db_worker`)."""

from yikatong.core.audit import verify_chain
from yikatong.core.errors import DomainError
from yikatong.core.jobs import job_create, job_enqueue, job_task
from yikatong.core.models import AuditEvent, JobProgress


@job_task
def verify_audit_chain(reporter) -> dict:
    """Recompute the whole audit chain; the job fails with the first problem found."""
    total = AuditEvent.objects.count()
    reporter.set_total(total)
    problem = verify_chain(progress=lambda checked: reporter(checked, total))
    reporter(total, total)
    if problem is not None:
        raise DomainError(f"审计链校验未通过：{problem.detail}")
    return {"已校验事件数": total, "结论": "审计链完整，未发现篡改、删除或插入"}


def audit_verification_start(*, actor) -> JobProgress:
    """Start verifying the audit chain in the background; returns the job to follow."""
    actor.require("audit.view")
    job = job_create(actor=actor, kind="audit.verify", label="校验审计链")
    return job_enqueue(verify_audit_chain, job=job)
