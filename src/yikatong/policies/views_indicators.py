"""Pages of budget indicators and performance targets (预算指标、绩效目标): the indicator list with filters and
deadline badges, one indicator with its ledger, receive / allocate (parts, all or nothing) / complete /
close / the department's allocation proposal, the warnings inbox, targets, execution progress and the
dual monitoring table.

Thin: reads go through selectors_indicators (scoped), writes through services.indicators / services.targets.
A page without the permission is a 403 page (ScopeError → FriendlyErrorMiddleware); an indicator or target
outside the reader's scope is a 404; a service's refusal is shown in Chinese next to the field it names or
on top of the form, and nothing is written.
"""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from yikatong.core import clock
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope

from . import rules_indicators as rules
from . import selectors
from . import selectors_indicators as sel
from .forms_indicators import (
    MAX_PARTS,
    ActualForm,
    AllocationForm,
    CloseForm,
    CompleteForm,
    IndicatorFilterForm,
    ProposalForm,
    ReceiveForm,
    TargetForm,
    YearFilterForm,
    allocation_formset,
    lower_finance,
)
from .models import BudgetIndicator, IndicatorStatus, PolicyStatus
from .services import (
    indicator_allocate,
    indicator_allocation_complete,
    indicator_close,
    indicator_proposal_submit,
    indicator_receive,
    target_record_actual,
    target_set,
)

PAGE_SIZE = 50
STATE_ORDER = {"overdue": 0, "due_soon": 1, "ok": 2, "done": 3}
STATE_BADGES = {"overdue": "badge-danger", "due_soon": "badge-warn", "ok": "badge-info", "done": "badge-ok"}
DEADLINE_LEVELS = (region_rules.PROVINCE, region_rules.PREFECTURE)
HUNDRED = Decimal(100)


# -- helpers -----------------------------------------------------------------------------------------
def scope_for(request, permission: str | None = None) -> Scope:
    """The request user's scope; ScopeError (→ 403 page) without the permission."""
    scope = Scope.for_user(request.user)
    if permission:
        scope.require(permission)
    return scope


def _field_named_in(form, message: str) -> str | None:
    """The form field whose label the message starts with (“目标值“abc”不是有效的数字。” → target_value)."""
    best, length = None, 0
    for name, field in form.fields.items():
        label = str(field.label or "").split("（")[0]
        if label and message.startswith(label) and len(label) > length:
            best, length = name, len(label)
    return best


def show_error(form, exc: DomainError, field_map: dict | None = None) -> None:
    """A service's refusal next to the field it names (when the form shows it) or, when it names none, the
    field its message is about; else on top."""
    field = (field_map or {}).get(exc.field, exc.field)
    if exc.field is None:
        field = _field_named_in(form, exc.message)
    form.add_error(field if field and field in form.fields else None, exc.message)


def error_status(exc: DomainError) -> int:
    return 403 if isinstance(exc, ScopeError) else 400


