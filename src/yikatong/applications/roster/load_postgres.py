"""PostgreSQL staging: TEMP tables (no WAL), rows loaded with COPY from the text the workers prepared,
ids drawn from the tables' own sequences (nextval, safe beside concurrent writers)."""

from __future__ import annotations

from django.db import DatabaseError, transaction

from .loading import Loader

ERROR_COPY_THRESHOLD = 200


class PostgresLoader(Loader):
    vendor = "postgresql"
    key_share = " FOR KEY SHARE"

    def references_unchecked(self) -> bool:
        """session_replication_role = replica for the bulk inserts: the foreign-key triggers (Django
        declares them DEFERRABLE INITIALLY DEFERRED) then queue no check per row and per key, which cost
        ~6 µs each at COMMIT — about 11 per imported row. Allowed to superusers and, from PostgreSQL 15,
        to roles granted `SET ON PARAMETER session_replication_role`; otherwise the triggers stay on."""
        try:
            with transaction.atomic(using=self.conn.alias):
                self.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            return False
        return True

    def references_checked(self) -> None:
        self.execute("SET LOCAL session_replication_role = origin")

    def create(self) -> None:
        self.drop()
        self.execute(
            f"""CREATE TEMP TABLE {self.stage} (
                  row_no integer PRIMARY KEY, ok smallint NOT NULL, id_digest text, name text, id_enc bytea,
                  id_masked text, gender text, birth_date date, region text, phone_enc bytea, phone_digest text,
                  phone_masked text, acc_enc bytea, acc_digest text, acc_masked text, bank text, quantity numeric,
                  tier text, amount numeric, remarks text, raw text,
                  ben_id bigint, acc_id bigint, dup smallint NOT NULL DEFAULT 0)"""
        )
        self.execute(
            f"""CREATE TEMP TABLE {self.err} (id bigserial PRIMARY KEY, row_no integer NOT NULL, col text,
                  value text, reason text, raw text)"""
        )
        self.execute(f"CREATE TEMP TABLE {self.regions} (code text PRIMARY KEY, allowed smallint, collector_id bigint)")
        self.execute(
            f"""CREATE TEMP TABLE {self.map} (row_no integer NOT NULL, ben_id bigint, ben_new smallint,
                  acc_id bigint, acc_new smallint, app_id bigint, region text, amount numeric)"""  # unique index on row_no: after fill_map
        )

    def tune(self) -> None:
        # Hash joins and the duplicate check over a million staged rows; session settings, reset after.
        self.execute("SET work_mem = '128MB'")
        try:
            with transaction.atomic(using=self.conn.alias):
                self.execute("SET temp_buffers = '64MB'")  # only before the session's first temp table
        except Exception:  # noqa: BLE001 - an optimization; the default works too
            pass

    def untune(self) -> None:
        self.execute("RESET work_mem")

    def load(self, result) -> None:
        if result.staged:
            with self.conn.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {self.stage} ({self.stage_columns()}) FROM STDIN") as copy:
                    copy.write(result.stage)
        if len(result.errors) > ERROR_COPY_THRESHOLD:
            with self.conn.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {self.err} (row_no, col, value, reason, raw) FROM STDIN") as copy:
                    for row in result.errors:
                        copy.write_row(row)
        else:
            self.add_errors(result.errors)

    def _sequence(self, table: str) -> str:
        name = self.scalar("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        return name.replace("'", "''")

    def fill_map(self) -> None:
        """Ids from the sequences (safe beside concurrent writers). New beneficiaries get theirs in the
        order of their ID digest: inserting them in id order then also fills the big digest index in order
        instead of at random pages (measured: the beneficiaries of a million-row roster went in three times
        faster). New accounts and the applications follow their beneficiaries."""
        ben, acc, app = (self._sequence(t) for t in
                         ("registry_beneficiary", "registry_payeeaccount", "applications_application"))
        keys, ids = f"{self.map}_keys", f"{self.map}_ben"
        for table in (keys, ids):
            self.execute(f"DROP TABLE IF EXISTS {table}")
        # one scan of the wide staging table; the sort below works on the narrow keys only
        self.execute(
            f"""CREATE TEMP TABLE {keys} AS
                SELECT row_no, id_digest, ben_id, acc_id, region, amount FROM {self.stage} WHERE ok = 1 AND dup = 0"""
        )
        # nextval in the target list runs after the sort, so the ids follow the digest order (hex digests
        # sort the same under "C" as under the database's collation, only faster)
        self.execute(
            f"""CREATE TEMP TABLE {ids} AS
                SELECT row_no, nextval('{ben}') AS id FROM {keys} WHERE ben_id IS NULL ORDER BY id_digest COLLATE "C" """
        )
        # accounts and applications numbered in beneficiary order (nextval after the sort again): the
        # accounts' two beneficiary indexes and the applications' beneficiary and account indexes then fill
        # in order; only the account digest index is written at random places
        self.execute(
            f"""INSERT INTO {self.map} (row_no, ben_id, ben_new, acc_id, acc_new, app_id, region, amount)
                SELECT k.row_no, COALESCE(k.ben_id, b.id), CASE WHEN k.ben_id IS NULL THEN 1 ELSE 0 END,
                       CASE WHEN k.acc_id IS NULL THEN nextval('{acc}') ELSE k.acc_id END,
                       CASE WHEN k.acc_id IS NULL THEN 1 ELSE 0 END, nextval('{app}'), k.region, k.amount
                FROM {keys} k
                LEFT JOIN {ids} b ON b.row_no = k.row_no
                ORDER BY COALESCE(k.ben_id, b.id)"""
        )
        for table in (keys, ids):
            self.execute(f"DROP TABLE {table}")
        # the map was filled in beneficiary order: its row_no index is built now rather than row by row
        self.execute(f"CREATE UNIQUE INDEX {self.map}_row_no ON {self.map} (row_no)")
        self.execute(f"ANALYZE {self.map}")

    def analyze(self) -> None:
        # temp tables are never analyzed automatically; the set-based statements need their sizes
        # only the columns that joins and filters use: sampling the wide ones (raw row, blobs) costs more
        self.execute(f"ANALYZE {self.stage} (row_no, ok, dup, id_digest, acc_digest, region, ben_id, acc_id)")

    def order(self, table: str) -> str:
        return {"beneficiary": "m.ben_id", "account": "m.acc_id", "application": "m.app_id"}[table]

    def json_param(self) -> str:
        return "CAST(%s AS jsonb)"
