"""payment_file: the CSV bank payment file (代发明细, SPEC §5.3) of one batch of `rows` items.

Generated before the clock starts: `rows` beneficiaries (INSERT … SELECT over generate_series / a recursive CTE),
`rows` payment items of one plan with REAL encrypted account numbers (AES-GCM in Python, loaded with COPY on
PostgreSQL, executemany on SQLite), then the batch's attempts with the same set-based INSERT … SELECT that
batch_create uses (timed separately, commit with its deferred foreign-key checks included: attempts_seconds wall,
attempts_cpu_seconds this process, attempts_db_cpu_seconds the PostgreSQL backend; the cross-check run of
batch_create is not part of it).

Timed: banks.formats.write_payment_csv into a temporary file (stream from a server-side cursor, decrypt in bulk,
format rows, write): seconds (wall), cpu_seconds (this process), db_cpu_seconds (the PostgreSQL backend, when
the server runs on this host), load_avg (the 1-minute load when it finished: a busy host inflates wall time).
Checked: the file is re-read — header, `rows` payment lines with seq 1..n, every account decrypted in full (digits
only), the control line 合计,<count>,…,<total> — and count and total equal the batch's database totals.
Extra figures: pain001_seconds (BENCH_PAIN001=0 to skip), xlsx_seconds (only with BENCH_XLSX=1; openpyxl is slow).
"""

import csv
import datetime as dt
import os
import tempfile
import time
from decimal import Decimal

from django.db import connection, transaction

AMOUNT = Decimal("300.00")
PERIOD = "2026-03"
CHUNK = 20000


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _ensure_tables() -> None:
    from django.apps import apps

    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for label in ("payments", "checks"):
            for model in apps.get_app_config(label).get_models():
                if model._meta.db_table not in existing and model._meta.managed:
                    editor.create_model(model)


def _series(table: str, columns: dict[str, str], count: int) -> None:
    cols, exprs = ", ".join(columns), ", ".join(columns.values())
    if _pg():
        sql = f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM generate_series(1, {count}) AS g(i)"
    else:
        sql = (f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {count}) "
               f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM g")
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _reference():
    from yikatong.core import clock
    from yikatong.core.models import BusinessLine, Organization, OrgKind, Region
    from yikatong.payments.models import DisbursementPlan, PlanStatus
    from yikatong.policies.models import Policy

    for code, name, level, parent in [("500000000000", "重庆市", 1, None), ("500100000000", "市辖区", 2, "500000000000"),
                                      ("500101000000", "万州区", 3, "500100000000"),
                                      ("500101001000", "高笋塘街道", 4, "500101000000"),
                                      ("500101001001", "村1", 5, "500101001000")]:
        Region.objects.get_or_create(code=code, defaults={"name": name, "level": level, "parent_id": parent,
                                                          "full_name": name})
    dept, _ = Organization.objects.get_or_create(code="WZ-MZJ", defaults={
        "name": "万州区民政局", "kind": OrgKind.DEPARTMENT, "region_id": "500101000000",
        "business_line": BusinessLine.CIVIL_AFFAIRS})
    bank, _ = Organization.objects.get_or_create(code="WZ-NSH", defaults={
        "name": "重庆农商行万州分行", "kind": OrgKind.PAYING_BANK, "region_id": "500101000000", "business_line": ""})
    policy = Policy.objects.create(
        code="BENCH-PAY", name="基准发放补贴", standard_amount="300.00", means_tested=False,
        business_line=BusinessLine.CIVIL_AFFAIRS, department=dept, region_id="500101000000", level_set="county",
        standard_type="fixed", cycle="monthly", valid_from=dt.date(2025, 1, 1), status="active")
    plan = DisbursementPlan.objects.create(
        number="FA-BENCH-1", title="基准发放方案", policy=policy, period=PERIOD, fiscal_year=2026,
        region_id="500101000000", business_line=BusinessLine.CIVIL_AFFAIRS, organization=dept, bank=bank,
        status=PlanStatus.VOUCHERED, step_started_on=clock.today(), created_by="bench")
    return plan


def _item_rows(plan, rows: int, now):
    from yikatong.core import crypto

    ring = crypto.keyring()
    cipher, header = ring.ciphers[ring.current_id], ring.header
    for i in range(1, rows + 1):
        account = f"6217{i:015d}"
        nonce = os.urandom(crypto.NONCE_SIZE)
        blob = header + nonce + cipher.encrypt(nonce, account.encode(), header)
        yield (plan.pk, i, i, plan.policy_id, PERIOD, "500101001001", AMOUNT, i, f"测试{i}", blob,
               f"{i:064d}", f"6217***********{i % 10000:04d}", "重庆农村商业银行", "pending", "", 0, "", now, now)


ITEM_COLUMNS = ("plan_id", "application_id", "beneficiary_id", "policy_id", "period", "region_id", "amount",
                "payee_account_id", "payee_name", "account_enc", "account_digest", "account_masked", "bank_name",
                "status", "hold_reason", "attempt_count", "last_failure_reason", "created_at", "updated_at")


def _load_items(plan, rows: int) -> None:
    from django.utils import timezone

    from yikatong.payments.models import PaymentItem

    table = PaymentItem._meta.db_table
    now = timezone.now()
    if _pg():
        with connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({', '.join(ITEM_COLUMNS)}) FROM STDIN") as copy:
                for row in _item_rows(plan, rows, now):
                    copy.write_row(row)
        return
    marks = ", ".join(["%s"] * len(ITEM_COLUMNS))
    sql = f"INSERT INTO {table} ({', '.join(ITEM_COLUMNS)}) VALUES ({marks})"
    adapt = connection.ops.adapt_datetimefield_value(now)
    batch = []
    with connection.cursor() as cursor:
        for row in _item_rows(plan, rows, now):
            batch.append((*row[:6], str(row[6]), *row[7:17], adapt, adapt))
            if len(batch) >= CHUNK:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)