def filter_query(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def percent(ratio) -> dict | None:
    """A ratio (0..1, four places) as a percentage for the bars: {'value': '13.33', 'width': '13.33'}."""
    if ratio is None:
        return None
    value = (Decimal(ratio) * HUNDRED).quantize(Decimal("0.01"))
    width = min(max(value, Decimal(0)), HUNDRED)
    return {"value": f"{value}", "width": f"{width}"}


def visible_indicator(scope: Scope, pk: int) -> BudgetIndicator:
    try:
        return sel.indicator_get(scope, pk)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def deadline_summary(scope: Scope, *, fiscal_year: int | None = None) -> dict[int, dict]:
    """The most urgent clock of each visible indicator that has one: {pk: row of indicators_with_deadlines};
    a clock still running wins over a finished one, an overdue one over one due soon."""
    summary: dict[int, dict] = {}
    for row in sel.indicators_with_deadlines(scope, fiscal_year=fiscal_year):
        pk = row["indicator"].pk
        current = summary.get(pk)
        if current is None or (STATE_ORDER[row["state"]], row["deadline"]) < (
                STATE_ORDER[current["state"]], current["deadline"]):
            summary[pk] = row
    return summary


def deadline_rows(rows) -> list[dict]:
    return [{**row, "badge": STATE_BADGES[row["state"]]} for row in rows]


def policies_for(scope: Scope, *, applicable_to: str | None = None, active_only: bool = False):
    """Policies the reader sees (for the choice lists); `applicable_to`: only those set at that region or above."""
    qs = selectors.policies_visible(scope)
    if active_only:
        qs = qs.exclude(status=PolicyStatus.RETIRED)
    policies = list(qs.select_related(None).only("code", "name", "region_id", "status"))
    if applicable_to:
        policies = [p for p in policies if region_rules.is_within(applicable_to, p.region_id)]
    return policies


def can_manage(scope: Scope, indicator: BudgetIndicator) -> bool:
    """The holder bureau may allocate, complete and close."""
    return (scope.can("indicator.manage") and not scope.read_only and not scope.is_system
            and scope.organization_id == indicator.holder_id)


def can_propose(scope: Scope, indicator: BudgetIndicator) -> bool:
    return (scope.can("indicator.propose") and not scope.read_only and scope.region_code == indicator.region_id
            and (scope.sees_all_lines or scope.business_line == indicator.policy.business_line)
            and indicator.status == IndicatorStatus.ACTIVE and indicator.proposal_submitted_on is None)


def current_year() -> int:
    return clock.today().year


# -- list --------------------------------------------------------------------------------------------
@login_required
def indicator_list(request):
    scope = scope_for(request, "indicator.view")
    filters = IndicatorFilterForm(request.GET or None, policies=policies_for(scope))
    args = filters.values()
    indicators = sel.indicators_visible(scope, fiscal_year=args.get("fiscal_year"), policy_code=args.get("policy"),
                                        region_code=args.get("region"), status=args.get("status"))
    if args.get("source_level"):
        indicators = indicators.filter(source_level=args["source_level"])
    summary = deadline_summary(scope, fiscal_year=args.get("fiscal_year"))
    state = args.get("deadline")
    if state == "none":
        indicators = indicators.exclude(pk__in=list(summary))
    elif state:
        indicators = indicators.filter(pk__in=[pk for pk, row in summary.items() if row["state"] == state])
    page = Paginator(indicators, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"ind": ind, "deadline": deadline_rows([summary[ind.pk]])[0] if ind.pk in summary else None}
            for ind in page.object_list]
    context = {
        "title": "预算指标", "filters": filters, "page": page, "rows": rows, "filter_query": filter_query(request),
        "can_receive": scope.can("indicator.manage") and not scope.read_only,
    }
    return render(request, "indicators/list.html", context)


# -- receive -----------------------------------------------------------------------------------------
@login_required
def indicator_receive_view(request):
    scope = scope_for(request)
    scope.require_write("indicator.manage")
    policies = policies_for(scope, applicable_to=scope.region_code, active_only=True)
    status = 200
    if request.method == "POST":
        form = ReceiveForm(request.POST, policies=policies)
        if form.is_valid():
            data = form.cleaned_data
            try:
                indicator = indicator_receive(
                    actor=scope, doc_no=data["doc_no"], received_on=data["received_on"], amount=data["amount"],
                    source_level=data["source_level"], policy_code=data["policy"], fiscal_year=data["fiscal_year"],
                    region_code=scope.region_code, central_document_date=data["central_document_date"],
                    direct_to_county=data["direct_to_county"], note=data["note"])
            except DomainError as exc:
                show_error(form, exc, {"holder": None, "region": None})
                status = error_status(exc)
            else:
                messages.success(request, f"已登记预算指标 {indicator.doc_no}，金额 {indicator.amount} 元。")
                return redirect("indicators:detail", pk=indicator.pk)
        else:
            status = 400
    else:
        form = ReceiveForm(policies=policies, initial={"fiscal_year": current_year(), "received_on": clock.today()})
    return render(request, "indicators/receive.html", {"title": "登记预算指标", "form": form}, status=status)


