"""Public notices (公示, at least 3 working days) per village, policy and period, objections, closing, the
corrected round after an upheld objection, and submission to the department [003 §17-18].

A notice freezes the masked list at publication (NoticeEntry) and its digest: SHA-256 of the canonical JSON
of number, policy, period, region, round and entries — the same number and digest are printed on the paper
version with a QR code of the online copy, so anyone can check the board against the site.
"""

import datetime as dt
import io

from django.db import IntegrityError, transaction
from django.db.models import Sum

from yikatong.core import audit, clock, workdays
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.masking import mask_payee_name
from yikatong.core.models import Region
from yikatong.core.money import to_money
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_store
from yikatong.policies.models import Policy
from yikatong.registry.models import BeneficiaryKind

from .. import rules, workflow
from ..models import Application, NoticeEntry, Objection, PublicNotice, Status
from ..notice_pdf import notice_public_url, render_notice_pdf
from ._common import move, need_text, require_in_scope

NoticeStatus = PublicNotice.Status


# -- helpers -----------------------------------------------------------------------------------------------
def _village(region_code) -> Region:
    try:
        code = region_rules.normalize_code(region_code)
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region_code") from exc
    region = Region.objects.filter(pk=code).first()
    if region is None:
        raise DomainError(f"行政区划 {code} 不存在。", field="region_code")
    if region.level != region_rules.VILLAGE:
        raise DomainError(f"公示按村（社区）发布，{region.name}（{code}）不是村（社区）级区划。", field="region_code")
    return region


def _policy(policy_code) -> Policy:
    code = str(policy_code or "").strip()
    policy = Policy.objects.filter(code=code).first()
    if policy is None:
        raise DomainError(f"补贴项目 {code or '（空）'} 不存在。", field="policy_code")
    return policy


def _start_day(starts_on) -> dt.date:
    today = clock.today()
    if starts_on in (None, ""):
        return today
    if isinstance(starts_on, str):
        try:
            starts_on = dt.date.fromisoformat(starts_on.strip())
        except ValueError:
            raise DomainError(f"公示开始日期“{starts_on}”格式不正确，应为 YYYY-MM-DD。", field="starts_on") from None
    if isinstance(starts_on, dt.datetime):
        starts_on = starts_on.date()
    if starts_on < today:
        raise DomainError(f"公示开始日期 {starts_on} 早于今天（{today}），不能补登过去的公示。", field="starts_on")
    return starts_on


def _lock_notice(actor: Scope, notice_id) -> PublicNotice:
    notice = PublicNotice.objects.select_for_update().filter(pk=notice_id).first()
    if notice is None:
        raise DomainError(f"公示 {notice_id} 不存在。", code="not_found")
    actor.require_object(region_code=notice.region_id, business_line=notice.business_line)
    return notice


def current_notice_id(app: Application) -> int | None:
    """The notice an application in notice belongs to (its latest round that is not superseded)."""
    return (NoticeEntry.objects.filter(application=app).exclude(notice__status=NoticeStatus.SUPERSEDED)
            .order_by("-notice_id").values_list("notice_id", flat=True).first())


def _entry_rows(apps: list[Application]) -> list[tuple]:
    rows = []
    for seq, app in enumerate(apps, start=1):
        person = app.beneficiary
        rows.append((seq, mask_payee_name(person.name, person.kind == BeneficiaryKind.ORGANIZATION),
                     person.id_masked, app.quantity, app.amount))
    return rows


def _notice_snapshot(notice: PublicNotice) -> dict:
    return {
        "number": notice.number, "status": notice.status, "round": notice.round, "region": notice.region_id,
        "policy": notice.policy.code, "period": notice.period, "starts_on": notice.starts_on.isoformat(),
        "ends_on": notice.ends_on.isoformat(), "entry_count": notice.entry_count,
        "total_amount": str(notice.total_amount), "digest": notice.digest, "is_public": notice.is_public,
        "previous": notice.previous.number if notice.previous_id else None,
    }


