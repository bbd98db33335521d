"""checks: every rule of the catalogue on `rows` applications against the eight shared-data sources of `rows`
rows each (SPEC §3.5, §6).

Generated set-based before the clock starts (INSERT … SELECT over generate_series on PostgreSQL, a recursive
CTE on SQLite): `rows` persons with payee accounts and households, `rows` submitted applications of one
means-tested monthly policy for 2026-03, the eight sources in force with `rows` rows each, a credit list, and a
few thousand extra approved applications. Anomalies are planted in disjoint blocks of k persons
(k = rows / 1000) beside near misses that must not fire (death after the period, another period, one
household sharing an account, exactly at the age limit, exclusive policy in another year, lifted entries …).

Timed: check_run_applications (all 16 rules, findings written). Checked: every rule's hit count equals the
planted count, and a second run (also timed, reported as rerun_seconds) adds no finding and closes none.
"""

import os
import time

from django.db import connection, transaction

BLOCKS = [
    "r01_region", "r01_birth", "r02_before", "r02_within", "r02_after", "r03_hit", "r03_miss", "r04_account",
    "r04_name", "r05_source", "r05_account", "r06_amount", "r07", "r08", "r09_hit", "r09_miss", "r10", "r11_hit",
    "r11_miss", "r12_account_a", "r12_account_b", "r12_household", "r12_phone_a", "r12_phone_b", "r13_relative",
    "r13_cadre", "r14_young", "r14_exact", "r15_elsewhere", "r15_missing", "r16_flag", "r16_block",
    "r16_lifted", "r16_expired",
]
VILLAGES = 40
PERIOD = "2026-03"


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _ensure_tables() -> list[str]:
    """The checks app may have no migrations yet: create its tables when migrate did not."""
    from django.apps import apps

    existing = set(connection.introspection.table_names())
    created = []
    with connection.schema_editor() as editor:
        for model in apps.get_app_config("checks").get_models():
            if model._meta.db_table not in existing and model._meta.managed:
                editor.create_model(model)
                created.append(model._meta.db_table)
    return created


