"""bank_result_import: the bank's result file (回盘) for a released batch of N attempts, imported by result_import.

Not timed: a released batch of N attempts built directly in the database (beneficiaries, items, attempts with
real account digests; the indicator committed and paid through its services) and the result CSV
(`批次号, 序号, 收款账号, 金额, 处理结果, 失败原因, 处理日期`): 98 % 成功, 2 % 失败 with the usual reasons.
Timed: result_import as the paying bank — keep the file, parse and digest every line, stage (COPY /
executemany), classify, apply (attempts, items, ledger entries, indicator return, batch counters and status).
Checked: every line applied, the failed count and amounts, the batch counters, the ledger and the indicator.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REGION = "500101000000"
TOWNSHIP = "500101001000"
FAIL_EVERY = 50  # 2 %
REASONS = ("账户不存在", "户名不符", "账户冻结", "账户已销户", "社保卡未激活金融功能", "")


def _ensure_tables() -> None:
    from django.apps import apps
    from django.db import connection

    existing = set(connection.introspection.table_names())
    missing = [m for label in ("policies", "registry", "applications", "payments")
               for m in apps.get_app_config(label).get_models() if m._meta.db_table not in existing]
    if missing:
        with connection.schema_editor() as editor:
            for model in missing:
                editor.create_model(model)


def _world():
    from yikatong.core import clock
    from yikatong.core.models import BusinessLine, Organization, OrgKind, Region
    from yikatong.core.regions import level_of, parent_code_of
    from yikatong.policies.models import LibraryEntry, Policy, PolicyStatus

    for code, name in {"500000000000": "重庆市", "500100000000": "市辖区", REGION: "万州区", TOWNSHIP: "高笋塘街道"}.items():
        Region.objects.get_or_create(code=code, defaults=dict(name=name, level=level_of(code),
                                                              parent_id=parent_code_of(code), full_name=name))
    dept = Organization.objects.create(code="B-MZJ", name="万州区民政局", kind=OrgKind.DEPARTMENT, region_id=REGION,
                                       business_line=BusinessLine.CIVIL_AFFAIRS)
    Organization.objects.create(code="B-CZJ", name="万州区财政局", kind=OrgKind.FINANCE, region_id=REGION)
    bank = Organization.objects.create(code="B-NSH", name="重庆农商行万州分行", kind=OrgKind.PAYING_BANK,
                                       region_id=REGION)
    year = clock.today().year
    policy = Policy.objects.create(
        code="BENCH-001", name="基准测试补助", business_line=BusinessLine.CIVIL_AFFAIRS, department=dept,
        region_id=REGION, level_set="county", funding_sources=[{"level": "county", "share": "100"}],
        standard_type="fixed", standard_amount=Decimal("300.00"), cycle="monthly", valid_from=dt.date(year, 1, 1),
        status=PolicyStatus.ACTIVE)
    LibraryEntry.objects.create(year=year, region_id=REGION, policy=policy, created_at=clock.now(), created_by="bench")
    return dept, bank, policy


def _account(i: int) -> str:
    return f"62170000{i:011d}"


def _amount_fen(i: int) -> int:
    return 30000 + (i % 100)  # 300.00 … 300.99: every fen matters


def _build(rows: int):
    """A released batch of `rows` attempts, set-based."""
    from django.db import connection

    from yikatong.core import clock, crypto
    from yikatong.core.money import from_fen
    from yikatong.core.scope import Scope
    from yikatong.payments.models import BatchStatus, DisbursementPlan, PaymentBatch, PlanStatus
    from yikatong.policies.services.indicators import indicator_commit, indicator_pay, indicator_receive

    dept, bank, policy = _world()
    today = clock.today()
    period = f"{today.year}-{today.month:02d}"
    total = from_fen(sum(_amount_fen(i) for i in range(1, rows + 1)))
    system = Scope.system(reason="bench")
    indicator = indicator_receive(actor=system, doc_no="基准〔1〕号", received_on=today, amount=total + 1000,
                                  source_level="county", policy_code=policy.code, fiscal_year=today.year,
                                  region_code=REGION, holder_code="B-CZJ")
    plan = DisbursementPlan.objects.create(
        number="FA-BENCH", title="基准测试发放方案", policy=policy, period=period, fiscal_year=today.year,
        region_id=REGION, business_line=policy.business_line, organization=dept, bank=bank, status=PlanStatus.PAYING,
        step_started_on=today, item_count=rows, total_amount=total, indicator=indicator, committed_amount=total,
        created_by="bench")
    indicator_commit(actor=system, indicator_id=indicator.pk, amount=total, ref_type="payment_plan",
                     ref_id=plan.number, policy_code=policy.code, fiscal_year=today.year)
    indicator_pay(actor=system, indicator_id=indicator.pk, amount=total, ref_type="payment_plan", ref_id=plan.number)
    batch = PaymentBatch.objects.create(
        number="PB-BENCH-0001", plan=plan, bank=bank, policy=policy, period=period, region_id=REGION,
        business_line=policy.business_line, indicator=indicator, status=BatchStatus.RELEASED, item_count=rows,
        total_amount=total, released_at=clock.now(), created_by="bench")

    pg = connection.vendor == "postgresql"
    now = connection.ops.adapt_datetimefield_value(clock.now())
    blob = "'\\x00'::bytea" if pg else "X'00'"
    fen = "CAST(s.fen AS numeric) / 100" if pg else "s.fen / 100.0"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_src (i integer PRIMARY KEY, digest text, masked text, fen bigint)")
        chunk = []

        def flush():
            if pg:
                with cursor.cursor.copy("COPY bench_src (i, digest, masked, fen) FROM STDIN") as copy:
                    copy.write("".join(f"{i}\t{d}\t{m}\t{f}\n" for i, d, m, f in chunk))
            else:
                cursor.executemany("INSERT INTO bench_src VALUES (%s, %s, %s, %s)", chunk)
            chunk.clear()

        for i in range(1, rows + 1):
            acc = _account(i)
            chunk.append((i, crypto.digest("account", acc), "*" * 15 + acc[-4:], _amount_fen(i)))
            if len(chunk) >= 50_000:
                flush()
        flush()
        cursor.execute(
            f"""INSERT INTO registry_beneficiary (id, kind, name, id_number_enc, id_digest, id_masked, gender,
                    birth_date, household_id, region_id, address, phone_enc, phone_digest, phone_masked, version,
                    created_at, updated_at)
                SELECT s.i, 'person', '基准' || s.i, {blob}, 'bench-' || s.i, '5001**********' || s.i, '', NULL,
                       NULL, %s, '', NULL, '', '', 1, %s, %s FROM bench_src s""", [TOWNSHIP, now, now])
        cursor.execute(
            f"""INSERT INTO payments_paymentitem (id, plan_id, application_id, beneficiary_id, policy_id, period,
                    region_id, amount, payee_account_id, payee_name, account_enc, account_digest, account_masked,
                    bank_name, status, hold_reason, attempt_count, last_failure_reason, correction_deadline,
                    paid_on, created_at, updated_at)
                SELECT s.i, %s, s.i, s.i, %s, %s, %s, {fen}, NULL, '基准' || s.i, {blob}, s.digest, s.masked,
                       '重庆农村商业银行', 'sending', '', 1, '', NULL, NULL, %s, %s FROM bench_src s""",
            [plan.pk, policy.pk, period, TOWNSHIP, now, now])
        cursor.execute(
            f"""INSERT INTO payments_paymentattempt (id, item_id, attempt_no, batch_id, seq, amount, payee_name,
                    account_enc, account_digest, account_masked, bank_name, status, result_on, failure_reason,
                    result_import_id, returned_on)
                SELECT s.i, s.i, 1, %s, s.i, {fen}, '基准' || s.i, {blob}, s.digest, s.masked, '重庆农村商业银行',
                       'sent', NULL, '', NULL, NULL FROM bench_src s""", [batch.pk])
        cursor.execute("DROP TABLE bench_src")
        if pg:
            for table in ("registry_beneficiary", "payments_paymentitem", "payments_paymentattempt"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
                cursor.execute(f"ANALYZE {table}")
            # The preparation wrote gigabytes of WAL: flush it now, so that its checkpoint does not land in the
            # timed import (superuser only; otherwise the figure includes it).
            try:
                cursor.execute("CHECKPOINT")
            except Exception:  # noqa: BLE001
                pass
    return bank, plan, batch, indicator, total


def _write_file(path: Path, batch_number: str, rows: int, day: dt.date) -> tuple[int, int]:
    """The result CSV; returns (failed lines, failed fen)."""
    failed = failed_fen = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("批次号,序号,收款账号,金额,处理结果,失败原因,处理日期\n")
        lines = []
        for i in range(1, rows + 1):
            fen = _amount_fen(i)
            amount = f"{fen // 100}.{fen % 100:02d}"
            if i % FAIL_EVERY == 0:
                failed += 1
                failed_fen += fen
                lines.append(f"{batch_number},{i},{_account(i)},{amount},失败,{REASONS[i % len(REASONS)]},{day}\n")
            else:
                lines.append(f"{batch_number},{i},{_account(i)},{amount},成功,,{day}\n")
            if len(lines) >= 50_000:
                out.write("".join(lines))
                lines.clear()
        out.write("".join(lines))
    return failed, failed_fen


def _backend_pid() -> int | None:
    """The PostgreSQL server process of this connection (same machine), to report its CPU time: on a shared,
    busy machine the wall time says little, CPU seconds of both processes say what the import costs."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return pid if Path(f"/proc/{pid}/stat").exists() else None


