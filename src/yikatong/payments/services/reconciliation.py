"""Reconciliation (清算对账): the platform vs the bank's results vs the disbursement ledger vs the indicator ledger.

It balances to the fen or lists every difference, each naming the plan/batch (and attempt or result import), the
figure and both values. Set-based: a handful of GROUP BY queries whatever the number of items (docs/payments.md).

Figures (per plan; per batch where they exist):
- platform: attempts by status — in flight (sent, batch released, no result), paid, failed, returned (failed with
  a return date), awaiting return (failed, not yet returned); unsent (items owning committed money that never
  reached the bank, plus attempts of a prepared follow-up batch whose commitment is booked).
- bank: the results applied on the attempts, plus stored result lines still open (the bank said something the
  platform did not apply) — each open line is a difference until reviewed.
- disbursement ledger: DisbursementEntry sums per kind (committed, sent, paid, failed, returned, released); per
  attempt SENT = amount once released; per result import and batch PAID/FAILED = the amounts of the attempts it
  applied, RETURNED = those of its failures (with their count and hash totals).
- indicator ledger: IndicatorEntry sums of ref payment_plan:<number> (committed, paid, returned, released).
Conservation per plan: committed − released = unsent + in flight + awaiting return + paid + returned.
"""

import datetime as dt
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import BigIntegerField, Count, Exists, ExpressionWrapper, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, Mod

from yikatong.core import clock
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.money import format_yuan
from yikatong.core.scope import Scope

from ..models import (
    ENTRY_CONTROLS,
    AttemptStatus,
    BatchKind,
    BatchStatus,
    DisbursementEntry,
    EntryKind,
    ItemEvent,
    ItemStatus,
    PaymentAttempt,
    PaymentBatch,
    PaymentItem,
    PlanStatus,
    ResultLine,
)
from ..selectors.ledgers import _int, in_region, indicator_sums_by_plan, plans_visible
from .common import fen_of

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
NOT_RELEASED = (BatchStatus.PREPARED, BatchStatus.CANCELLED)
COMMITTED_PLAN_STATUSES = (PlanStatus.MOUNTED, PlanStatus.VOUCHERED, PlanStatus.PAYING, PlanStatus.COMPLETED)
UNSENT_STATUSES = (ItemStatus.PENDING, ItemStatus.HELD, ItemStatus.SENDING)  # failed/corrected/paid reached the bank
DETAIL_LIMIT = 1000  # attempt-level and line-level differences listed; the count of the rest is given
PLAN_FIGURES = ("committed", "released", "unsent", "in_flight", "awaiting_return", "paid", "returned")
FIGURE_LABELS = {
    "committed": "挂接金额", "released": "释放挂接", "unsent": "未拨付", "in_flight": "在途（已拨付未回盘）",
    "awaiting_return": "失败待退回", "paid": "发放成功", "returned": "退回国库", "failed": "发放失败",
    "sent": "拨付银行", "conservation": "资金守恒", "item_count": "批次笔数", "total_amount": "批次金额",
    "paid_count": "批次成功笔数", "paid_amount": "批次成功金额", "failed_count": "批次失败笔数",
    "failed_amount": "批次失败金额", "indicator": "挂接指标", "bank_line": "银行回盘未入账", "entry": "台账分录",
}


def _money(value) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(CENT)


def _diff(out: list, *, level: str, figure: str, plan: str = "", batch: str = "", seq=None, left_label: str,
          left, right_label: str, right, message: str = "") -> None:
    left_v = _money(left) if not isinstance(left, int) else left
    right_v = _money(right) if not isinstance(right, int) else right
    if left_v == right_v:
        return
    where = f"方案 {plan}" + (f" 批次 {batch}" if batch else "") + (f" 序号 {seq}" if seq is not None else "")
    label = FIGURE_LABELS.get(figure, figure)
    out.append({
        "level": level, "plan": plan, "batch": batch, "seq": seq, "figure": figure, "label": label,
        "left_label": left_label, "left": left_v, "right_label": right_label, "right": right_v,
        "delta": right_v - left_v,
        "message": message or f"{where}：{label} {left_label} {_fmt(left_v)}，{right_label} {_fmt(right_v)}，"
                              f"相差 {_fmt(right_v - left_v)}。",
    })


