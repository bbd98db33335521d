"""Every read of budget indicators and performance targets, scoped to the reader.

A reader sees the indicators held in their region and below; competent departments only those of their
business line. Progress figures are computed by the database from the ledger (never from the stored
columns), so they can be taken "as of" any date. Oversight and charts reuse `indicator_warnings`,
`budget_execution_progress` and `dual_monitoring`.
"""

import datetime as dt
from decimal import Decimal

from django.db.models import BigIntegerField, Case, F, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, Round

from yikatong.core import clock, time_limits, workdays
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import Region
from yikatong.core.money import ZERO, from_fen
from yikatong.core.scope import Scope

from . import rules_indicators as rules
from .models import BudgetIndicator, EntryKind, IndicatorEntry, IndicatorStatus, PerformanceTarget

STATE_LABELS = {**workdays.STATUS_LABELS, rules.DONE: "已完成"}


# -- indicators ----------------------------------------------------------------------------------------
def indicators_visible(scope: Scope, *, fiscal_year: int | None = None, policy_code: str | None = None,
                       region_code: str | None = None, status: str | None = None) -> QuerySet:
    scope.require("indicator.view")
    qs = BudgetIndicator.objects.select_related("policy", "region", "holder", "parent")
    qs = scope.filter(qs, region_field="region_id", business_line_field="policy__business_line")
    if fiscal_year is not None:
        qs = qs.filter(fiscal_year=fiscal_year)
    if policy_code:
        qs = qs.filter(policy__code=policy_code)
    if region_code:
        lo, hi = region_rules.subtree_range(region_code)
        qs = qs.filter(region_id__gte=lo, region_id__lte=hi)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("fiscal_year", "region_id", "pk")


def indicator_get(scope: Scope, pk: int) -> BudgetIndicator:
    indicator = indicators_visible(scope).filter(pk=pk).first()
    if indicator is None:
        raise DomainError(f"预算指标 {pk} 不存在或不在您的查看范围内。", code="not_found")
    return indicator


def indicator_entries(scope: Scope, pk: int) -> QuerySet:
    """The ledger of one indicator, oldest first."""
    indicator = indicator_get(scope, pk)
    return IndicatorEntry.objects.filter(indicator=indicator).order_by("id")


def indicator_children(scope: Scope, pk: int) -> QuerySet:
    indicator = indicator_get(scope, pk)
    return indicators_visible(scope).filter(parent=indicator)


# -- deadlines [003 §15] ---------------------------------------------------------------------------------
def _deadline_function():
    """workdays.deadline_for with one calendar snapshot and each step's limit read once (for loops)."""
    calendar, limits = workdays.calendar(), {}

    def deadline(step: str, start: dt.date) -> dt.date:
        if step not in limits:
            limits[step] = time_limits.limit_for(step)
        days, unit = limits[step]
        return calendar.deadline(start, days, unit)

    return calendar, deadline


def indicators_with_deadlines(scope: Scope, *, fiscal_year: int | None = None, today: dt.date | None = None,
                              include_done: bool = True) -> list[dict]:
    """One row per running (or, with include_done, finished) clock of every visible indicator:
    {indicator, step, label, who, who_label, start, deadline, done_on, state, state_label, late,
    days_overdue}. `state` is done / ok / due_soon / overdue (workdays.deadline_status); `late` says a
    finished step was done after its deadline."""
    today = today or clock.today()
    calendar, deadline_of = _deadline_function()
    qs = indicators_visible(scope, fiscal_year=fiscal_year).filter(
        region__level__in=[region_rules.PROVINCE, region_rules.PREFECTURE])
    rows = []
    for ind in qs:
        for clk in rules.deadline_clocks(region_code=ind.region_id, source_level=ind.source_level,
                                         received_on=ind.received_on,
                                         central_document_date=ind.central_document_date,
                                         direct_to_county=ind.direct_to_county):
            done_on = rules.step_done_on(clk.kind, proposal_submitted_on=ind.proposal_submitted_on,
                                         allocation_done_on=ind.allocation_done_on)
            if done_on is None and ind.status == IndicatorStatus.CLOSED:
                done_on = ind.closed_at.date() if ind.closed_at else today
            if done_on is not None and not include_done:
                continue
            due = deadline_of(clk.step, clk.start)
            state = rules.DONE if done_on is not None else calendar.deadline_status(due, today)
            rows.append({
                "indicator": ind, "step": clk.step, "label": clk.label, "who": clk.who,
                "who_label": rules.WHO_LABELS[clk.who], "start": clk.start, "deadline": due, "done_on": done_on,
                "state": state, "state_label": STATE_LABELS[state],
                "late": bool(done_on and done_on > due),
                "days_overdue": calendar.days_overdue(due, today) if done_on is None else 0,
            })
    return rows


