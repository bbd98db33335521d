"""Set-based loading shared by both databases; load_postgres / load_sqlite supply what differs.

Per import, four session-private (TEMP) tables, named after the import:
  stage   one row per data row that got past the per-row checks (ok = 1), plus — for the duplicate check —
          rows refused per row whose identifier was valid (ok = 0, digest only)
  err     every refusal: row, column, masked value, reason, raw row
  region  the regions met in the file: project-library verdict and collector in charge
  map     the ids given to the rows that are imported (beneficiary, account, application), with their
          region and amount (the reference check and the total need nothing else)
Nothing here writes a business table except `insert_*`, which the service runs inside the one
transaction that makes the whole import visible at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from decimal import Decimal

from django.db import connection as default_connection

from .validate import STAGE_COLUMNS

NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # applications.rules.NUMBER_ALPHABET (sorted, as ASCII)
NUMBER_BITS = 40  # 8 base-32 characters


def number_sql(offset: int, day_text: str, base: int) -> str:
    """SQL for applications.rules' number format `SB` + yyyymmdd + 8 base-32 characters, where the 8
    characters encode the 40-bit integer offset + (application id - base). Standard SQL (both databases);
    the values are ours (ints and 8 digits), so they are written as literals."""
    offset, base, day_text = int(offset), int(base), str(day_text)
    if not day_text.isdigit():
        raise ValueError("day_text must be yyyymmdd")
    value = f"(CAST({offset} AS BIGINT) + m.app_id - {base})"
    digits = [
        f"substr('{NUMBER_ALPHABET}', CAST((({value} >> {shift}) & 31) AS INTEGER) + 1, 1)"
        for shift in range(NUMBER_BITS - 5, -1, -5)
    ]
    return f"'SB{day_text}' || " + " || ".join(digits)


def encode_number(day_text: str, value: int) -> str:
    chars = []
    for shift in range(NUMBER_BITS - 5, -1, -5):
        chars.append(NUMBER_ALPHABET[(value >> shift) & 31])
    return f"SB{day_text}{''.join(chars)}"


class Loader:
    """Staging for one import on one connection (vendor subclasses: PostgresLoader, SqliteLoader)."""

    vendor = ""
    bool_true = 1

    def __init__(self, import_id, connection=None):
        self.conn = connection or default_connection
        suffix = import_id.hex[:16]
        self.stage = f"rstage_{suffix}"
        self.err = f"rerr_{suffix}"
        self.regions = f"rregion_{suffix}"
        self.map = f"rmap_{suffix}"

    # -- vendor hooks ------------------------------------------------------------------------------
    def create(self) -> None:
        raise NotImplementedError

    def load(self, result) -> None:
        raise NotImplementedError

    def fill_map(self) -> None:
        raise NotImplementedError

    def json_param(self) -> str:
        return "%s"

    def analyze(self) -> None:
        """Refresh the planner's statistics of the staging table once it is loaded."""

    def order(self, table: str) -> str:
        """The order in which the rows of `table` (beneficiary, account, application) are inserted: by
        default the row order, in which the staging and map tables are stored (no sort needed)."""
        return "m.row_no"

    def stage_files_possible(self) -> bool:
        """Whether workers may hand blocks over as SQLite files (validate.Context.stage_dir)."""
        return False

    def staging_transaction(self):
        """Groups staging writes made outside the import's transaction (SQLite needs it)."""
        return nullcontext()

    def tune(self) -> None:
        """Session settings for a big import (restored by `untune`)."""

    def untune(self) -> None:
        pass

    # -- foreign keys: checked once per import instead of once per inserted row ----------------------
    # The bulk inserts reference (1) rows inserted by the same statements of the same transaction and
    # (2) a few pre-existing rows: the regions and collectors met in the file, the policy, the import,
    # the registered persons and accounts matched by the registry check. Where the database allows it,
    # the per-row foreign-key triggers/lookups are skipped for the bulk inserts and `check_references`
    # proves the same thing set-based: (1) by the inserted row counts, (2) by finding — and on
    # PostgreSQL locking FOR KEY SHARE, exactly as the triggers would — every referenced row.
    key_share = ""  # locking clause of a parent-row check (PostgreSQL: FOR KEY SHARE)

    @contextmanager
    def around_transaction(self):
        """Entered outside the import's transaction, around it (SQLite switches its lookups there)."""
        yield

    def references_unchecked(self) -> bool:
        """Inside the transaction, before the bulk inserts: skip the per-row checks if the database
        lets this session do so. Returns True when they are skipped (check_references must then run)."""
        return False

    def references_checked(self) -> None:
        """After the bulk inserts: per-row checks on again for whatever the transaction still writes."""

    def _found(self, keys_sql: str, params: Iterable = ()) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM ({keys_sql}{self.key_share}) x", params) or 0)

    def check_references(self, *, policy_id: int, collector_id: int | None, inserted: dict) -> None:
        """Raise (the transaction rolls back) unless every reference of the inserted rows exists.
        `inserted`: row counts of the insert statements (beneficiaries, versions, accounts,
        applications; the applications' creation events are implied, not stored)."""
        from yikatong.core.models import Organization, Region
        from yikatong.policies.models import Policy
        from yikatong.registry.models import Beneficiary, PayeeAccount

        expected = self.fetchall(
            f"SELECT COUNT(*), COALESCE(SUM(ben_new), 0), COALESCE(SUM(acc_new), 0) FROM {self.map}")[0]
        apps, new_people, new_accounts = (int(v) for v in expected)
        problems = []
        for what, count, want in (("beneficiaries", inserted["beneficiaries"], new_people),
                                  ("versions", inserted["versions"], new_people),
                                  ("accounts", inserted["accounts"], new_accounts),
                                  ("applications", inserted["applications"], apps)):
            if count != want:
                problems.append(f"{count} {what} inserted, {want} expected")
        # regions of the imported rows (beneficiaries and applications)
        regions = sorted(self.imported_regions())
        found = sum(self._found(f"SELECT c.code FROM {Region._meta.db_table} c WHERE c.code IN ({_marks(part)})", part)
                    for part in _chunks(regions))
        if found != len(regions):
            problems.append(f"{len(regions) - found} region(s) missing")
        if self._found(f"SELECT p.id FROM {Policy._meta.db_table} p WHERE p.id = %s", [policy_id]) != 1:
            problems.append("policy missing")
        if collector_id is not None:
            collectors = [collector_id]
        else:
            collectors = sorted({row[0] for part in _chunks(regions) for row in self.fetchall(
                f"""SELECT r.collector_id FROM {self.regions} r
                    WHERE r.collector_id IS NOT NULL AND r.code IN ({_marks(part)})""", part)})
        found = sum(self._found(f"SELECT o.id FROM {Organization._meta.db_table} o WHERE o.id IN ({_marks(part)})", part)
                    for part in _chunks(collectors))
        if found != len(collectors):
            problems.append("collector missing")
        # registered persons and active accounts the imported rows build on
        for model, column, flag in ((Beneficiary, "ben_id", "ben_new"), (PayeeAccount, "acc_id", "acc_new")):
            subset = f"SELECT m.{column} FROM {self.map} m WHERE m.{flag} = 0"
            want = self.scalar(f"SELECT COUNT(DISTINCT {column}) FROM ({subset}) x")
            if want and self._found(f"SELECT t.id FROM {model._meta.db_table} t WHERE t.id IN ({subset})") != want:
                problems.append(f"registered {model._meta.model_name} missing")
        if problems:
            raise RuntimeError("roster import: references not satisfied: " + "; ".join(problems))

    # -- helpers -----------------------------------------------------------------------------------
    def execute(self, sql: str, params: Iterable = ()) -> int:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.rowcount

    def fetchall(self, sql: str, params: Iterable = ()) -> list:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.fetchall()

    def scalar(self, sql: str, params: Iterable = ()):
        rows = self.fetchall(sql, params)
        return rows[0][0] if rows else None

    def stream(self, sql: str, params: Iterable = (), size: int = 2000) -> Iterator[tuple]:
        """Rows of a query, fetched in batches (a server-side cursor on PostgreSQL)."""
        cursor = self.conn.chunked_cursor()
        try:
            cursor.execute(sql, list(params))
            while True:
                rows = cursor.fetchmany(size)
                if not rows:
                    return
                yield from rows
        finally:
            cursor.close()

    def drop(self) -> None:
        for table in (self.stage, self.err, self.regions, self.map):
            self.execute(f"DROP TABLE IF EXISTS {table}")

    def add_errors(self, rows: list[tuple]) -> None:
        """rows: (row_no, column, value, reason, raw)."""
        if not rows:
            return
        with self.staging_transaction(), self.conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.err} (row_no, col, value, reason, raw) VALUES (%s, %s, %s, %s, %s)", rows
            )

    def set_not_ok(self, row_numbers: list[int]) -> None:
        if not row_numbers:
            return
        with self.staging_transaction(), self.conn.cursor() as cursor:
            cursor.executemany(f"UPDATE {self.stage} SET ok = 0 WHERE row_no = %s", [(n,) for n in row_numbers])

    # -- phase A: whole-file checks on the staging table ---------------------------------------------
    def reject_later_duplicates(self, *, column: str, prefix: str, suffix: str) -> int:
        """Refuse staged rows whose identifier appeared in an earlier row (staged, whether accepted or
        not): reason = prefix + first row number + suffix. Set-based; returns the number refused."""
        dup = f"{self.stage}_dup"
        self.execute(f"DROP TABLE IF EXISTS {dup}")
        with self.staging_transaction():
            self.execute(
                f"""CREATE TEMP TABLE {dup} AS
                    SELECT s.row_no AS row_no, f.first_row AS first_row
                    FROM {self.stage} s
                    JOIN (SELECT id_digest, MIN(row_no) AS first_row FROM {self.stage}
                          GROUP BY id_digest HAVING COUNT(*) > 1) f ON f.id_digest = s.id_digest
                    WHERE s.row_no > f.first_row AND s.ok = 1"""
            )
            count = self.scalar(f"SELECT COUNT(*) FROM {dup}") or 0
            if count:
                self.execute(
                    f"""INSERT INTO {self.err} (row_no, col, value, reason, raw)
                        SELECT s.row_no, %s, s.id_masked, %s || CAST(d.first_row AS TEXT) || %s, s.raw
                        FROM {self.stage} s JOIN {dup} d ON d.row_no = s.row_no ORDER BY s.row_no""",
                    [column, prefix, suffix],
                )
                self.execute(f"UPDATE {self.stage} SET ok = 0 WHERE row_no IN (SELECT row_no FROM {dup})")
        self.execute(f"DROP TABLE IF EXISTS {dup}")
        return count

    def add_regions(self, rows: list[tuple]) -> None:
        """rows: (code, allowed 0/1, collector id or None)."""
        with self.staging_transaction(), self.conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {self.regions} (code, allowed, collector_id) VALUES (%s, %s, %s)", rows)

    def reject_disallowed_regions(self, *, column: str, value: str, reasons: dict[str, str]) -> None:
        """Rows of regions whose project library does not hold the policy: refused with the library's
        own message (one per region)."""
        for code, reason in reasons.items():
            with self.staging_transaction():
                self._reject_region(code, column, value, reason)

    def _reject_region(self, code: str, column: str, value: str, reason: str) -> None:
        self.execute(
            f"""INSERT INTO {self.err} (row_no, col, value, reason, raw)
                SELECT row_no, %s, %s, %s, raw FROM {self.stage} WHERE ok = 1 AND region = %s""",
            [column, value, reason, code],
        )
        self.execute(f"UPDATE {self.stage} SET ok = 0 WHERE ok = 1 AND region = %s", [code])

    # -- phase B: against the registry (inside the import's transaction) -----------------------------
    def existing_rows(self, *, policy_id: int, period: str, closed_statuses: Iterable[str],
                      page: int = 5000) -> Iterator[tuple]:
        """Staged rows whose person (or organization) is already registered, with the registered name,
        region, phone digest and version, the active account and the number of an open application of
        this policy and period (if any). Read in ranges of row numbers (no cursor stays open while the
        caller writes to the staging table)."""
        closed = list(closed_statuses)
        marks = ", ".join(["%s"] * len(closed))
        last = self.scalar(f"SELECT MAX(row_no) FROM {self.stage}") or 0
        start = 0
        while start < last:
            yield from self.fetchall(
                f"""SELECT s.row_no, s.name, s.region, s.acc_digest, s.phone_digest, s.id_masked, s.raw,
                           b.id, b.name, b.region_id, b.phone_digest, b.version,
                           a.id, a.account_digest,
                           (SELECT x.number FROM applications_application x
                             WHERE x.beneficiary_id = b.id AND x.policy_id = %s AND x.period = %s
                               AND x.status NOT IN ({marks}) LIMIT 1)
                    FROM {self.stage} s
                    JOIN registry_beneficiary b ON b.id_digest = s.id_digest
                    LEFT JOIN registry_payeeaccount a ON a.beneficiary_id = b.id AND a.is_active = %s
                    WHERE s.ok = 1 AND s.row_no > %s AND s.row_no <= %s
                    ORDER BY s.row_no""",
                [policy_id, period, *closed, True, start, start + page],
            )
            start += page

    def mark_existing(self, rows: list[tuple]) -> None:
        """rows: (ben_id, acc_id or None, dup 0/1, row_no)."""
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {self.stage} SET ben_id = %s, acc_id = %s, dup = %s WHERE row_no = %s", rows
                )

    def counts(self) -> dict:
        return {
            "duplicates": self.scalar(f"SELECT COUNT(*) FROM {self.stage} WHERE ok = 1 AND dup = 1"),
            "rejected": self.scalar(f"SELECT COUNT(DISTINCT row_no) FROM {self.err}"),
            "imported": self.scalar(f"SELECT COUNT(*) FROM {self.map}"),
        }

    def insert_beneficiaries(self, *, kind: str, now) -> int:
        return self.execute(
            f"""INSERT INTO registry_beneficiary
                  (id, kind, name, id_number_enc, id_digest, id_masked, gender, birth_date, household_id, region_id,
                   address, phone_enc, phone_digest, phone_masked, version, created_at, updated_at)
                SELECT m.ben_id, %s, s.name, s.id_enc, s.id_digest, s.id_masked, COALESCE(s.gender, ''), s.birth_date,
                       NULL, s.region, '', s.phone_enc, s.phone_digest, s.phone_masked, 1, %s, %s
                FROM {self.stage} s JOIN {self.map} m ON m.row_no = s.row_no
                WHERE m.ben_new = 1
                ORDER BY {self.order("beneficiary")}""",
            [kind, now, now],
        )

    def insert_versions(self, *, actor: str, now, reason: str) -> int:
        """Version 1 of each new beneficiary, its snapshot left empty: it is implied by the beneficiary row
        until the first change writes it out (registry.rules.snapshot_implied)."""
        return self.execute(
            f"""INSERT INTO registry_beneficiaryversion (beneficiary_id, version, snapshot, changed_by, changed_at, reason)
                SELECT m.ben_id, 1, {self.json_param()}, %s, %s, %s
                FROM {self.map} m
                WHERE m.ben_new = 1
                ORDER BY {self.order("beneficiary")}""",
            ["{}", actor, now, reason],
        )

    def insert_accounts(self, *, account_kind: str, actor: str, now) -> int:
        return self.execute(
            f"""INSERT INTO registry_payeeaccount
                  (id, beneficiary_id, kind, bank_name, account_enc, account_digest, account_masked, card_status,
                   card_status_checked_at, exception_reason, is_active, version, created_by, created_at,
                   superseded_at, superseded_reason)
                SELECT m.acc_id, m.ben_id, %s, s.bank, s.acc_enc, s.acc_digest, s.acc_masked, 'unknown',
                       NULL, '', %s,
                       CASE WHEN m.ben_new = 1 THEN 1 ELSE COALESCE(
                           (SELECT MAX(p.version) FROM registry_payeeaccount p WHERE p.beneficiary_id = m.ben_id), 0
                       ) + 1 END,
                       %s, %s, NULL, ''
                FROM {self.stage} s JOIN {self.map} m ON m.row_no = s.row_no
                WHERE m.acc_new = 1
                ORDER BY {self.order("account")}""",
            [account_kind, True, actor, now],
        )

    def insert_applications(self, *, number_offset: int, number_base: int, day_text: str, policy_id: int, period: str,
                            business_line: str, collector_id: int | None, import_id, actor: str, today,
                            deadline, now) -> int:
        collector = "%s" if collector_id is not None else "r.collector_id"
        collector_params = [collector_id] if collector_id is not None else []
        return self.execute(
            f"""INSERT INTO applications_application
                  (id, number, beneficiary_id, policy_id, period, region_id, business_line, collector_id, channel,
                   quantity, tier, amount, payee_account_id, status, step_started_on, step_deadline, sampled,
                   rejection_reason, remarks, roster_import_id, roster_row, created_by, created_at, updated_at)
                SELECT m.app_id, {number_sql(number_offset, day_text, number_base)}, m.ben_id, %s, %s, s.region, %s, {collector}, 'roster',
                       s.quantity, s.tier, s.amount, m.acc_id, 'collected', %s, %s, %s,
                       '', s.remarks, %s, s.row_no, %s, %s, %s
                FROM {self.stage} s JOIN {self.map} m ON m.row_no = s.row_no
                LEFT JOIN {self.regions} r ON r.code = s.region
                ORDER BY {self.order("application")}""",
            [policy_id, period, business_line, *collector_params, today, deadline, False,
             import_id, actor, now, now],
        )

    def number_range_taken(self, low: str, high: str) -> bool:
        return bool(self.fetchall(
            "SELECT 1 FROM applications_application WHERE number >= %s AND number <= %s LIMIT 1", [low, high]
        ))

    def app_id_range(self) -> tuple[int, int]:
        row = self.fetchall(f"SELECT MIN(app_id), MAX(app_id) FROM {self.map}")[0]
        return (row[0] or 0, row[1] or 0)

    def errors(self) -> Iterator[tuple]:
        """(row_no, column, value, reason, raw) ordered by row, in the order they were found."""
        return self.stream(f"SELECT row_no, col, value, reason, raw FROM {self.err} ORDER BY row_no, id")

    def imported_regions(self) -> dict:
        """Region -> sum of the amounts of the imported rows: one pass over the map (which carries each
        imported row's region and amount from `fill_map`), kept (the map does not change once filled) for
        the reference check and the import's total."""
        if getattr(self, "_imported_regions", None) is None:
            self._imported_regions = dict(self.fetchall(
                f"SELECT m.region, SUM(m.amount) FROM {self.map} m GROUP BY m.region"))
        return self._imported_regions

    def amount_total(self) -> Decimal:
        return sum((Decimal(str(v)) for v in self.imported_regions().values() if v is not None), Decimal(0))

    @staticmethod
    def stage_columns() -> str:
        return ", ".join(STAGE_COLUMNS)


def _chunks(values: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _marks(values: list) -> str:
    return ", ".join(["%s"] * len(values))


def loader_for(import_id, connection=None) -> Loader:
    conn = connection or default_connection
    if conn.vendor == "postgresql":
        from .load_postgres import PostgresLoader

        return PostgresLoader(import_id, conn)
    if conn.vendor == "sqlite":
        from .load_sqlite import SqliteLoader

        return SqliteLoader(import_id, conn)
    raise NotImplementedError(f"roster import does not support the {conn.vendor} database")
