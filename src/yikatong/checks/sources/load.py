"""Set-based loading of one source import, the switch that puts it in force, and the purge.

Pipeline (constant memory): the main process reads the file with core.tabular (one row at a time) and
cuts it into chunks of CHUNK_ROWS rows; a pool of WORKERS forked processes parses, validates, encrypts
and digests each chunk (spec.parse_chunk) and hands back rows as COPY text (PostgreSQL) or tuples
(SQLite); the main process writes each chunk into a TEMP staging table in its own short transaction
(COPY on PostgreSQL, executemany on SQLite) while the workers prepare the next ones. At most 2 × WORKERS
chunks are in flight, whatever the file size. Duplicates are then refused set-based in the stage, and
the rest is published into the source's table in one INSERT … SELECT (see Loader).

The rows of an import are invisible until it is in force: readers only read rows of the import
SourceState points to. `switch` moves that pointer in one short transaction (select_for_update on the
SourceState row: concurrent imports of one source serialize and the later switch wins). A failed import
deletes what it wrote (`Loader.delete_rows`); `purge` removes rows of superseded imports, keeping the
import in force and the one just before it (a reader that started before the switch finishes on intact
rows), and `reap_interrupted` fails imports whose process died while loading.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from yikatong.core import crypto, masking
from yikatong.core.models import JobProgress

from ..models import SOURCE_MODELS, SourceImport, SourceImportError, SourceState
from . import spec as specs

log = logging.getLogger("yikatong.checks.sources")

CHUNK_ROWS = 20_000
STALE_AFTER = dt.timedelta(hours=12)
INTERRUPTED = "导入中断：处理进程意外停止，本次导入未生效，请重新导入。"
ERROR_COPY_THRESHOLD = 500
PURGE_LOOKBACK = 50
SQLITE_TEMP_CACHE_KB = 128 * 1024


def worker_count() -> int:
    """Parse/encrypt processes (setting YIKATONG_SOURCE_IMPORT_WORKERS, default 2; 0 = in-process)."""
    value = getattr(settings, "YIKATONG_SOURCE_IMPORT_WORKERS", None)
    if value is None:
        value = os.environ.get("YIKATONG_SOURCE_IMPORT_WORKERS", "2")
    return max(0, int(value))


# -- reading and parsing --------------------------------------------------------------------------------
def read_chunks(table, spec: specs.SourceSpec, chunk_rows: int | None = None) -> Iterator[list[tuple]]:
    """(row_number, cells in the spec's column order) in lists of `chunk_rows` (default CHUNK_ROWS)."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    columns = spec.columns
    chunk: list[tuple] = []
    append = chunk.append
    for number, row in table:
        append((number, *[row[c] for c in columns]))
        if len(chunk) >= chunk_rows:
            yield chunk
            chunk = []
            append = chunk.append
    if chunk:
        yield chunk


def parsed_chunks(code: str, chunks: Iterable[list[tuple]], ctx: specs.Context,
                  workers: int) -> Iterator[specs.ChunkResult]:
    """Results in file order. With workers, a forked pool and a bounded window of chunks in flight."""
    # The loop makes millions of short-lived tuples and strings but no reference cycles: the cyclic
    # garbage collector would only rescan the chunks in flight, again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield from _parsed_chunks(code, chunks, ctx, workers)
    finally:
        if collecting:
            gc.enable()


def _worker_init() -> None:
    gc.disable()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Produce `items` in a background thread, `depth` ahead: the file is read while the main thread
    waits on the database (psycopg and sqlite3 release the GIL while the server works). An exception
    of the producer is raised in the consumer; closing the generator stops and joins the thread."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Raised(exc))

    thread = threading.Thread(target=produce, name="source-import-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


def _parsed_chunks(code: str, chunks: Iterable[list[tuple]], ctx: specs.Context,
                   workers: int) -> Iterator[specs.ChunkResult]:
    iterator = iter(chunks)
    first = next(iterator, None)
    if first is None:
        return
    second = next(iterator, None)
    if workers <= 0 or second is None:  # small files: forking costs more than it saves
        yield specs.parse_chunk(code, first, ctx)
        if second is not None:
            yield specs.parse_chunk(code, second, ctx)
        for chunk in iterator:
            yield specs.parse_chunk(code, chunk, ctx)
        return
    # Keys are read before forking so every worker inherits them instead of racing to create key files.
    crypto.keyring()
    crypto._digest_base()  # noqa: SLF001
    pending: deque = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_worker_init) as pool:
        pool.submit(int).result()  # fork every worker now, before the reader thread exists
        rest = prefetch(iterator)
        try:
            for chunk in (first, second):
                pending.append(pool.submit(specs.parse_chunk, code, chunk, ctx))
            for chunk in rest:
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
                pending.append(pool.submit(specs.parse_chunk, code, chunk, ctx))
            while pending:
                yield pending.popleft().result()
        finally:
            rest.close()
            for future in pending:
                future.cancel()


# -- writing --------------------------------------------------------------------------------------------
class Loader:
    """Loads one import through a session-private staging table, then publishes it into the source's
    table in one INSERT … SELECT sorted by ID digest.

    Why a stage: the source tables carry an index on (import, ID digest); inserting a million rows in file
    order touches its leaf pages at random (the digests are random), which costs several times the load
    itself. Staged rows carry no index and no WAL (a TEMP table); published in digest order, the index of
    the new import fills page after page. The stage also holds duplicates until they are refused, so the
    source table only ever receives the rows of the import that are kept. Chunks are written in their own
    short transactions (a SQLite writer never holds the database for long); publishing is one transaction.
    """

    def __init__(self, imp: SourceImport, conn=None):
        self.conn = conn or connection
        self.imp = imp
        self.spec = specs.SPECS[imp.source]
        self.model = SOURCE_MODELS[imp.source]
        qn = self.conn.ops.quote_name
        self.table = qn(self.model._meta.db_table)
        self.stage = qn(f"src_stage_{imp.pk.hex[:20]}")
        self.pg = self.conn.vendor == "postgresql"
        self.db_import_id = SourceImport._meta.pk.get_db_prep_value(imp.pk, self.conn)
        self.stage_columns = ", ".join(qn(c) for c in self.spec.stage_columns)
        self._staged = False

    def context(self, limit: dt.date) -> specs.Context:
        return specs.Context(limit=limit, fmt=specs.PG if self.pg else specs.SQLITE)

    def _execute(self, sql: str, params=()) -> int:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.rowcount

    # -- stage ---------------------------------------------------------------------------------------------
    def create_stage(self) -> None:
        self.drop_stage()
        if self.pg:
            try:  # more local buffers for the stage; only possible before the session's first temp table
                with transaction.atomic(using=self.conn.alias):
                    self._execute("SET temp_buffers = '64MB'")
            except Exception:  # noqa: BLE001 - an optimization; the default works too
                pass
            self._execute(f"CREATE TEMP TABLE {self.stage} AS SELECT {self.stage_columns} FROM {self.table} WITH NO DATA")
        else:
            # The stage lives in SQLite's temp database; a larger page cache keeps the duplicate check and
            # the sort for publishing off the temp files (reset in drop_stage).
            self._execute(f"PRAGMA temp.cache_size = -{SQLITE_TEMP_CACHE_KB}")
            self._execute(f"CREATE TEMP TABLE {self.stage} AS SELECT {self.stage_columns} FROM {self.table} WHERE 0")
        self._staged = True

    def drop_stage(self) -> None:
        """Drop the stage (it would go with the session anyway): never hides the error being handled."""
        try:
            self._execute(f"DROP TABLE IF EXISTS {self.stage}")
            if not self.pg and self._staged:
                self._execute("PRAGMA temp.cache_size = -2000")  # SQLite's default
        except Exception:  # noqa: BLE001
            log.warning("source import %s: could not drop the stage %s", self.imp.pk, self.stage, exc_info=True)
        self._staged = False

    def write(self, result: specs.ChunkResult) -> None:
        with transaction.atomic(using=self.conn.alias):
            if result.loaded:
                self._write_rows(result.payload)
            self.add_errors(result.errors)

    def _write_rows(self, payload) -> None:
        with self.conn.cursor() as cursor:
            if self.pg:
                with cursor.cursor.copy(f"COPY {self.stage} ({self.stage_columns}) FROM STDIN") as copy:
                    copy.write(payload)
            else:
                marks = ", ".join(["%s"] * len(self.spec.stage_columns))
                cursor.executemany(f"INSERT INTO {self.stage} ({self.stage_columns}) VALUES ({marks})", payload)

    def add_errors(self, errors: list[tuple]) -> None:
        """errors: (row_number, column, value, reason)."""
        if not errors:
            return
        if self.pg and len(errors) > ERROR_COPY_THRESHOLD:
            table = self.conn.ops.quote_name(SourceImportError._meta.db_table)
            with self.conn.cursor() as cursor:
                with cursor.cursor.copy(
                    f'COPY {table} (source_import_id, row_number, "column", value, reason) FROM STDIN'
                ) as copy:
                    for number, column, value, reason in errors:
                        copy.write_row((self.imp.pk, number, column, value, reason))
            return
        SourceImportError.objects.bulk_create(
            [SourceImportError(source_import_id=self.imp.pk, row_number=number, column=column, value=value,
                               reason=reason) for number, column, value, reason in errors],
            batch_size=1000,
        )

    # -- duplicates ------------------------------------------------------------------------------------
    def reject_duplicates(self) -> int:
        """Later rows of a natural key already met in this import: refused ("与第 N 行重复") and dropped
        from the stage. Returns how many rows were refused."""
        keys = self.spec.key
        same = "IS NOT DISTINCT FROM" if self.pg else "IS"
        select_keys = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
        join = " AND ".join(f"s.{k} {same} f.k{i}" for i, k in enumerate(keys))
        shown = "s.id_enc" if keys[0] == "id_digest" else f"s.{keys[0]}"
        sql = (
            f"SELECT s.row_number, f.first_row, {shown} FROM {self.stage} s "
            f"JOIN (SELECT {select_keys}, MIN(row_number) AS first_row FROM {self.stage} "
            f"      GROUP BY {', '.join(keys)} HAVING COUNT(*) > 1) f ON {join} "
            f"WHERE s.row_number > f.first_row ORDER BY s.row_number"
        )
        with self.conn.cursor() as cursor:  # fetched whole: the stage is changed below
            cursor.execute(sql)
            found = cursor.fetchall()
        for start in range(0, len(found), 1000):
            self._refuse(found[start:start + 1000])
        return len(found)

    def _refuse(self, batch: list[tuple]) -> None:
        spec = self.spec
        errors = []
        for number, first, shown in batch:
            if spec.key[0] == "id_digest":
                value = masking.mask_id_number(crypto.decrypt_text(shown))
            else:
                value = str(shown)
            errors.append((number, spec.key_column, value, f"与第 {first} 行重复：{spec.key_reason}"))
        with transaction.atomic(using=self.conn.alias):
            numbers = [row[0] for row in batch]
            marks = ", ".join(["%s"] * len(numbers))
            self._execute(f"DELETE FROM {self.stage} WHERE row_number IN ({marks})", numbers)
            self.add_errors(errors)

    # -- publish -------------------------------------------------------------------------------------------
    def publish(self) -> int:
        """Copy the staged rows into the source's table (still invisible: not in force), in ID digest order
        so the (import, digest) index fills sequentially. Returns the number of rows."""
        columns = ", ".join(self.conn.ops.quote_name(c) for c in self.spec.db_columns)
        with transaction.atomic(using=self.conn.alias):
            if self.pg:
                self._execute("SET LOCAL work_mem = '256MB'")  # sort the stage in memory
                # No wait for the WAL flush here: the switch commits synchronously later, and flushing
                # its commit record flushes these rows first (the log is sequential).
                self._execute("SET LOCAL synchronous_commit = off")
            return self._execute(
                f"INSERT INTO {self.table} ({columns}) SELECT %s, {self.stage_columns} FROM {self.stage} "
                f"ORDER BY id_digest",
                [self.db_import_id],
            )

    # -- cleaning -------------------------------------------------------------------------------------------
    def delete_rows(self) -> None:
        """Remove everything this import wrote (stage, rows and refusals): a failed import leaves nothing."""
        self.drop_stage()
        delete_import_rows(self.imp, conn=self.conn)
        SourceImportError.objects.filter(source_import_id=self.imp.pk).delete()


def delete_import_rows(imp: SourceImport, conn=None) -> int:
    conn = conn or connection
    model = SOURCE_MODELS[imp.source]
    with conn.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {conn.ops.quote_name(model._meta.db_table)} WHERE source_import_id = %s",
            [SourceImport._meta.pk.get_db_prep_value(imp.pk, conn)],
        )
        return cursor.rowcount


