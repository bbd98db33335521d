"""reconciliation: reconcile(plan) of one plan with a `rows`-attempt batch whose results are applied.

Generated set-based before the clock starts (INSERT … SELECT over generate_series on PostgreSQL, a recursive CTE
on SQLite): `rows` beneficiaries, `rows` payment items of one paying plan, one completed batch of `rows`
attempts (every 50th failed and its money returned, the rest paid), the ledger entries (SENT per attempt,
PAID/FAILED/RETURNED per kind as the result import books them) and the plan's COMMITTED entry, and the indicator
entries of the plan (committed, paid, returned) with the indicator's balance columns.

Timed: reconcile(plan). Checked: it balances, its figures equal the generated totals; then a planted difference
(one SENT entry of 0.01 inserted raw for seq 1) is reported, naming the batch and the sequence — that second
run is reported as planted_seconds.
"""

import datetime as dt
import time
from decimal import Decimal

from django.db import connection, transaction

FAIL_EVERY = 50
AMOUNT = Decimal("300.00")


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _insert(table: str, columns: dict[str, str], count: int) -> None:
    cols, exprs = ", ".join(columns), ", ".join(columns.values())
    if _pg():
        sql = f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM generate_series(1, {count}) AS g(i)"
    else:
        sql = (f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {count}) "
               f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM g")
    with connection.cursor() as cur:
        cur.execute(sql)


def _pad(prefix: str, expr: str) -> str:
    if _pg():
        return f"'{prefix}' || lpad(CAST({expr} AS TEXT), 63, '0')"
    return f"printf('{prefix}%063d', {expr})"


def _blob() -> str:
    return "'\\x00'::bytea" if _pg() else "X'00'"


def _date(text: str) -> str:
    return f"CAST('{text}' AS DATE)" if _pg() else f"'{text}'"


def _now() -> str:
    return "CURRENT_TIMESTAMP"