def _fmt(value) -> str:
    return format_yuan(value) if isinstance(value, Decimal) else str(value)


# -- selection ---------------------------------------------------------------------------------------------------
def _plans(actor: Scope, *, region_code, plan_id, batch_id, date_from, date_to):
    actor.require("payment.view")
    if actor.own_org_only:
        raise ScopeError("对账报告由财政部门和主管部门查看；银行请查看本行批次。")
    qs = plans_visible(actor)
    batch = None
    if batch_id:
        batch = PaymentBatch.objects.filter(pk=_int(batch_id), plan__in=qs).first()
        if batch is None:
            raise DomainError("代发批次不存在或不在您的管辖范围内。", code="not_found")
        qs = qs.filter(pk=batch.plan_id)
    if plan_id:
        qs = qs.filter(pk=_int(plan_id))
        if not qs.exists():
            raise DomainError("发放方案不存在或不在您的管辖范围内。", code="not_found")
    if region_code:
        if not actor.covers_region(str(region_code)):
            raise ScopeError(f"无权对账区划 {region_code}：不在您的管辖范围内。")
        qs = qs.filter(**in_region("region_id", region_code))
    if date_from or date_to:
        moved = DisbursementEntry.objects.filter(plan_id=OuterRef("pk"))
        if date_from:
            moved = moved.filter(booked_on__gte=date_from)
        if date_to:
            moved = moved.filter(booked_on__lte=date_to)
        qs = qs.filter(Exists(moved))
    return qs.exclude(status=PlanStatus.CANCELLED), batch


def _date(value, label: str):
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DomainError(f"{label}“{value}”无效，应为 YYYY-MM-DD。", field="date_from" if "起" in label
                          else "date_to") from None


# -- queries -----------------------------------------------------------------------------------------------------
# Per-attempt checksums: besides the plain sums, each batch's attempts and entries are summed weighted by the
# attempt id (two moduli), so errors that cancel out inside a batch (one attempt +x, another −x) still change the
# batch's figures; only batches whose figures differ are then compared attempt by attempt (SENT entries) and
# import by import (the result entries, which carry these hash totals of their attempts: ENTRY_CONTROLS). Clean
# data costs a handful of GROUP BY queries whatever its size.
WEIGHTS = tuple(m for _, m in ENTRY_CONTROLS)
RESULT_KINDS = (EntryKind.PAID, EntryKind.FAILED, EntryKind.RETURNED)


def _weighted(id_field: str) -> dict:
    """Sums in integer fen (exact on every database) weighted by the attempt id."""
    fen = fen_of()
    return {f"w{m}": Sum(ExpressionWrapper(fen * (Mod(F(id_field), m) + 1), output_field=BigIntegerField()))
            for m in WEIGHTS}


def _add(target: dict, key: str, n: int, values: tuple) -> None:
    old = target.get(key, (0,) + (ZERO,) * len(values))
    target[key] = (old[0] + n, *(a + b for a, b in zip(old[1:], values, strict=True)))


def _attempt_sums(plan_qs) -> dict:
    """{batch_id: {status | "returned": (count, amount, weighted…)}} — one GROUP BY."""
    out: dict = {}
    rows = (PaymentAttempt.objects.filter(batch__plan__in=plan_qs)
            .values("batch_id", "status", has_returned=Q(returned_on__isnull=False))
            .annotate(n=Count("id"), total=Sum("amount"), **_weighted("id")).order_by())
    for r in rows:
        b = out.setdefault(r["batch_id"], {})
        values = (_money(r["total"]), *(int(r[f"w{m}"] or 0) for m in WEIGHTS))
        _add(b, r["status"], r["n"], values)
        if r["status"] == AttemptStatus.FAILED and r["has_returned"]:
            _add(b, "returned", r["n"], values)
    return out


def _entry_weighted() -> dict:
    """_weighted for entries: an entry of one attempt is weighted by its attempt id, an entry of many attempts
    carries their hash totals (ENTRY_CONTROLS)."""
    fen = fen_of()
    return {f"w{m}": Sum(Coalesce(ExpressionWrapper(fen * (Mod(F("attempt_id"), m) + 1),
                                                    output_field=BigIntegerField()), F(column)))
            for column, m in ENTRY_CONTROLS}


