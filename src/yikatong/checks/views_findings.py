"""Pages of the cross-check findings (比对疑点). Thin: reads through selectors_findings (scoped to the reader),
writes through services.findings; a refusal of scope or role is a 403 page, any other refusal is shown as
a message next to the form.

  /findings/                 the inbox: filters, counts per rule and per township (each count links to the list
                             it counts), a paginated list with masked identifiers, bulk decisions
  /findings/export.csv       every open finding of a policy and period (full ID numbers; audited by the service)
  /findings/bulk/            POST: one decision on the checked findings; per-item results shown once on the inbox
  /findings/<id>/            evidence, history, decision form
  /findings/<id>/decide/     POST: one decision
Runs and rule settings: views_checkruns.py.
"""

from __future__ import annotations

import tempfile

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from yikatong.core import regions as region_rules
from yikatong.core.clock import now as clock_now
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.masking import mask_name
from yikatong.core.models import Region
from yikatong.core.scope import Scope

from . import selectors_findings as sel
from .engine import catalogue
from .models import Finding
from .services import findings as decisions

PAGE_SIZE = 50
CHOICES_LIMIT = 3000
BULK_SESSION_KEY = "findings_bulk_results"
STATUS_CHOICES = [("open", "待处理"), ("confirmed", "已确认"), ("cleared", "已排除"), ("closed_auto", "已自动关闭"),
                  ("decided", "已处理（确认或排除）"), ("all", "全部状态")]
STATUS_VALUES = {"open": "open", "confirmed": "confirmed", "cleared": "cleared", "closed_auto": "closed_auto",
                 "decided": "confirmed,cleared", "all": None}
RULE_CHOICES = [("", "全部规则"), *[(r.code, f"{r.code} {r.label}") for r in catalogue.RULES]]
SEVERITY_CHOICES = [("", "全部"), (catalogue.BLOCK, "阻断"), (catalogue.REVIEW, "复核")]
# action -> (label, needs a review finding)
ACTIONS = {
    "confirm": ("确认属实", False),
    "clear": ("排除", False),
    "accept": ("复核通过", True),
    "reject": ("复核不通过", True),
}
# the columns of the count tables: key, header, the list filters the count stands for
COUNT_COLUMNS = [
    ("open_block", "阻断待处理", {"status": "open", "severity": catalogue.BLOCK}),
    ("open_review", "复核待处理", {"status": "open", "severity": catalogue.REVIEW}),
    ("confirmed", "已确认", {"status": "confirmed", "severity": ""}),
    ("cleared", "已排除", {"status": "cleared", "severity": ""}),
    ("closed_auto", "已自动关闭", {"status": "closed_auto", "severity": ""}),
    ("total", "合计", {"status": "all", "severity": ""}),
]


def scope_for(request, permission: str = "finding.view") -> Scope:
    scope = Scope.for_user(request.user)
    scope.require(permission)
    return scope


def can_decide(scope: Scope) -> bool:
    return scope.can("finding.decide") and not scope.read_only


def policy_choices(scope: Scope) -> list[tuple[str, str]]:
    from yikatong.policies.selectors import policies_visible

    if not scope.can("policy.view"):
        return []
    return [(p.code, f"{p.name}（{p.code}）")
            for p in policies_visible(scope).select_related(None).only("code", "name")[:CHOICES_LIMIT]]


def region_choices(scope: Scope) -> list[tuple[str, str]]:
    """The reader's region and the regions below it down to townships."""
    qs = scope.filter(Region.objects.filter(active=True, level__lte=region_rules.TOWNSHIP), region_field="code")
    return [(r.code, f"{'　' * max(0, r.level - 1)}{r.name}（{r.code}）")
            for r in qs.order_by("code").only("code", "name", "level")[:CHOICES_LIMIT]]


def safe_next(request, value: str, default: str) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return default


