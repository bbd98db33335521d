"""Reads of the disbursement ledgers (always scoped, set-based: a few GROUP BY queries, rows streamed).

- general_ledger_by_day / general_ledger_by_batch — the department's general ledger (总账): per day and entry kind,
  and per plan/batch, sums of DisbursementEntry (`entries` = the number of movements, Sum of `lines`).
- detail_ledger — the detail ledger (明细账): one row per attempt (beneficiary masked, amount, sent, result,
  returned dates), filterable and streamable for exports.
- plan_indicator_ledger — the indicator ledger of one plan (policies IndicatorEntry rows ref payment_plan:<number>).
- disbursement_ledger — finance's disbursement ledger per indicator and plan: the plan's ledger sums beside the
  indicator's movements for it.
"""

import datetime as dt
from decimal import Decimal

from django.db.models import Case, DecimalField, F, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from yikatong.core import masking
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.policies.models import IndicatorEntry

from ..models import (
    AttemptStatus,
    DisbursementEntry,
    DisbursementPlan,
    EntryKind,
    PaymentAttempt,
    PaymentBatch,
)

REF_TYPE = "payment_plan"
ZERO = Decimal("0.00")
KINDS = [k for k, _ in EntryKind.choices]
KIND_LABELS = dict(EntryKind.choices)
INDICATOR_KINDS = ("committed", "paid", "returned", "released")
MONEY = DecimalField(max_digits=18, decimal_places=2)


def _require_view(scope: Scope) -> None:
    scope.require("payment.view")


def _line(scope: Scope, field: str) -> str | None:
    """Banks are narrowed to their own organization, not to a business line."""
    return None if scope.own_org_only else field


def plans_visible(scope: Scope) -> QuerySet:
    _require_view(scope)
    return scope.filter(DisbursementPlan.objects.all(), region_field="region_id", business_line_field=_line(scope, "business_line"),
                        organization_field="bank_id")


def batches_visible(scope: Scope) -> QuerySet:
    _require_view(scope)
    return scope.filter(PaymentBatch.objects.all(), region_field="region_id", business_line_field=_line(scope, "business_line"),
                        organization_field="bank_id")


def entries_visible(scope: Scope) -> QuerySet:
    _require_view(scope)
    return scope.filter(DisbursementEntry.objects.all(), region_field="plan__region_id",
                        business_line_field=_line(scope, "plan__business_line"), organization_field="plan__bank_id")


def attempts_visible(scope: Scope) -> QuerySet:
    _require_view(scope)
    return scope.filter(PaymentAttempt.objects.all(), region_field="item__region_id",
                        business_line_field=_line(scope, "batch__business_line"), organization_field="batch__bank_id")


def plan_get(scope: Scope, plan_id) -> DisbursementPlan:
    plan = plans_visible(scope).select_related("policy", "region", "indicator").filter(pk=_int(plan_id)).first()
    if plan is None:
        raise DomainError("发放方案不存在或不在您的管辖范围内。", code="not_found")
    return plan


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def kind_sums(prefix: str = "") -> dict:
    """Conditional sums per entry kind (for .annotate/.aggregate): {kind: Sum(amount if kind)}."""
    return {k: Coalesce(Sum(Case(When(kind=k, then=F("amount")), default=Value(ZERO), output_field=MONEY)),
                        Value(ZERO), output_field=MONEY)
            for k in KINDS}


def _filter_entries(qs: QuerySet, *, region_code=None, plan_id=None, batch_id=None, date_from=None,
                    date_to=None) -> QuerySet:
    if region_code:
        qs = qs.filter(**in_region("plan__region_id", region_code))
    if plan_id:
        qs = qs.filter(plan_id=_int(plan_id))
    if batch_id:
        qs = qs.filter(batch_id=_int(batch_id))
    if date_from:
        qs = qs.filter(booked_on__gte=date_from)
    if date_to:
        qs = qs.filter(booked_on__lte=date_to)
    return qs


def in_region(field: str, code: str) -> dict:
    """Lookups of `field` for the region `code` and everything below it."""
    try:
        lo, hi = region_rules.subtree_range(str(code).strip())
    except region_rules.RegionCodeError as exc:
        raise DomainError(str(exc), field="region_code") from exc
    return {f"{field}__gte": lo, f"{field}__lte": hi}