def _entry_sums(plan_qs) -> dict:
    """{(plan_id, batch_id): {kind: (amount, weighted…, lines)}} — one GROUP BY."""
    out: dict = {}
    rows = (DisbursementEntry.objects.filter(plan__in=plan_qs).values("plan_id", "batch_id", "kind")
            .annotate(total=Sum("amount"), lines=Sum("lines"), **_entry_weighted()).order_by())
    for r in rows:
        out.setdefault((r["plan_id"], r["batch_id"]), {})[r["kind"]] = (
            _money(r["total"]), *(int(r[f"w{m}"] or 0) for m in WEIGHTS), int(r["lines"] or 0))
    return out


def committed_unsent_items(plan_ids):
    """Items (not removed) of these plans that own committed money which never reached the bank.

    The mount commits the payable items (not the held ones); an item held after the commitment keeps it (its
    last hold is later than the plan's first COMMITTED entry). Items with a released attempt are out: their
    money went to the bank (a follow-up batch commits again when it is created, counted with its batch)."""
    reached = (PaymentAttempt.objects.filter(item_id=OuterRef("pk")).exclude(status=AttemptStatus.WITHDRAWN)
               .exclude(status=AttemptStatus.SENT, batch__status__in=NOT_RELEASED))
    first_commit = (DisbursementEntry.objects.filter(plan_id=OuterRef(OuterRef("plan_id")), kind=EntryKind.COMMITTED)
                    .order_by("created_at").values("created_at")[:1])
    held_later = ItemEvent.objects.filter(item_id=OuterRef("pk"), action="hold", at__gte=Subquery(first_commit))
    return (PaymentItem.objects.filter(plan_id__in=plan_ids, status__in=UNSENT_STATUSES)
            .exclude(Exists(reached)).filter(~Q(status=ItemStatus.HELD) | Exists(held_later)))


def _never_sent(plan_ids) -> dict:
    """{plan_id: amount} of committed_unsent_items."""
    rows = committed_unsent_items(plan_ids).values("plan_id").annotate(total=Sum("amount")).order_by()
    return {r["plan_id"]: _money(r["total"]) for r in rows}


def _cents(expr: str) -> str:
    return f"ROUND(COALESCE({expr}, 0) * 100)"


def _attempt_mismatches(batch_ids: list[int], limit: int) -> tuple[list[tuple], int]:
    """Attempts of these batches whose own SENT entry does not match their amount (first `limit`, and the
    count). Results are booked per import, not per attempt: _import_mismatches compares those."""
    marks = ", ".join(["%s"] * len(batch_ids))
    plan_sql, params = marks, list(batch_ids)
    a, e, b = (PaymentAttempt._meta.db_table, DisbursementEntry._meta.db_table, PaymentBatch._meta.db_table)
    amount = _cents("a.amount")
    released = f"(b.status NOT IN ('{BatchStatus.PREPARED}', '{BatchStatus.CANCELLED}') AND a.status <> 'withdrawn')"
    where = f"{_cents('e.sent_sum')} <> CASE WHEN {released} THEN {amount} ELSE 0 END"
    body = (f"FROM {a} a JOIN {b} b ON b.id = a.batch_id "
            f"LEFT JOIN (SELECT attempt_id, SUM(amount) AS sent_sum FROM {e} WHERE attempt_id IS NOT NULL "
            f"AND kind = '{EntryKind.SENT}' AND batch_id IN ({plan_sql}) GROUP BY attempt_id) e ON e.attempt_id = a.id "
            f"WHERE a.batch_id IN ({plan_sql}) AND ({where})")
    select = "SELECT b.plan_id, b.number, a.seq, a.status, a.amount, b.status, e.sent_sum "
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL work_mem = '256MB'")  # one hash aggregate over the batch's entries
        cur.execute(select + body + f" ORDER BY a.batch_id, a.seq LIMIT {limit + 1}", [*params, *params])
        rows = cur.fetchall()
        total = len(rows)
        if total > limit:
            cur.execute("SELECT COUNT(*) " + body, [*params, *params])
            total = cur.fetchone()[0]
    return rows[:limit], total