# -- forms ------------------------------------------------------------------------------------------------
class FindingFilterForm(forms.Form):
    policy = forms.ChoiceField(label="补贴项目", required=False)
    period = forms.CharField(label="补贴期间", required=False, max_length=7,
                             widget=forms.TextInput(attrs={"placeholder": "如 2026-03", "size": 9}))
    region = forms.ChoiceField(label="区划", required=False)
    rule = forms.ChoiceField(label="规则", required=False, choices=RULE_CHOICES)
    severity = forms.ChoiceField(label="严重程度", required=False, choices=SEVERITY_CHOICES)
    status = forms.ChoiceField(label="状态", required=False, choices=STATUS_CHOICES)
    run = forms.IntegerField(label="核查批次", required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, data, *, policies, regions, scope: Scope):
        super().__init__(data)
        self.fields["policy"].choices = [("", "全部项目"), *policies]
        regions = [("", "全部辖区"), *regions]
        # a region in scope beyond the listed ones (lists are capped) is still a valid filter
        code = str((data or {}).get("region") or "").strip()
        if code and code not in dict(regions) and scope.covers_region(code):
            name = Region.objects.filter(code=code).values_list("name", flat=True).first()
            if name:
                regions.append((code, f"{name}（{code}）"))
        self.fields["region"].choices = regions

    def value(self, name: str) -> str:
        """The submitted value if it is valid, else empty (an invalid filter is shown, not applied)."""
        if not self.is_bound:
            return ""
        self.is_valid()
        value = self.cleaned_data.get(name)
        return "" if value is None else str(value)

    def selector_args(self) -> dict:
        status = self.value("status") or "open"
        return {"policy_code": self.value("policy") or None, "period": self.value("period").strip() or None,
                "region_code": self.value("region") or None, "rule": self.value("rule") or None,
                "severity": self.value("severity") or None, "status": STATUS_VALUES[status],
                "run_id": int(self.value("run")) if self.value("run") else None}


class DecisionForm(forms.Form):
    action = forms.ChoiceField(label="处理结论", choices=[(k, v[0]) for k, v in ACTIONS.items()])
    reason = forms.CharField(label="处理理由", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="必填，将记入疑点处理记录和审计日志；确认属实或复核不通过时作为审核不通过的原因告知申请人。")


class BulkForm(DecisionForm):
    ids = forms.TypedMultipleChoiceField(coerce=int, required=True, error_messages={
        "required": "请先勾选要处理的疑点。"})
    next = forms.CharField(required=False)

    def __init__(self, data):
        super().__init__(data)
        # any integer id: the service checks each one (existence, scope, state)
        self.fields["ids"].choices = [(v, v) for v in data.getlist("ids") if str(v).isdigit()]
        self.fields["ids"].error_messages["invalid_choice"] = "疑点编号无效。"


# -- the inbox --------------------------------------------------------------------------------------------
def _query(base: dict, **changes) -> str:
    """A list URL: the current filters with some changed (empty value = filter removed), first page."""
    values = {**base, **changes}
    return "?" + urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _count_rows(rows: list[dict], base: dict, key_field: str, filter_name: str) -> list[dict]:
    out = []
    for row in rows:
        cells = []
        for key, _header, filters in COUNT_COLUMNS:
            value = row.get(key, 0)
            url = _query(base, **filters, **{filter_name: row[key_field]}) if value else ""
            cells.append({"key": key, "value": value, "url": url})
        out.append({**row, "cells": cells})
    return out


def finding_row(f: Finding) -> dict:
    rule = catalogue.BY_CODE.get(f.rule)
    return {
        "id": f.pk, "rule": f.rule, "label": rule.label if rule else f.rule, "severity": f.severity,
        "severity_label": catalogue.SEVERITY_LABELS.get(f.severity, f.severity), "status": f.status,
        "status_label": Finding.Status(f.status).label, "name": mask_name(f.beneficiary.name),
        "id_masked": f.beneficiary.id_masked, "policy_code": f.policy.code, "policy_name": f.policy.name,
        "period": f.period, "region_name": f.region.name if f.region_id else "", "application": f.application,
        "ref_type": f.ref_type, "ref_id": f.ref_id, "text": sel.evidence_text(f.rule, f.evidence, f.evidence_key),
        "decision_reason": f.decision_reason, "note": f.note, "updated_at": f.updated_at,
    }