# -- one indicator -----------------------------------------------------------------------------------
def _render_detail(request, scope: Scope, indicator: BudgetIndicator, *, status: int = 200, **forms):
    deadlines = []
    if indicator.region.level in DEADLINE_LEVELS:
        deadlines = deadline_rows(r for r in sel.indicators_with_deadlines(scope, fiscal_year=indicator.fiscal_year)
                                  if r["indicator"].pk == indicator.pk)
    manage = can_manage(scope, indicator)
    active = indicator.status == IndicatorStatus.ACTIVE
    # the department's proposal is a step of [003 §15] only where its clock runs (province, central funds)
    proposal_step = any(rules.STEP_KINDS[d["step"]] == rules.PROPOSAL for d in deadlines)
    context = {
        "title": f"预算指标 {indicator.doc_no}",
        "ind": indicator,
        "entries": sel.indicator_entries(scope, indicator.pk),
        "children": sel.indicator_children(scope, indicator.pk),
        "deadlines": deadlines,
        "balance_columns": [(rules.COLUMN_LABELS[c], getattr(indicator, c)) for c in rules.COLUMNS],
        "can_allocate": manage and active and indicator.available > 0,
        # a form sent back with its error is shown even when the action is no longer open
        "complete_form": forms.get("complete_form")
        or (CompleteForm() if manage and indicator.allocation_done_on is None else None),
        "close_form": forms.get("close_form") or (CloseForm() if manage and active else None),
        "proposal_form": forms.get("proposal_form")
        or (ProposalForm() if proposal_step and can_propose(scope, indicator) else None),
    }
    return render(request, "indicators/detail.html", context, status=status)


@login_required
def indicator_detail(request, pk: int):
    scope = scope_for(request, "indicator.view")
    return _render_detail(request, scope, visible_indicator(scope, pk))


def _act(request, pk: int, permission: str, form_class, form_name: str, call, done: str):
    """A POST action on one indicator: visible (else 404), permitted (else 403), the form valid and the
    service willing (else the detail page again with the message, 400)."""
    scope = scope_for(request, "indicator.view")
    indicator = visible_indicator(scope, pk)
    scope.require_write(permission)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            call(scope, indicator, form.cleaned_data)
        except ScopeError:
            raise
        except DomainError as exc:
            show_error(form, exc)
        else:
            messages.success(request, done)
            return redirect("indicators:detail", pk=indicator.pk)
    indicator = visible_indicator(scope, pk)
    return _render_detail(request, scope, indicator, status=400, **{form_name: form})


@login_required
@require_POST
def indicator_complete_view(request, pk: int):
    return _act(request, pk, "indicator.manage", CompleteForm, "complete_form",
                lambda scope, ind, data: indicator_allocation_complete(actor=scope, indicator_id=ind.pk,
                                                                       note=data["note"]),
                "已确认分配下达完成，分配时限停止计时。")


@login_required
@require_POST
def indicator_close_view(request, pk: int):
    return _act(request, pk, "indicator.manage", CloseForm, "close_form",
                lambda scope, ind, data: indicator_close(actor=scope, indicator_id=ind.pk, reason=data["reason"]),
                "预算指标已关闭，不能再分配或挂接支付。")


@login_required
@require_POST
def indicator_proposal_view(request, pk: int):
    return _act(request, pk, "indicator.propose", ProposalForm, "proposal_form",
                lambda scope, ind, data: indicator_proposal_submit(actor=scope, indicator_id=ind.pk,
                                                                   note=data["note"]),
                "资金分配建议方案已报送财政部门。")


# -- allocate ----------------------------------------------------------------------------------------
def _part_index(message: str) -> int | None:
    """The service names the part it refuses as “第N项分配：…”."""
    if message.startswith("第") and "项分配" in message:
        number = message[1:message.index("项分配")]
        if number.isdigit():
            return int(number) - 1
    return None


