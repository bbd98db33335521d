"""Check runs and rule configuration.

`check_run_applications` checks the applications of a policy and period (in a region and below);
`check_run_items` checks any set of records given as a queryset (the payments module passes the items of a
batch); both return the finished CheckRun (status, counts per rule). `rule_config_set` sets a rule for a
policy. Every call is audited.
"""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from yikatong.applications.models import Application, Status
from yikatong.applications.rules import normalize_period, parse_period
from yikatong.core import audit, clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.jobs import job_create, job_enqueue, job_task, no_progress
from yikatong.core.models import JobProgress, User
from yikatong.core.scope import Scope
from yikatong.core.selectors.regions import existing_code
from yikatong.policies.models import Policy

from ..engine import catalogue, runner, subjects, writer
from ..models import CheckRun, Finding, FindingEvent, RuleConfig

# Applications that are checked: every state in which the application may still lead to a payment.
SUBJECT_STATUSES = (Status.COLLECTED, Status.VERIFIED, Status.IN_NOTICE, Status.SUBMITTED, Status.RETURNED,
                    Status.APPROVED)
CLOSED_APPLICATION_NOTE = "申报已不通过或已撤回，疑点自动关闭"


def _policy(code) -> Policy:
    policy = Policy.objects.filter(code=str(code or "").strip()).first()
    if policy is None:
        raise DomainError(f"补贴项目 {code} 不存在，请核对补贴项目编码。", field="policy_code")
    return policy


def _region(code) -> str:
    return existing_code(code, field="region_code")


def run_summary(run: CheckRun) -> dict:
    """What the audit trail and the job page keep of a run (no personal data)."""
    return {
        "run": run.pk, "kind": run.kind, "policy": run.policy.code if run.policy_id else "",
        "period": run.period, "region": run.region_id or "", "ref_type": run.ref_type, "ref_id": run.ref_id,
        "status": run.status, "subjects": run.subjects,
        "counts": {rule: {k: v for k, v in c.items() if v} for rule, c in (run.counts or {}).items()},
    }


def check_run_applications(*, actor: Scope, policy_code: str, period: str, region_code: str | None = None,
                           progress=None, job: JobProgress | None = None) -> CheckRun:
    """Run every enabled rule on the applications of `policy_code` and `period` in `region_code` and below
    (default: the actor's region; for the platform itself the policy's region), in every state that may still
    lead to a payment (collected … approved). Findings of applications rejected or withdrawn meanwhile are
    closed. Permission check.run (department of the policy's line, finance) in the actor's region."""
    actor.require_write("check.run")
    policy = _policy(policy_code)
    period = normalize_period(period)
    parse_period(period)
    region_code = _region(region_code or actor.region_code or policy.region_id)
    actor.require_object(region_code=region_code, business_line=policy.business_line)
    lo, hi = region_rules.subtree_range(region_code)
    applications = Application.objects.filter(policy=policy, period=period, region_id__gte=lo, region_id__lte=hi)
    run = CheckRun.objects.create(
        kind=CheckRun.Kind.APPLICATIONS, policy=policy, period=period, region_id=region_code,
        business_line=policy.business_line, label=f"{policy.code} {period} {region_code}",
        started_by=actor.username, job=job,
    )
    source = subjects.subject_input(
        applications.filter(status__in=SUBJECT_STATUSES), quantity="quantity", tier="tier",
        payee_account_id="payee_account_id", application_id="pk",
    )
    _close_for_closed_applications(run, applications.filter(status__in=[Status.REJECTED, Status.WITHDRAWN]))
    reach = writer.Reach(period=period, region_lo=lo, region_hi=hi)
    runner.execute(run, lambda r: subjects.fill(r, source, item_type="application", as_reference=False),
                   reach=reach, progress=progress or no_progress)
    with transaction.atomic():
        audit.record(actor=actor, action="check.run", obj=run, after=run_summary(run))
    return run


def _close_for_closed_applications(run: CheckRun, closed: QuerySet) -> None:
    findings = Finding.objects.filter(status=Finding.Status.OPEN, application__in=closed.values("pk"))
    with transaction.atomic():
        ids = list(findings.select_for_update().values_list("pk", flat=True))
        if not ids:
            return
        now = timezone.now()
        Finding.objects.filter(pk__in=ids).update(status=Finding.Status.CLOSED_AUTO, note=CLOSED_APPLICATION_NOTE,
                                                  updated_at=now)
        FindingEvent.objects.bulk_create([
            FindingEvent(finding_id=pk, action="closed_auto", from_status="open", to_status="closed_auto", run=run,
                         actor=run.started_by, at=now, reason=CLOSED_APPLICATION_NOTE) for pk in ids
        ])


