"""Pages of the check runs and the rule settings per policy (the findings inbox is views_findings.py).

  /findings/runs/                     runs in the reader's scope; form to start a run (policy, period, region)
  /findings/runs/start/               POST: check_run_start → a background job; redirect to its progress page
  /findings/runs/job/<job id>/        progress bar (core job partial) and, once done, the link to the run
  /findings/runs/job/<job id>/run/    htmx: the run's link once the job has finished (polling stops then)
  /findings/runs/<id>/                one run: counts per rule, skipped rules, links to its findings
  /findings/rules/?policy=…           the effective setting of every rule for a policy
  /findings/rules/<policy>/<rule>/    POST: rule_config_set (enabled, severity, parameters, reason)
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.jobs import job_reconcile, jobs_visible_to
from yikatong.core.models import JobProgress
from yikatong.core.scope import Scope
from yikatong.core.views.jobs import _progress_context
from yikatong.policies.models import Policy

from . import selectors_findings as sel
from .engine import catalogue
from .services.runs import check_run_start, rule_config_set
from .views_findings import policy_choices, region_choices, scope_for

PAGE_SIZE = 50
HTMX_STOP_POLLING = 286  # htmx stops an "every Ns" trigger on this status
PARAM_FIELDS = {  # rule -> [(param, label, kind)]
    "R10": [("max_properties", "最多不动产数量", "int")],
    "R14": [("min_age", "最低年龄（周岁）", "age"), ("max_age", "最高年龄（周岁）", "age")],
    "R15": [("level", "比对层级", "level")],
}


def can_run(scope: Scope) -> bool:
    return scope.can("check.run") and not scope.read_only


def can_configure(scope: Scope) -> bool:
    return scope.can("check.configure") and not scope.read_only


class RunStartForm(forms.Form):
    policy_code = forms.ChoiceField(label="补贴项目")
    period = forms.CharField(label="补贴期间", max_length=7, help_text="如 2026、2026Q1 或 2026-03。")
    region_code = forms.ChoiceField(label="区划", required=False,
                                    help_text="留空为本单位辖区；核查该区划及以下的申报。")

    def __init__(self, data=None, *, policies, regions, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["policy_code"].choices = [("", "请选择"), *policies]
        self.fields["region_code"].choices = [("", "本单位辖区"), *regions]


# -- runs -----------------------------------------------------------------------------------------------------
def _runs_context(request, scope: Scope, form: RunStartForm | None = None) -> dict:
    policy, period = request.GET.get("policy", "").strip(), request.GET.get("period", "").strip().upper()
    runs = sel.check_runs(scope, policy_code=policy or None, period=period or None)
    policies = policy_choices(scope)
    if form is None and can_run(scope):
        form = RunStartForm(policies=policies, regions=region_choices(scope),
                            initial={"policy_code": policy, "period": period})
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "title": "核查批次",
        "page": Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page")),
        "policies": policies,
        "policy": policy,
        "period": period,
        "filter_query": query.urlencode(),
        "form": form if can_run(scope) else None,
    }


@login_required
def run_list(request):
    scope = scope_for(request)
    return render(request, "checks/findings_runs.html", _runs_context(request, scope))


@login_required
@require_POST
def run_start(request):
    scope = scope_for(request)
    scope.require_write("check.run")
    form = RunStartForm(request.POST, policies=policy_choices(scope), regions=region_choices(scope))
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = check_run_start(actor=scope, policy_code=data["policy_code"], period=data["period"],
                                  region_code=data["region_code"] or None)
        except ScopeError:
            raise
        except DomainError as exc:
            field = {"policy": "policy_code", "region": "region_code"}.get(exc.field, exc.field)
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.info(request, "核查已开始，正在后台运行；完成后可查看各规则命中情况。")
            return redirect("findings:run-job", job_id=job.pk)
    return render(request, "checks/findings_runs.html", _runs_context(request, scope, form), status=status)


def _job_or_404(scope: Scope, job_id) -> JobProgress:
    return job_reconcile(get_object_or_404(jobs_visible_to(scope).filter(kind="check.run"), pk=job_id))


@login_required
def run_job(request, job_id):
    scope = scope_for(request)
    job = _job_or_404(scope, job_id)
    run = sel.check_runs(scope).filter(job_id=job.pk).first()
    context = {"title": job.label, "run": run, **_progress_context(job)}
    return render(request, "checks/findings_run_job.html", context)


@login_required
def run_job_result(request, job_id):
    """htmx: the link to the run once the job has finished; answers 286 then, so the polling stops."""
    scope = scope_for(request)
    job = _job_or_404(scope, job_id)
    finished = job.status in (JobProgress.Status.SUCCEEDED, JobProgress.Status.FAILED)
    run = sel.check_runs(scope).filter(job_id=job.pk).first() if finished else None
    response = render(request, "checks/_findings_run_link.html", {"job": job, "run": run, "finished": finished})
    if finished:
        response.status_code = HTMX_STOP_POLLING
    return response


@login_required
def run_detail(request, pk: int):
    scope = scope_for(request)
    try:
        run = sel.check_run_get(scope, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    rows = sel.check_run_rows(run)
    inbox = reverse("findings:inbox")
    for row in rows:
        row["url"] = inbox + "?" + urlencode({"run": run.pk, "rule": row["rule"], "status": "all"})
        row["severity_labels"] = "、".join(catalogue.SEVERITY_LABELS.get(s, s) for s in row["severities"])
    context = {
        "title": f"核查批次 {run.pk}",
        "run": run,
        "rows": rows,
        "open_url": inbox + "?" + urlencode({"run": run.pk, "status": "open"}),
        "all_url": inbox + "?" + urlencode({"run": run.pk, "status": "all"}),
        "totals": {k: sum(r[k] for r in rows) for k in ("hits", "new", "reopened", "closed", "open_block",
                                                          "open_review")},
    }
    return render(request, "checks/findings_run_detail.html", context)


# -- rule settings ------------------------------------------------------------------------------------------------
def _rules_context(request, scope: Scope, policy: str, errors: dict | None = None) -> dict:
    policies = policy_choices(scope)
    rows, editable = [], False
    if policy:
        if policy not in dict(policies):
            raise Http404(f"补贴项目 {policy} 不存在或不在您的管辖范围内。")
        found = Policy.objects.filter(code=policy).only("region_id", "business_line").first()
        # the service decides; this only avoids offering a form that would be refused
        editable = bool(found) and can_configure(scope) and scope.covers_region(found.region_id) and (
            scope.sees_all_lines or scope.business_line == found.business_line)
        try:
            rows = sel.rule_settings(scope, policy)
        except ScopeError:
            raise
        except DomainError as exc:
            raise Http404(exc.message) from exc
    for row in rows:
        row["param_fields"] = []
        for name, label, kind in PARAM_FIELDS.get(row["rule"], []):
            value = "" if row["params"].get(name) is None else row["params"][name]
            shown = catalogue.REGION_LEVEL_LABELS.get(value, value) if kind == "level" else value
            row["param_fields"].append({"name": name, "label": label, "kind": kind, "value": value, "shown": shown})
        row["error"] = (errors or {}).get(row["rule"], "")
    return {
        "title": "核查规则设置",
        "policies": policies,
        "policy": policy,
        "rows": rows,
        "level_choices": list(catalogue.REGION_LEVEL_LABELS.items()),
        "severity_choices": list(catalogue.SEVERITY_LABELS.items()),
        "can_configure": editable,
    }


@login_required
def rules(request):
    scope = scope_for(request)
    policy = request.GET.get("policy", "").strip()
    if not policy and len(policy_choices(scope)) == 1:
        policy = policy_choices(scope)[0][0]
    return render(request, "checks/findings_rules.html", _rules_context(request, scope, policy))


@login_required
@require_POST
def rule_set(request, policy: str, rule: str):
    scope = scope_for(request)
    scope.require_write("check.configure")
    spec = catalogue.BY_CODE.get(rule.upper())
    if spec is None:
        raise Http404("核查规则不存在。")
    params = None
    if spec.code in PARAM_FIELDS:
        params = {name: request.POST.get(f"param_{name}", "").strip() for name, _l, _k in PARAM_FIELDS[spec.code]}
        params = {k: v for k, v in params.items() if v != ""}
    try:
        rule_config_set(actor=scope, policy_code=policy, rule=spec.code, enabled=request.POST.get("enabled") == "1",
                        severity=request.POST.get("severity") or None, params=params,
                        reason=request.POST.get("reason", ""))
    except ScopeError:
        raise
    except DomainError as exc:
        context = _rules_context(request, scope, policy, errors={spec.code: exc.message})
        return render(request, "checks/findings_rules.html", context, status=400)
    messages.success(request, f"已保存 {policy} 的规则 {spec.code} {spec.label} 设置。")
    return redirect(reverse("findings:rules") + "?" + urlencode({"policy": policy}) + f"#rule-{spec.code}")