def _import_mismatches(batch_ids: list[int]) -> list[tuple]:
    """(batch_id, result import id, kind, platform (lines, fen, weighted…), ledger (lines, fen, weighted…)) of
    these batches where the attempts a result import applied and the entries it booked differ."""
    fen = fen_of()
    platform: dict = {}
    rows = (PaymentAttempt.objects.filter(batch_id__in=batch_ids, status__in=[AttemptStatus.PAID,
                                                                              AttemptStatus.FAILED])
            .values("batch_id", "result_import_id", "status", has_returned=Q(returned_on__isnull=False))
            .annotate(n=Count("id"), fen=Sum(fen), **_weighted("id")).order_by())
    for r in rows:
        values = (r["n"], int(r["fen"] or 0), *(int(r[f"w{m}"] or 0) for m in WEIGHTS))
        kinds = [r["status"]] + (["returned"] if r["status"] == AttemptStatus.FAILED and r["has_returned"] else [])
        for kind in kinds:
            key = (r["batch_id"], r["result_import_id"], kind)
            platform[key] = tuple(a + b for a, b in zip(platform.get(key, (0,) * len(values)), values, strict=True))
    ledger: dict = {}
    rows = (DisbursementEntry.objects.filter(batch_id__in=batch_ids, kind__in=RESULT_KINDS)
            .values("batch_id", "result_import_id", "kind")
            .annotate(n=Sum("lines"), fen=Sum(fen), **_entry_weighted()).order_by())
    for r in rows:
        ledger[(r["batch_id"], r["result_import_id"], r["kind"])] = (
            int(r["n"] or 0), int(r["fen"] or 0), *(int(r[f"w{m}"] or 0) for m in WEIGHTS))
    zero = (0,) * (2 + len(WEIGHTS))
    return [(*key, platform.get(key, zero), ledger.get(key, zero))
            for key in sorted(platform.keys() | ledger.keys(), key=lambda k: (k[0], str(k[1] or ""), k[2]))
            if platform.get(key, zero) != ledger.get(key, zero)]


def _orphan_entries(plan_qs, batch_ids: list[int], limit: int) -> list[dict]:
    """Entries of flagged batches pointing at an attempt that is not in their batch, and attempt entries
    without a batch."""
    wrong_attempt = (DisbursementEntry.objects.filter(batch_id__in=batch_ids, attempt_id__isnull=False)
                     .exclude(Exists(PaymentAttempt.objects.filter(pk=OuterRef("attempt_id"),
                                                                   batch_id=OuterRef("batch_id")))))
    no_batch = DisbursementEntry.objects.filter(plan__in=plan_qs, batch__isnull=True, attempt_id__isnull=False)
    fields = ("id", "plan__number", "batch__number", "attempt_id", "kind", "amount")
    rows = list(no_batch.values(*fields)[:limit])
    if batch_ids:
        rows += list(wrong_attempt.values(*fields)[:limit])
    return rows


def _open_lines(batch_numbers, limit: int) -> tuple[list[dict], int]:
    qs = ResultLine.objects.filter(review=ResultLine.Review.OPEN, batch_number__in=list(batch_numbers))
    total = qs.count()
    rows = list(qs.order_by("id").values("id", "batch_number", "seq", "account_masked", "amount", "outcome",
                                         "disposition", "message")[:limit])
    return rows, total


