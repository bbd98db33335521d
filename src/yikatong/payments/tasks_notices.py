"""Background work of the notices: after a bank result import, queue the credit SMS (set-based), open the
publication records of the batches it completed, and send the queued messages through the configured sender.
Runs in the task worker so a million credited items never hold up the import's request."""

import logging

from django_tasks import task

log = logging.getLogger("yikatong.payments")


@task()
def after_result_import_task(result_import_id: str) -> dict:
    from .services import notices

    queued = notices.sms_queue_for_import_now(result_import_id)
    sent = notices.sms_dispatch(limit=max(queued, 1) + 1000)
    return {"queued": queued, **sent}
