"""The engine's generic input: the working set of a run (CheckSubject), filled with one INSERT … SELECT.

Any queryset can feed it — applications now, payment items later — through `subject_input(queryset, **columns)`,
which maps the generic columns to the queryset's own fields:

    subject_id        the record's id (default "pk")                       — required
    beneficiary_id    the beneficiary (default "beneficiary_id")           — required
    policy_id         the policy (default "policy_id")                     — required
    period            the subsidy period text (default "period")           — required
    region_id         the 12-digit region code (default "region_id")       — required
    amount            the amount in yuan (default "amount")                — required
    quantity, tier    for R06 (default: none)
    payee_account_id  the PayeeAccount paid into (default: none → the person's active account)
    account_digest    digest of the account paid into (default: that account's digest)
    application_id    the application the record stems from (default: none)

A value is a field path (string) or an ORM expression. Subject keys are "<item type>:<subject id>"; the ids of
one input must be unique.
"""

from django.db import connection
from django.db.models import BigIntegerField, CharField, DecimalField, F, QuerySet, Value
from django.db.models.functions import Cast

from yikatong.applications.rules import parse_period
from yikatong.core.errors import DomainError
from yikatong.policies.models import Policy
from yikatong.registry.models import Beneficiary, PayeeAccount

from ..models import CheckRun, CheckSubject
from .sql import compile_queryset, date_param, execute, is_postgres, table

SUBJECT_COLUMNS = ("subject_id", "beneficiary_id", "policy_id", "period", "region_id", "amount", "quantity", "tier",
                   "payee_account_id", "account_digest", "application_id")
DEFAULTS = {"subject_id": "pk", "beneficiary_id": "beneficiary_id", "policy_id": "policy_id", "period": "period",
            "region_id": "region_id", "amount": "amount"}
NULLS = {
    "quantity": DecimalField(max_digits=14, decimal_places=2),
    "tier": CharField(),
    "payee_account_id": BigIntegerField(),
    "account_digest": CharField(),
    "application_id": BigIntegerField(),
}


def subject_input(queryset: QuerySet, **columns) -> QuerySet:
    """`queryset.values()` with the generic columns, each named s_<column>."""
    unknown = set(columns) - set(SUBJECT_COLUMNS)
    if unknown:
        raise ValueError(f"unknown subject columns: {', '.join(sorted(unknown))}")
    spec = {**DEFAULTS, **columns}
    values = {}
    for name in SUBJECT_COLUMNS:
        expression = spec.get(name)
        if expression is None:
            values[f"s_{name}"] = Cast(Value(None), NULLS[name])
        elif isinstance(expression, str):
            values[f"s_{name}"] = F(expression)
        else:
            values[f"s_{name}"] = expression
    return queryset.order_by().values(**values)


def month_index(day) -> int:
    return day.year * 12 + day.month - 1


