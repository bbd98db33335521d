"""The township subsidy register (乡镇补贴底册) as XLSX: one row per approved application plus a total row,
for the offices that keep it (names in full, ID numbers and accounts masked), written with openpyxl's write-only mode from a streamed queryset, so memory does not grow with the register."""

from collections.abc import Iterable
from decimal import Decimal

from yikatong.core.tabular import xlsx_writer

HEADERS = ["序号", "姓名", "身份证号(脱敏)", "村(社区)", "补贴数量", "补贴金额", "开户银行", "账号(脱敏)", "审核日期"]
WIDTHS = {"序号": 8, "姓名": 14, "身份证号(脱敏)": 22, "村(社区)": 20, "补贴数量": 12, "补贴金额": 14,
          "开户银行": 24, "账号(脱敏)": 24, "审核日期": 12}
TOTAL_LABEL = "合计"


def write_register(path, applications: Iterable, *, sheet_title: str = "补贴底册") -> tuple[int, Decimal, Decimal]:
    """Write the register; returns (rows, total amount, total quantity) as summed while writing.
    `applications` yields Application rows with beneficiary, region and payee_account loaded."""
    count, total, quantity_total = 0, Decimal("0.00"), Decimal("0.00")
    with xlsx_writer(path, HEADERS, sheet_title=sheet_title, column_widths=WIDTHS) as out:
        for app in applications:
            count += 1
            person, account = app.beneficiary, app.payee_account
            total += app.amount
            if app.quantity is not None:
                quantity_total += app.quantity
            out.write([
                count,
                person.name,
                person.id_masked,
                app.region.name,
                app.quantity,
                app.amount,
                account.bank_name if account else "",
                account.account_masked if account else "",
                app.step_started_on,
            ])
        out.write([TOTAL_LABEL, f"{count} 人", "", "", quantity_total if quantity_total else None, total,
                   "", "", None])
    return count, total, quantity_total