def build(n: int):
    from yikatong.core.models import BusinessLine, Organization, OrgKind, Region
    from yikatong.payments.models import (
        ENTRY_CONTROLS,
        BatchKind,
        BatchStatus,
        DisbursementEntry,
        DisbursementPlan,
        PaymentBatch,
        PlanStatus,
    )
    from yikatong.policies.models import BudgetIndicator, IndicatorEntry, Policy

    regions = [("500000000000", "重庆市", 1, None), ("500100000000", "市辖区", 2, "500000000000"),
               ("500101000000", "万州区", 3, "500100000000"), ("500101001000", "高笋塘街道", 4, "500101000000"),
               ("500101001001", "高笋塘社区", 5, "500101001000")]
    for code, name, level, parent in regions:
        Region.objects.get_or_create(code=code, defaults={"name": name, "level": level, "parent_id": parent,
                                                          "full_name": name})
    dept = Organization.objects.create(code="WZ-MZJ", name="万州区民政局", kind=OrgKind.DEPARTMENT,
                                       region_id="500101000000", business_line=BusinessLine.CIVIL_AFFAIRS)
    finance = Organization.objects.create(code="WZ-CZJ", name="万州区财政局", kind=OrgKind.FINANCE,
                                          region_id="500101000000")
    bank = Organization.objects.create(code="WZ-NSH", name="重庆农商行万州分行", kind=OrgKind.PAYING_BANK,
                                       region_id="500101000000")
    policy = Policy.objects.create(code="BENCH-RC", name="基准补贴", business_line=BusinessLine.CIVIL_AFFAIRS,
                                   department=dept, region_id="500101000000", level_set="county",
                                   standard_type="fixed", standard_amount="300.00", cycle="monthly",
                                   valid_from=dt.date(2025, 1, 1), status="active")
    failed_n = n // FAIL_EVERY
    total, failed_total = AMOUNT * n, AMOUNT * failed_n
    paid_total = total - failed_total
    now = dt.datetime.now(dt.UTC)
    indicator = BudgetIndicator.objects.create(
        doc_no="基准指标〔2026〕1号", received_on=dt.date(2026, 1, 5), amount=total * 2, source_level="county",
        policy=policy, fiscal_year=2026, region_id="500101000000", holder=finance, status="active",
        received_total=total * 2, committed_total=0, paid_total=total, returned_total=failed_total,
        available=total * 2 - total + failed_total, created_by="bench", created_at=now)
    plan = DisbursementPlan.objects.create(
        number="FA-BENCH-1", title="基准发放方案", policy=policy, period="2026-03", fiscal_year=2026,
        region_id="500101000000", business_line=BusinessLine.CIVIL_AFFAIRS, organization=dept, bank=bank,
        status=PlanStatus.PAYING, step_started_on=dt.date(2026, 3, 10), item_count=n, total_amount=total,
        indicator=indicator, committed_amount=total, created_by="bench")
    batch = PaymentBatch.objects.create(
        number="PB-BENCH-1", plan=plan, kind=BatchKind.FIRST, bank=bank, policy=policy, period="2026-03",
        region_id="500101000000", business_line=BusinessLine.CIVIL_AFFAIRS, indicator=indicator,
        status=BatchStatus.COMPLETED, item_count=n, total_amount=total, paid_count=n - failed_n,
        paid_amount=paid_total, failed_count=failed_n, failed_amount=failed_total, released_at=now,
        created_by="bench")
    for kind, amount in (("committed", total), ("paid", total), ("returned", failed_total)):
        IndicatorEntry.objects.create(indicator=indicator, kind=kind, amount=amount, ref_type="payment_plan",
                                      ref_id=plan.number, booked_on=dt.date(2026, 3, 10), created_at=now,
                                      actor="bench")
    DisbursementEntry.objects.create(plan=plan, indicator=indicator, kind="committed", amount=total,
                                     booked_on=dt.date(2026, 3, 10), created_at=now, actor="bench")
    fail = f"i % {FAIL_EVERY} = 0"
    _insert("registry_beneficiary", {
        "id": "i", "kind": "'person'", "name": "'测试' || CAST(i AS TEXT)", "id_number_enc": _blob(),
        "id_digest": _pad("p", "i"), "id_masked": "'500101********0000'", "gender": "''", "birth_date": "NULL",
        "household_id": "NULL", "region_id": "'500101001001'", "address": "''", "phone_enc": "NULL",
        "phone_digest": "''", "phone_masked": "''", "version": "1", "created_at": _now(), "updated_at": _now()}, n)
    _insert("payments_paymentitem", {
        "id": "i", "plan_id": str(plan.pk), "application_id": "i", "beneficiary_id": "i",
        "policy_id": str(policy.pk), "period": "'2026-03'", "region_id": "'500101001001'", "amount": "300",
        "payee_account_id": "NULL", "payee_name": "'测试'", "account_enc": _blob(), "account_digest": _pad("a", "i"),
        "account_masked": "'***************0000'", "bank_name": "'重庆农村商业银行'",
        "status": f"CASE WHEN {fail} THEN 'failed' ELSE 'paid' END", "hold_reason": "''", "attempt_count": "1",
        "last_failure_reason": f"CASE WHEN {fail} THEN '账户不存在' ELSE '' END",
        "correction_deadline": f"CASE WHEN {fail} THEN {_date('2026-03-13')} ELSE NULL END",
        "paid_on": f"CASE WHEN {fail} THEN NULL ELSE {_date('2026-03-10')} END", "created_at": _now(),
        "updated_at": _now()}, n)
    _insert("payments_paymentattempt", {
        "id": "i", "item_id": "i", "attempt_no": "1", "batch_id": str(batch.pk), "seq": "i", "amount": "300",
        "payee_name": "'测试'", "account_enc": _blob(), "account_digest": _pad("a", "i"),
        "account_masked": "'***************0000'", "bank_name": "'重庆农村商业银行'",
        "status": f"CASE WHEN {fail} THEN 'failed' ELSE 'paid' END", "result_on": _date("2026-03-10"),
        "failure_reason": f"CASE WHEN {fail} THEN '账户不存在' ELSE '' END", "result_import_id": "NULL",
        "returned_on": f"CASE WHEN {fail} THEN {_date('2026-03-11')} ELSE NULL END"}, n)
    common = {"plan_id": str(plan.pk), "batch_id": str(batch.pk), "attempt_id": "i", "indicator_id": str(indicator.pk),
              "amount": "300", "booked_on": _date("2026-03-10"), "created_at": _now(), "actor": "'bench'", "note": "''"}
    _insert("payments_disbursemententry", {**common, "kind": "'sent'"}, n)
    # the results as the result import books them: one entry per kind and day with the count and hash totals
    # of its attempts (ENTRY_CONTROLS)
    fen = "CAST(ROUND(amount * 100) AS bigint)" if _pg() else "CAST(ROUND(amount * 100) AS INTEGER)"
    money = f"CAST(SUM({fen}) AS numeric) / 100" if _pg() else f"SUM({fen}) / 100.0"
    controls = ", ".join(f"SUM({fen} * (id % {m} + 1))" for _, m in ENTRY_CONTROLS)
    head = (f"SELECT {plan.pk}, {batch.pk}, {indicator.pk}, {{kind}}, {money}, COUNT(*), {controls}, {{day}}, "
            f"{_now()}, 'bench', '' FROM payments_paymentattempt WHERE batch_id = {batch.pk}")
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO payments_disbursemententry (plan_id, batch_id, indicator_id, kind, amount, lines, "
            f"{', '.join(c for c, _ in ENTRY_CONTROLS)}, booked_on, created_at, actor, note) "
            + head.format(kind="status", day=_date("2026-03-10")) + " GROUP BY status UNION ALL "
            + head.format(kind="'returned'", day=_date("2026-03-11")) + " AND status = 'failed'")
    if _pg():
        with connection.cursor() as cur:
            for table in ("payments_paymentitem", "payments_paymentattempt", "payments_disbursemententry",
                          "registry_beneficiary"):
                cur.execute(f"ANALYZE {table}")
    return plan, batch, {"total": total, "paid": paid_total, "returned": failed_total}


