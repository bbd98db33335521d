"""The little SQL the engine writes by hand, for SQLite and PostgreSQL alike.

Rules are ORM querysets where the ORM can say it (EXISTS, subqueries, CASE, JSONObject) and raw SQL where a
rule needs a join between the working set and another table (pairs of records). Either way a rule yields a
SELECT with the columns `sid` (CheckSubject id), `ekey` (evidence key), `sev` (severity) and `ev` (evidence
JSON), which the writer turns into findings with one INSERT … SELECT … ON CONFLICT.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet


@dataclass(frozen=True)
class Hits:
    """A SELECT yielding (sid, ekey, sev, ev), with its parameters."""

    sql: str
    params: tuple

    @classmethod
    def of(cls, queryset: QuerySet) -> "Hits":
        """From a CheckSubject queryset whose values() are sid, ekey, sev and ev."""
        sql, params = compile_queryset(queryset)
        return cls(f"SELECT h.sid, h.ekey, h.sev, h.ev FROM ({sql}) h", tuple(params))


def compile_queryset(queryset: QuerySet) -> tuple[str, tuple]:
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, tuple(params)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def json_object(*pairs: tuple[str, str]) -> str:
    """SQL building a JSON object from (key, SQL expression) pairs (keys are trusted literals)."""
    function = "jsonb_build_object" if is_postgres() else "json_object"
    parts = []
    for key, expression in pairs:
        parts.append(f"'{key}'")
        parts.append(expression)
    return f"{function}({', '.join(parts)})"


def text_param() -> str:
    """A text parameter usable inside jsonb_build_object (whose arguments have no declared type)."""
    return "CAST(%s AS TEXT)" if is_postgres() else "%s"


def date_param() -> str:
    """A date parameter in a SELECT list (PostgreSQL needs the type; SQLite stores ISO text)."""
    return "CAST(%s AS DATE)" if is_postgres() else "%s"


def uuid_param(value):
    """A UUID as a raw-SQL parameter: native on PostgreSQL, 32 hex digits as Django stores it on SQLite."""
    if value is None or is_postgres():
        return value
    return value.hex if hasattr(value, "hex") else str(value).replace("-", "")


def as_text(expression: str) -> str:
    return f"CAST({expression} AS TEXT)"


def masked_name(expression: str) -> str:
    """First character and one * per further character (stricter than public masking for compound surnames)."""
    return f"(SUBSTR({expression}, 1, 1) || SUBSTR('********************', 1, LENGTH({expression}) - 1))"


def period_month_bounds(expression: str) -> tuple[str, str]:
    """SQL for the first and last month index (year * 12 + month - 1) of a period text 2026 / 2026Q1 / 2026-03."""
    year = f"CAST(SUBSTR({expression}, 1, 4) AS INTEGER) * 12"
    quarter = f"CAST(SUBSTR({expression}, 6, 1) AS INTEGER)"
    month = f"CAST(SUBSTR({expression}, 6, 2) AS INTEGER)"
    first = (f"({year} + CASE LENGTH({expression}) WHEN 4 THEN 0 WHEN 6 THEN ({quarter} - 1) * 3 "
             f"ELSE {month} - 1 END)")
    last = (f"({year} + CASE LENGTH({expression}) WHEN 4 THEN 11 WHEN 6 THEN {quarter} * 3 - 1 "
            f"ELSE {month} - 1 END)")
    return first, last


def execute(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def scalar(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)
