"""Reads of the rule engine: findings (scoped), counts per rule and per township, evidence for the detail
page, rule settings, runs — and the two gates through which other modules ask about blocking findings:

    open_block_findings(application_ids) -> {application id: message}   (registered as the approval gate)
    payment_gate(ref_type, ids)          -> {item id (str): message}      (for the payments module)
"""

from decimal import Decimal

from django.db.models import CharField, Count, Q, QuerySet, Value
from django.db.models.functions import Concat, Substr

from yikatong.core.errors import DomainError
from yikatong.core.masking import mask_name
from yikatong.core.models import Region
from yikatong.core.scope import Scope
from yikatong.policies.models import Policy

from .engine import catalogue
from .engine.context import settings_by_policy
from .models import CheckRun, Finding, SourceImport

SOURCE_LABELS = {
    "household": "户籍", "death": "死亡/殡葬", "ssc_card": "社保卡", "public_staff": "财政供养人员",
    "vehicle": "车辆", "enterprise": "工商登记", "real_estate": "不动产", "cadre_relative": "村干部及近亲属",
    "credit_list": "信用名单", "payee_account": "收款账户",
}
CARD_STATUS_LABELS = {"activated": "已激活", "not_activated": "未激活", "lost": "挂失", "cancelled": "注销",
                      "unknown": "未核验"}
APPLICATION_STATUS_LABELS = {
    "collected": "已采集待核实", "verified": "已核实待公示", "in_notice": "公示中", "submitted": "已报送待审核",
    "approved": "审核通过", "rejected": "审核不通过", "returned": "退回修改", "withdrawn": "已撤回",
}
GATE_CHUNK = 900


# -- findings ------------------------------------------------------------------------------------------------
def findings_visible(scope: Scope) -> QuerySet:
    scope.require("finding.view")
    return scope.filter(Finding.objects.all(), region_field="region_id", business_line_field="business_line")


def findings_list(scope: Scope, *, rule: str | None = None, severity: str | None = None, status: str | None = None,
                  region_code: str | None = None, policy_code: str | None = None, period: str | None = None,
                  run_id: int | None = None, application_id: int | None = None,
                  beneficiary_id: int | None = None, ref_type: str | None = None,
                  ref_id: str | None = None) -> QuerySet:
    """Findings the scope may see, filtered; `status` may be a comma-separated list; `region_code` means the
    region and below; `run_id` the findings seen by that run. Newest first."""
    qs = findings_visible(scope)
    if rule:
        qs = qs.filter(rule=str(rule).upper())
    if severity:
        qs = qs.filter(severity=severity)
    if status:
        qs = qs.filter(status__in=[s.strip() for s in str(status).split(",") if s.strip()])
    if region_code:
        from yikatong.core import regions as region_rules

        try:
            lo, hi = region_rules.subtree_range(region_code)
        except region_rules.RegionCodeError as exc:
            raise DomainError(str(exc), field="region_code") from exc
        qs = qs.filter(region_id__gte=lo, region_id__lte=hi)
    if policy_code:
        qs = qs.filter(policy__code=policy_code)
    if period:
        qs = qs.filter(period=str(period).strip().upper())
    if run_id:
        qs = qs.filter(last_seen_run_id=run_id)
    if application_id:
        qs = qs.filter(application_id=application_id)
    if beneficiary_id:
        qs = qs.filter(beneficiary_id=beneficiary_id)
    if ref_type:
        qs = qs.filter(ref_type=ref_type)
    if ref_id:
        qs = qs.filter(ref_id=str(ref_id))
    return qs.select_related("beneficiary", "policy", "application", "region").order_by("-id")


def _count_columns() -> dict:
    return {
        "total": Count("id"),
        "open": Count("id", filter=Q(status="open")),
        "open_block": Count("id", filter=Q(status="open", severity="block")),
        "open_review": Count("id", filter=Q(status="open", severity="review")),
        "confirmed": Count("id", filter=Q(status="confirmed")),
        "cleared": Count("id", filter=Q(status="cleared")),
        "closed_auto": Count("id", filter=Q(status="closed_auto")),
    }