@login_required
def indicator_allocate_view(request, pk: int):
    scope = scope_for(request, "indicator.view")
    indicator = visible_indicator(scope, pk)
    scope.require_write("indicator.manage")
    if not can_manage(scope, indicator):
        raise ScopeError(f"分配预算指标须由指标持有部门（{indicator.holder.name}）办理。")
    finance_orgs = list(lower_finance(indicator.region_id))
    status = 200
    try:
        rows = min(max(int(request.GET.get("rows", 3)), 1), MAX_PARTS)
    except ValueError:
        rows = 3
    if request.method == "POST":
        form = AllocationForm(request.POST)
        formset = allocation_formset(request.POST, finance_orgs=finance_orgs)
        if form.is_valid() and formset.is_valid():
            try:
                children = indicator_allocate(actor=scope, parent_id=indicator.pk, parts=formset.parts(),
                                              complete=form.cleaned_data["complete"], note=form.cleaned_data["note"])
            except DomainError as exc:
                index = _part_index(exc.message)
                if index is not None and index < len(formset.forms):
                    show_error(formset.forms[index], exc, {"holder": "holder", "region": "region"})
                else:
                    show_error(form, exc, {"amount": None})
                form.add_error(None, "分配未完成：各项均未下达，请按提示修改后重新提交。")
                status = error_status(exc)
            else:
                total = sum((c.amount for c in children), Decimal("0.00"))
                messages.success(request, f"已分配下达 {len(children)} 项，合计 {total} 元。")
                return redirect("indicators:detail", pk=indicator.pk)
        else:
            status = 400
        indicator = visible_indicator(scope, pk)
    else:
        form = AllocationForm()
        formset = allocation_formset(finance_orgs=finance_orgs, rows=rows)
    context = {"title": f"分配下达 {indicator.doc_no}", "ind": indicator, "form": form, "formset": formset,
               "has_targets": bool(finance_orgs), "more_rows": min(len(formset.forms) + 3, MAX_PARTS)}
    return render(request, "indicators/allocate.html", context, status=status)


# -- warnings (the inbox with deadlines) ---------------------------------------------------------------
@login_required
def indicator_warnings_view(request):
    scope = scope_for(request, "indicator.view")
    filters = YearFilterForm(request.GET or None, initial={"fiscal_year": current_year()},
                             drop=("policy", "region", "on"))
    year = filters.cleaned_data["fiscal_year"] if filters.is_bound and filters.is_valid() else current_year()
    today = clock.today()
    warnings = sel.indicator_warnings(scope, fiscal_year=year, today=today)
    clocks = sel.indicators_with_deadlines(scope, fiscal_year=year, today=today)
    running = [r for r in clocks if r["state"] != rules.DONE]
    finished = [r for r in clocks if r["state"] == rules.DONE]
    running.sort(key=lambda r: (r["deadline"], r["indicator"].pk))
    mine = [r for r in running if _acts_on(scope, r)]  # the inbox: every running clock the reader must act on
    context = {
        "title": "指标预警", "filters": filters, "year": year, "today": today,
        "warnings": deadline_rows(warnings), "mine": deadline_rows(mine),
        "running": deadline_rows(running),
        "finished": deadline_rows(finished),
    }
    return render(request, "indicators/warnings.html", context)


def _acts_on(scope: Scope, row: dict) -> bool:
    """Whether the reader is the one who has to act on the clock: finance the holder, a department the
    proposal of its line in the indicator's region."""
    indicator = row["indicator"]
    if row["who"] == rules.FINANCE:
        return can_manage(scope, indicator)
    return can_propose(scope, indicator)


# -- execution progress and dual monitoring -----------------------------------------------------------
def _year_filters(request, scope: Scope, *, drop=()):
    """The bound filter form and its values (year defaults to this year; an invalid filter is ignored)."""
    data = request.GET.copy()
    data.setdefault("fiscal_year", str(current_year()))
    filters = YearFilterForm(data, policies=policies_for(scope), drop=drop)
    filters.is_valid()
    values = {k: v for k, v in filters.cleaned_data.items() if v not in (None, "")}
    values.setdefault("fiscal_year", current_year())
    return filters, values


@login_required
def progress_view(request):
    scope = scope_for(request, "indicator.view")
    filters, values = _year_filters(request, scope)
    status, rows = 200, []
    try:
        rows = sel.budget_execution_progress(scope, fiscal_year=values["fiscal_year"],
                                             policy_code=values.get("policy"), region_code=values.get("region"),
                                             on=values.get("on"))
    except DomainError as exc:
        show_error(filters, exc)
        status = error_status(exc)
    totals = None
    if rows:
        allocated = sum((r["allocated"] for r in rows), Decimal("0.00"))
        committed = sum((r["committed"] for r in rows), Decimal("0.00"))
        paid = sum((r["paid"] for r in rows), Decimal("0.00"))
        totals = {"allocated": allocated, "committed": committed, "paid": paid,
                  "pct": percent(rules.ratio(paid, allocated))}
    context = {
        "title": "预算执行进度", "filters": filters, "values": values,
        "rows": [{**r, "pct": percent(r["ratio"])} for r in rows], "totals": totals,
        "time_pct": percent(rules.time_progress(values["fiscal_year"], values.get("on") or clock.today())),
    }
    return render(request, "indicators/progress.html", context, status=status)


