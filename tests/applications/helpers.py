"""Helpers of the application tests: walk applications along the workflow through the services."""

from yikatong.applications.services import (
    application_create,
    application_verify,
    applications_submit,
    notice_close,
    notice_publish,
)

from .conftest import VILLAGE


def new_app(flow, person, *, actor=None, **kwargs):
    args = {"policy_code": "WZ-001", "period": "2026-03", "channel": "typed"}
    args.update(kwargs)
    return application_create(actor=actor or flow.scope("collector"), beneficiary_id=person.pk, **args)


def verified(flow, *people, **kwargs):
    apps = [new_app(flow, person, **kwargs) for person in people]
    for app in apps:
        application_verify(actor=flow.scope("collector"), application_id=app.pk, note="入户核实属实")
    return apps


def submitted(flow, *people, policy_code="WZ-001", period="2026-03", village=VILLAGE, close_on="2026-03-06",
              collector="collector", **kwargs):
    """Verified, published, closed after the minimum period and submitted; today is `close_on` afterwards."""
    apps = verified(flow, *people, policy_code=policy_code, period=period, **kwargs)
    actor = flow.scope(collector)
    notice = notice_publish(actor=actor, region_code=village, policy_code=policy_code, period=period)
    flow.set_today(close_on)
    notice_close(actor=actor, notice_id=notice.pk)
    applications_submit(actor=actor, notice_id=notice.pk)
    for app in apps:
        app.refresh_from_db()
    return apps