def finding_counts_by_rule(scope: Scope, **filters) -> list[dict]:
    """One row per rule of the catalogue (in catalogue order, rules without findings included):
    rule, label, total, open, open_block, open_review, confirmed, cleared, closed_auto."""
    qs = findings_list(scope, **filters).order_by()
    found = {row["rule"]: row for row in qs.values("rule").annotate(**_count_columns())}
    empty = dict.fromkeys(_count_columns(), 0)
    return [{"rule": rule.code, "label": rule.label, **empty, **{k: v for k, v in found.get(rule.code, {}).items()
                                                               if k != "rule"}}
            for rule in catalogue.RULES]


def finding_counts_by_township(scope: Scope, **filters) -> list[dict]:
    """One row per township (乡镇/街道) with findings: township code and name, and the counts."""
    qs = findings_list(scope, **filters).order_by()
    rows = list(qs.annotate(township=Concat(Substr("region_id", 1, 9), Value("000"), output_field=CharField()))
                .values("township").annotate(**_count_columns()).order_by("township"))
    names = dict(Region.objects.filter(code__in=[r["township"] for r in rows]).values_list("code", "name"))
    for row in rows:
        row["township_name"] = names.get(row["township"], row["township"])
    return rows


def finding_get(scope: Scope, finding_id) -> Finding:
    try:
        pk = int(finding_id)
    except (TypeError, ValueError):
        raise DomainError(f"疑点编号“{finding_id}”无效。", code="not_found") from None
    finding = findings_visible(scope).select_related("beneficiary", "policy", "application", "region").filter(
        pk=pk).first()
    if finding is None:
        raise DomainError(f"疑点 {finding_id} 不存在或不在您的管辖范围内。", code="not_found")
    return finding


def finding_events(scope: Scope, finding_id) -> list:
    return list(finding_get(scope, finding_id).events.all())


# -- evidence --------------------------------------------------------------------------------------------------
def _yuan(fen) -> str:
    if fen is None:
        return "—"
    return f"{(Decimal(int(fen)) / 100).quantize(Decimal('0.01'))}"


def _row(ev: dict) -> str:
    label = SOURCE_LABELS.get(ev.get("source", ""), ev.get("source", ""))
    number = ev.get("row_number")
    return f"{label}数据（第 {number} 行）" if number else f"{label}数据"


def _other(ev: dict) -> str:
    kind = "申报" if ev.get("other") == "application" else "发放记录"
    status = APPLICATION_STATUS_LABELS.get(ev.get("other_status"), ev.get("other_status") or "")
    return f"{kind} {ev.get('other_number') or ev.get('other_id')}（{ev.get('other_period')}，{status}）"