def fill(run: CheckRun, source: QuerySet, *, item_type: str, as_reference: bool) -> int:
    """Copy the records of `source` (a subject_input queryset) into the run's working set; returns the count.
    `as_reference` fills ref_type/ref_id with the item type and id (payment items); applications leave them
    empty and are linked through application_id."""
    sql, params = compile_queryset(source)
    periods = sorted({p for p in source.values_list("s_period", flat=True).distinct() if p is not None})
    bounds = []
    for period in periods:
        try:
            first, last = parse_period(period)
        except DomainError as exc:
            raise DomainError(f"核查对象的补贴期间无效：{exc.message}") from exc
        bounds.append((period, first, last))
    if not bounds:
        return 0

    def case(values, sql_value: str) -> tuple[str, list]:
        parts, case_params = [], []
        for period, value in values:
            parts.append(f"WHEN %s THEN {sql_value}")
            case_params += [period, value]
        return f"CASE q.s_period {' '.join(parts)} END", case_params

    day = date_param()
    first_day, p1 = case([(p, connection.ops.adapt_datefield_value(f)) for p, f, _ in bounds], day)
    last_day, p2 = case([(p, connection.ops.adapt_datefield_value(la)) for p, _, la in bounds], day)
    first_month, p3 = case([(p, month_index(f)) for p, f, _ in bounds], "%s")
    last_month, p4 = case([(p, month_index(la)) for p, _, la in bounds], "%s")
    ref_type, ref_id = ("%s", "CAST(q.s_subject_id AS TEXT)") if as_reference else ("%s", "''")
    insert = f"""
        INSERT INTO {table(CheckSubject)} (run_id, subject_key, application_id, ref_type, ref_id, beneficiary_id,
            id_digest, policy_id, business_line, period, first_day, last_day, first_month, last_month, region_id,
            amount, quantity, tier, payee_account_id, account_digest, account_kind, card_status,
            kind, name, id_masked, birth_date, gender, household_id, phone_digest)
        SELECT %s, %s || ':' || CAST(q.s_subject_id AS TEXT), q.s_application_id, {ref_type}, {ref_id},
            q.s_beneficiary_id, b.id_digest, q.s_policy_id, p.business_line, q.s_period,
            {first_day}, {last_day}, {first_month}, {last_month}, q.s_region_id,
            q.s_amount, q.s_quantity, COALESCE(q.s_tier, ''), q.s_payee_account_id,
            COALESCE(q.s_account_digest, pa.account_digest, ''), COALESCE(pa.kind, ''), COALESCE(pa.card_status, ''),
            b.kind, b.name, b.id_masked, b.birth_date, b.gender, b.household_id, b.phone_digest
        FROM ({sql}) q
        JOIN {table(Beneficiary)} b ON b.id = q.s_beneficiary_id
        JOIN {table(Policy)} p ON p.id = q.s_policy_id
        LEFT JOIN {table(PayeeAccount)} pa ON pa.id = q.s_payee_account_id
        WHERE 1 = 1
    """
    all_params = [run.pk, item_type, item_type if as_reference else "", *p1, *p2, *p3, *p4, *params]
    count = execute(insert, all_params)
    _active_accounts()
    if is_postgres():
        execute(f"ANALYZE {table(CheckSubject)}")  # temporary tables are never analyzed by autovacuum
    return count


def _active_accounts() -> None:
    """Records that name no payee account are paid into the person's active account (usually none)."""
    s, acct = table(CheckSubject), table(PayeeAccount)

    def active(column: str) -> str:
        return (f"(SELECT a.{column} FROM {acct} a WHERE a.beneficiary_id = {s}.beneficiary_id "
                f"AND a.is_active = %s)")

    execute(f"""
        UPDATE {s} SET payee_account_id = {active('id')},
            account_digest = CASE WHEN account_digest = '' THEN COALESCE({active('account_digest')}, '')
                                  ELSE account_digest END,
            account_kind = COALESCE({active('kind')}, ''), card_status = COALESCE({active('card_status')}, '')
        WHERE payee_account_id IS NULL
    """, [True, True, True, True])


def open_working_set() -> None:
    """Create the run's working set as a TEMPORARY table of the connection, named and shaped like CheckSubject
    (the DDL comes from the model itself): every statement of the engine (ORM or raw) names
    checks_checksubject, and a temporary table of that name comes first in name resolution on both databases.
    Temporary tables are private to the connection (concurrent runs never meet), write no WAL on PostgreSQL,
    need no index upkeep and leave no dead rows behind. The permanent table only gives the model a home."""
    close_working_set()
    ddl, params = connection.SchemaEditorClass(connection).table_sql(CheckSubject)
    if not ddl.startswith("CREATE TABLE "):
        raise RuntimeError(f"unexpected DDL for the working set: {ddl[:60]}")
    execute("CREATE TEMPORARY TABLE " + ddl[len("CREATE TABLE "):], params or None)


def close_working_set() -> None:
    schema = "pg_temp" if is_postgres() else "temp"
    execute(f"DROP TABLE IF EXISTS {schema}.{table(CheckSubject)}")


def clear(run: CheckRun) -> None:
    """Forget the run's working set (drops the connection's temporary table)."""
    close_working_set()