def indicator_warnings(scope: Scope, *, fiscal_year: int | None = None, today: dt.date | None = None) -> list[dict]:
    """Allocations (and proposals) not done whose deadline is near (due_soon) or past (overdue),
    most urgent first — the rows of indicators_with_deadlines."""
    rows = indicators_with_deadlines(scope, fiscal_year=fiscal_year, today=today, include_done=False)
    rows = [r for r in rows if r["state"] in (workdays.DUE_SOON, workdays.OVERDUE)]
    return sorted(rows, key=lambda r: (r["deadline"], r["indicator"].pk, r["step"]))


# -- sums of the ledger, exact on every database -----------------------------------------------------------
def amount_fen():
    """The entry amount in integer fen. Sums are taken in fen: SQLite keeps decimals as floating point, whose
    sums drift; integers add exactly on SQLite and PostgreSQL alike."""
    return Cast(Round(F("amount") * 100), BigIntegerField())


def fen_sum(signs: dict[str, int]) -> Sum:
    """SUM over entries of the kinds in `signs`, each added (+1) or subtracted (−1), in integer fen."""
    whens = [When(kind=kind, then=amount_fen() if sign > 0 else -amount_fen()) for kind, sign in signs.items()]
    return Sum(Case(*whens, default=Value(0), output_field=BigIntegerField()))


def yuan(fen_total) -> Decimal:
    return from_fen(int(fen_total or 0))


def sums_by_kind(entries: QuerySet, *group: str):
    """(*group values, kind, Decimal total) for each group and kind of `entries`, computed by the database."""
    for row in entries.values(*group, "kind").annotate(fen=Sum(amount_fen())).values_list(
            *group, "kind", "fen").order_by():
        yield (*row[:-1], yuan(row[-1]))


# -- execution progress ----------------------------------------------------------------------------------


ALLOCATED_SIGNS = {EntryKind.RECEIVED: 1, EntryKind.ALLOCATED_IN: 1, EntryKind.ALLOCATED_OUT: -1}
NET_PAID_SIGNS = {EntryKind.PAID: 1, EntryKind.RETURNED: -1}
COMMITTED_SIGNS = {EntryKind.COMMITTED: 1, EntryKind.RELEASED: -1, EntryKind.PAID: -1}


def _check_region(scope: Scope, region_code: str | None) -> str | None:
    if not region_code:
        return None
    try:
        region_code = region_rules.normalize_code(region_code)
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region") from None
    if not scope.is_system and not scope.covers_region(region_code):
        raise ScopeError(f"无权查看区划 {region_code}：不在您的管辖范围内。")
    return region_code


def budget_execution_progress(scope: Scope, *, fiscal_year: int, policy_code: str | None = None,
                              region_code: str | None = None, on: dt.date | None = None) -> list[dict]:
    """Budget execution per policy and region, from the ledger up to and including `on` (default today).

    Without `region_code`: one row per policy and holder region visible to the reader, where
    `allocated` is the money that region kept (received or allocated in − allocated out) and `paid` the
    money it paid (paid − returned). With `region_code`: one row per policy for that region and everything
    below it, where `allocated` is the money that came into the subtree from above. Rows:
    {policy, policy_name, region, region_name, allocated, committed, paid, ratio}; `ratio` = paid ÷ allocated
    to four places (None when nothing was allocated). Amounts are exact Decimal yuan.
    """
    scope.require("indicator.view")
    on = on or clock.today()
    region_code = _check_region(scope, region_code)
    qs = IndicatorEntry.objects.filter(indicator__fiscal_year=fiscal_year, booked_on__lte=on)
    qs = scope.filter(qs, region_field="indicator__region_id", business_line_field="indicator__policy__business_line")
    if policy_code:
        qs = qs.filter(indicator__policy__code=policy_code)
    if region_code:
        lo, hi = region_rules.subtree_range(region_code)
        qs = qs.filter(indicator__region_id__gte=lo, indicator__region_id__lte=hi)
        group = ["indicator__policy__code", "indicator__policy__name"]
    else:
        group = ["indicator__policy__code", "indicator__policy__name", "indicator__region_id",
                 "indicator__region__name"]
    rows = (qs.values(*group)
            .annotate(allocated=fen_sum(ALLOCATED_SIGNS), paid=fen_sum(NET_PAID_SIGNS),
                      committed=fen_sum(COMMITTED_SIGNS))
            .order_by(*group))
    region_name = None
    if region_code:
        region_name = Region.objects.filter(pk=region_code).values_list("name", flat=True).first() or region_code
    result = []
    for row in rows:
        allocated, paid = yuan(row["allocated"]), yuan(row["paid"])
        result.append({
            "policy": row["indicator__policy__code"], "policy_name": row["indicator__policy__name"],
            "region": region_code or row["indicator__region_id"],
            "region_name": region_name or row["indicator__region__name"],
            "allocated": allocated, "committed": yuan(row["committed"]), "paid": paid,
            "ratio": rules.ratio(paid, allocated),
        })
    return result