def _create_notice(actor: Scope, *, region: Region, policy: Policy, period: str, round_no: int,
                   previous: PublicNotice | None, apps: list[Application], starts_on: dt.date,
                   action: str) -> PublicNotice:
    """Freeze the masked entries, compute the digest, move the applications into notice, make the PDF."""
    number = rules.notice_number(region.code, policy.code, period, round_no)
    ends_on = workdays.deadline_for(workflow.PUBLIC_NOTICE, starts_on)
    rows = _entry_rows(apps)
    digest = rules.notice_digest(number=number, policy_code=policy.code, period=period, region_code=region.code,
                                 round_no=round_no, entries=rows)
    total = sum((app.amount for app in apps), start=to_money(0))
    notice = PublicNotice(
        number=number, region=region, policy=policy, period=period, business_line=policy.business_line,
        round=round_no, previous=previous, status=NoticeStatus.OPEN, starts_on=starts_on, ends_on=ends_on,
        entry_count=len(rows), total_amount=total, digest=digest, is_public=policy.notice_public,
        created_by=actor.username,
    )
    try:
        with transaction.atomic():
            notice.save(force_insert=True)
    except IntegrityError:
        raise DomainError(f"公示编号 {number} 已存在（可能已由他人同时发布），请刷新后查看。") from None
    NoticeEntry.objects.bulk_create([
        NoticeEntry(notice=notice, application=app, seq=seq, name_masked=name, id_masked=id_masked,
                    quantity=quantity, amount=amount)
        for app, (seq, name, id_masked, quantity, amount) in zip(apps, rows, strict=True)
    ])
    for app in apps:
        require_in_scope(actor, app)
        transition = workflow.require_transition(actor, action, app.status, what=f"申报 {app.number} ")
        move(actor, app, transition, reason=f"公示 {number}（{starts_on} 至 {ends_on}）", started_on=starts_on,
             deadline=ends_on)
    # The DB computes the total again; the frozen list and the notice must agree to the fen.
    check = NoticeEntry.objects.filter(notice=notice).aggregate(total=Sum("amount"))["total"] or 0
    if to_money(check) != total:
        raise DomainError("公示合计金额校验不一致，请重试。")
    pdf = render_notice_pdf(
        number=number, region_name=region.full_name or region.name, policy_name=policy.name,
        policy_code=policy.code, period=period, round_no=round_no, starts_on=starts_on, ends_on=ends_on,
        entries=rows, total_amount=total, digest=digest, url=notice_public_url(number),
        unit_name=policy.unit_name, previous_number=previous.number if previous else "",
    )
    notice.pdf = file_store(actor=actor, fileobj=io.BytesIO(pdf), original_name=f"{number}.pdf",
                            purpose="notice_pdf", region_code=region.code, content_type="application/pdf")
    notice.save(update_fields=["pdf"])
    audit.record(actor=actor, action=f"notice.{action}", obj=notice, after=_notice_snapshot(notice))
    return notice


# -- publish -----------------------------------------------------------------------------------------------
@transaction.atomic
def notice_publish(*, actor: Scope, region_code: str, policy_code: str, period: str,
                   starts_on: dt.date | str | None = None) -> PublicNotice:
    """Publish the notice of every verified application of a village, policy and period (starting today or
    on `starts_on`, ending after the configured minimum of working days). When an earlier notice of the same
    village/policy/period has ended, this is its next round (previous = that notice)."""
    actor.require_write("notice.manage")
    region = _village(region_code)
    actor.require_region(region.code)
    policy = _policy(policy_code)
    actor.require_business_line(policy.business_line)
    period = rules.check_period_for_cycle(period, policy.cycle, policy_code=policy.code)
    starts_on = _start_day(starts_on)
    latest = (PublicNotice.objects.select_for_update().filter(region=region, policy=policy, period=period)
              .order_by("-round").first())
    if latest is not None and latest.status == NoticeStatus.OPEN:
        raise DomainError(
            f"公示 {latest.number} 正在公示中（至 {latest.ends_on}）：请在其结束后再公示新核实的申报；"
            "公示内容需更正的，请使用“更正后重新公示”。"
        )
    apps = list(Application.objects.select_for_update().select_related("beneficiary")
                .filter(region=region, policy=policy, period=period, status=Status.VERIFIED).order_by("pk"))
    if not apps:
        raise DomainError(f"{region.name} {period} 期间补贴项目 {policy.code} 没有已核实待公示的申报。")
    return _create_notice(actor, region=region, policy=policy, period=period,
                          round_no=latest.round + 1 if latest else 1, previous=latest, apps=apps,
                          starts_on=starts_on, action="publish")