def _inbox_context(request, scope: Scope) -> dict:
    filters = FindingFilterForm(request.GET or None, policies=policy_choices(scope), regions=region_choices(scope),
                                scope=scope)
    args = filters.selector_args()
    current = {name: filters.value(name) for name in filters.fields}
    current["status"] = current["status"] or "open"
    counts_base = {k: args[k] for k in ("policy_code", "period", "region_code", "run_id")}
    try:
        if filters.is_bound and not filters.is_valid():
            raise DomainError("筛选条件有误，请按提示修改后重新查询。")
        qs = sel.findings_list(scope, **args)
        by_rule = sel.finding_counts_by_rule(scope, **counts_base)
        by_township = sel.finding_counts_by_township(scope, **counts_base, rule=args["rule"])
    except ScopeError:
        raise
    except DomainError as exc:
        if not filters.errors:
            filters.add_error(exc.field if exc.field in filters.fields else None, exc.message)
        qs, by_rule, by_township = Finding.objects.none(), [], []
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    filter_query = request.GET.copy()
    filter_query.pop("page", None)
    actions = [(k, v[0]) for k, v in ACTIONS.items()] if can_decide(scope) else []
    return {
        "title": "比对疑点",
        "filters": filters,
        "page": page,
        "rows": [finding_row(f) for f in page.object_list],
        "filter_query": filter_query.urlencode(),
        "count_columns": [(key, header) for key, header, _ in COUNT_COLUMNS],
        "by_rule": _count_rows([r for r in by_rule if r["total"]], current, "rule", "rule"),
        "by_township": _count_rows(by_township, current, "township", "region"),
        "rules_without_findings": sum(1 for r in by_rule if not r["total"]),
        "actions": actions,
        "bulk_results": request.session.pop(BULK_SESSION_KEY, None),
        "can_export": scope.can("pii.view_full"),
        "export_ready": bool(args["policy_code"] and args["period"]),
        "export_query": urlencode({k: v for k, v in (("policy", current["policy"]), ("period", current["period"]),
                                                     ("region", current["region"])) if v}),
        "next_url": request.get_full_path(),
        "run_id": args["run_id"],
        "run_clear_url": _query(current, run=""),
    }


@login_required
def inbox(request):
    scope = scope_for(request)
    return render(request, "checks/findings_inbox.html", _inbox_context(request, scope))