# -- switch and purge -------------------------------------------------------------------------------------
def _state(source: str) -> None:
    SourceState.objects.get_or_create(source=source)  # safe under races: get_or_create retries the get


def switch(imp: SourceImport, *, on_switch=None) -> SourceImport | None:
    """Put `imp` in force: one short transaction holding the source's SourceState row. The import in
    force until now is superseded and returned. `on_switch(previous)` runs inside the transaction (the
    audit event), so the switch and its record commit together."""
    _state(imp.source)
    with transaction.atomic():
        state = SourceState.objects.select_for_update().get(source=imp.source)
        previous = None
        if state.current_import_id and state.current_import_id != imp.pk:
            previous = SourceImport.objects.select_for_update().get(pk=state.current_import_id)
            previous.status = SourceImport.Status.SUPERSEDED
            previous.save(update_fields=["status"])
        now = timezone.now()
        imp.status = SourceImport.Status.ACTIVE
        imp.finished_at = now
        imp.save(update_fields=["status", "finished_at", "total_rows", "accepted", "rejected", "message"])
        state.current_import = imp
        state.switched_at = now
        state.save(update_fields=["current_import", "switched_at"])
        if on_switch is not None:
            on_switch(previous)
    return previous


def reap_interrupted(source: str) -> list[SourceImport]:
    """Imports still 'loading' whose process is gone (their job ended, or they are older than
    STALE_AFTER): marked failed, their rows deleted."""
    cutoff = timezone.now() - STALE_AFTER
    loading = SourceImport.objects.filter(source=source, status=SourceImport.Status.LOADING)
    ended = [JobProgress.Status.SUCCEEDED, JobProgress.Status.FAILED]
    reaped = []
    for imp in loading.filter(created_at__lt=cutoff) | loading.filter(job__status__in=ended):
        with transaction.atomic():
            locked = SourceImport.objects.select_for_update().get(pk=imp.pk)
            if locked.status != SourceImport.Status.LOADING:
                continue
            delete_import_rows(locked)
            SourceImportError.objects.filter(source_import_id=locked.pk).delete()
            locked.status = SourceImport.Status.FAILED
            locked.message = INTERRUPTED
            locked.finished_at = timezone.now()
            locked.save(update_fields=["status", "message", "finished_at"])
        reaped.append(locked)
    return reaped


def purge(source: str) -> int:
    """Delete rows of superseded and failed imports of `source`, except the import in force and the one
    in force just before it. Holds the SourceState row while deleting, so a concurrent switch cannot
    change what is kept. Returns the number of rows deleted."""
    _state(source)
    deleted = 0
    with transaction.atomic():
        state = SourceState.objects.select_for_update().get(source=source)
        keep = {state.current_import_id}
        previous = (SourceImport.objects.filter(source=source, status=SourceImport.Status.SUPERSEDED)
                    .order_by("-finished_at").values_list("pk", flat=True).first())
        keep.add(previous)
        # Every purge leaves at most two imports with rows, so only the latest few can still hold any.
        candidates = (SourceImport.objects.filter(
            source=source, status__in=[SourceImport.Status.SUPERSEDED, SourceImport.Status.FAILED])
            .exclude(pk__in=[pk for pk in keep if pk]).order_by("-created_at"))
        for imp in candidates.only("pk", "source")[:PURGE_LOOKBACK]:
            deleted += delete_import_rows(imp)
    return deleted
