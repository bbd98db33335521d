"""Writing one import's rows: duplicates refused in memory, then one sorted bulk insert (see Loader).

PostgreSQL: the parse workers hand back COPY text lines already sorted by ID digest and cut into 256
buckets by the digest's first byte. The loader appends them to an anonymous spill file (no database
work while the file is parsed) and publishes with a single COPY into the source table, bucket after
bucket, each bucket's runs merged by one sort: the rows arrive in digest order, so the (import, digest)
index fills page after page, and nothing is written twice (no staging table, no INSERT … SELECT).

SQLite: rows go into a session-private TEMP stage in chunk transactions (a writer never holds the
database for long) and are published with one INSERT … SELECT … ORDER BY id_digest.

Both: the natural key of every kept row is remembered (a 128-bit int: the ID digest's first half, or a
BLAKE2 hash of the key's values), so duplicates are found as the chunks arrive, without a query.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection, connections, transaction

from yikatong.core import crypto, masking

from ..models import SOURCE_MODELS, SourceImport, SourceImportError
from . import spec as specs

log = logging.getLogger("yikatong.checks.sources")

ERROR_COPY_THRESHOLD = 500
SQLITE_TEMP_CACHE_KB = 128 * 1024
BUCKETS = 256
PARALLEL_PUBLISH_ROWS = 200_000  # below this, one session publishes


def publish_connections() -> int:
    """Database sessions that publish a large import (setting YIKATONG_SOURCE_PUBLISH_CONNECTIONS,
    default 2; 1 = the import's own session only)."""
    value = getattr(settings, "YIKATONG_SOURCE_PUBLISH_CONNECTIONS", None)
    if value is None:
        value = os.environ.get("YIKATONG_SOURCE_PUBLISH_CONNECTIONS", "2")
    return max(1, int(value))


class Loader:
    """Loads one import: `create_stage`, `write` each chunk result in file order, `reject_duplicates`,
    `publish` (the rows are then in the source table, still invisible: not in force), `drop_stage`."""

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
        self._spill = None
        self._segments: list[list[tuple[int, int]]] = []
        self._seen: dict[int, int] = {}  # natural key -> first row number
        self._duplicates: list[tuple[int, int, int | None]] = []  # (row, first row, bucket)
        self._dropped: dict[int, set[int]] = {}  # bucket -> refused row numbers (PostgreSQL)

    def context(self, limit: dt.date) -> specs.Context:
        if self.pg:
            return specs.Context(limit=limit, fmt=specs.PG, import_id=str(self.imp.pk))
        return specs.Context(limit=limit, fmt=specs.SQLITE)

    def _execute(self, sql: str, params=()) -> int:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.rowcount

    # -- stage ---------------------------------------------------------------------------------------------
    def create_stage(self) -> None:
        self.drop_stage()
        if self.pg:
            self._spill = tempfile.TemporaryFile(prefix="yikatong-source-")  # noqa: SIM115 - closed in drop_stage
            self._segments = [[] for _ in range(BUCKETS)]
        else:
            # The stage lives in SQLite's temp database; a larger page cache keeps the sort for publishing
            # off the temp files (reset in drop_stage).
            self._execute(f"PRAGMA temp.cache_size = -{SQLITE_TEMP_CACHE_KB}")
            self._execute(f"CREATE TEMP TABLE {self.stage} AS SELECT {self.stage_columns} FROM {self.table} WHERE 0")
        self._staged = True

    def drop_stage(self) -> None:
        """Drop the stage (it would go with the session anyway): never hides the error being handled."""
        try:
            if self._spill is not None:
                spill, self._spill = self._spill, None
                spill.close()
            if not self.pg:
                self._execute(f"DROP TABLE IF EXISTS {self.stage}")
                if self._staged:
                    self._execute("PRAGMA temp.cache_size = -2000")  # SQLite's default
        except Exception:  # noqa: BLE001
            log.warning("source import %s: could not drop the stage %s", self.imp.pk, self.stage, exc_info=True)
        self._staged = False

    def write(self, result: specs.ChunkResult) -> None:
        if result.loaded:
            self._note_keys(result)
            if self.pg:
                self._spill_rows(result.payload)
        if self.pg and not result.errors:
            return
        with transaction.atomic(using=self.conn.alias):
            if result.loaded and not self.pg:
                marks = ", ".join(["%s"] * len(self.spec.stage_columns))
                with self.conn.cursor() as cursor:
                    cursor.executemany(f"INSERT INTO {self.stage} ({self.stage_columns}) VALUES ({marks})",
                                       result.payload)
            self.add_errors(result.errors)

    def _spill_rows(self, payload: list[tuple[int, bytes]]) -> None:
        spill = self._spill
        offset = spill.seek(0, os.SEEK_END)
        for bucket, data in payload:
            self._segments[bucket].append((offset, len(data)))
            offset += len(data)
        spill.write(b"".join(data for _, data in payload))
        spill.flush()  # read back with os.pread

    def _bucket(self, bucket: int) -> bytes:
        fd = self._spill.fileno()
        return b"".join(os.pread(fd, length, offset) for offset, length in self._segments[bucket])

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
    def _note_keys(self, result: specs.ChunkResult) -> None:
        """Remember the chunk's keys; a key met before makes the row a duplicate of the first one."""
        seen = self._seen
        keys, numbers = result.keys, result.numbers
        fresh = dict(zip(keys, numbers, strict=True))
        if len(fresh) == len(keys) and seen.keys().isdisjoint(fresh):  # the usual case, at C speed
            seen.update(fresh)
            return
        buckets = result.buckets
        for i, (key, number) in enumerate(zip(keys, numbers, strict=True)):
            first = seen.setdefault(key, number)
            if first != number:
                self._duplicates.append((number, first, buckets[i] if buckets else None))

    def reject_duplicates(self) -> int:
        """Later rows of a natural key already met in this import: refused ("与第 N 行重复") and kept out of
        the table. Returns how many rows were refused."""
        found = sorted(self._duplicates)
        self._duplicates = []
        shown = self._shown_pg(found) if self.pg else {}
        for start in range(0, len(found), 1000):
            self._refuse(found[start:start + 1000], shown)
        return len(found)

    def _shown_pg(self, found: list[tuple]) -> dict[int, str]:
        """The key value to report for each refused row, read back from its spilled COPY line."""
        for number, _, bucket in found:
            self._dropped.setdefault(bucket, set()).add(number)
        column = self.spec.copy_columns.index(self.spec.key[0] if self.spec.key[0] != "id_digest" else "id_enc")
        shown = {}
        for bucket, numbers in self._dropped.items():
            for line in self._bucket(bucket).split(b"\n"):
                fields = line.split(b"\t")
                if len(fields) > column and int(fields[2]) in numbers:
                    shown[int(fields[2])] = fields[column].decode()
        return shown

    def _shown_value(self, raw) -> str:
        if self.spec.key[0] == "id_digest":
            blob = bytes.fromhex(raw[3:]) if isinstance(raw, str) else raw  # COPY text: \\x<hex>
            return masking.mask_id_number(crypto.decrypt_text(blob))
        return specs.unescape(raw) if isinstance(raw, str) and self.pg else str(raw)

    def _refuse(self, batch: list[tuple], shown: dict[int, str]) -> None:
        spec = self.spec
        numbers = [row[0] for row in batch]
        with transaction.atomic(using=self.conn.alias):
            if not self.pg:
                column = "id_enc" if spec.key[0] == "id_digest" else spec.key[0]
                marks = ", ".join(["%s"] * len(numbers))
                with self.conn.cursor() as cursor:
                    cursor.execute(f"SELECT row_number, {column} FROM {self.stage} WHERE row_number IN ({marks})",
                                   numbers)
                    shown = dict(cursor.fetchall())
                self._execute(f"DELETE FROM {self.stage} WHERE row_number IN ({marks})", numbers)
            self.add_errors([(number, spec.key_column, self._shown_value(shown[number]),
                              f"与第 {first} 行重复：{spec.key_reason}") for number, first, _ in batch])

    # -- publish -------------------------------------------------------------------------------------------
    def publish(self) -> int:
        """Put the loaded rows into the source's table (still invisible: not in force), in ID digest order
        so the (import, digest) index fills sequentially. Returns the number of rows."""
        if not self.pg:
            columns = ", ".join(self.conn.ops.quote_name(c) for c in self.spec.db_columns)
            with transaction.atomic(using=self.conn.alias):
                return self._execute(
                    f"INSERT INTO {self.table} ({columns}) SELECT %s, {self.stage_columns} FROM {self.stage} "
                    f"ORDER BY id_digest",
                    [self.db_import_id],
                )
        buckets = [b for b in range(BUCKETS) if self._segments[b]]
        if len(self._seen) < PARALLEL_PUBLISH_ROWS or publish_connections() < 2 or self.conn.in_atomic_block:
            return self._copy(self.conn, buckets)
        # Two sessions, each copying half of the buckets (disjoint digest ranges of the index) in its own
        # transaction: the server's insert work is what the import waits for at the end, and it runs on
        # one core per session. A failure in either fails the import, which deletes all its rows.
        sizes = [sum(length for _, length in self._segments[b]) for b in buckets]
        half, acc, cut = sum(sizes) / 2, 0, len(buckets)
        for i, size in enumerate(sizes):
            acc += size
            if acc >= half:
                cut = i + 1
                break
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="source-publish") as pool:
            other = pool.submit(self._copy_in_own_session, buckets[cut:])
            try:
                copied = self._copy(self.conn, buckets[:cut])
            except BaseException:
                wait([other])
                raise
            return copied + other.result()

    def _copy_in_own_session(self, buckets: list[int]) -> int:
        conn = connections[self.conn.alias]  # this thread's own connection
        try:
            return self._copy(conn, buckets)
        finally:
            conn.close()

    def _copy(self, conn, buckets: list[int]) -> int:
        columns = ", ".join(conn.ops.quote_name(c) for c in self.spec.copy_columns)
        with transaction.atomic(using=conn.alias):
            # No wait for the WAL flush here: the switch commits synchronously later, and flushing its
            # commit record flushes these rows first (the log is sequential).
            with conn.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
                with cursor.cursor.copy(f"COPY {self.table} ({columns}) FROM STDIN") as copy:
                    for bucket in buckets:
                        lines = self._bucket(bucket).split(b"\n")
                        lines.pop()  # after the last new line
                        dropped = self._dropped.get(bucket)
                        if dropped:
                            lines = [ln for ln in lines if int(ln.split(b"\t", 3)[2]) not in dropped]
                        if lines:
                            lines.sort()  # merges the sorted runs of the chunks
                            lines.append(b"")
                            copy.write(b"\n".join(lines))
                return cursor.cursor.rowcount

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