def run(rows: int) -> dict:
    from yikatong.core.scope import Scope
    from yikatong.payments.models import DisbursementEntry
    from yikatong.payments.services.reconciliation import reconcile

    with transaction.atomic():
        plan, batch, expected = build(rows)
    actor = Scope.system()
    started = time.perf_counter()
    report = reconcile(actor=actor, plan_id=plan.pk)
    seconds = time.perf_counter() - started
    if not report["balanced"]:
        raise SystemExit(f"clean data does not balance: {report['differences'][:5]}")
    f = report["plans"][0]["figures"]
    if (f["committed"], f["paid"], f["returned"], f["in_flight"], f["unsent"]) != (
            expected["total"], expected["paid"], expected["returned"], Decimal("0.00"), Decimal("0.00")):
        raise SystemExit(f"figures differ from the generated totals: {f} vs {expected}")
    first = batch.attempts.get(seq=1)
    DisbursementEntry.objects.create(plan=plan, batch=batch, attempt_id=first.pk, kind="sent",
                                     amount=Decimal("0.01"), booked_on=dt.date(2026, 3, 10),
                                     created_at=dt.datetime.now(dt.UTC), actor="bench-planted")
    started = time.perf_counter()
    planted = reconcile(actor=actor, plan_id=plan.pk)
    planted_seconds = time.perf_counter() - started
    named = [d for d in planted["differences"]
             if d["level"] == "attempt" and d["batch"] == batch.number and d["seq"] == 1 and d["figure"] == "sent"
             and d["delta"] == Decimal("0.01")]
    if planted["balanced"] or not named:
        raise SystemExit(f"planted difference not reported: {planted['differences'][:5]}")
    return {"rows": rows, "seconds": seconds, "planted_seconds": round(planted_seconds, 3),
            "differences_planted": len(planted["differences"]), "paid": f"{f['paid']:.2f}",
            "returned": f"{f['returned']:.2f}"}