def evidence_text(rule: str, evidence: dict, evidence_key: str = "") -> str:
    """One readable Chinese line saying what the rule found (for lists, the CSV export and the detail page)."""
    ev = evidence or {}
    if rule == "R01":
        return ev.get("reason") or "证件号码无效"
    if rule == "R02":
        text = f"{_row(ev)}：死亡日期 {ev.get('death_date')}，补贴期间 {ev.get('period_first_day')} 至 {ev.get('period_last_day')}"
        return text + ("，期间内死亡，请复核" if evidence_key == "within" else "，补贴期间开始前已死亡")
    if rule == "R03":
        return f"同一补贴项目同期已有{_other(ev)}"
    if rule == "R04":
        if evidence_key == "name":
            return (f"{_row(ev)}：社保卡持卡人姓名 {ev.get('name')} 与补贴对象姓名 {ev.get('beneficiary_name')} 不一致"
                    f"（账号 {ev.get('account_masked')}）")
        return (f"{_row(ev)}：本人社保卡账号 {ev.get('account_masked')}（{ev.get('bank_name')}），"
                f"与收款账户 {ev.get('payee_account_masked') or '—'} 不一致")
    if rule == "R05":
        status = CARD_STATUS_LABELS.get(ev.get("card_status"), ev.get("card_status"))
        return f"{_row(ev)}：账号 {ev.get('account_masked')} 金融功能状态为“{status}”，须提醒本人激活或更换"
    if rule == "R06":
        extra = ""
        if ev.get("standard_type") == "per_unit":
            extra = f"（标准 {_yuan(ev.get('standard_fen'))} 元/{ev.get('unit') or '单位'} × {ev.get('quantity')}）"
        elif ev.get("standard_type") == "tiered":
            extra = f"（档次 {ev.get('tier') or '未填写'}）"
        if ev.get("max_fen") is None:
            return f"补贴金额 {_yuan(ev.get('amount_fen'))} 元无法按标准核定{extra}：请填写补贴数量或有效档次"
        return f"补贴金额 {_yuan(ev.get('amount_fen'))} 元高于标准上限 {_yuan(ev.get('max_fen'))} 元{extra}"
    if rule == "R07":
        return f"{_row(ev)}：财政供养人员，工作单位 {ev.get('employer')}"
    if rule == "R08":
        return f"{_row(ev)}：名下车辆 {ev.get('plate')}（{ev.get('vehicle_type')}，登记日期 {ev.get('registered_on') or '—'}）"
    if rule == "R09":
        return f"{_row(ev)}：{ev.get('enterprise_name')}（{ev.get('credit_code')}）{ev.get('capacity')}"
    if rule == "R10":
        return f"{_row(ev)}：名下不动产 {ev.get('property_count')} 处，超过限定的 {ev.get('max_properties')} 处"
    if rule == "R11":
        return f"同期享受互斥补贴项目 {ev.get('other_policy')}：{_other(ev)}"
    if rule == "R12":
        what = "收款账户" if ev.get("kind") == "account" else "手机号码"
        return f"{what}与其他户的 {ev.get('others')} 名补贴对象共用"
    if rule == "R13":
        if ev.get("is_cadre"):
            return f"{_row(ev)}：本人为村干部（该行所列 {ev.get('name')} 为其{ev.get('relation')}）"
        return f"{_row(ev)}：为村干部 {ev.get('cadre_name')} 的{ev.get('relation')}"
    if rule == "R14":
        lo, hi = ev.get("min_age"), ev.get("max_age")
        if lo is not None and hi is not None:
            limit = f"{lo}–{hi} 周岁"
        else:
            limit = f"{lo} 周岁及以上" if lo is not None else f"{hi} 周岁及以下"
        return f"出生日期 {ev.get('birth_date')}，{ev.get('reference_date')} 时 {ev.get('age')} 周岁，不符合年龄条件（{limit}）"
    if rule == "R15":
        if not ev.get("found"):
            return f"户籍数据中无此人（发放地区 {ev.get('paying_region')}）"
        return (f"{_row(ev)}：户籍地 {ev.get('region_code')}（户号 {ev.get('household_number')}），"
                f"不在发放地区 {ev.get('paying_region')}")
    if rule == "R16":
        level = "限制申领" if ev.get("entry_severity") == "block" else "提示复核"
        return f"信用名单（编号 {ev.get('entry_id')}，{level}）：{ev.get('reason')}"
    return ""


