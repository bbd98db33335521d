"""Decisions on findings: confirm (the problem is real), clear (it is not), decide a review finding
(accept / reject), one by one or in bulk; and the CSV export of open findings.

Confirming a finding on an application rejects the application through the applications service, with a
reason the applicant and the collector see; the application's other open findings close. Every decision
needs a reason, is kept in the finding's history and written to the audit chain. Permission
"finding.decide": the competent department of the policy's business line whose region covers the finding
(finance and supervisors read only).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from yikatong.applications.models import Application, Status
from yikatong.applications.services import application_reject
from yikatong.core import audit, crypto
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.core.tabular import write_csv

from ..engine import catalogue
from ..models import Finding, FindingEvent
from ..selectors_findings import APPLICATION_STATUS_LABELS, evidence_text, findings_list

EXPORT_HEADERS = ("规则编码", "姓名", "身份证号", "补贴项目编码", "补贴期间", "严重程度", "证据")
EXPORT_CHUNK = 2000
SIBLINGS_CLOSED_NOTE = "申报已因疑点确认审核不通过，其他疑点自动关闭"


@dataclass(frozen=True)
class FindingResult:
    """The outcome of one item of a bulk decision."""

    finding_id: int | str
    ok: bool
    message: str = ""
    status: str = ""

    def as_dict(self) -> dict:
        return {"finding_id": self.finding_id, "ok": self.ok, "message": self.message, "status": self.status}


def snapshot(finding: Finding) -> dict:
    return {"rule": finding.rule, "severity": finding.severity, "status": finding.status,
            "application_id": finding.application_id, "ref_type": finding.ref_type, "ref_id": finding.ref_id,
            "beneficiary_id": finding.beneficiary_id, "policy_id": finding.policy_id, "period": finding.period,
            "decision": finding.decision}


def _lock(finding_id) -> Finding:
    try:
        pk = int(finding_id)
    except (TypeError, ValueError):
        raise DomainError(f"疑点编号“{finding_id}”无效。", code="not_found") from None
    finding = Finding.objects.select_for_update().filter(pk=pk).first()
    if finding is None:
        raise DomainError(f"疑点 {finding_id} 不存在。", code="not_found")
    return finding


def _start(actor: Scope, finding_id, reason) -> tuple[Finding, str]:
    actor.require_write("finding.decide")
    finding = _lock(finding_id)
    actor.require_object(region_code=finding.region_id, business_line=finding.business_line)
    if finding.status != Finding.Status.OPEN:
        label = Finding.Status(finding.status).label
        raise DomainError(f"疑点 {finding.pk}（{finding.rule}）当前状态为“{label}”，只能处理待处理的疑点。",
                          code="not_open")
    reason = str(reason or "").strip()
    if not reason:
        raise DomainError("请填写处理理由（将记入疑点处理记录和审计日志）。", field="reason")
    return finding, reason


def _decide(actor: Scope, finding: Finding, *, status: str, decision: str, reason: str) -> Finding:
    before = snapshot(finding)
    from_status = finding.status
    finding.status, finding.decision, finding.decision_reason = status, decision, reason
    finding.decided_by, finding.decided_at = actor.username, timezone.now()
    finding.updated_at = finding.decided_at
    finding.save(update_fields=["status", "decision", "decision_reason", "decided_by", "decided_at", "updated_at"])
    FindingEvent.objects.create(finding=finding, action=decision, from_status=from_status, to_status=status,
                                actor=actor.username, at=finding.decided_at, reason=reason)
    audit.record(actor=actor, action=f"finding.{decision}", obj=finding, before=before, after=snapshot(finding),
                 reason=reason)
    return finding


def _reject_application(actor: Scope, finding: Finding, reason: str) -> None:
    """Reject the finding's application (when it is waiting for the department's approval) with a reason the
    applicant sees; close its other open findings."""
    app = Application.objects.select_for_update().get(pk=finding.application_id)
    rule = catalogue.BY_CODE[finding.rule]
    if app.status == Status.SUBMITTED:
        application_reject(actor=actor, application_id=app.pk,
                           reason=f"交叉比对核实属实（{rule.code} {rule.label}）：{reason}")
    elif app.status != Status.REJECTED:
        label = APPLICATION_STATUS_LABELS.get(app.status, app.status)
        raise DomainError(
            f"申报 {app.number} 当前状态为“{label}”，只有已报送待审核的申报才能确认疑点并作审核不通过处理；"
            f"报送前请通知采集主体更正或撤回申报。", code="application_state")
    siblings = Finding.objects.select_for_update().filter(application_id=app.pk, status=Finding.Status.OPEN).exclude(
        pk=finding.pk)
    now = timezone.now()
    for sibling in siblings:
        sibling.status, sibling.note, sibling.updated_at = Finding.Status.CLOSED_AUTO, SIBLINGS_CLOSED_NOTE, now
        sibling.save(update_fields=["status", "note", "updated_at"])
        FindingEvent.objects.create(finding=sibling, action="closed_auto", from_status="open",
                                    to_status="closed_auto", actor=actor.username, at=now, reason=SIBLINGS_CLOSED_NOTE)


def _confirm(actor: Scope, finding: Finding, reason: str, decision: str) -> Finding:
    if finding.application_id:
        _reject_application(actor, finding, reason)
    return _decide(actor, finding, status=Finding.Status.CONFIRMED, decision=decision, reason=reason)


@transaction.atomic
def finding_confirm(*, actor: Scope, finding_id, reason: str) -> Finding:
    """The finding is real. On an application waiting for approval: the application is rejected with the
    reason (sent back to the applicant and the collector). On a payment item: the item stays blocked
    (payment_gate)."""
    finding, reason = _start(actor, finding_id, reason)
    return _confirm(actor, finding, reason, Finding.Decision.CONFIRM)


@transaction.atomic
def finding_clear(*, actor: Scope, finding_id, reason: str) -> Finding:
    """The finding does not hold (e.g. the source is out of date); the reason says why. A cleared finding
    stays cleared when later runs hit the same evidence again."""
    finding, reason = _start(actor, finding_id, reason)
    return _decide(actor, finding, status=Finding.Status.CLEARED, decision=Finding.Decision.CLEAR, reason=reason)


@transaction.atomic
def finding_decide_review(*, actor: Scope, finding_id, decision: str, reason: str) -> Finding:
    """Decide a review finding: "accept" (the subject may proceed; the finding is cleared) or "reject" (as
    finding_confirm: the application is rejected)."""
    finding, reason = _start(actor, finding_id, reason)
    if finding.severity != catalogue.REVIEW:
        raise DomainError(f"疑点 {finding.pk} 为阻断类，请使用“确认属实”或“排除”处理。", code="not_review")
    decision = str(decision or "").strip().lower()
    if decision == "accept":
        return _decide(actor, finding, status=Finding.Status.CLEARED, decision=Finding.Decision.ACCEPT,
                       reason=reason)
    if decision == "reject":
        return _confirm(actor, finding, reason, Finding.Decision.REJECT)
    raise DomainError(f"复核结论“{decision}”无效，可选：accept（复核通过）、reject（复核不通过）。", field="decision")


# -- bulk ------------------------------------------------------------------------------------------------------
def _batch(finding_ids, one: Callable[..., Finding], **kwargs) -> list[FindingResult]:
    """Apply `one` to each distinct id in its own transaction; a refusal is reported for that item only."""
    results = []
    for raw in dict.fromkeys(finding_ids or []):
        try:
            with transaction.atomic():
                finding = one(finding_id=raw, **kwargs)
        except DomainError as exc:
            results.append(FindingResult(raw, False, exc.message))
            continue
        results.append(FindingResult(finding.pk, True, "", finding.status))
    return results


def _need_reason(reason) -> None:
    if not str(reason or "").strip():
        raise DomainError("请填写处理理由（将记入疑点处理记录和审计日志）。", field="reason")


def finding_confirm_batch(*, actor: Scope, finding_ids, reason: str) -> list[FindingResult]:
    _need_reason(reason)
    return _batch(finding_ids, finding_confirm, actor=actor, reason=reason)


def finding_clear_batch(*, actor: Scope, finding_ids, reason: str) -> list[FindingResult]:
    _need_reason(reason)
    return _batch(finding_ids, finding_clear, actor=actor, reason=reason)


def finding_decide_review_batch(*, actor: Scope, finding_ids, decision: str, reason: str) -> list[FindingResult]:
    _need_reason(reason)
    return _batch(finding_ids, finding_decide_review, actor=actor, decision=decision, reason=reason)


# -- export ----------------------------------------------------------------------------------------------------
def _export_rows(findings):
    """CSV rows of the findings, decrypting ID numbers one chunk at a time (constant memory)."""
    last_id = 0
    base = findings.order_by("id").select_related("beneficiary", "policy")
    while True:
        chunk = list(base.filter(id__gt=last_id)[:EXPORT_CHUNK])
        if not chunk:
            return
        for f in chunk:
            yield [f.rule, f.beneficiary.name, crypto.decrypt_text(f.beneficiary.id_number_enc), f.policy.code,
                   f.period, catalogue.SEVERITY_LABELS[f.severity], evidence_text(f.rule, f.evidence, f.evidence_key)]
        last_id = chunk[-1].pk


def findings_export_csv(*, actor: Scope, fileobj, policy_code: str, period: str, region_code: str | None = None,
                        bom: bool = False) -> int:
    """Write every OPEN finding of a policy and period (in a region and below) as CSV with the headers
    规则编码,姓名,身份证号,补贴项目编码,补贴期间,严重程度,证据 — the ID number in full (decrypted in chunks),
    严重程度 阻断 or 复核. Needs finding.view and pii.view_full; the export is an audit event. Returns the row
    count."""
    actor.require("finding.view")
    actor.require("pii.view_full")
    findings = findings_list(actor, status=Finding.Status.OPEN, policy_code=policy_code, period=period,
                             region_code=region_code)
    count = write_csv(_export_rows(findings), EXPORT_HEADERS, fileobj, bom=bom, escape_formulas=True)
    with transaction.atomic():
        audit.record(actor=actor, action="finding.export", object_type="checks.finding",
                     object_id=f"{policy_code}|{period}|{region_code or ''}", region_code=region_code or "",
                     after={"policy": policy_code, "period": period, "region": region_code or "", "rows": count,
                            "status": "open", "fields": list(EXPORT_HEADERS)})
    return count
