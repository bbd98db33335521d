"""SQLite staging: TEMP tables (the connection's private temp database, so loading them takes no lock
on the platform's database), rows inserted with executemany; ids continue the tables' AUTOINCREMENT
counters (the import's transaction holds SQLite's single write lock, so nobody else takes ids meanwhile).
PRAGMA synchronous stays as configured (NORMAL with WAL); only the page caches grow during the import."""

from __future__ import annotations

import os
from contextlib import contextmanager

from .loading import Loader
from .validate import STAGE_COLUMNS, StageFile

CACHE_KIB = 131072  # 128 MiB of page cache for the platform database during the import
TEMP_CACHE_KIB = 32768


class SqliteLoader(Loader):
    vendor = "sqlite"

    def create(self) -> None:
        self.drop()
        self.execute(
            f"""CREATE TEMP TABLE {self.stage} (
                  row_no INTEGER PRIMARY KEY, ok INTEGER NOT NULL, id_digest TEXT, name TEXT, id_enc BLOB,
                  id_masked TEXT, gender TEXT, birth_date TEXT, region TEXT, phone_enc BLOB, phone_digest TEXT,
                  phone_masked TEXT, acc_enc BLOB, acc_digest TEXT, acc_masked TEXT, bank TEXT, quantity TEXT,
                  tier TEXT, amount TEXT, remarks TEXT, raw TEXT,
                  ben_id INTEGER, acc_id INTEGER, dup INTEGER NOT NULL DEFAULT 0)"""
        )
        self.execute(
            f"""CREATE TEMP TABLE {self.err} (id INTEGER PRIMARY KEY, row_no INTEGER NOT NULL, col TEXT,
                  value TEXT, reason TEXT, raw TEXT)"""
        )
        self.execute(f"CREATE TEMP TABLE {self.regions} (code TEXT PRIMARY KEY, allowed INTEGER, collector_id INTEGER)")
        self.execute(
            f"""CREATE TEMP TABLE {self.map} (row_no INTEGER PRIMARY KEY, ben_id INTEGER, ben_new INTEGER,
                  acc_id INTEGER, acc_new INTEGER, app_id INTEGER, region TEXT, amount TEXT)"""
        )

    @contextmanager
    def around_transaction(self):
        """PRAGMA foreign_keys = OFF around the import's transaction (SQLite only switches it outside a
        transaction): otherwise every inserted row looks up each of its parents (~11 per imported row).
        `check_references` proves them set-based instead; SQLite's single write lock keeps them."""
        switched = False
        self.conn.ensure_connection()
        if not self.conn.in_atomic_block and not self.conn.connection.in_transaction:
            switched = self.conn.disable_constraint_checking()
        try:
            yield
        finally:
            if switched:
                self.conn.enable_constraint_checking()

    def references_unchecked(self) -> bool:
        return not self.scalar("PRAGMA foreign_keys")

    def tune(self) -> None:
        self._cache = self.scalar("PRAGMA main.cache_size")
        self._temp_cache = self.scalar("PRAGMA temp.cache_size")
        from django.conf import settings

        cache_kib = int(getattr(settings, "YIKATONG_ROSTER_SQLITE_CACHE_MB", CACHE_KIB // 1024)) * 1024
        self.execute(f"PRAGMA main.cache_size = -{cache_kib}")
        self.execute(f"PRAGMA temp.cache_size = -{TEMP_CACHE_KIB}")

    def untune(self) -> None:
        if getattr(self, "_cache", None) is not None:
            self.execute(f"PRAGMA main.cache_size = {int(self._cache)}")
            self.execute(f"PRAGMA temp.cache_size = {int(self._temp_cache)}")

    @contextmanager
    def staging_transaction(self):
        """One transaction per staged block. Outside the import's transaction every statement would
        otherwise commit on its own (a journal write per row). A deferred BEGIN that only writes the
        temp database takes no lock on the platform's database."""
        self.conn.ensure_connection()
        raw = self.conn.connection
        if raw.in_transaction:
            yield
            return
        raw.execute("BEGIN")
        try:
            yield
        except BaseException:
            raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT")

    def load(self, result) -> None:
        if isinstance(result.stage, StageFile):
            self._load_file(result)
            return
        with self.staging_transaction():
            if result.staged:
                marks = ", ".join(["%s"] * len(STAGE_COLUMNS))
                with self.conn.cursor() as cursor:
                    cursor.executemany(f"INSERT INTO {self.stage} ({self.stage_columns()}) VALUES ({marks})",
                                       result.stage)
            self.add_errors(result.errors)

    def _load_file(self, result) -> None:
        """A block written to a SQLite file by a worker (validate.write_stage_file): attached, copied into
        the staging table with one statement, detached and removed. ATTACH needs no open transaction: the
        service uses stage files only outside one."""
        path = str(result.stage)
        self.conn.ensure_connection()
        raw = self.conn.connection
        raw.execute("ATTACH DATABASE ? AS rblock", (path,))
        try:
            with self.staging_transaction():
                columns = self.stage_columns()
                self.execute(f"INSERT INTO {self.stage} ({columns}) SELECT {columns} FROM rblock.s")
                self.add_errors(result.errors)
        finally:
            raw.execute("DETACH DATABASE rblock")
            os.unlink(path)

    def stage_files_possible(self) -> bool:
        """Stage files need ATTACH, which SQLite refuses inside a transaction (tests run in one)."""
        self.conn.ensure_connection()
        return not self.conn.in_atomic_block and not self.conn.connection.in_transaction

    def _next_id(self, table: str) -> int:
        highest = self.scalar(f"SELECT MAX(id) FROM {table}") or 0
        counter = self.scalar("SELECT seq FROM sqlite_sequence WHERE name = %s", [table]) or 0
        return max(int(highest), int(counter))

    def fill_map(self) -> None:
        """New ids continue the counters in row order (row numbers are unique, so base + row number is
        too). Numbering in digest order was measured slower here: SQLite tables are trees keyed by id, and
        the random reads of the staging rows cost more than the ordered digest indexes save."""
        ben, acc, app = (self._next_id(t) for t in
                         ("registry_beneficiary", "registry_payeeaccount", "applications_application"))
        self.execute(
            f"""INSERT INTO {self.map} (row_no, ben_id, ben_new, acc_id, acc_new, app_id, region, amount)
                SELECT row_no, COALESCE(ben_id, {ben} + row_no), ben_id IS NULL,
                       COALESCE(acc_id, {acc} + row_no), acc_id IS NULL, {app} + row_no, region, amount
                FROM {self.stage} WHERE ok = 1 AND dup = 0 ORDER BY row_no"""
        )