def finding_evidence(scope: Scope, finding_id) -> dict:
    """Everything the evidence view shows: the finding, its rule, the subject (masked), the source row
    (import and whether it is still the current one), the other record for platform rules, the history."""
    finding = finding_get(scope, finding_id)
    rule = catalogue.BY_CODE.get(finding.rule)
    ev = finding.evidence or {}
    source = None
    if ev.get("import_id"):
        imp = SourceImport.objects.filter(pk=ev["import_id"]).only("id", "source", "data_date", "status").first()
        source = {"code": ev.get("source"), "label": SOURCE_LABELS.get(ev.get("source"), ev.get("source")),
                  "import_id": ev.get("import_id"), "row_id": ev.get("row_id"), "row_number": ev.get("row_number"),
                  "data_date": imp.data_date if imp else None,
                  "current": bool(imp and imp.status == SourceImport.Status.ACTIVE)}
    other = None
    if ev.get("other_application_id"):
        from yikatong.applications.models import Application

        app = (scope.filter(Application.objects.select_related("policy"), business_line_field="business_line")
               .filter(pk=ev["other_application_id"]).first())
        other = {"kind": "application", "id": ev["other_application_id"], "number": ev.get("other_number"),
                 "policy": ev.get("other_policy"), "period": ev.get("other_period"), "visible": app is not None}
    if ev.get("other_beneficiary_id"):
        from yikatong.registry.models import Beneficiary

        ben = Beneficiary.objects.filter(pk=ev["other_beneficiary_id"]).only("name", "id_masked", "region_id").first()
        other = {"kind": "beneficiary", "id": ev["other_beneficiary_id"], "count": ev.get("others"),
                 "name": mask_name(ben.name) if ben else "", "id_masked": ben.id_masked if ben else "",
                 "visible": bool(ben and scope.covers_region(ben.region_id))}
    return {
        "finding": finding,
        "rule": rule,
        "rule_label": rule.label if rule else finding.rule,
        "severity_label": catalogue.SEVERITY_LABELS.get(finding.severity, finding.severity),
        "status_label": Finding.Status(finding.status).label,
        "text": evidence_text(finding.rule, ev, finding.evidence_key),
        "beneficiary": {"id": finding.beneficiary_id, "name": mask_name(finding.beneficiary.name),
                        "id_masked": finding.beneficiary.id_masked, "region": finding.region_id},
        "application": finding.application,
        "source": source,
        "other": other,
        "evidence": ev,
        "events": list(finding.events.all()),
        "can_decide": finding.status == Finding.Status.OPEN and scope.can("finding.decide") and not scope.read_only,
    }


# -- gates ---------------------------------------------------------------------------------------------------
def _messages(rows) -> dict:
    found: dict = {}
    for key, rule in rows:
        found.setdefault(key, set()).add(rule)
    result = {}
    for key, rules in found.items():
        names = "、".join(f"{code} {catalogue.BY_CODE[code].label}" for code in sorted(rules) if code in catalogue.BY_CODE)
        result[key] = f"{names}（请先在比对疑点中确认或排除）"
    return result


def open_block_findings(application_ids) -> dict[int, str]:
    """{application id: message} for applications with open blocking findings. Unscoped: the approval service
    has already checked the actor's scope. Registered as the approval gate from ChecksConfig.ready()."""
    ids = sorted({int(i) for i in application_ids})
    rows = []
    for start in range(0, len(ids), GATE_CHUNK):
        chunk = ids[start:start + GATE_CHUNK]
        rows += list(Finding.objects.filter(application_id__in=chunk, status=Finding.Status.OPEN,
                                            severity=catalogue.BLOCK).values_list("application_id", "rule"))
    return _messages(rows)


def open_findings_by_application(scope: Scope, application_ids) -> dict[int, list[dict]]:
    """{application id: [open findings]} for the approval screen, scoped to the reader (nothing without
    finding.view). Each finding: id, rule, label, severity, severity_label; blocking ones first."""
    if not scope.can("finding.view"):
        return {}
    ids = sorted({int(i) for i in application_ids})
    found: dict[int, list[dict]] = {}
    for start in range(0, len(ids), GATE_CHUNK):
        rows = (findings_visible(scope).filter(application_id__in=ids[start:start + GATE_CHUNK],
                                               status=Finding.Status.OPEN)
                .order_by("application_id", "rule", "id").values_list("application_id", "id", "rule", "severity"))
        for app_id, pk, rule, severity in rows:
            spec = catalogue.BY_CODE.get(rule)
            found.setdefault(app_id, []).append({
                "id": pk, "rule": rule, "label": spec.label if spec else rule, "severity": severity,
                "severity_label": catalogue.SEVERITY_LABELS.get(severity, severity)})
    for items in found.values():
        items.sort(key=lambda f: (f["severity"] != catalogue.BLOCK, f["rule"], f["id"]))
    return found