# -- the report --------------------------------------------------------------------------------------------------
def reconcile(*, actor: Scope, region_code=None, plan_id=None, batch_id=None, date_from=None,
              date_to=None) -> dict:
    """The reconciliation report (a dict; money as Decimal): plans, batches, differences, balanced."""
    date_from, date_to = _date(date_from, "起始日期"), _date(date_to, "截止日期")
    plan_qs, only_batch = _plans(actor, region_code=region_code, plan_id=plan_id, batch_id=batch_id,
                                 date_from=date_from, date_to=date_to)
    plans = list(plan_qs.values("id", "number", "title", "status", "indicator_id", "region_id")
                 .order_by("number"))
    by_id = {p["id"]: p for p in plans}
    ids = list(by_id)
    batches = list(PaymentBatch.objects.filter(plan_id__in=ids).values(
        "id", "number", "plan_id", "status", "kind", "item_count", "total_amount", "paid_count", "paid_amount",
        "failed_count", "failed_amount").order_by("plan_id", "id")) if ids else []
    attempts = _attempt_sums(plan_qs) if ids else {}
    entries = _entry_sums(plan_qs) if ids else {}
    indicator = indicator_sums_by_plan(p["number"] for p in plans) if ids else {}
    indicator_ids = _indicator_ids([p["number"] for p in plans]) if ids else {}
    committed_ids = [p["id"] for p in plans if p["status"] in COMMITTED_PLAN_STATUSES]
    never_sent = _never_sent(committed_ids) if committed_ids else {}
    differences: list[dict] = []
    platform = {pid: dict.fromkeys(PLAN_FIGURES, ZERO) for pid in ids}

    batch_rows, flagged = [], []
    nw = len(WEIGHTS)
    for bt in batches:
        plan_no = by_id[bt["plan_id"]]["number"]
        s = attempts.get(bt["id"], {})
        ledger_w = entries.get((bt["plan_id"], bt["id"]), {})
        zero = (0, ZERO) + (0,) * nw
        cnt = {k: s.get(k, zero)[0] for k in ("sent", "paid", "failed", "withdrawn", "returned")}
        amt = {k: s.get(k, zero)[1] for k in ("sent", "paid", "failed", "withdrawn", "returned")}
        wts = {k: s.get(k, zero)[2:] for k in ("sent", "paid", "failed", "returned")}
        released = bt["status"] not in NOT_RELEASED
        fig = platform[bt["plan_id"]]
        if released:
            fig["in_flight"] += amt["sent"]
            fig["paid"] += amt["paid"]
            fig["returned"] += amt["returned"]
            fig["awaiting_return"] += amt["failed"] - amt["returned"]
        elif bt["status"] == BatchStatus.PREPARED and bt["kind"] == BatchKind.RESEND:
            fig["unsent"] += amt["sent"]  # a follow-up batch is committed when it is created
        expected = {
            "sent": amt["sent"] + amt["paid"] + amt["failed"] if released else ZERO,
            "paid": amt["paid"], "failed": amt["failed"], "returned": amt["returned"],
        }
        expected_w = {
            "sent": tuple(a + b + c for a, b, c in zip(wts["sent"], wts["paid"], wts["failed"], strict=True))
            if released else (0,) * nw,
            "paid": wts["paid"], "failed": wts["failed"], "returned": wts["returned"],
        }
        expected_n = {"sent": cnt["sent"] + cnt["paid"] + cnt["failed"] if released else 0,
                      "paid": cnt["paid"], "failed": cnt["failed"], "returned": cnt["returned"]}
        ledger = {k: ledger_w.get(k, (ZERO,))[0] for k in ("committed", "sent", "paid", "failed", "returned",
                                                           "released")}
        row = {"id": bt["id"], "number": bt["number"], "plan": plan_no, "status": bt["status"], "kind": bt["kind"],
               "count": cnt["sent"] + cnt["paid"] + cnt["failed"], "platform": {**amt, "expected": expected},
               "counts": cnt, "ledger": ledger,
               "header": {k: bt[k] for k in ("item_count", "total_amount", "paid_count", "paid_amount",
                                              "failed_count", "failed_amount")}}
        show = only_batch is None or only_batch.pk == bt["id"]
        before = len(differences)
        if show:
            for kind in ("sent", "paid", "failed", "returned"):
                _diff(differences, level="batch", figure=kind, plan=plan_no, batch=bt["number"],
                      left_label="平台明细", left=expected[kind], right_label="发放台账", right=ledger[kind])
                # something differs attempt by attempt (maybe cancelling out), or in the number of movements
                entry = ledger_w.get(kind, (ZERO,) + (0,) * (nw + 1))
                if (tuple(entry[1:1 + nw]) != tuple(expected_w[kind]) or entry[-1] != expected_n[kind]) \
                        and bt["id"] not in flagged:
                    flagged.append(bt["id"])
            if bt["status"] != BatchStatus.CANCELLED:
                _batch_header(differences, row, plan_no)
            if len(differences) > before and bt["id"] not in flagged:
                flagged.append(bt["id"])
        row["balanced"] = len(differences) == before
        if show:
            batch_rows.append(row)
    own_batches = {(b["plan_id"], b["id"]) for b in batches}
    for (plan_key, batch_key), sums in entries.items():
        if batch_key is not None and (plan_key, batch_key) not in own_batches:
            total = sum((v[0] for v in sums.values()), ZERO)
            differences.append({
                "level": "entry", "plan": by_id[plan_key]["number"], "batch": str(batch_key), "seq": None,
                "figure": "entry", "label": FIGURE_LABELS["entry"], "left_label": "平台明细", "left": ZERO,
                "right_label": "发放台账", "right": total, "delta": total,
                "message": f"方案 {by_id[plan_key]['number']}：有 {format_yuan(total)} 元台账分录记在不属于本方案的"
                           f"批次（ID {batch_key}）上。"})

    plan_rows = []
    for p in plans:
        pid, number = p["id"], p["number"]
        ledger: dict = {}
        for (plan_key, _batch), sums in entries.items():
            if plan_key == pid:
                for k, v in sums.items():
                    ledger[k] = ledger.get(k, ZERO) + v[0]
        ledger = {k: ledger.get(k, ZERO) for k in ("committed", "released", "sent", "paid", "failed", "returned")}
        ind = indicator.get(number) or {k: ZERO for k in ("committed", "paid", "returned", "released")}
        fig = platform[pid]
        fig["committed"], fig["released"] = ledger["committed"], ledger["released"]
        fig["unsent"] += never_sent.get(pid, ZERO)
        before = len(differences)
        left = ledger["committed"] - ledger["released"]
        right = fig["unsent"] + fig["in_flight"] + fig["awaiting_return"] + fig["paid"] + fig["returned"]
        _diff(differences, level="plan", figure="conservation", plan=number,
              left_label="挂接−释放", left=left, right_label="未拨付+在途+待退回+成功+退回", right=right)
        _diff(differences, level="plan", figure="unsent", plan=number, left_label="平台明细", left=fig["unsent"],
              right_label="发放台账（挂接−释放−拨付）", right=ledger["committed"] - ledger["released"] - ledger["sent"])
        for ours, theirs, label in (("committed", "committed", "指标挂接"), ("released", "released", "指标释放"),
                                    ("sent", "paid", "指标支付"), ("returned", "returned", "指标退回")):
            _diff(differences, level="indicator", figure=ours, plan=number, left_label="发放台账",
                  left=ledger[ours], right_label=label, right=ind[theirs])
        for other in indicator_ids.get(number, set()) - {p["indicator_id"]}:
            differences.append({
                "level": "indicator", "plan": number, "batch": "", "seq": None, "figure": "indicator",
                "label": FIGURE_LABELS["indicator"], "left_label": "方案挂接指标", "left": p["indicator_id"],
                "right_label": "指标台账", "right": other, "delta": None,
                "message": f"方案 {number}：指标台账有记在其他指标（{other}）上的分录，方案挂接的是指标 {p['indicator_id']}。"})
        plan_rows.append({"id": pid, "number": number, "title": p["title"], "status": p["status"],
                          "figures": fig, "ledger": ledger, "indicator": ind,
                          "balanced": len(differences) == before})

    attempt_rows, attempt_total = _attempt_mismatches(flagged, DETAIL_LIMIT) if flagged else ([], 0)
    for row in attempt_rows:
        _attempt_difference(differences, row, by_id)
    if flagged:
        numbers = {b["id"]: (by_id[b["plan_id"]]["number"], b["number"]) for b in batches}
        for row in _import_mismatches(flagged):
            _import_difference(differences, row, numbers)
    for e in _orphan_entries(plan_qs, flagged, DETAIL_LIMIT) if ids else []:
        differences.append({
            "level": "entry", "plan": e["plan__number"], "batch": e["batch__number"] or "", "seq": None,
            "figure": "entry", "label": FIGURE_LABELS["entry"], "left_label": "平台明细", "left": ZERO,
            "right_label": "发放台账", "right": _money(e["amount"]), "delta": _money(e["amount"]),
            "message": f"方案 {e['plan__number']}：台账分录 {e['id']}（{e['kind']} {format_yuan(e['amount'])} 元）"
                       f"指向的发放记录 {e['attempt_id'] or ''} 或批次不属于本方案。"})
    lines, line_total = _open_lines((b["number"] for b in batches if only_batch is None or
                                     only_batch.pk == b["id"]), DETAIL_LIMIT)
    for ln in lines:
        differences.append({
            "level": "bank_line", "plan": "", "batch": ln["batch_number"], "seq": ln["seq"], "figure": "bank_line",
            "label": FIGURE_LABELS["bank_line"], "left_label": "平台", "left": "未入账", "right_label": "银行回盘",
            "right": f"{ln['outcome']} {ln['amount']}", "delta": None,
            "message": f"批次 {ln['batch_number']} 序号 {ln['seq']}：银行回盘“{ln['outcome']} {ln['amount']}”未入账"
                       f"（{ln['message']}），待复核。"})
    totals = {k: sum((r["figures"][k] for r in plan_rows), ZERO) for k in PLAN_FIGURES}
    return {
        "generated_at": clock.now(), "filters": {"region_code": region_code or "", "plan_id": plan_id,
                                                 "batch_id": batch_id, "date_from": date_from, "date_to": date_to},
        "balanced": not differences, "plans": plan_rows, "batches": batch_rows, "totals": totals,
        "differences": differences, "attempt_differences": attempt_total, "open_bank_lines": line_total,
        "truncated": attempt_total > DETAIL_LIMIT or line_total > DETAIL_LIMIT,
    }