def _generate(rows: int):
    from yikatong.payments.models import BatchStatus, PaymentBatch

    with transaction.atomic():
        plan = _reference()
        blob = "'\\x00'::bytea" if _pg() else "X'00'"
        _series("registry_beneficiary", {
            "id": "i", "kind": "'person'", "name": "'测试' || CAST(i AS TEXT)", "id_number_enc": blob,
            "id_digest": "CAST(i AS TEXT)", "id_masked": "'500101********0000'", "gender": "'男'",
            "birth_date": "NULL", "household_id": "NULL", "region_id": "'500101001001'", "address": "''",
            "phone_enc": "NULL", "phone_digest": "''", "phone_masked": "''", "version": "1",
            "created_at": "CURRENT_TIMESTAMP", "updated_at": "CURRENT_TIMESTAMP"}, rows)
        _load_items(plan, rows)
        batch = PaymentBatch.objects.create(
            number="PB-BENCH-1", plan=plan, bank_id=plan.bank_id, policy_id=plan.policy_id, period=PERIOD,
            region_id=plan.region_id, business_line=plan.business_line, status=BatchStatus.PREPARED,
            created_by="bench")
    if _pg():
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE payments_paymentitem")
    return plan, batch


def _db_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (read from /proc when the server runs on
    this host; 0.0 otherwise). SQLite runs inside this process: its time is in time.process_time()."""
    if not _pg():
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _attempts(plan, batch) -> dict:
    """The set-based core of batch_create: INSERT … SELECT of the attempts, items → sending, DB totals; the
    commit (deferred foreign-key checks) included. Wall and CPU seconds (this process, the database backend)."""
    from yikatong.payments.models import BatchStatus, ItemStatus
    from yikatong.payments.services import batches as svc

    started, cpu_started, db_started = time.perf_counter(), time.process_time(), _db_cpu()
    with transaction.atomic():
        svc._jit_off()
        inserted = svc._insert_attempts(batch, plan, [ItemStatus.PENDING])
        moved = svc._mark_sending(plan, [ItemStatus.PENDING])
        batch.item_count, batch.total_amount = svc._attempt_totals(batch)
        assert inserted == moved == batch.item_count, (inserted, moved, batch.item_count)
        batch.status = BatchStatus.RELEASED
        batch.save(update_fields=["item_count", "total_amount", "status"])
    figures = {"attempts_seconds": round(time.perf_counter() - started, 2),
               "attempts_cpu_seconds": round(time.process_time() - cpu_started, 2)}
    if _pg():
        figures["attempts_db_cpu_seconds"] = round(_db_cpu() - db_started, 2)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE payments_paymentattempt")
    return figures


def _verify_csv(path: str, batch, rows: int) -> None:
    from yikatong.banks.formats import HEADERS, read_control_line

    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        assert tuple(next(reader)) == HEADERS
        count, total, last = 0, Decimal("0.00"), None
        for row in reader:
            if row[0] == "合计":
                last = row
                break
            count += 1
            assert int(row[1]) == count and row[3].isdigit() and len(row[3]) == 19, row
            total += Decimal(row[5])
        control = read_control_line(last)
    expected = AMOUNT * rows
    assert count == rows == batch.item_count, (count, rows, batch.item_count)
    assert total == expected == batch.total_amount and control.count == rows and control.total == expected


def run(rows: int) -> dict:
    from django.db.models import Sum

    from yikatong.banks import formats
    from yikatong.payments.models import PaymentBatch

    _ensure_tables()
    g0 = time.perf_counter()
    plan, batch = _generate(rows)
    generate_seconds = time.perf_counter() - g0
    attempts = _attempts(plan, batch)
    batch = PaymentBatch.objects.select_related("plan__organization", "policy", "bank").get(pk=batch.pk)
    assert batch.attempts.aggregate(s=Sum("amount"))["s"] == AMOUNT * rows

    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as tmp:
        path = tmp.name
    try:
        started, cpu_started, db_started = time.perf_counter(), time.process_time(), _db_cpu()
        with open(path, "wb") as out:
            totals = formats.write_payment_csv(batch, out)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started  # this process only: shows how much a busy host inflates
        db_cpu_seconds = _db_cpu() - db_started
        assert totals.count == rows and totals.total == AMOUNT * rows
        size_mb = round(os.path.getsize(path) / 1e6, 1)
        _verify_csv(path, batch, rows)
    finally:
        os.unlink(path)
    figures = {"seconds": seconds, "rows": rows, "file_mb": size_mb, "cpu_seconds": round(cpu_seconds, 2),
               **({"db_cpu_seconds": round(db_cpu_seconds, 2)} if _pg() else {}),
               "generate_seconds": round(generate_seconds, 1), **attempts,
               "load_avg": round(os.getloadavg()[0], 1), "total_amount": str(totals.total)}
    if os.environ.get("BENCH_PAIN001", "1") != "0":
        started, cpu_started = time.perf_counter(), time.process_time()
        with tempfile.TemporaryFile() as out:
            pain = formats.write_payment_pain001(batch, out)
        figures["pain001_seconds"] = round(time.perf_counter() - started, 2)
        figures["pain001_cpu_seconds"] = round(time.process_time() - cpu_started, 2)
        assert pain.count == rows
    if os.environ.get("BENCH_XLSX") == "1":
        started = time.perf_counter()
        with tempfile.TemporaryFile() as out:
            xlsx = formats.write_payment_xlsx(batch, out)
        figures["xlsx_seconds"] = round(time.perf_counter() - started, 2)
        assert xlsx.count == rows
    return figures