@login_required
def export_csv(request):
    """Every OPEN finding of a policy and period (and region) with full ID numbers, through the service that
    checks pii.view_full and writes the audit event; the file is built in a temporary file (constant memory)."""
    scope = scope_for(request)
    scope.require("pii.view_full")
    policy, period = request.GET.get("policy", "").strip(), request.GET.get("period", "").strip().upper()
    region = request.GET.get("region", "").strip() or None
    back = reverse("findings:inbox") + "?" + request.GET.urlencode()
    if not policy or not period:
        messages.error(request, "导出前请先选择补贴项目并填写补贴期间。")
        return redirect(back)
    buffer = tempfile.TemporaryFile()
    try:
        decisions.findings_export_csv(actor=scope, fileobj=buffer, policy_code=policy, period=period,
                                      region_code=region, bom=True)
    except ScopeError:
        buffer.close()
        raise
    except DomainError as exc:
        buffer.close()
        messages.error(request, exc.message)
        return redirect(back)
    buffer.seek(0)
    name = f"比对疑点_{policy}_{period}{'_' + region if region else ''}_{clock_now():%Y%m%d%H%M}.csv"
    response = FileResponse(buffer, as_attachment=True, filename=name, content_type="text/csv; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


# -- bulk decisions ---------------------------------------------------------------------------------------------
def _run_decision(scope: Scope, action: str, *, ids=None, finding_id=None, reason: str):
    """One decision (finding_id) or a bulk one (ids) through the one service for that action."""
    if ids is not None:
        if action == "confirm":
            return decisions.finding_confirm_batch(actor=scope, finding_ids=ids, reason=reason)
        if action == "clear":
            return decisions.finding_clear_batch(actor=scope, finding_ids=ids, reason=reason)
        return decisions.finding_decide_review_batch(actor=scope, finding_ids=ids, decision=action, reason=reason)
    if action == "confirm":
        return decisions.finding_confirm(actor=scope, finding_id=finding_id, reason=reason)
    if action == "clear":
        return decisions.finding_clear(actor=scope, finding_id=finding_id, reason=reason)
    return decisions.finding_decide_review(actor=scope, finding_id=finding_id, decision=action, reason=reason)


@login_required
@require_POST
def bulk_decide(request):
    scope = scope_for(request)
    scope.require_write("finding.decide")
    form = BulkForm(request.POST)
    next_url = safe_next(request, request.POST.get("next", ""), reverse("findings:inbox"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(next_url)
    action, reason, ids = form.cleaned_data["action"], form.cleaned_data["reason"], form.cleaned_data["ids"]
    try:
        results = _run_decision(scope, action, ids=ids, reason=reason)
    except ScopeError:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(next_url)
    visible = {f.pk: f for f in sel.findings_visible(scope).filter(pk__in=ids).select_related("beneficiary")}
    items = []
    for r in results:
        f = visible.get(r.finding_id) if isinstance(r.finding_id, int) else None
        items.append({**r.as_dict(), "rule": f.rule if f else "", "name": mask_name(f.beneficiary.name) if f else "",
                      "status_label": Finding.Status(r.status).label if r.status else "", "visible": f is not None})
    done = sum(1 for r in results if r.ok)
    label = ACTIONS[action][0]
    request.session[BULK_SESSION_KEY] = {"action": label, "items": items, "done": done,
                                         "refused": len(results) - done}
    if done == len(results):
        messages.success(request, f"{label}：{done} 条疑点全部处理成功。")
    else:
        messages.warning(request, f"{label}：成功 {done} 条，未处理 {len(results) - done} 条，原因见下方结果。")
    return redirect(next_url)


# -- one finding ---------------------------------------------------------------------------------------------
def _evidence_or_404(scope: Scope, pk) -> dict:
    try:
        return sel.finding_evidence(scope, pk)
    except ScopeError:
        raise
    except DomainError as exc:
        raise Http404(exc.message) from exc


EVIDENCE_LABELS = {
    "source": "数据源", "import_id": "导入批次", "row_id": "数据行编号", "row_number": "文件行号", "name": "姓名",
    "death_date": "死亡日期", "period_first_day": "期间首日", "period_last_day": "期间末日", "account_masked": "账号",
    "payee_account_masked": "收款账号", "bank_name": "开户银行", "card_status": "金融功能状态",
    "beneficiary_name": "补贴对象姓名", "employer": "工作单位", "plate": "号牌", "vehicle_type": "车辆类型",
    "registered_on": "登记日期", "enterprise_name": "企业名称", "credit_code": "统一社会信用代码",
    "capacity": "身份", "property_count": "不动产数量", "max_properties": "限定数量", "relation": "关系",
    "cadre_name": "村干部姓名", "region_code": "户籍地", "household_number": "户号", "paying_region": "发放地区",
    "birth_date": "出生日期", "reference_date": "计算日期", "age": "年龄", "min_age": "最低年龄",
    "max_age": "最高年龄", "amount_fen": "金额（分）", "max_fen": "标准上限（分）", "standard_fen": "标准（分）",
    "quantity": "数量", "tier": "档次", "unit": "单位", "reason": "原因", "id_masked": "证件号码",
    "other_number": "对方编号", "other_period": "对方期间", "other_status": "对方状态", "other_policy": "对方项目",
    "others": "共用人数", "kind": "类型", "entry_id": "名单编号", "entry_severity": "名单限制类型",
}


def _evidence_fields(ev: dict) -> list[tuple[str, str]]:
    return [(EVIDENCE_LABELS.get(key, key), "—" if value in (None, "") else str(value))
            for key, value in ev.items() if not key.endswith("_digest")]


def _detail_context(scope: Scope, view: dict, form: DecisionForm | None = None) -> dict:
    finding = view["finding"]
    if view["can_decide"]:
        review = finding.severity == catalogue.REVIEW
        choices = [(k, v[0]) for k, v in ACTIONS.items() if v[1] == review]
        form = form or DecisionForm()
        form.fields["action"].choices = choices
    else:
        form = None
    app = view["application"]
    return {
        "title": f"比对疑点 {finding.pk}",
        **view,
        "form": form,
        "evidence_fields": _evidence_fields(view["evidence"]),
        "application_visible": bool(app) and scope.can("application.view")
        and scope.covers_region(app.region_id),
        "source_link": bool(view["source"]) and scope.can("source.view"),
        "events": [{"event": e, "action_label": EVENT_LABELS.get(e.action, e.action),
                    "to_label": STATUS_LABELS.get(e.to_status, e.to_status)} for e in view["events"]],
    }


EVENT_LABELS = {"opened": "发现", "reopened": "重新打开", "closed_auto": "自动关闭", "confirm": "确认属实",
                "clear": "排除", "accept": "复核通过", "reject": "复核不通过"}
STATUS_LABELS = dict(Finding.Status.choices)


@login_required
def detail(request, pk: int):
    scope = scope_for(request)
    view = _evidence_or_404(scope, pk)
    return render(request, "checks/findings_detail.html", _detail_context(scope, view))


@login_required
@require_POST
def decide(request, pk: int):
    scope = scope_for(request)
    scope.require_write("finding.decide")
    view = _evidence_or_404(scope, pk)
    form = DecisionForm(request.POST)
    status = 400
    if form.is_valid():
        action = form.cleaned_data["action"]
        try:
            finding = _run_decision(scope, action, finding_id=pk, reason=form.cleaned_data["reason"])
        except ScopeError:
            raise
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"疑点 {finding.pk}（{finding.rule}）已{ACTIONS[action][0]}。")
            return redirect("findings:detail", pk=finding.pk)
    view = _evidence_or_404(scope, pk)  # fresh: the service may have refused after a change by someone else
    if not view["can_decide"]:
        messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs) or "该疑点不能处理。")
    return render(request, "checks/findings_detail.html", _detail_context(scope, view, form), status=status)