def check_run_items(*, actor: Scope, item_type: str, items: QuerySet, columns: dict | None = None,
                    ref_type: str = "", ref_id: str = "", label: str = "", policy_code: str | None = None,
                    period: str = "", region_code: str | None = None, progress=None,
                    job: JobProgress | None = None) -> CheckRun:
    """Run every enabled rule on arbitrary records — the payment items of a batch. `items` is a queryset of
    them; `columns` maps the engine's generic columns (engine.subjects.SUBJECT_COLUMNS) to their fields,
    e.g. {"account_digest": "account_digest", "application_id": "application_id"}. Findings carry
    ref_type = item_type and ref_id = the item's id; `ref_type`/`ref_id` name the batch on the run.
    Use `payment_gate(item_type, ids)` (checks.selectors_findings) to learn which items must not be paid."""
    actor.require_write("check.run")
    item_type = str(item_type or "").strip()
    if not item_type or ":" in item_type or len(item_type) > 30 or item_type == "application":
        raise DomainError("明细类型无效：应为不含冒号的英文名称，如 payment_item。", field="item_type")
    policy = _policy(policy_code) if policy_code else None
    region = _region(region_code) if region_code else (actor.region_code or None)
    if region:
        actor.require_region(region)
    if policy is not None:
        actor.require_business_line(policy.business_line)
    run = CheckRun.objects.create(
        kind=CheckRun.Kind.ITEMS, policy=policy, period=normalize_period(period), region_id=region,
        business_line=policy.business_line if policy else "", ref_type=str(ref_type or "")[:30],
        ref_id=str(ref_id or "")[:40], item_type=item_type, label=label[:200], started_by=actor.username, job=job,
    )
    source = subjects.subject_input(items, **(columns or {}))
    runner.execute(run, lambda r: subjects.fill(r, source, item_type=item_type, as_reference=True),
                   reach=writer.Reach(item_type=item_type), progress=progress or no_progress)
    with transaction.atomic():
        audit.record(actor=actor, action="check.run", obj=run, after=run_summary(run))
    return run


# -- background runs (the UI starts them and follows the job) ---------------------------------------------
@job_task
def check_run_task(reporter, *, user_id: int | None, policy_code: str, period: str, region_code: str | None):
    actor = Scope.for_user(User.objects.get(pk=user_id)) if user_id else Scope.system(reason="task:check-run")
    job_id = getattr(reporter, "job_id", None)
    job = JobProgress.objects.filter(pk=job_id).first() if job_id else None
    run = check_run_applications(actor=actor, policy_code=policy_code, period=period, region_code=region_code,
                                 progress=reporter, job=job)
    result = {"核查批次": run.pk, "核查对象": run.subjects}
    for code, counts in run.counts.items():
        if counts.get("hits") or counts.get("closed"):
            rule = catalogue.BY_CODE[code]
            result[f"{code} {rule.label}"] = f"命中 {counts['hits']}（新增 {counts['new']}，自动关闭 {counts['closed']}）"
    return result


def check_run_start(*, actor: Scope, policy_code: str, period: str, region_code: str | None = None) -> JobProgress:
    """Queue check_run_applications as a background job (same checks as the direct call, before queueing)."""
    actor.require_write("check.run")
    policy = _policy(policy_code)
    period = normalize_period(period)
    parse_period(period)
    region = _region(region_code or actor.region_code or policy.region_id)
    actor.require_object(region_code=region, business_line=policy.business_line)
    job = job_create(actor=actor, kind="check.run", label=f"交叉比对核查：{policy.code} {period}", region_code=region)
    return job_enqueue(check_run_task, job=job, user_id=actor.user_id, policy_code=policy.code, period=period,
                       region_code=region)


# -- rule configuration ------------------------------------------------------------------------------------
def _setting_dict(setting: catalogue.Setting) -> dict:
    return {"enabled": setting.enabled, "severity": setting.severity, "params": setting.params,
            "configured": setting.configured}


@transaction.atomic
def rule_config_set(*, actor: Scope, policy_code: str, rule: str, enabled: bool | None = None,
                    severity: str | None = None, params: dict | None = None, reason: str = "") -> RuleConfig:
    """Set one rule for one policy: enabled or not, severity (block/review), parameters (R10 max_properties,
    R14 min_age/max_age, R15 level). Arguments left None keep the current effective value. Permission
    check.configure: the department of the policy's business line whose region covers the policy's region."""
    actor.require_write("check.configure")
    policy = _policy(policy_code)
    actor.require_object(region_code=policy.region_id, business_line=policy.business_line)
    spec = catalogue.rule_of(rule)
    Policy.objects.select_for_update().filter(pk=policy.pk).first()
    row = RuleConfig.objects.select_for_update().filter(policy=policy, rule=spec.code).first()
    before = catalogue.effective(spec, means_tested=policy.means_tested, min_age=policy.min_age,
                                 max_age=policy.max_age, row=row)
    new_enabled = before.enabled if enabled is None else bool(enabled)
    new_severity = before.severity if severity is None else catalogue.clean_severity(severity)
    new_params = (row.params if row else {}) if params is None else catalogue.clean_params(spec.code, params)
    if row is None:
        row = RuleConfig(policy=policy, rule=spec.code)
    row.enabled, row.severity, row.params = new_enabled, new_severity, new_params
    row.updated_by, row.updated_at = actor.username, timezone.now()
    row.save()
    after = catalogue.effective(spec, means_tested=policy.means_tested, min_age=policy.min_age,
                                max_age=policy.max_age, row=row)
    audit.record(actor=actor, action="check_rule.configure", object_type="checks.ruleconfig",
                 object_id=f"{policy.code}:{spec.code}", region_code=policy.region_id,
                 before=_setting_dict(before), after=_setting_dict(after), reason=str(reason or "").strip())
    return row


def today_label() -> str:
    return clock.today().isoformat()