@transaction.atomic
def notice_republish(*, actor: Scope, notice_id, starts_on: dt.date | str | None = None) -> PublicNotice:
    """After a correction (an upheld objection, a return or withdrawal during the notice) publish the next
    round: the applications of the old notice still in notice plus the verified ones of the same village,
    policy and period (the corrected ones). The old notice is superseded; the new one links to it."""
    actor.require_write("notice.manage")
    old = _lock_notice(actor, notice_id)
    workflow.notice_next(old.status, "republish", what=f"公示 {old.number} ")
    successor = PublicNotice.objects.filter(previous=old).first()
    if successor is not None:
        raise DomainError(f"公示 {old.number} 已有后续轮次 {successor.number}，请在最新一轮上操作。")
    open_objections = old.objections.filter(status=Objection.Status.OPEN).count()
    if open_objections:
        raise DomainError(f"仍有 {open_objections} 条异议未处理，请先调查处理后再重新公示。")
    starts_on = _start_day(starts_on)
    entry_apps = list(Application.objects.select_for_update().filter(notice_entries__notice=old).order_by("pk"))
    pending = [app for app in entry_apps if app.status in (Status.COLLECTED, Status.RETURNED)]
    if pending:
        listed = "、".join(f"{app.number}（{app.get_status_display()}）" for app in pending)
        raise DomainError(f"申报 {listed}仍在更正中：请更正并入户核实后再重新公示，或撤回该申报。")
    changed = [app for app in entry_apps if app.status in (Status.VERIFIED, Status.REJECTED, Status.WITHDRAWN)]
    verified = list(Application.objects.select_for_update().filter(
        region_id=old.region_id, policy_id=old.policy_id, period=old.period, status=Status.VERIFIED))
    if not changed and not verified:
        raise DomainError(f"公示 {old.number} 的内容没有更正，无需重新公示。")
    keep = {app.pk for app in entry_apps if app.status == Status.IN_NOTICE}
    keep |= {app.pk for app in verified}
    apps = list(Application.objects.select_related("beneficiary").filter(pk__in=keep).order_by("pk"))
    if not apps:
        raise DomainError(f"公示 {old.number} 更正后没有需要公示的申报（均已撤回或不予补贴），请直接结束该公示。")
    before = _notice_snapshot(old)
    old.status = NoticeStatus.SUPERSEDED
    old.save(update_fields=["status"])
    audit.record(actor=actor, action="notice.supersede", obj=old, before=before, after=_notice_snapshot(old))
    return _create_notice(actor, region=old.region, policy=old.policy, period=old.period,
                          round_no=old.round + 1, previous=old, apps=apps, starts_on=starts_on, action="republish")


# -- objections --------------------------------------------------------------------------------------------
@transaction.atomic
def objection_record(*, actor: Scope, notice_id, application_id=None, filed_by: str = "", contact: str = "",
                     content: str) -> Objection:
    """Record an objection raised during the notice (against one entry, or the notice as a whole).
    `filed_by` may be empty for an anonymous objection."""
    actor.require_write("objection.record")
    notice = _lock_notice(actor, notice_id)
    if notice.status != NoticeStatus.OPEN:
        raise DomainError(f"公示 {notice.number} 已{notice.get_status_display()}，不能再登记异议；"
                          "如有问题请通过投诉举报渠道反映。")
    content = need_text(content, "请填写异议内容。", field="content")
    app = None
    if application_id not in (None, ""):
        app = Application.objects.filter(pk=application_id, notice_entries__notice=notice).first()
        if app is None:
            raise DomainError(f"申报 {application_id} 不在公示 {notice.number} 的名单中。", field="application_id")
    objection = Objection.objects.create(
        notice=notice, application=app, filed_by=str(filed_by or "").strip()[:50],
        contact=str(contact or "").strip()[:50], content=content, recorded_by=actor.username,
    )
    audit.record(actor=actor, action="objection.record", obj=objection, region_code=notice.region_id,
                 after={"notice": notice.number, "application": app.number if app else None,
                        "anonymous": not objection.filed_by})
    return objection