# -- performance targets and dual monitoring ----------------------------------------------------------
def targets_visible(scope: Scope, *, fiscal_year: int | None = None, policy_code: str | None = None,
                    region_code: str | None = None) -> QuerySet:
    scope.require("target.view")
    qs = PerformanceTarget.objects.select_related("policy", "region")
    qs = scope.filter(qs, region_field="region_id", business_line_field="policy__business_line")
    if fiscal_year is not None:
        qs = qs.filter(fiscal_year=fiscal_year)
    if policy_code:
        qs = qs.filter(policy__code=policy_code)
    if region_code:
        qs = qs.filter(region_id=region_code)
    return qs.order_by("policy__code", "category", "name")


def target_row(target: PerformanceTarget) -> dict:
    return {
        "id": target.pk, "category": target.category, "category_label": target.get_category_display(),
        "name": target.name, "direction": target.direction, "direction_label": target.get_direction_display(),
        "target_value": target.target_value, "unit": target.unit, "actual_value": target.actual_value,
        "met": rules.target_met(target.direction, target.target_value, target.actual_value),
        "evaluated_at": target.evaluated_at, "evaluation_note": target.evaluation_note,
    }


def dual_monitoring(scope: Scope, fiscal_year: int, *, region_code: str | None = None,
                    on: dt.date | None = None) -> list[dict]:
    """绩效目标与预算执行"双监控": per policy, the targets of the region with their achievement, next to the
    execution progress of the region and everything below it (budget_execution_progress with region_code),
    and the time progress of the fiscal year. `behind_schedule` is True when execution lags time progress.

    Region: `region_code`, default the reader's own region. Rows: {policy, policy_name, region, allocated,
    committed, paid, ratio, time_progress, behind_schedule, targets: [...], targets_total, targets_evaluated,
    targets_met, achievement (met ÷ evaluated, None before any evaluation)}."""
    scope.require("indicator.view")
    scope.require("target.view")
    on = on or clock.today()
    region_code = _check_region(scope, region_code or scope.region_code)
    if not region_code:
        raise DomainError("请指定要监控的区划。", field="region")
    progress = {row["policy"]: row for row in
                budget_execution_progress(scope, fiscal_year=fiscal_year, region_code=region_code, on=on)}
    targets: dict[str, list] = {}
    names: dict[str, str] = {code: row["policy_name"] for code, row in progress.items()}
    for target in targets_visible(scope, fiscal_year=fiscal_year, region_code=region_code):
        targets.setdefault(target.policy.code, []).append(target_row(target))
        names[target.policy.code] = target.policy.name
    elapsed = rules.time_progress(fiscal_year, on)
    result = []
    for code in sorted(names):
        money = progress.get(code, {})
        rows = targets.get(code, [])
        evaluated = [t for t in rows if t["met"] is not None]
        met = sum(1 for t in evaluated if t["met"])
        ratio = money.get("ratio")
        result.append({
            "policy": code, "policy_name": names[code], "region": region_code,
            "allocated": money.get("allocated", ZERO), "committed": money.get("committed", ZERO),
            "paid": money.get("paid", ZERO), "ratio": ratio, "time_progress": elapsed,
            "behind_schedule": ratio is not None and ratio < elapsed,
            "targets": rows, "targets_total": len(rows), "targets_evaluated": len(evaluated), "targets_met": met,
            "achievement": rules.ratio(Decimal(met), Decimal(len(evaluated))) if evaluated else None,
        })
    return result