class Gen:
    """Set-based data generation with the few vendor differences spelled out."""

    def __init__(self, rows: int):
        self.n = rows
        self.k = max(10, rows // 1000)
        self.k += self.k % 2  # even: household pairs (2m-1, 2m) stay inside a block
        if len(BLOCKS) * self.k > rows:
            raise SystemExit(f"BENCH_ROWS 至少应为 {len(BLOCKS) * self.k}")

    # -- vendor helpers --------------------------------------------------------------------------------------
    def pad(self, prefix: str, expr: str) -> str:
        if _pg():
            return f"'{prefix}' || lpad(CAST({expr} AS TEXT), 63, '0')"
        return f"printf('{prefix}%063d', {expr})"

    @staticmethod
    def date(text: str) -> str:
        return f"CAST('{text}' AS DATE)" if _pg() else f"'{text}'"

    @staticmethod
    def blob() -> str:
        return "'\\x00'::bytea" if _pg() else "X'00'"

    @staticmethod
    def true() -> str:
        return "TRUE" if _pg() else "1"

    @staticmethod
    def false() -> str:
        return "FALSE" if _pg() else "0"

    def block(self, name: str) -> tuple[int, int]:
        start = BLOCKS.index(name) * self.k + 1
        return start, start + self.k - 1

    def in_block(self, name: str, expr: str = "i") -> str:
        lo, hi = self.block(name)
        return f"({expr} BETWEEN {lo} AND {hi})"

    def insert(self, table: str, columns: dict[str, str], count: int, where: str = "", params=()) -> None:
        """INSERT INTO table (columns) SELECT expressions FROM 1..count (as i)."""
        cols = ", ".join(columns)
        exprs = ", ".join(columns.values())
        cond = f"WHERE {where}" if where else ""
        if _pg():
            sql = f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM generate_series(1, {count}) AS g(i) {cond}"
        else:
            sql = (f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {count}) "
                   f"INSERT INTO {table} ({cols}) SELECT {exprs} FROM g {cond}")
        with connection.cursor() as cursor:
            cursor.execute(sql, params or None)

    # -- the world -------------------------------------------------------------------------------------------------
    def reference(self):
        import datetime as dt

        from yikatong.core.models import BusinessLine, Organization, OrgKind, Region
        from yikatong.policies.models import Policy

        regions = [("500000000000", "重庆市", 1, None), ("500100000000", "市辖区", 2, "500000000000"),
                   ("500101000000", "万州区", 3, "500100000000"), ("500101001000", "高笋塘街道", 4, "500101000000")]
        regions += [(f"500101001{v:03d}", f"村{v}", 5, "500101001000") for v in range(1, VILLAGES + 1)]
        for code, name, level, parent in regions:
            Region.objects.get_or_create(code=code, defaults={"name": name, "level": level, "parent_id": parent,
                                                              "full_name": name})
        dept, _ = Organization.objects.get_or_create(
            code="WZ-MZJ", defaults={"name": "万州区民政局", "kind": OrgKind.DEPARTMENT, "region_id": "500101000000",
                                     "business_line": BusinessLine.CIVIL_AFFAIRS})
        common = {"business_line": BusinessLine.CIVIL_AFFAIRS, "department": dept, "region_id": "500101000000",
                  "level_set": "county", "standard_type": "fixed", "cycle": "monthly", "valid_from": dt.date(2025, 1, 1),
                  "status": "active"}
        self.policy = Policy.objects.create(code="BENCH-DB", name="基准低保", standard_amount="300.00",
                                            means_tested=True, min_age=18, **common)
        common["cycle"] = "yearly"
        self.exclusive = Policy.objects.create(code="BENCH-TK", name="基准特困", standard_amount="3000.00",
                                               means_tested=True, **common)
        self.policy.exclusive_with.add(self.exclusive)

    def registry(self):
        n = self.n
        village = f"'500101001' || substr('00' || CAST(1 + i % {VILLAGES} AS TEXT), -3, 3)" if not _pg() else \
            f"'500101001' || lpad(CAST(1 + i % {VILLAGES} AS TEXT), 3, '0')"
        self.village = village
        self.insert("registry_household", {
            "id": "i", "number": "'H' || CAST(i AS TEXT)", "region_id": "'500101001001'", "head_name": "''",
            "created_at": "CURRENT_TIMESTAMP"}, (n + 1) // 2)
        k = self.k
        share_acc = self.in_block("r12_account_a")
        same_house = f"({self.in_block('r12_household')} AND i % 2 = 0)"
        phone_share = self.in_block("r12_phone_a")
        birth = (f"CASE WHEN {self.in_block('r01_birth')} THEN NULL "
                 f"WHEN {self.in_block('r14_young')} THEN {self.date('2010-06-01')} "
                 f"WHEN {self.in_block('r14_exact')} THEN {self.date('2008-03-31')} "
                 f"ELSE {self.date('1960-01-01')} END")
        self.insert("registry_beneficiary", {
            "id": "i", "kind": "'person'", "name": "'测试' || CAST(i AS TEXT)", "id_number_enc": self.blob(),
            "id_digest": self.pad("p", "i"),
            "id_masked": f"CASE WHEN {self.in_block('r01_region')} THEN '999999********0000' "
                         f"ELSE '500101********0000' END",
            "gender": "'男'", "birth_date": birth, "household_id": "(i + 1) / 2", "region_id": village,
            "address": "''", "phone_enc": "NULL",
            "phone_digest": f"CASE WHEN {phone_share} THEN {self.pad('t', f'i + {k}')} ELSE {self.pad('t', 'i')} END",
            "phone_masked": "'138****0000'", "version": "1", "created_at": "CURRENT_TIMESTAMP",
            "updated_at": "CURRENT_TIMESTAMP"}, n)
        account = (f"CASE WHEN {share_acc} THEN {self.pad('a', f'i + {k}')} "
                   f"WHEN {same_house} THEN {self.pad('a', 'i - 1')} ELSE {self.pad('a', 'i')} END")
        self.insert("registry_payeeaccount", {
            "id": "i", "beneficiary_id": "i", "kind": "'ssc_card'", "bank_name": "'重庆农村商业银行'",
            "account_enc": self.blob(), "account_digest": account, "account_masked": "'***************0000'",
            "card_status": f"CASE WHEN {self.in_block('r05_account')} THEN 'lost' ELSE 'activated' END",
            "card_status_checked_at": "NULL", "exception_reason": "''", "is_active": self.true(), "version": "1",
            "created_by": "''", "created_at": "CURRENT_TIMESTAMP", "superseded_at": "NULL",
            "superseded_reason": "''"}, n)

    def applications(self):
        n, k = self.n, self.k
        common = {
            "beneficiary_id": "i", "region_id": self.village, "business_line": "'civil_affairs'",
            "collector_id": "NULL", "channel": "'roster'", "quantity": "NULL", "tier": "''",
            "payee_account_id": "i", "step_started_on": self.date("2026-03-02"), "step_deadline": "NULL",
            "sampled": self.false(), "rejection_reason": "''", "remarks": "''", "roster_import_id": "NULL",
            "roster_row": "NULL", "created_by": "'bench'", "created_at": "CURRENT_TIMESTAMP",
            "updated_at": "CURRENT_TIMESTAMP",
        }
        self.insert("applications_application", {
            "id": "i", "number": "'SB' || CAST(i AS TEXT)", "policy_id": str(self.policy.pk), "period": f"'{PERIOD}'",
            "amount": f"CASE WHEN {self.in_block('r06_amount')} THEN 350 ELSE 300 END", "status": "'submitted'",
            **common}, n)
        # already approved elsewhere: the same policy for the year 2026 (R03) or 2026-02 (near miss); the
        # exclusive policy for 2026 (R11) or 2025 (near miss)
        extra = [("r03_hit", self.policy.pk, "2026"), ("r03_miss", self.policy.pk, "2026-02"),
                 ("r11_hit", self.exclusive.pk, "2026"), ("r11_miss", self.exclusive.pk, "2025")]
        for index, (block, policy_id, period) in enumerate(extra, start=1):
            lo, hi = self.block(block)
            columns = dict(common, beneficiary_id="i", payee_account_id="i")
            self.insert("applications_application", {
                "id": f"i + {n * (index + 1)}", "number": f"'SX{index}-' || CAST(i AS TEXT)",
                "policy_id": str(policy_id), "period": f"'{period}'", "amount": "300", "status": "'approved'",
                **columns}, hi, where=f"i >= {lo}")
        _ = k

    def sources(self):
        import uuid

        from django.utils import timezone

        from yikatong.checks.models import SourceImport, SourceState

        n, k = self.n, self.k
        self.imports = {}
        for source in ("household", "death", "ssc_card", "public_staff", "vehicle", "enterprise", "real_estate",
                       "cadre_relative"):
            imp = SourceImport.objects.create(id=uuid.uuid4(), source=source, status="active", created_by="bench",
                                              total_rows=n, accepted=n)
            SourceState.objects.update_or_create(source=source, defaults={"current_import": imp,
                                                                          "switched_at": timezone.now()})
            self.imports[source] = imp.pk
        person, outsider = self.pad("p", "i"), self.pad("o", "i")

        def base(source: str, digest: str, name: str = "'测试' || CAST(i AS TEXT)") -> dict:
            imp = self.imports[source]
            return {"source_import_id": f"'{imp}'" if _pg() else f"'{imp.hex}'", "row_number": "i + 1",
                    "id_digest": digest, "id_enc": self.blob(), "name": name}

        def planted(*blocks) -> str:
            return " OR ".join(self.in_block(b) for b in blocks)

        # household: every applicant in a village of 万州区, except elsewhere (涪陵区) and missing (outsiders)
        self.insert("checks_householdrow", {
            **base("household", f"CASE WHEN {planted('r15_missing')} THEN {outsider} ELSE {person} END"),
            "household_number": "'H' || CAST((i + 1) / 2 AS TEXT)",
            "region_code": f"CASE WHEN {planted('r15_elsewhere')} THEN '500102001001' ELSE {self.village} END"}, n)
        death = (f"CASE WHEN {planted('r02_before')} THEN {self.date('2026-01-15')} "
                 f"WHEN {planted('r02_within')} THEN {self.date('2026-03-10')} ELSE {self.date('2026-04-05')} END")
        self.insert("checks_deathrow", {
            **base("death", f"CASE WHEN {planted('r02_before', 'r02_within', 'r02_after')} THEN {person} "
                            f"ELSE {outsider} END"),
            "death_date": death}, n)
        account = (f"CASE WHEN {planted('r04_account')} THEN {self.pad('z', 'i')} "
                   f"WHEN {planted('r12_account_a')} THEN {self.pad('a', f'i + {k}')} "
                   f"WHEN {self.in_block('r12_household')} AND i % 2 = 0 THEN {self.pad('a', 'i - 1')} "
                   f"ELSE {self.pad('a', 'i')} END")
        self.insert("checks_ssccardrow", {
            **base("ssc_card", person, f"CASE WHEN {planted('r04_name')} THEN '别人' ELSE '测试' || CAST(i AS TEXT) END"),
            "account_digest": account, "account_enc": self.blob(), "account_masked": "'***************0000'",
            "bank_name": "'重庆农村商业银行'",
            "card_status": f"CASE WHEN {planted('r05_source')} THEN 'not_activated' ELSE 'activated' END"}, n)
        self.insert("checks_publicstaffrow", {
            **base("public_staff", f"CASE WHEN {planted('r07')} THEN {person} ELSE {outsider} END"),
            "employer": "'某单位'"}, n)
        self.insert("checks_vehiclerow", {
            **base("vehicle", f"CASE WHEN {planted('r08')} THEN {person} ELSE {outsider} END"),
            "plate": "'渝F00000'", "vehicle_type": "'小型轿车'", "registered_on": "NULL"}, n)
        self.insert("checks_enterpriserow", {
            **base("enterprise", f"CASE WHEN {planted('r09_hit', 'r09_miss')} THEN {person} ELSE {outsider} END"),
            "enterprise_name": "'某公司'", "credit_code": "'91500101MA5U00001K'",
            "capacity": f"CASE WHEN {planted('r09_miss')} THEN '监事' "
                        f"WHEN i % 2 = 0 THEN '股东' ELSE '法定代表人' END"}, n)
        self.insert("checks_realestaterow", {
            **base("real_estate", person),
            "property_count": f"CASE WHEN {planted('r10')} THEN 3 ELSE 1 END", "floor_area": "NULL"}, n)
        self.insert("checks_cadrerelativerow", {
            **base("cadre_relative", f"CASE WHEN {planted('r13_relative')} THEN {person} ELSE {outsider} END"),
            "cadre_id_digest": f"CASE WHEN {planted('r13_cadre')} THEN {person} ELSE {self.pad('c', 'i')} END",
            "cadre_name": "'村干部'", "relation": "'配偶'"}, n)
        # credit list
        valid_to = f"CASE WHEN {planted('r16_expired')} THEN {self.date('2025-12-31')} ELSE NULL END"
        self.insert("checks_creditlistentry", {
            "id_digest": person, "id_enc": self.blob(), "id_masked": "'500101********0000'",
            "name": "'测试' || CAST(i AS TEXT)",
            "severity": f"CASE WHEN {planted('r16_block')} THEN 'block' ELSE 'flag' END",
            "reason": "'虚报冒领'", "source": "'manual'", "region_id": "'500101000000'",
            "valid_from": self.date("2025-01-01"), "valid_to": valid_to, "created_by": "'bench'",
            "created_at": "CURRENT_TIMESTAMP",
            "lifted_at": f"CASE WHEN {planted('r16_lifted')} THEN CURRENT_TIMESTAMP ELSE NULL END",
            "lifted_reason": "''"},
            self.block("r16_expired")[1], where=f"i >= {self.block('r16_flag')[0]}")

    def expected(self) -> dict[str, int]:
        k = self.k
        return {"R01": 2 * k, "R02": 2 * k, "R03": k, "R04": 2 * k, "R05": 2 * k, "R06": k, "R07": k, "R08": k,
                "R09": k, "R10": k, "R11": k, "R12": 4 * k, "R13": 2 * k, "R14": k, "R15": 2 * k, "R16": 2 * k}

    def analyze(self):
        if _pg():
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        else:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def run(rows: int) -> dict:
    from yikatong.checks.services.runs import check_run_applications
    from yikatong.core.scope import Scope

    created = _ensure_tables()
    gen = Gen(rows)
    started = time.perf_counter()
    with transaction.atomic():
        gen.reference()
        gen.registry()
        gen.applications()
        gen.sources()
    gen.analyze()
    generated = time.perf_counter() - started

    actor = Scope.system(reason="bench")
    began = time.perf_counter()
    first = check_run_applications(actor=actor, policy_code="BENCH-DB", period=PERIOD)
    seconds = time.perf_counter() - began
    expected = gen.expected()
    hits = {rule: first.counts.get(rule, {}).get("hits", 0) for rule in expected}
    if first.subjects != rows or hits != expected:
        wrong = {r: (hits[r], expected[r]) for r in expected if hits[r] != expected[r]}
        raise AssertionError(f"subjects {first.subjects}/{rows}; wrong counts (found, planted): {wrong}; "
                             f"rules: {first.rules}")
    began = time.perf_counter()
    second = check_run_applications(actor=actor, policy_code="BENCH-DB", period=PERIOD)
    rerun = time.perf_counter() - began
    changed = {r: c for r, c in second.counts.items() if c.get("new") or c.get("closed") or c.get("reopened")}
    if changed or {r: c.get("hits") for r, c in second.counts.items()} != hits:
        raise AssertionError(f"re-run changed findings: {changed}")
    figures = {"rows": rows, "seconds": seconds, "rerun_seconds": round(rerun, 3),
               "generate_seconds": round(generated, 1), "findings": sum(expected.values()),
               "planted_per_block": gen.k}
    if created:
        figures["created_tables"] = len(created)
    if os.environ.get("BENCH_VERBOSE"):
        figures["counts"] = hits
        figures["rule_seconds"] = {r: info.get("seconds") for r, info in first.rules.items()}
        figures["rerun_rule_seconds"] = {r: info.get("seconds") for r, info in second.rules.items()}
    return figures
