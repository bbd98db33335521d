"""Set-based matching and application of one bank result import (the SQL of services/results.py).

The lines are loaded into a staging table (UNLOGGED, COPY on PostgreSQL; TEMP, executemany on SQLite), then:
  1. repeated (batch, seq) pairs of the same import are found (find_later) and compared with their first
     valid line (mark_later);
  2. one statement classifies every line against its attempt (classify → the `cls` table): invalid, unknown,
     wrong_bank, amount, account, conflict, dup (already applied with the same result) or apply;
  3. rejected lines are copied to payments_resultline, applied ones update attempts and items and append the
     general-ledger entries (a few per batch) — each one statement, whatever the number of lines
     (INSERT … SELECT / UPDATE … FROM).
The caller runs all of it in one transaction with the batches locked.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

from django.db import connection

from ..models import ENTRY_CONTROLS
from .results_parse import CANONICAL_OUTCOME_TEXT, STAGE_COLUMNS

APPLY, DUP = "apply", "dup"


class Stage:
    def __init__(self):
        self.pg = connection.vendor == "postgresql"
        tag = uuid.uuid4().hex[:12]
        self.stage, self.bmap, self.dmap, self.kmap, self.cls = (
            f"rs_{tag}_{p}" for p in ("stage", "bmap", "dmap", "kmap", "cls"))
        # PostgreSQL: UNLOGGED tables, not TEMP ones — the server may classify with parallel workers (they cannot
        # read a session's temp tables); created and dropped inside the import's transaction, so no other session
        # ever sees them and a crash or rollback leaves none behind.
        self.kind = "UNLOGGED" if self.pg else "TEMP"
        self.today = None  # the import day: booking day of results whose own day the county has closed
        self.any_closed = False

    # -- helpers ------------------------------------------------------------------------------------------
    def execute(self, sql: str, params=()) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def rows(self, sql: str, params=()) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def fen(self, expr: str) -> str:
        return f"CAST(({expr}) * 100 AS bigint)" if self.pg else f"CAST(ROUND(({expr}) * 100) AS INTEGER)"

    def money_text(self, expr: str) -> str:
        return f"to_char({expr}, 'FM999999999999990.00')" if self.pg else f"printf('%.2f', {expr})"

    def date_text(self, expr: str) -> str:
        return f"to_char({expr}, 'YYYY-MM-DD')" if self.pg else f"COALESCE({expr}, '')"

    def texts(self, a: str) -> dict[str, str]:
        """The texts of a staged line (alias `a`) as the bank wrote them: the parser leaves seq_text,
        amount_text, outcome_text and processed_text NULL when they are the canonical form of the parsed value
        (results_parse fast path), and they are derived from it here — only for the lines that need a text."""
        outcomes = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in CANONICAL_OUTCOME_TEXT.items())
        return {
            "seq_text": f"COALESCE({a}.seq_text, CAST({a}.seq AS TEXT))",
            "amount_text": f"COALESCE({a}.amount_text, {self.money_text(f'{a}.amount_fen / 100.0')})",
            "outcome_text": f"COALESCE({a}.outcome_text, CASE {a}.outcome {outcomes} END)",
            "processed_text": f"COALESCE({a}.processed_text, {self.date_text(f'{a}.processed')})",
        }

    def date(self, value):
        return connection.ops.adapt_datefield_value(value)

    def moment(self, value):
        return connection.ops.adapt_datetimefield_value(value)

    # -- tables -------------------------------------------------------------------------------------------
    def create(self) -> None:
        day, big = ("date", "bigint") if self.pg else ("text", "integer")
        if self.pg:
            self.execute("SET LOCAL work_mem = '256MB'")
            self.execute("SET LOCAL jit = off")  # compiling the big statements costs more than it saves
            # classify in parallel: the planner's default price of passing a row from a worker (0.1) makes a
            # million-line Gather look dearer than it is (measured 5.4 s serial, 3.3 s with two workers)
            self.execute("SET LOCAL parallel_tuple_cost = 0.001")
            self.execute("SET LOCAL parallel_setup_cost = 10")
        self.execute(
            f"""CREATE {self.kind} TABLE {self.stage} (line_no integer NOT NULL, batch_number text, seq {big},
                seq_text text, acc_digest text, acc_masked text, amount_fen {big}, amount_text text, outcome text,
                outcome_text text, reason text, processed {day}, processed_text text, bad text,
                later smallint NOT NULL DEFAULT 0, dupkind text, first_line integer)""")
        self.execute(f"""CREATE {self.kind} TABLE {self.bmap} (number text PRIMARY KEY, batch_id {big},
                         plan_id {big}, indicator_id {big}, disp text, msg text, county text)""")
        self.execute(f"CREATE {self.kind} TABLE {self.kmap} (county text, day {day}, PRIMARY KEY (county, day))")
        self.execute(f"""CREATE {self.kind} TABLE {self.dmap} (day {day} PRIMARY KEY, returned {day},
                         book_return {day})""")

    def drop(self) -> None:
        for table in (self.cls, self.kmap, self.dmap, self.bmap, self.stage):
            self.execute(f"DROP TABLE IF EXISTS {table}")

    @contextmanager
    def loader(self):
        """`load(payload)` for the lines, chunk after chunk: COPY text on PostgreSQL (one COPY stays open for the
        whole import, so the server stores a chunk while the workers parse the next ones), staging tuples on
        SQLite."""
        columns = ", ".join(STAGE_COLUMNS)
        if self.pg:
            with connection.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {self.stage} ({columns}) FROM STDIN") as copy:
                    yield copy.write  # the COPY text results_parse.parse_chunk made
            return
        sql = f"INSERT INTO {self.stage} ({columns}) VALUES ({', '.join(['%s'] * len(STAGE_COLUMNS))})"

        def insert(parsed: list[tuple]) -> None:
            with connection.cursor() as cursor:
                cursor.executemany(sql, [row[:11] + (row[11].isoformat() if row[11] else None,) + row[12:]
                                         for row in parsed])

        yield insert

    def index(self) -> None:
        if self.pg:
            self.execute(f"ANALYZE {self.stage}")
        else:  # SQLite joins by nested loops: give them indexes
            self.execute(f"CREATE INDEX {self.stage}_line ON {self.stage} (line_no)")
            self.execute(f"CREATE INDEX {self.stage}_key ON {self.stage} (batch_number, seq)")

    def load_batches(self, rows: list[tuple]) -> None:
        """(number, batch_id, plan_id, indicator_id, disp, msg, county) per batch number of the import."""
        if rows:
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {self.bmap} VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)

    def load_closed(self, pairs: set[tuple], today) -> None:
        """(county, day) pairs already closed (日清) among the days this import would book on: such entries are
        booked on `today` instead (the closed day's totals stay as frozen)."""
        self.today = today
        self.any_closed = bool(pairs)
        if pairs:
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {self.kmap} VALUES (%s, %s)",
                                   [(county, self.date(day)) for county, day in sorted(pairs)])

    def _open_day(self, expr: str) -> str:
        """`expr` (a booking day of the row x), or the import day when x's county has closed that day."""
        if not self.any_closed:
            return expr
        today = f"DATE '{self.today.isoformat()}'" if self.pg else f"'{self.today.isoformat()}'"
        return (f"CASE WHEN EXISTS (SELECT 1 FROM {self.kmap} k WHERE k.county = x.county AND k.day = {expr}) "
                f"THEN {today} ELSE {expr} END")

    def load_dates(self, rows: list[tuple]) -> None:
        """(processing day, its next working day = money back in the treasury, booking day of that return)."""
        if rows:
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {self.dmap} VALUES (%s, %s, %s)",
                                   [tuple(self.date(v) for v in row) for row in rows])

    # -- matching -----------------------------------------------------------------------------------------
    def find_later(self) -> int:
        """Mark every valid line whose (batch, seq) came up on an earlier valid line of the import; returns how
        many. One aggregate over the import: no line repeats, nothing to update."""
        return self.execute(
            f"""UPDATE {self.stage} SET later = 1
                WHERE bad IS NULL AND line_no IN (
                    SELECT s.line_no FROM {self.stage} s
                    JOIN (SELECT batch_number, seq, MIN(line_no) AS first FROM {self.stage} WHERE bad IS NULL
                          GROUP BY batch_number, seq HAVING COUNT(*) > 1) d
                      ON d.batch_number = s.batch_number AND d.seq = s.seq AND s.line_no > d.first)""")

    def mark_later(self) -> None:
        """A (batch, seq) repeated in the import: the first valid line is the one considered; a later line is a
        duplicate when it says exactly the same, else a conflict."""
        self.execute(
            f"""UPDATE {self.stage} AS s SET first_line = f.line_no,
                  dupkind = CASE WHEN f.outcome = s.outcome AND f.processed = s.processed
                                  AND f.amount_fen = s.amount_fen AND f.acc_digest = s.acc_digest
                                 THEN 'dup' ELSE 'conflict' END
                FROM {self.stage} AS f
                WHERE s.later = 1 AND f.later = 0 AND f.bad IS NULL
                  AND f.batch_number = s.batch_number AND f.seq = s.seq""")

    def classify(self) -> None:
        """An attempt still `sent` takes the result (its item is `sending`: the two move together — batch
        creation, results and withdrawal change both in one transaction — and apply_items checks it again);
        the item is read only to explain a conflict."""
        inner = f"""
            SELECT s.line_no, s.outcome, s.processed, s.reason, s.bad, s.later, s.first_line, s.batch_number,
                   s.seq, s.seq_text, s.amount_fen, s.amount_text, bm.number AS bm_number, bm.batch_id,
                   bm.plan_id, bm.indicator_id, bm.msg AS bm_msg, bm.county, a.id AS attempt_id, a.item_id, a.amount AS a_amount,
                   a.account_masked AS a_masked, a.status AS a_status, a.result_on AS a_result_on,
                   r.returned, r.book_return,
                   CASE WHEN s.bad IS NOT NULL THEN 'invalid'
                        WHEN bm.number IS NULL THEN 'unknown'
                        WHEN bm.disp IS NOT NULL THEN bm.disp
                        WHEN a.id IS NULL THEN 'unknown'
                        WHEN s.amount_fen <> {self.fen('a.amount')} THEN 'amount'
                        WHEN s.acc_digest <> a.account_digest THEN 'account'
                        WHEN s.later = 1 THEN COALESCE(s.dupkind, 'conflict')
                        WHEN a.status = 'sent' THEN '{APPLY}'
                        WHEN a.status = s.outcome AND a.result_on = s.processed THEN '{DUP}'
                        ELSE 'conflict' END AS disp
            FROM {self.stage} s
            LEFT JOIN {self.bmap} bm ON s.bad IS NULL AND bm.number = s.batch_number
            LEFT JOIN payments_paymentattempt a ON bm.disp IS NULL AND a.batch_id = bm.batch_id AND a.seq = s.seq
            LEFT JOIN {self.dmap} r ON r.day = s.processed"""
        text = self.texts("x")
        message = f"""
            CASE x.disp
              WHEN '{APPLY}' THEN NULL
              WHEN '{DUP}' THEN NULL
              WHEN 'invalid' THEN x.bad
              WHEN 'unknown' THEN CASE
                  WHEN x.bm_number IS NULL THEN '批次号“' || x.batch_number || '”不存在'
                  WHEN x.bm_msg IS NOT NULL THEN x.bm_msg
                  ELSE '批次 ' || x.batch_number || ' 中没有序号为 ' || {text['seq_text']} || ' 的明细' END
              WHEN 'amount' THEN '金额 ' || {text['amount_text']} || ' 元与发放金额 '
                                 || {self.money_text('x.a_amount')} || ' 元不符'
              WHEN 'account' THEN '收款账号与发放账号 ' || x.a_masked || ' 不符'
              WHEN 'wrong_bank' THEN x.bm_msg
              ELSE CASE
                  WHEN x.bm_msg IS NOT NULL THEN x.bm_msg
                  WHEN x.later = 1 THEN '同一导入中该笔已在第 ' || CAST(x.first_line AS TEXT) || ' 行出现，结果不一致'
                  WHEN x.a_status <> 'paid' AND x.a_status <> 'sent'
                       AND (SELECT i.status FROM payments_paymentitem i WHERE i.id = x.item_id) = 'paid'
                       THEN '该明细已发放成功，不能再次入账'
                  WHEN x.a_status = 'withdrawn' THEN '该笔发放已撤回，不能入账'
                  ELSE '该笔已回盘为“' || CASE x.a_status WHEN 'paid' THEN '成功' ELSE '失败' END || '”（'
                       || {self.date_text('x.a_result_on')} || '），与本行结果不一致' END
            END"""
        self.execute(
            f"""CREATE {self.kind} TABLE {self.cls} AS
                SELECT x.line_no, x.disp, x.batch_id, x.plan_id, x.indicator_id, x.attempt_id, x.item_id,
                       x.a_amount, x.amount_fen AS fen, x.outcome, x.processed,
                       {self._open_day('x.processed')} AS book_on,
                       CASE WHEN x.outcome = 'failed' THEN substr(x.reason, 1, 100) ELSE '' END AS reason,
                       CASE WHEN x.outcome = 'failed' THEN x.returned END AS returned,
                       CASE WHEN x.outcome = 'failed' THEN {self._open_day('x.book_return')} END AS book_return,
                       {message} AS msg
                FROM ({inner}) x""")
        if self.pg:
            self.execute(f"ANALYZE {self.cls}")
        else:
            self.execute(f"CREATE INDEX {self.cls}_disp ON {self.cls} (disp)")

    # -- reading the classification -----------------------------------------------------------------------
    def tally(self) -> list[tuple]:
        """(disposition, outcome, lines, fen) of the import (the lines' amounts: for applied and duplicate lines
        those of their attempts, to the fen)."""
        return self.rows(f"""SELECT disp, outcome, COUNT(*), COALESCE(SUM(fen), 0)
                             FROM {self.cls} GROUP BY disp, outcome""")

    def failed_by_plan(self) -> list[tuple]:
        """(plan_id, indicator_id, failed fen, latest booking day of the return) of the applied failures."""
        return self.rows(f"""SELECT plan_id, indicator_id, SUM(fen), MAX(book_return)
                             FROM {self.cls} WHERE disp = '{APPLY}' AND outcome = 'failed'
                             GROUP BY plan_id, indicator_id ORDER BY plan_id""")

    def applied_batches(self) -> list[int]:
        return [r[0] for r in self.rows(f"SELECT DISTINCT batch_id FROM {self.cls} WHERE disp = '{APPLY}'")]

    # -- writing ------------------------------------------------------------------------------------------
    def store_rejected(self, import_pk) -> int:
        text = self.texts("s")
        return self.execute(
            f"""INSERT INTO payments_resultline (result_import_id, line_no, batch_number, seq, account_masked,
                    amount, outcome, reason, processed_on, disposition, message, review, reviewed_by, review_note)
                SELECT %s, s.line_no, COALESCE(s.batch_number, ''), COALESCE({text['seq_text']}, ''),
                       COALESCE(s.acc_masked, ''), COALESCE({text['amount_text']}, ''),
                       COALESCE({text['outcome_text']}, ''), COALESCE(s.reason, ''),
                       COALESCE({text['processed_text']}, ''), c.disp,
                       substr(COALESCE(c.msg, ''), 1, 300), 'open', '', ''
                FROM {self.cls} c JOIN {self.stage} s ON s.line_no = c.line_no
                WHERE c.disp NOT IN ('{APPLY}', '{DUP}') ORDER BY c.line_no""", [import_pk])

    def apply_attempts(self, import_pk) -> int:
        return self.execute(
            f"""UPDATE payments_paymentattempt AS a SET status = c.outcome, result_on = c.processed,
                    failure_reason = c.reason, result_import_id = %s, returned_on = c.returned
                FROM {self.cls} AS c
                WHERE c.disp = '{APPLY}' AND a.id = c.attempt_id AND a.status = 'sent'""", [import_pk])

    def apply_items(self, *, correction_deadline, now) -> int:
        return self.execute(
            f"""UPDATE payments_paymentitem AS i SET status = c.outcome,
                    paid_on = CASE WHEN c.outcome = 'paid' THEN c.processed ELSE i.paid_on END,
                    last_failure_reason = CASE WHEN c.outcome = 'failed' THEN c.reason
                                               ELSE i.last_failure_reason END,
                    correction_deadline = CASE WHEN c.outcome = 'failed' THEN %s ELSE NULL END,
                    updated_at = %s
                FROM {self.cls} AS c
                WHERE c.disp = '{APPLY}' AND i.id = c.item_id AND i.status = 'sending'""",
            [self.date(correction_deadline), self.moment(now)])

    def lines_of_items_not_taken(self, *, now, limit: int = 20) -> list[int]:
        """After apply_items: applied lines whose item it did not update (the item was not sending) or whose item
        has another applied line in the import."""
        return [r[0] for r in self.rows(
            f"""SELECT c.line_no FROM {self.cls} c JOIN payments_paymentitem i ON i.id = c.item_id
                WHERE c.disp = '{APPLY}' AND (i.updated_at <> %s OR c.item_id IN (
                    SELECT item_id FROM {self.cls} WHERE disp = '{APPLY}' GROUP BY item_id HAVING COUNT(*) > 1))
                ORDER BY c.line_no LIMIT {int(limit)}""", [self.moment(now)])]

    def book_entries(self, import_pk, *, now, actor: str) -> int:
        """The general-ledger entries of the import, one statement: PAID/FAILED per batch, kind and booking day
        (the bank's processing day) and RETURNED per batch and the day the money is back in the treasury (never
        in the future) — on the import day instead when the county has closed that day (load_closed). Each
        entry carries its number of attempts and their hash totals (ENTRY_CONTROLS); the attempts themselves are
        the detail."""
        amount = "CAST(SUM(fen) AS numeric) / 100" if self.pg else "SUM(fen) / 100.0"
        controls = ", ".join(f"SUM(fen * (attempt_id %% {m} + 1))" for _, m in ENTRY_CONTROLS)  # %% = %
        columns = ", ".join(c for c, _ in ENTRY_CONTROLS)
        return self.execute(
            f"""INSERT INTO payments_disbursemententry (plan_id, batch_id, indicator_id, result_import_id, kind,
                    amount, lines, {columns}, booked_on, created_at, actor, note)
                SELECT plan_id, batch_id, indicator_id, %s, outcome, {amount}, COUNT(*), {controls}, book_on, %s, %s,
                       CASE WHEN outcome = 'paid' THEN '银行回盘：发放成功' ELSE '银行回盘：发放失败' END
                FROM {self.cls} WHERE disp = '{APPLY}'
                GROUP BY plan_id, batch_id, indicator_id, outcome, book_on
                UNION ALL
                SELECT plan_id, batch_id, indicator_id, %s, 'returned', {amount}, COUNT(*), {controls}, book_return,
                       %s, %s, '发放失败资金退回国库'
                FROM {self.cls} WHERE disp = '{APPLY}' AND outcome = 'failed'
                GROUP BY plan_id, batch_id, indicator_id, book_return""",
            [import_pk, self.moment(now), actor, import_pk, self.moment(now), actor])