def _indicator_ids(numbers: list[str]) -> dict[str, set]:
    from yikatong.policies.models import IndicatorEntry

    out: dict[str, set] = {}
    for ref_id, ind in (IndicatorEntry.objects.filter(ref_type="payment_plan", ref_id__in=numbers)
                        .values_list("ref_id", "indicator_id").distinct()):
        out.setdefault(ref_id, set()).add(ind)
    return out


def _batch_header(differences: list, row: dict, plan_no: str) -> None:
    """The batch's own totals (written by the batch and result services) against its attempts."""
    h, amt, cnt = row["header"], row["platform"], row["counts"]
    pairs = (("item_count", row["count"]), ("total_amount", amt["sent"] + amt["paid"] + amt["failed"]),
             ("paid_count", cnt["paid"]), ("paid_amount", amt["paid"]), ("failed_count", cnt["failed"]),
             ("failed_amount", amt["failed"]))
    for key, actual in pairs:
        _diff(differences, level="batch", figure=key, plan=plan_no, batch=row["number"], left_label="平台明细",
              left=actual, right_label="批次汇总", right=h[key])


def _attempt_difference(differences: list, row: tuple, by_id: dict) -> None:
    plan_id, batch_no, seq, status, amount, batch_status, sent = row
    released = batch_status not in NOT_RELEASED and status != AttemptStatus.WITHDRAWN
    _diff(differences, level="attempt", figure="sent", plan=by_id[plan_id]["number"], batch=batch_no, seq=seq,
          left_label="发放记录", left=_money(amount) if released else ZERO, right_label="发放台账",
          right=_money(sent))


