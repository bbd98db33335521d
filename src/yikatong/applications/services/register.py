"""The township subsidy register (乡镇补贴底册): the approved set per township, policy and period."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Sum

from yikatong.core import audit
from yikatong.core.errors import DomainError
from yikatong.core.money import to_money
from yikatong.core.scope import Scope

from ..register_xlsx import write_register
from ..selectors import register_queryset

CHUNK = 2000


@dataclass(frozen=True)
class RegisterExport:
    rows: int
    total_amount: Decimal
    total_quantity: Decimal


def register_export_xlsx(scope: Scope, township_code: str, policy_code: str, period: str, path) -> RegisterExport:
    """Write the register of a township (and its villages) for a policy and period to `path` (a file path or
    a binary file). Rows stream from the database in chunks; the total row is checked against the database's
    own sum before the export is recorded in the audit trail."""
    queryset = register_queryset(scope, township_code=township_code, policy_code=policy_code, period=period)
    expected = queryset.order_by().aggregate(n=Count("pk"), total=Sum("amount"))
    rows, total, quantity = write_register(path, queryset.iterator(chunk_size=CHUNK))
    if rows != expected["n"] or total != to_money(expected["total"] or 0):
        raise DomainError("导出过程中补贴底册数据发生变化（行数或合计不一致），请重新导出。")
    audit.record(
        actor=scope, action="register.export", object_type="applications.register",
        object_id=f"{township_code}|{policy_code}|{period}", region_code=str(township_code),
        after={"township": township_code, "policy": policy_code, "period": period, "rows": rows,
               "total_amount": str(total)},
    )
    return RegisterExport(rows=rows, total_amount=total, total_quantity=quantity)
