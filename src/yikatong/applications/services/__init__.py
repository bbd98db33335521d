"""Every write of collection and approval. Import the functions from here:

    from yikatong.applications.services import application_create, notice_publish, application_approve, …

The states, transitions, permissions and time-limit steps are declared in yikatong.applications.workflow.
"""

from ._common import ItemResult
from .applications import (
    application_correct,
    application_create,
    application_return,
    application_return_batch,
    application_verify,
    application_verify_batch,
    application_withdraw,
    application_withdraw_batch,
    check_policy_and_period,
)
from .approval import (
    application_approve,
    application_approve_batch,
    application_reject,
    application_reject_batch,
    approval_sample,
    findings_gate,
    register_findings_gate,
    unregister_findings_gate,
)
from .notices import (
    applications_submit,
    current_notice_id,
    notice_close,
    notice_publish,
    notice_republish,
    objection_record,
    objection_resolve,
)
from .register import RegisterExport, register_export_xlsx

__all__ = [
    "ItemResult",
    "RegisterExport",
    "application_approve",
    "application_approve_batch",
    "application_correct",
    "application_create",
    "application_reject",
    "application_reject_batch",
    "application_return",
    "application_return_batch",
    "application_verify",
    "application_verify_batch",
    "application_withdraw",
    "application_withdraw_batch",
    "applications_submit",
    "approval_sample",
    "check_policy_and_period",
    "current_notice_id",
    "findings_gate",
    "notice_close",
    "notice_publish",
    "notice_republish",
    "objection_record",
    "objection_resolve",
    "register_export_xlsx",
    "register_findings_gate",
    "unregister_findings_gate",
]