def _wal_position() -> tuple | None:
    """(WAL position, requested checkpoints so far) on PostgreSQL: the import's WAL volume and whether it forced
    checkpoints (each one makes the next change of every page write a full page image)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text, checkpoints_req FROM pg_stat_bgwriter")
        return cursor.fetchone()


def _wal_since(before: tuple | None) -> dict:
    from django.db import connection

    if before is None:
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn), checkpoints_req FROM pg_stat_bgwriter",
                       [before[0]])
        diff, requested = cursor.fetchone()
    return {"wal_mb": round(int(diff) / 2**20), "checkpoints_requested": requested - before[1]}


def _cpu_of(pid: int | None) -> float:
    if not pid:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(rows: int) -> dict:
    from django.db.models import Sum

    from yikatong.core import clock
    from yikatong.core.money import from_fen
    from yikatong.core.scope import Scope
    from yikatong.payments.models import DisbursementEntry, PaymentItem, ResultImport
    from yikatong.payments.services.results import result_import
    from yikatong.policies.models import IndicatorEntry

    _ensure_tables()
    build_started = time.perf_counter()
    bank, plan, batch, indicator, total = _build(rows)
    tmp = Path(tempfile.mkdtemp(prefix="bench-results-"))
    path = tmp / "回盘.csv"
    failed, failed_fen = _write_file(path, batch.number, rows, clock.today())
    prepared = time.perf_counter() - build_started

    actor = Scope.for_organization(bank, username="bench-bank")
    from yikatong.payments.services import results as service

    phases, last = {}, [0.0]

    wal_phases, last_wal = {}, [None]

    def step(name):  # the service's named points between steps: time each phase (and its WAL on PostgreSQL)
        now = time.perf_counter() - started
        phases[name] = round(now - last[0], 2)
        last[0] = now
        position = _wal_position()
        if position and last_wal[0]:
            wal_phases[name] = _wal_since(last_wal[0])["wal_mb"]
        last_wal[0] = position

    service.step = step
    hook = service._after_commit

    def timed_hook(pk):
        """The SMS hook of the notices concern runs on commit: timed apart (and skipped unless
        BENCH_RESULT_HOOK=1), so the figure is the import's own."""
        if os.environ.get("BENCH_RESULT_HOOK") != "1":
            return
        t = time.perf_counter()
        hook(pk)
        phases["after_commit_hook"] = round(time.perf_counter() - t, 2)

    service._after_commit = timed_hook
    backend = _backend_pid()
    cpu_db, cpu_py = _cpu_of(backend), time.process_time()
    wal = last_wal[0] = _wal_position()
    started = time.perf_counter()
    try:
        with open(path, "rb") as fh:
            ri = result_import(actor=actor, fileobj=fh, original_name=path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - started - phases.get("after_commit_hook", 0)
    cpu = {"python": round(time.process_time() - cpu_py, 1)}
    if backend:
        cpu["database"] = round(_cpu_of(backend) - cpu_db, 1)
    wal = _wal_since(wal)

    if ri.status != ResultImport.Status.DONE:
        raise AssertionError(f"import failed: {ri.message}")
    if (ri.line_count, ri.applied_count, ri.duplicate_count, ri.rejected_count) != (rows, rows, 0, 0):
        raise AssertionError(f"counts {ri.line_count, ri.applied_count, ri.duplicate_count, ri.rejected_count}")
    batch.refresh_from_db()
    failed_amount = from_fen(failed_fen)
    expected = (rows - failed, total - failed_amount, failed, failed_amount, "completed")
    got = (batch.paid_count, batch.paid_amount, batch.failed_count, batch.failed_amount, batch.status)
    if got != expected:
        raise AssertionError(f"batch {got} != {expected}")
    sums = dict(DisbursementEntry.objects.filter(batch=batch).values_list("kind").annotate(a=Sum("amount")))
    if from_fen(round(sums.get("paid", 0) * 100)) != total - failed_amount or \
            from_fen(round(sums.get("returned", 0) * 100)) != failed_amount:
        raise AssertionError(f"ledger {sums}")
    if PaymentItem.objects.filter(plan=plan, status="failed").count() != failed:
        raise AssertionError("items")
    returned = IndicatorEntry.objects.get(indicator=indicator, ref_id=plan.number, kind="returned").amount
    if returned != failed_amount:
        raise AssertionError(f"indicator return {returned} != {failed_amount}")
    return {"rows": rows, "seconds": seconds, "paid": rows - failed, "failed": failed,
            "failed_amount": str(failed_amount), "prepare_seconds": round(prepared, 1),
            "phases": phases, "cpu_seconds": cpu, **wal, "wal_mb_phases": wal_phases}
