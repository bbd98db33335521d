"""Every read of collection and approval, always narrowed to the reader's scope (region and, for competent
departments, business line). List rows carry the running step's deadline and its status."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from yikatong.core import clock, workdays
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

from . import rules, workflow
from .models import Application, ApplicationEvent, NoticeEntry, Objection, PublicNotice, Status

DEADLINE_STATUS_LABELS = {
    "ok": "正常",
    "due_soon": "即将到期",
    "overdue": "已超期",
    "notice_running": "公示中",
    "notice_ended": "公示期满",
    "": "",
}


# -- applications ------------------------------------------------------------------------------------------
def _subtree(region_code: str) -> tuple[str, str]:
    try:
        return region_rules.subtree_range(region_rules.normalize_code(region_code))
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region_code") from exc


def applications_visible(scope: Scope) -> QuerySet[Application]:
    scope.require("application.view")
    return scope.filter(Application.objects.all(), region_field="region_id", business_line_field="business_line")


def applications_list(
    scope: Scope,
    *,
    status: str | list[str] | None = None,
    policy_code: str = "",
    period: str = "",
    region_code: str = "",
    channel: str = "",
    sampled: bool | None = None,
) -> QuerySet[Application]:
    """Applications in scope, newest first, filtered; region_code selects that region and everything below."""
    qs = applications_visible(scope).select_related("beneficiary", "policy", "region", "payee_account")
    if status:
        qs = qs.filter(status__in=[status] if isinstance(status, str) else list(status))
    if policy_code:
        qs = qs.filter(policy__code=policy_code.strip())
    if period:
        qs = qs.filter(period=rules.normalize_period(period))
    if region_code:
        lo, hi = _subtree(region_code)
        qs = qs.filter(region_id__gte=lo, region_id__lte=hi)
    if channel:
        qs = qs.filter(channel=channel)
    if sampled is not None:
        qs = qs.filter(sampled=sampled)
    return qs.order_by("-created_at", "-pk")


def application_get(scope: Scope, application_id) -> Application:
    app = (applications_visible(scope).select_related("beneficiary", "policy", "region", "payee_account", "collector")
           .filter(pk=application_id).first())
    if app is None:
        raise DomainError(f"申报 {application_id} 不存在或不在您的管辖范围内。", code="not_found")
    return app


def application_get_by_number(scope: Scope, number: str) -> Application:
    app = applications_visible(scope).filter(number=str(number or "").strip()).first()
    if app is None:
        raise DomainError(f"申报 {number} 不存在或不在您的管辖范围内。", code="not_found")
    return app


# The creation event of a roster row is implied, not stored (docs/roster-import.md): the application row
# itself records who imported it, when, and from which import and row.
ROSTER_CREATION_REASON = "新建申报（花名册导入）"


def roster_creation_event(app: Application) -> ApplicationEvent:
    """The first event of an application created by a roster import, as the import would have stored it
    (unsaved: pk None)."""
    return ApplicationEvent(application=app, from_status="", to_status=Status.COLLECTED, actor=app.created_by,
                            at=app.created_at, reason=ROSTER_CREATION_REASON, changes={})


def application_events(app: Application) -> list[ApplicationEvent]:
    """The history of an application, oldest first: the stored events, preceded for a roster row by its
    implied creation event (imports before this rule stored it: then it is not added twice)."""
    events = list(ApplicationEvent.objects.filter(application=app).order_by("at", "pk"))
    if app.roster_import_id is not None and not any(e.from_status == "" for e in events):
        events.insert(0, roster_creation_event(app))
    return events


def application_history(scope: Scope, application_id) -> list[ApplicationEvent]:
    app = application_get(scope, application_id)
    return application_events(app)


def applications_overdue(scope: Scope, today: dt.date | None = None) -> QuerySet[Application]:
    """Applications whose running step (initial verification, department approval) is past its deadline."""
    today = today or clock.today()
    return (applications_visible(scope).select_related("beneficiary", "policy", "region")
            .filter(status__in=workflow.DEADLINE_STATES, step_deadline__lt=today).order_by("step_deadline", "pk"))


def deadline_status(app: Application, *, today: dt.date | None = None, calendar=None) -> str:
    """'ok' | 'due_soon' | 'overdue' for a step with a deadline; 'notice_running' | 'notice_ended' in notice
    (a minimum duration, not a deadline); '' when no step runs."""
    step = workflow.STATE_STEPS.get(app.status)
    if not step or app.step_deadline is None:
        return ""
    today = today or clock.today()
    if step in workflow.MINIMUM_STEPS:
        return "notice_running" if today <= app.step_deadline else "notice_ended"
    calendar = calendar or workdays.calendar()
    return calendar.deadline_status(app.step_deadline, today)


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    number: str
    name: str
    id_masked: str
    region_code: str
    region_name: str
    policy_code: str
    policy_name: str
    period: str
    amount: Decimal
    quantity: Decimal | None
    channel: str
    status: str
    status_label: str
    sampled: bool
    deadline: dt.date | None
    deadline_status: str
    deadline_status_label: str
    days_overdue: int
    rejection_reason: str


def application_rows(applications, *, today: dt.date | None = None) -> list[ApplicationRow]:
    """List rows (use on one page of applications_list: select_related is already there)."""
    today = today or clock.today()
    cal = workdays.calendar()
    rows = []
    for app in applications:
        status = deadline_status(app, today=today, calendar=cal)
        rows.append(ApplicationRow(
            id=app.pk, number=app.number, name=app.beneficiary.name, id_masked=app.beneficiary.id_masked,
            region_code=app.region_id, region_name=app.region.name, policy_code=app.policy.code,
            policy_name=app.policy.name, period=app.period, amount=app.amount, quantity=app.quantity,
            channel=app.channel, status=app.status, status_label=app.get_status_display(), sampled=app.sampled,
            deadline=app.step_deadline if status else None, deadline_status=status,
            deadline_status_label=DEADLINE_STATUS_LABELS[status],
            days_overdue=cal.days_overdue(app.step_deadline, today) if status == "overdue" else 0,
            rejection_reason=app.rejection_reason,
        ))
    return rows


def status_counts(scope: Scope, **filters) -> dict[str, int]:
    from django.db.models import Count

    qs = applications_list(scope, **filters).order_by()
    counts = dict(qs.values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in Status.values}


# -- notices -----------------------------------------------------------------------------------------------
def notices_visible(scope: Scope) -> QuerySet[PublicNotice]:
    scope.require("application.view")
    return scope.filter(PublicNotice.objects.select_related("region", "policy", "previous"),
                        region_field="region_id", business_line_field="business_line")


def notices_list(scope: Scope, *, status: str = "", policy_code: str = "", period: str = "",
                 region_code: str = "") -> QuerySet[PublicNotice]:
    qs = notices_visible(scope)
    if status:
        qs = qs.filter(status=status)
    if policy_code:
        qs = qs.filter(policy__code=policy_code.strip())
    if period:
        qs = qs.filter(period=rules.normalize_period(period))
    if region_code:
        lo, hi = _subtree(region_code)
        qs = qs.filter(region_id__gte=lo, region_id__lte=hi)
    return qs.order_by("-created_at", "-pk")


def notice_get(scope: Scope, notice_id) -> PublicNotice:
    notice = notices_visible(scope).filter(pk=notice_id).first()
    if notice is None:
        raise DomainError(f"公示 {notice_id} 不存在或不在您的管辖范围内。", code="not_found")
    return notice


def notice_entries(notice: PublicNotice) -> QuerySet[NoticeEntry]:
    return NoticeEntry.objects.filter(notice=notice).order_by("seq")


def notice_objections(scope: Scope, notice_id) -> QuerySet[Objection]:
    notice = notice_get(scope, notice_id)
    return Objection.objects.filter(notice=notice).order_by("created_at", "pk")


def notices_ready_to_close(scope: Scope, today: dt.date | None = None) -> QuerySet[PublicNotice]:
    """Open notices whose minimum period has passed."""
    today = today or clock.today()
    return notices_visible(scope).filter(status=PublicNotice.Status.OPEN, ends_on__lt=today).order_by("ends_on")


# -- the public column (no login, masked data only) --------------------------------------------------------
def notice_public_get(number: str) -> PublicNotice | None:
    """A notice as the public may see it: only notices of policies whose notices are public."""
    return (PublicNotice.objects.select_related("region", "policy", "previous")
            .filter(number=str(number or "").strip(), is_public=True).first())


def notice_public_next(notice: PublicNotice) -> PublicNotice | None:
    return PublicNotice.objects.filter(previous=notice, is_public=True).first()


# -- subsidy register (乡镇补贴底册) -----------------------------------------------------------------------
def register_queryset(scope: Scope, *, township_code: str, policy_code: str, period: str) -> QuerySet[Application]:
    """The approved applications of a township (and its villages) for a policy and period, in register order
    (village, then application). An approved application's step_started_on is its approval date."""
    scope.require("register.export")
    try:
        township_code = region_rules.normalize_code(township_code)
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="township_code") from exc
    if region_rules.level_of(township_code) != region_rules.TOWNSHIP:
        raise DomainError(f"补贴底册按乡镇（街道）编制，{township_code} 不是乡镇（街道）级区划。", field="township_code")
    scope.require_region(township_code)
    lo, hi = region_rules.subtree_range(township_code)
    qs = scope.filter(Application.objects.all(), region_field="region_id", business_line_field="business_line")
    return (qs.filter(policy__code=str(policy_code or "").strip(), period=rules.normalize_period(period),
                      status=Status.APPROVED, region_id__gte=lo, region_id__lte=hi)
            .select_related("beneficiary", "region", "payee_account").order_by("region_id", "pk"))
