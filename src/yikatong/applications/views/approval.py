"""The department's approval inbox [003 §18]: submitted applications of its line and region with their
10-working-day deadline, batch approve / reject / return, the sampling for on-site checks and the
cross-check findings panel (fed by `services.findings_gate`; empty until the checks engine plugs in)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope

from .. import selectors, services
from ..forms import ApprovalFilterForm, SampleForm
from ..models import Application, Status
from ._common import filter_query, page_of, policy_choices, scope_for, show_error
from .applications import batch_actions_for, pop_batch_results

APPROVAL_ACTIONS = ("approve", "reject", "return")


def _scope(request) -> Scope:
    scope = scope_for(request, "application.view")
    scope.require("application.approve")
    return scope


def _open_findings(scope: Scope, ids: list[int]) -> dict[int, list[dict]]:
    """Each application's open findings (block and review) with links to the findings inbox."""
    from yikatong.checks.selectors_findings import open_findings_by_application

    return open_findings_by_application(scope, ids)


def _context(request, scope: Scope, *, sample_form=None) -> dict:
    choices = policy_choices(scope)
    filters = ApprovalFilterForm(request.GET or None, policy_choices=choices)
    try:
        qs = selectors.applications_list(scope, status=Status.SUBMITTED, **filters.selector_args())
    except DomainError as exc:
        show_error(filters, exc, {"region_code": "region"})
        qs = Application.objects.none()
    page = page_of(request, qs.order_by("step_deadline", "pk"))
    rows = selectors.application_rows(page.object_list)
    findings = services.findings_gate([row.id for row in rows])
    open_findings = _open_findings(scope, [row.id for row in rows])
    if sample_form is None:
        args = filters.selector_args()
        sample_form = SampleForm(policy_choices=choices, initial={
            "policy_code": args["policy_code"], "period": args["period"],
            "region_code": args["region_code"] or scope.region_code, "ratio": "10%"})
    return {
        "title": "审核",
        "filters": filters,
        "page": page,
        "rows": rows,
        "findings": [(row, findings.get(row.id, ""), open_findings.get(row.id, [])) for row in rows
                     if row.id in findings or row.id in open_findings],
        "finding_ids": set(findings),
        "filter_query": filter_query(request),
        "batch_actions": batch_actions_for(scope, APPROVAL_ACTIONS),
        "batch_results": pop_batch_results(request),
        "sample_form": sample_form if not scope.read_only else None,
        "next_url": request.get_full_path(),
    }


@login_required
def approval_inbox(request):
    scope = _scope(request)
    return render(request, "applications/approval.html", _context(request, scope))


@login_required
@require_POST
def approval_sample(request):
    scope = _scope(request)
    form = SampleForm(request.POST, policy_choices=policy_choices(scope))
    status = 400
    if form.is_valid():
        try:
            apps = services.approval_sample(actor=scope, **form.cleaned_data)
        except ScopeError:
            raise
        except DomainError as exc:
            status = show_error(form, exc)
        else:
            numbers = "、".join(app.number for app in apps)
            messages.success(request, f"已抽取 {len(apps)} 件作为实地抽查对象：{numbers}。审核通过时须填写抽查核实情况。")
            data = form.cleaned_data
            query = f"?policy={data['policy_code']}&period={data['period']}&sampled=1"
            return redirect(reverse("applications:approval") + query)
    return render(request, "applications/approval.html", _context(request, scope, sample_form=form), status=status)