def _import_difference(differences: list, row: tuple, numbers: dict) -> None:
    """The attempts one result import applied (by result) against the entries it booked."""
    batch_id, import_id, kind, platform, ledger = row
    plan_no, batch_no = numbers[batch_id]
    source = f"回盘导入 {str(import_id)[:8]}" if import_id else "未记导入的回盘结果"
    label = FIGURE_LABELS.get(kind, kind)
    left, right = platform[1] / Decimal(100), ledger[1] / Decimal(100)
    if platform[:2] == ledger[:2]:
        detail = "笔数和金额相符，逐笔校验和不符（笔间差错互相抵消）"
    else:
        detail = (f"发放记录 {platform[0]} 笔 {_fmt(_money(left))} 元，"
                  f"发放台账 {ledger[0]} 笔 {_fmt(_money(right))} 元")
    differences.append({
        "level": "import", "plan": plan_no, "batch": batch_no, "seq": None, "figure": kind, "label": label,
        "left_label": "发放记录", "left": _money(left), "right_label": "发放台账", "right": _money(right),
        "delta": _money(right - left),
        "message": f"方案 {plan_no} 批次 {batch_no} {source}：{label} {detail}。"})


def report_json(report: dict) -> dict:
    """The report with money and dates as strings (API, stored documents)."""
    def conv(value):
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: conv(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [conv(v) for v in value]
        return value

    return conv(report)