@login_required
def monitoring_view(request):
    scope = scope_for(request, "indicator.view")
    scope.require("target.view")
    filters, values = _year_filters(request, scope, drop=("policy",))
    status, rows = 200, []
    try:
        rows = sel.dual_monitoring(scope, values["fiscal_year"], region_code=values.get("region"),
                                   on=values.get("on"))
    except DomainError as exc:
        show_error(filters, exc)
        status = error_status(exc)
    context = {
        "title": "绩效目标与预算执行双监控", "filters": filters, "values": values,
        "region": values.get("region") or scope.region_code,
        "rows": [{**r, "pct": percent(r["ratio"]), "time_pct": percent(r["time_progress"]),
                  "achievement_pct": percent(r["achievement"])} for r in rows],
    }
    return render(request, "indicators/monitoring.html", context, status=status)


# -- performance targets ------------------------------------------------------------------------------
def _render_targets(request, scope: Scope, *, target_form=None, actual_errors=None, status: int = 200):
    filters, values = _year_filters(request, scope, drop=("on",))
    manage = scope.can("target.manage") and not scope.read_only
    targets = sel.targets_visible(scope, fiscal_year=values["fiscal_year"], policy_code=values.get("policy"),
                                  region_code=values.get("region"))
    rows = []
    for target in targets:
        row = sel.target_row(target)
        row.update({"target": target, "can_record": manage and target.region_id == scope.region_code,
                    "error": (actual_errors or {}).get(target.pk)})
        rows.append(row)
    if manage and target_form is None:
        target_form = TargetForm(policies=policies_for(scope, applicable_to=scope.region_code, active_only=True),
                                 initial={"fiscal_year": values["fiscal_year"]})
    context = {"title": "绩效目标", "filters": filters, "values": values, "rows": rows,
               "target_form": target_form if manage else None, "actual_form": ActualForm(auto_id=False),
               "filter_query": filter_query(request)}
    return render(request, "indicators/targets.html", context, status=status)


@login_required
def targets_view(request):
    scope = scope_for(request, "target.view")
    return _render_targets(request, scope)


@login_required
@require_POST
def target_set_view(request):
    scope = scope_for(request, "target.view")
    scope.require_write("target.manage")
    form = TargetForm(request.POST, policies=policies_for(scope, applicable_to=scope.region_code, active_only=True))
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            target = target_set(actor=scope, policy_code=data["policy"], fiscal_year=data["fiscal_year"],
                                region_code=scope.region_code, category=data["category"], name=data["name"],
                                target_value=data["target_value"], unit=data["unit"], direction=data["direction"])
        except DomainError as exc:
            show_error(form, exc, {"region": None})
            status = error_status(exc)
        else:
            messages.success(request, f"已保存绩效目标“{target.name}”。")
            url = reverse("indicators:targets") + f"?fiscal_year={target.fiscal_year}"
            return redirect(url)
    return _render_targets(request, scope, target_form=form, status=status)


@login_required
@require_POST
def target_actual_view(request, pk: int):
    scope = scope_for(request, "target.view")
    target = sel.targets_visible(scope).filter(pk=pk).first()
    if target is None:
        raise Http404(f"绩效目标 {pk} 不存在或不在您的查看范围内。")
    scope.require_write("target.manage")
    form = ActualForm(request.POST)
    if form.is_valid():
        try:
            target_record_actual(actor=scope, target_id=target.pk, actual_value=form.cleaned_data["actual_value"],
                                 note=form.cleaned_data["note"])
        except ScopeError:
            raise
        except DomainError as exc:
            return _render_targets(request, scope, actual_errors={target.pk: exc.message}, status=400)
        messages.success(request, f"已记录绩效目标“{target.name}”的实际完成值。")
        return redirect(reverse("indicators:targets") + f"?fiscal_year={target.fiscal_year}")
    message = "；".join(e for errors in form.errors.values() for e in errors)
    return _render_targets(request, scope, actual_errors={target.pk: message}, status=400)

