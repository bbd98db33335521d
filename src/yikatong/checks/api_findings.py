"""API of the cross-check findings, runs and rule settings (mounted at /api/findings/; staff session).

  GET  /api/findings/                         list (filters: rule, severity, status "open,confirmed", region,
                                              policy, period, run, application; limit/offset), masked identifiers
  GET  /api/findings/counts/rules             counts per rule (all 16), same filters
  GET  /api/findings/counts/townships         counts per township, same filters
  GET  /api/findings/{id}                     one finding with its evidence, source row, other record, history
  POST /api/findings/{id}/decide              {"action": "confirm|clear|accept|reject", "reason": "…"}
  POST /api/findings/decide                   {"ids": [..], "action": …, "reason": …} → per-item results
  GET  /api/findings/runs                     check runs (policy, period)
  GET  /api/findings/runs/{id}                one run with its result per rule
  POST /api/findings/runs                     {"policy_code", "period", "region_code"?} → 202 background job
  GET  /api/findings/rules/{policy_code}      effective setting of every rule for a policy
  PUT  /api/findings/rules/{policy_code}/{rule}   {"enabled"?, "severity"?, "params"?, "reason"}

Reads are scoped by the selectors, writes go through the same services as the pages; a refused scope or role
answers 403, any other refusal 400 with the Chinese message.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.masking import mask_name
from yikatong.core.scope import Scope

from . import selectors_findings as sel
from .engine import catalogue
from .models import Finding
from .services import findings as decisions
from .services.runs import check_run_start, rule_config_set

router = Router(tags=["交叉核查：比对疑点"])
MAX_LIMIT = 500
ACTIONS = ("confirm", "clear", "accept", "reject")


# -- schemas -------------------------------------------------------------------------------------------------
class FindingFilters(Schema):
    rule: str | None = None
    severity: str | None = None
    status: str | None = None
    region_code: str | None = None
    policy_code: str | None = None
    period: str | None = None
    run_id: int | None = None
    application_id: int | None = None


class FindingOut(Schema):
    id: int
    rule: str
    rule_label: str
    severity: str
    severity_label: str
    status: str
    status_label: str
    name: str
    id_masked: str
    policy_code: str
    period: str
    region_code: str
    application_id: int | None
    application_number: str
    ref_type: str
    ref_id: str
    evidence_text: str
    note: str
    decision: str
    decision_reason: str
    decided_by: str
    decided_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class FindingPage(Schema):
    count: int
    items: list[FindingOut]


class EventOut(Schema):
    action: str
    from_status: str
    to_status: str
    run_id: int | None
    actor: str
    at: dt.datetime
    reason: str


class FindingDetailOut(FindingOut):
    evidence: dict
    source: dict | None
    other: dict | None
    events: list[EventOut]
    can_decide: bool


class DecisionIn(Schema):
    action: str
    reason: str


class BulkDecisionIn(DecisionIn):
    ids: list[int]


class ResultOut(Schema):
    finding_id: int | str
    ok: bool
    message: str
    status: str


class RunOut(Schema):
    id: int
    kind: str
    policy_code: str | None
    period: str
    region_code: str | None
    label: str
    status: str
    subjects: int
    started_by: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    message: str


class RunRuleOut(Schema):
    rule: str
    label: str
    skipped: str
    severities: list[str]
    hits: int
    new: int
    reopened: int
    closed: int
    open_block: int
    open_review: int


class RunDetailOut(RunOut):
    rules: list[RunRuleOut]


class RunIn(Schema):
    policy_code: str
    period: str
    region_code: str | None = None


class JobOut(Schema):
    job_id: uuid.UUID
    status: str
    label: str


class RuleSettingOut(Schema):
    rule: str
    label: str
    description: str
    data: str
    default_severity: str
    means_tested_only: bool
    enabled: bool
    severity: str
    severity_label: str
    params: dict
    configured: bool


class RuleSettingIn(Schema):
    enabled: bool | None = None
    severity: str | None = None
    params: dict | None = None
    reason: str = ""


# -- helpers -----------------------------------------------------------------------------------------------------
def _scope(request: HttpRequest) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require("finding.view")
    return scope


def _out(f: Finding) -> dict:
    rule = catalogue.BY_CODE.get(f.rule)
    return {
        "id": f.pk, "rule": f.rule, "rule_label": rule.label if rule else f.rule, "severity": f.severity,
        "severity_label": catalogue.SEVERITY_LABELS.get(f.severity, f.severity), "status": f.status,
        "status_label": Finding.Status(f.status).label, "name": mask_name(f.beneficiary.name),
        "id_masked": f.beneficiary.id_masked, "policy_code": f.policy.code, "period": f.period,
        "region_code": f.region_id, "application_id": f.application_id,
        "application_number": f.application.number if f.application_id else "", "ref_type": f.ref_type,
        "ref_id": f.ref_id, "evidence_text": sel.evidence_text(f.rule, f.evidence, f.evidence_key), "note": f.note,
        "decision": f.decision, "decision_reason": f.decision_reason, "decided_by": f.decided_by,
        "decided_at": f.decided_at, "created_at": f.created_at, "updated_at": f.updated_at,
    }


def _not_found(exc: DomainError) -> HttpError:
    return HttpError(404, exc.message)


def _detail(scope: Scope, finding_id: int) -> dict:
    try:
        view = sel.finding_evidence(scope, finding_id)
    except ScopeError:
        raise
    except DomainError as exc:
        if exc.code == "not_found":
            raise _not_found(exc) from exc
        raise
    source = dict(view["source"]) if view["source"] else None
    if source and source.get("data_date"):
        source["data_date"] = source["data_date"].isoformat()
    return {**_out(view["finding"]), "evidence": view["evidence"], "source": source, "other": view["other"],
            "events": view["events"], "can_decide": view["can_decide"]}


def _action(value) -> str:
    action = str(value or "").strip().lower()
    if action not in ACTIONS:
        raise DomainError(f"处理结论“{value}”无效，可选：confirm（确认属实）、clear（排除）、accept（复核通过）、"
                          f"reject（复核不通过）。", field="action")
    return action


def _decide_one(scope: Scope, finding_id: int, action: str, reason: str) -> Finding:
    action = _action(action)
    if action == "confirm":
        return decisions.finding_confirm(actor=scope, finding_id=finding_id, reason=reason)
    if action == "clear":
        return decisions.finding_clear(actor=scope, finding_id=finding_id, reason=reason)
    return decisions.finding_decide_review(actor=scope, finding_id=finding_id, decision=action, reason=reason)


def _run_out(run) -> dict:
    return {"id": run.pk, "kind": run.kind, "policy_code": run.policy.code if run.policy_id else None,
            "period": run.period, "region_code": run.region_id, "label": run.label, "status": run.status,
            "subjects": run.subjects, "started_by": run.started_by, "started_at": run.started_at,
            "finished_at": run.finished_at, "message": run.message}


# -- findings ------------------------------------------------------------------------------------------------------
@router.get("/", response=FindingPage, summary="比对疑点列表（按规则、区划、项目、期间、严重程度、状态筛选）")
def list_findings(request: HttpRequest, filters: Query[FindingFilters], limit: int = 50, offset: int = 0):
    qs = sel.findings_list(_scope(request), **filters.dict())
    limit, offset = max(1, min(limit, MAX_LIMIT)), max(0, offset)
    return {"count": qs.count(), "items": [_out(f) for f in qs[offset:offset + limit]]}


@router.get("/counts/rules", response=list[dict], summary="按规则统计疑点")
def counts_by_rule(request: HttpRequest, filters: Query[FindingFilters]):
    return sel.finding_counts_by_rule(_scope(request), **filters.dict())


@router.get("/counts/townships", response=list[dict], summary="按乡镇（街道）统计疑点")
def counts_by_township(request: HttpRequest, filters: Query[FindingFilters]):
    return sel.finding_counts_by_township(_scope(request), **filters.dict())


@router.post("/decide", response=list[ResultOut], summary="批量处理疑点（每条单独办理）")
def decide_bulk(request: HttpRequest, payload: BulkDecisionIn):
    scope = _scope(request)
    scope.require_write("finding.decide")
    action = _action(payload.action)
    if action == "confirm":
        results = decisions.finding_confirm_batch(actor=scope, finding_ids=payload.ids, reason=payload.reason)
    elif action == "clear":
        results = decisions.finding_clear_batch(actor=scope, finding_ids=payload.ids, reason=payload.reason)
    else:
        results = decisions.finding_decide_review_batch(actor=scope, finding_ids=payload.ids, decision=action,
                                                        reason=payload.reason)
    return [r.as_dict() for r in results]


# -- runs --------------------------------------------------------------------------------------------------------------
@router.get("/runs", response=list[RunOut], summary="核查批次")
def list_runs(request: HttpRequest, policy_code: str | None = None, period: str | None = None, limit: int = 50):
    runs = sel.check_runs(_scope(request), policy_code=policy_code, period=period)
    return [_run_out(r) for r in runs[:max(1, min(limit, MAX_LIMIT))]]


@router.post("/runs", response={202: JobOut}, summary="开始核查（后台作业）")
def start_run(request: HttpRequest, payload: RunIn):
    job = check_run_start(actor=_scope(request), policy_code=payload.policy_code, period=payload.period,
                          region_code=payload.region_code or None)
    return Status(202, {"job_id": job.pk, "status": job.status, "label": job.label})


@router.get("/runs/{int:run_id}", response=RunDetailOut, summary="核查批次结果（各规则）")
def get_run(request: HttpRequest, run_id: int):
    try:
        run = sel.check_run_get(_scope(request), run_id)
    except ScopeError:
        raise
    except DomainError as exc:
        raise _not_found(exc) from exc
    return {**_run_out(run), "rules": sel.check_run_rows(run)}


# -- rule settings ---------------------------------------------------------------------------------------------------
@router.get("/rules/{policy_code}", response=list[RuleSettingOut], summary="补贴项目的核查规则设置")
def get_rules(request: HttpRequest, policy_code: str):
    return sel.rule_settings(_scope(request), policy_code)


@router.put("/rules/{policy_code}/{rule}", response=RuleSettingOut, summary="调整一条核查规则")
def set_rule(request: HttpRequest, policy_code: str, rule: str, payload: RuleSettingIn):
    scope = _scope(request)
    row = rule_config_set(actor=scope, policy_code=policy_code, rule=rule, enabled=payload.enabled,
                          severity=payload.severity, params=payload.params, reason=payload.reason)
    return next(s for s in sel.rule_settings(scope, policy_code) if s["rule"] == row.rule)


# -- one finding (after the fixed paths) -------------------------------------------------------------------------------
@router.get("/{int:finding_id}", response=FindingDetailOut, summary="疑点详情（证据、数据来源、处理记录）")
def get_finding(request: HttpRequest, finding_id: int):
    return _detail(_scope(request), finding_id)


@router.post("/{int:finding_id}/decide", response=FindingDetailOut, summary="处理疑点：确认属实、排除、复核通过或不通过")
def decide(request: HttpRequest, finding_id: int, payload: DecisionIn):
    scope = _scope(request)
    _detail(scope, finding_id)  # 404 when the finding is not visible
    finding = _decide_one(scope, finding_id, payload.action, payload.reason)
    return _detail(scope, finding.pk)
