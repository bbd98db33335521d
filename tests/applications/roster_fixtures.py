"""Helpers of the roster import tests: rosters as CSV or XLSX files, valid rows, running an import."""

import csv
import io
from pathlib import Path

from openpyxl import Workbook

from yikatong.applications.roster import roster_import_create, roster_import_run
from yikatong.core.scope import Scope

from .conftest import VILLAGE, luhn_account, resident_id

PERSON_HEADERS = ["姓名", "身份证号", "社保卡银行账号", "开户银行", "手机号码", "行政区划代码", "补贴项目编码",
                  "补贴期间", "补贴数量", "补贴金额", "备注"]
ORG_HEADERS = ["单位名称", "统一社会信用代码", "对公账号", "开户银行", "手机号码", "行政区划代码", "补贴项目编码",
               "补贴期间", "补贴数量", "补贴金额", "备注"]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄涛", "周杰", "吴霞", "徐强", "孙丽"]


def person_row(seq: int, **overrides) -> dict:
    """A valid row for WZ-001 (monthly, fixed 300.00) in 高笋塘社区; `seq` (< 1800) makes the person unique."""
    row = {
        "姓名": NAMES[seq % len(NAMES)] + ("" if seq < len(NAMES) else "明"),
        "身份证号": resident_id("500101", f"19{50 + seq % 40:02d}0{1 + seq % 9}1{seq % 9}", seq % 900 + 100),
        "社保卡银行账号": luhn_account(f"6230{seq:014d}"),
        "开户银行": "重庆农村商业银行",
        "手机号码": f"139{seq:08d}",
        "行政区划代码": VILLAGE,
        "补贴项目编码": "WZ-001",
        "补贴期间": "2026-03",
        "补贴数量": "",
        "补贴金额": "300.00",
        "备注": "",
    }
    row.update(overrides)
    return row


def csv_bytes(rows, headers=PERSON_HEADERS, *, bom=True) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(h, "") for h in headers] if isinstance(row, dict) else row)
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def xlsx_bytes(rows, headers=PERSON_HEADERS, *, numbers=()) -> bytes:
    """An XLSX (shared strings, as Excel writes); columns named in `numbers` are written as numbers."""
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    for row in rows:
        values = [row.get(h, "") for h in headers] if isinstance(row, dict) else list(row)
        for index, header in enumerate(headers):
            if header in numbers and values[index] not in ("", None):
                values[index] = float(values[index]) if "." in str(values[index]) else int(values[index])
        ws.append([None if v == "" else v for v in values])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def collector_scope(flow, key="collector") -> Scope:
    return flow.scope(key)


def run_import(flow, content: bytes, *, name="花名册.csv", policy="WZ-001", period="2026-03", actor=None,
               progress=None, organization=None):
    """Create and run an import (as the UI task would); returns the RosterImport as it ended."""
    actor = actor or collector_scope(flow)
    ri = roster_import_create(actor=actor, fileobj=io.BytesIO(content), original_name=name, policy_code=policy,
                              period=period, organization=organization)
    kwargs = {"progress": progress} if progress is not None else {}
    return roster_import_run(roster_import_id=ri.pk, **kwargs)


def rejected_rows(ri) -> list[list[str]]:
    """The rejected-rows file of an import as a list of rows (header first)."""
    from yikatong.core.services.files import file_abspath

    path = Path(file_abspath(ri.rejected_file))
    if path.suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        return [[str(c) for c in row] for row in sheet.to_python()]
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))