@transaction.atomic
def objection_resolve(*, actor: Scope, objection_id, upheld: bool, finding: str, reject: bool = False) -> Objection:
    """Record the finding of the investigation. An upheld objection against an application in this notice
    returns it to the collector for correction (after which the notice is repeated: notice_republish), or
    rejects it when the finding is that the person is not eligible (`reject=True`; the finding is the reason
    the applicant sees)."""
    actor.require_write("objection.record")
    objection = Objection.objects.select_for_update().filter(pk=objection_id).first()
    if objection is None:
        raise DomainError(f"异议 {objection_id} 不存在。", code="not_found")
    notice = _lock_notice(actor, objection.notice_id)
    finding = need_text(finding, "请填写调查结论。", field="finding")
    if reject and not upheld:
        raise DomainError("异议不成立时不能作出不予补贴的决定。", field="reject")
    new_status = workflow.objection_next(objection.status, "uphold" if upheld else "dismiss")
    moved_to = None
    if upheld and objection.application_id:
        app = Application.objects.select_for_update().get(pk=objection.application_id)
        if app.status == Status.IN_NOTICE and current_notice_id(app) == notice.pk:
            require_in_scope(actor, app)
            action = "objection_reject" if reject else "objection_return"
            transition = workflow.require_transition(actor, action, app.status, what=f"申报 {app.number} ")
            if reject:
                app.rejection_reason = finding
            move(actor, app, transition, reason=f"公示异议成立：{finding}",
                 extra_fields=["rejection_reason"] if reject else [])
            moved_to = app.status
    objection.status = new_status
    objection.finding = finding
    objection.investigated_by = actor.username
    objection.resolved_at = clock.now()
    objection.save(update_fields=["status", "finding", "investigated_by", "resolved_at"])
    audit.record(actor=actor, action="objection.resolve", obj=objection, region_code=notice.region_id,
                 after={"notice": notice.number, "status": new_status, "application_status": moved_to},
                 reason=finding)
    return objection


# -- close and submit --------------------------------------------------------------------------------------
@transaction.atomic
def notice_close(*, actor: Scope, notice_id) -> PublicNotice:
    """End a notice once its minimum period has passed (today after ends_on) and every objection is
    resolved."""
    actor.require_write("notice.manage")
    notice = _lock_notice(actor, notice_id)
    new_status = workflow.notice_next(notice.status, "close", what=f"公示 {notice.number} ")
    today = clock.today()
    if today <= notice.ends_on:
        raise DomainError(
            f"公示期未满：公示 {notice.number} 至 {notice.ends_on}（不少于规定的工作日），"
            f"{workdays.next_working_day(notice.ends_on)} 起方可结束公示。"
        )
    open_objections = notice.objections.filter(status=Objection.Status.OPEN).count()
    if open_objections:
        raise DomainError(f"仍有 {open_objections} 条异议未处理，请调查处理后再结束公示。")
    before = _notice_snapshot(notice)
    notice.status = new_status
    notice.save(update_fields=["status"])
    audit.record(actor=actor, action="notice.close", obj=notice, before=before, after=_notice_snapshot(notice))
    return notice


@transaction.atomic
def applications_submit(*, actor: Scope, notice_id) -> list[Application]:
    """Submit to the competent department every application of a closed notice that is still in notice
    (the ones without an upheld objection); the department's 10-working-day approval starts today."""
    actor.require_write("application.collect")
    notice = _lock_notice(actor, notice_id)
    if notice.status != NoticeStatus.CLOSED:
        raise DomainError(f"公示 {notice.number} 当前状态为“{notice.get_status_display()}”：请在公示期满并结束公示后再报送。")
    apps = list(Application.objects.select_for_update()
                .filter(notice_entries__notice=notice, status=Status.IN_NOTICE).order_by("pk"))
    if not apps:
        raise DomainError(f"公示 {notice.number} 没有待报送的申报（可能已报送）。")
    for app in apps:
        require_in_scope(actor, app)
        transition = workflow.require_transition(actor, "submit", app.status, what=f"申报 {app.number} ")
        move(actor, app, transition, reason=f"公示 {notice.number} 期满无异议，报送主管部门")
    audit.record(actor=actor, action="notice.submit", obj=notice,
                 after={"number": notice.number, "submitted": [app.number for app in apps]})
    return apps