# -- general ledger ----------------------------------------------------------------------------------------------
def general_ledger_by_day(scope: Scope, **filters) -> list[dict]:
    """One row per booking day: the sum of each entry kind that day, and the number of entries."""
    qs = _filter_entries(entries_visible(scope), **filters)
    rows = qs.values("booked_on").annotate(entries=Sum("lines"), **kind_sums()).order_by("booked_on")
    return [dict(r) for r in rows]


def general_ledger_by_batch(scope: Scope, **filters) -> list[dict]:
    """One row per plan and batch (batch None: the plan's commitments and releases)."""
    qs = _filter_entries(entries_visible(scope), **filters)
    rows = (qs.values("plan_id", "plan__number", "plan__title", "batch_id", "batch__number", "batch__kind")
            .annotate(entries=Sum("lines"), **kind_sums()).order_by("plan__number", "batch__number"))
    return [dict(r) for r in rows]


def ledger_totals(rows: list[dict]) -> dict:
    return {k: sum((r[k] for r in rows), ZERO) for k in KINDS} | {"entries": sum(r["entries"] for r in rows)}


# -- detail ledger -----------------------------------------------------------------------------------------------
DETAIL_FIELDS = (
    "id", "batch__number", "seq", "attempt_no", "batch__plan__number", "batch__policy__name", "batch__period",
    "item__region__name", "payee_name", "account_masked", "bank_name", "amount", "batch__released_at", "status",
    "result_on", "failure_reason", "returned_on",
)
DETAIL_HEADERS = ("批次号", "序号", "第几次发放", "发放方案", "补贴项目", "补贴期间", "村（社区）", "收款人",
                  "收款账号", "开户银行", "金额", "拨付日期", "结果", "处理日期", "失败原因", "退回国库日期")
STATUS_LABELS = dict(AttemptStatus.choices)


def detail_ledger(scope: Scope, *, plan_id=None, batch_id=None, status=None, date_from=None, date_to=None,
                  region_code=None, name=None) -> QuerySet:
    """Attempts (values) in scope, newest batch first; `date_*` filter on the day the batch was released."""
    qs = attempts_visible(scope).exclude(status=AttemptStatus.WITHDRAWN)
    if plan_id:
        qs = qs.filter(batch__plan_id=_int(plan_id))
    if batch_id:
        qs = qs.filter(batch_id=_int(batch_id))
    if status:
        qs = qs.filter(status=status)
    if region_code:
        qs = qs.filter(**in_region("item__region_id", region_code))
    if date_from:
        qs = qs.filter(batch__released_at__date__gte=date_from)
    if date_to:
        qs = qs.filter(batch__released_at__date__lte=date_to)
    if name:
        qs = qs.filter(payee_name=name)
    return qs.values(*DETAIL_FIELDS).order_by("-batch_id", "seq")


def detail_row(row: dict) -> dict:
    """A detail-ledger row for display and export: names masked, labels in Chinese."""
    released = row["batch__released_at"]
    return {
        "id": row["id"], "batch": row["batch__number"], "seq": row["seq"], "attempt_no": row["attempt_no"],
        "plan": row["batch__plan__number"], "policy": row["batch__policy__name"], "period": row["batch__period"],
        "village": row["item__region__name"], "payee": masking.mask_name(row["payee_name"]),
        "account": row["account_masked"], "bank": row["bank_name"], "amount": row["amount"],
        "sent_on": released.date() if isinstance(released, dt.datetime) else released, "status": row["status"],
        "status_label": STATUS_LABELS.get(row["status"], row["status"]), "result_on": row["result_on"],
        "failure_reason": row["failure_reason"], "returned_on": row["returned_on"],
    }


def detail_export_rows(queryset: QuerySet, chunk: int = 2000):
    """Rows for the tabular writers, streamed from the database in chunks (constant memory)."""
    for row in queryset.iterator(chunk_size=chunk):
        r = detail_row(row)
        yield [r["batch"], r["seq"], r["attempt_no"], r["plan"], r["policy"], r["period"], r["village"], r["payee"],
               r["account"], r["bank"], r["amount"], r["sent_on"], r["status_label"], r["result_on"],
               r["failure_reason"], r["returned_on"]]