def payment_gate(ref_type: str, ids) -> dict[str, str]:
    """{item id (as text): message} for items (ref_type, e.g. "payment_item") with a blocking finding that is
    open or confirmed: those items must not be sent to the bank. Unscoped, like the approval gate."""
    keys = sorted({str(i) for i in ids})
    rows = []
    for start in range(0, len(keys), GATE_CHUNK):
        chunk = keys[start:start + GATE_CHUNK]
        rows += list(Finding.objects.filter(
            ref_type=ref_type, ref_id__in=chunk, severity=catalogue.BLOCK,
            status__in=[Finding.Status.OPEN, Finding.Status.CONFIRMED]).values_list("ref_id", "rule"))
    return _messages(rows)


# -- rule settings and runs -----------------------------------------------------------------------------------
def rule_settings(scope: Scope, policy_code: str) -> list[dict]:
    """The effective setting of every rule for a policy: code, label, description, data, default severity,
    enabled, severity, params, configured (a RuleConfig row exists), means_tested_only."""
    scope.require("finding.view")
    policy = Policy.objects.filter(code=policy_code).first()
    if policy is None:
        raise DomainError(f"补贴项目 {policy_code} 不存在。", code="not_found")
    settings = settings_by_policy([policy.pk]).get(policy.pk, {})
    rows = []
    for rule in catalogue.RULES:
        setting = settings[rule.code]
        rows.append({"rule": rule.code, "label": rule.label, "description": rule.description,
                     "data": rule.data_label, "default_severity": rule.severity,
                     "means_tested_only": rule.means_tested_only, "enabled": setting.enabled,
                     "severity": setting.severity,
                     "severity_label": catalogue.SEVERITY_LABELS[setting.severity], "params": setting.params,
                     "configured": setting.configured})
    return rows


def check_runs(scope: Scope, *, policy_code: str | None = None, period: str | None = None,
               ref_type: str | None = None, ref_id: str | None = None) -> QuerySet:
    scope.require("finding.view")
    qs = scope.filter(CheckRun.objects.select_related("policy", "region"), region_field="region_id",
                      business_line_field="business_line")
    if policy_code:
        qs = qs.filter(policy__code=policy_code)
    if period:
        qs = qs.filter(period=period)
    if ref_type:
        qs = qs.filter(ref_type=ref_type)
    if ref_id:
        qs = qs.filter(ref_id=str(ref_id))
    return qs.order_by("-started_at", "-id")


def check_run_get(scope: Scope, run_id) -> CheckRun:
    run = check_runs(scope).filter(pk=run_id).first() if str(run_id).isdigit() else None
    if run is None:
        raise DomainError(f"核查批次 {run_id} 不存在或不在您的管辖范围内。", code="not_found")
    return run


def check_run_rows(run: CheckRun) -> list[dict]:
    """The run's result per rule (catalogue order): code, label, severity(ies), counts, skipped reason."""
    rows = []
    for rule in catalogue.RULES:
        info = (run.rules or {}).get(rule.code, {})
        counts = (run.counts or {}).get(rule.code, {})
        rows.append({"rule": rule.code, "label": rule.label, "skipped": info.get("skipped", ""),
                     "severities": sorted({g["severity"] for g in info.get("groups", [])}),
                     **{k: counts.get(k, 0) for k in ("hits", "new", "reopened", "closed", "open_block",
                                                      "open_review")}})
    return rows