# -- indicator and finance ledgers -------------------------------------------------------------------------------
def plan_indicator_ledger(scope: Scope, plan_id) -> dict:
    """The indicator entries of one plan (ref payment_plan:<number>) with a running outstanding balance."""
    plan = plan_get(scope, plan_id)
    rows, outstanding, net_paid = [], ZERO, ZERO
    for e in (IndicatorEntry.objects.filter(ref_type=REF_TYPE, ref_id=plan.number).select_related("indicator")
              .order_by("id")):
        if e.kind == "committed":
            outstanding += e.amount
        elif e.kind == "released":
            outstanding -= e.amount
        elif e.kind == "paid":
            outstanding -= e.amount
            net_paid += e.amount
        elif e.kind == "returned":
            net_paid -= e.amount
        rows.append({"id": e.pk, "booked_on": e.booked_on, "kind": e.kind, "kind_label": e.get_kind_display(),
                     "amount": e.amount, "doc_no": e.indicator.doc_no, "actor": e.actor, "note": e.note,
                     "outstanding": outstanding, "net_paid": net_paid})
    return {"plan": plan, "rows": rows, "outstanding": outstanding, "net_paid": net_paid}


def indicator_sums_by_plan(numbers) -> dict[str, dict]:
    """{plan number: {kind: sum}} of the indicator entries of these plans (one GROUP BY)."""
    out: dict[str, dict] = {}
    rows = (IndicatorEntry.objects.filter(ref_type=REF_TYPE, ref_id__in=list(numbers))
            .values("ref_id", "kind").annotate(total=Sum("amount")).order_by())
    for r in rows:
        out.setdefault(r["ref_id"], {k: ZERO for k in INDICATOR_KINDS})[r["kind"]] = r["total"] or ZERO
    return out


def disbursement_ledger(scope: Scope, *, region_code=None, indicator_id=None, fiscal_year=None) -> list[dict]:
    """Finance's disbursement ledger: one row per plan on an indicator, its ledger sums and the indicator's."""
    plans = plans_visible(scope).exclude(indicator=None)
    if region_code:
        plans = plans.filter(**in_region("region_id", region_code))
    if indicator_id:
        plans = plans.filter(indicator_id=_int(indicator_id))
    if fiscal_year:
        plans = plans.filter(fiscal_year=_int(fiscal_year))
    plans = list(plans.select_related("indicator", "policy").order_by("indicator__doc_no", "number")[:2000])
    ids = [p.pk for p in plans]
    sums = {r["plan_id"]: r for r in DisbursementEntry.objects.filter(plan_id__in=ids).values("plan_id")
            .annotate(**kind_sums()).order_by()}
    ind = indicator_sums_by_plan(p.number for p in plans)
    rows = []
    for p in plans:
        s = sums.get(p.pk) or {k: ZERO for k in KINDS}
        i = ind.get(p.number) or {k: ZERO for k in INDICATOR_KINDS}
        rows.append({"plan": p, "indicator": p.indicator, "ledger": s, "indicator_sums": i,
                     "net_paid": s["sent"] - s["returned"],
                     "outstanding": s["committed"] - s["released"] - s["sent"]})
    return rows


def plan_choices(scope: Scope, limit: int = 500) -> list[tuple[int, str]]:
    qs = plans_visible(scope).exclude(indicator=None).order_by("-id").only("id", "number", "title")[:limit]
    return [(p.pk, f"{p.number} {p.title}") for p in qs]


def entries_on(region_code: str, day) -> dict:
    """The day's entries of a county per kind: {kind: {"count" (attempts or plans the entries stand for),
    "amount"}} (all business lines)."""
    qs = DisbursementEntry.objects.filter(**in_region("plan__region_id", region_code), booked_on=day)
    out = {k: {"count": 0, "amount": ZERO} for k in KINDS}
    for r in qs.values("kind").annotate(n=Sum("lines"), total=Sum("amount")).order_by():
        out[r["kind"]] = {"count": r["n"], "amount": r["total"] or ZERO}
    return out

