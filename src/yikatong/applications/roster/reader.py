"""Reading a roster file (花名册, SPEC §5.1) in blocks that worker processes parse on their own.

The main process never touches single rows: it checks the header, then cuts the file into blocks of
whole records (CSV: bytes ending at a record boundary; XLSX: sheet XML ending after a `</row>`) and
hands them to `parse_block`, which runs in a worker and returns `(row_number, cells)` pairs. Memory is
one block per process, whatever the file size; for XLSX also the shared-strings table, kept as one
UTF-8 blob plus an offset array (about 20 bytes per unique string instead of ~80 for Python objects).

Format is detected from the content (a zip is XLSX, anything else is tried as CSV), never from the
file name. CSV refusals (binary, old .xls, UTF-16, not UTF-8, empty, too big) come from
core.tabular.open_table; XLSX refusals use the same wording.
"""

from __future__ import annotations

import codecs
import datetime as dt
import html
import re
import zipfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from xml.etree import ElementTree as ET

from yikatong.core import tabular
from yikatong.core.errors import DomainError
from yikatong.core.tabular import NOT_A_TABLE, TableError, normalize_header

MiB = 1024 * 1024

# -- the contract ------------------------------------------------------------------------------------
NAME, ID_NUMBER, ACCOUNT = "姓名", "身份证号", "社保卡银行账号"
ORG_NAME, CREDIT_CODE, CORPORATE_ACCOUNT = "单位名称", "统一社会信用代码", "对公账号"
BANK, PHONE, REGION, POLICY, PERIOD = "开户银行", "手机号码", "行政区划代码", "补贴项目编码", "补贴期间"
QUANTITY, AMOUNT, REMARKS, TIER = "补贴数量", "补贴金额", "备注", "补贴档次"

PERSON, ORGANIZATION = "person", "organization"
IDENTITY_COLUMNS = {PERSON: (NAME, ID_NUMBER, ACCOUNT), ORGANIZATION: (ORG_NAME, CREDIT_CODE, CORPORATE_ACCOUNT)}
COMMON_COLUMNS = (BANK, PHONE, REGION, POLICY, PERIOD, QUANTITY, AMOUNT, REMARKS)
# Columns whose header must be present; the others may be left out (their cells then count as empty:
# 补贴项目编码 and 补贴期间 take the values chosen for the import, 补贴金额 the policy standard).
REQUIRED_COMMON = (BANK, REGION, AMOUNT)
OPTIONAL_COLUMNS = (PHONE, POLICY, PERIOD, QUANTITY, REMARKS, TIER)
ALIASES = {"身份证号码": ID_NUMBER, "公民身份号码": ID_NUMBER, "档次": TIER, "社保卡账号": ACCOUNT}
ALL_COLUMNS = (*IDENTITY_COLUMNS[PERSON], *IDENTITY_COLUMNS[ORGANIZATION], *COMMON_COLUMNS, TIER)

PERSON_TEMPLATE = ", ".join((*IDENTITY_COLUMNS[PERSON], *COMMON_COLUMNS))


def required_columns(kind: str) -> tuple[str, ...]:
    return (*IDENTITY_COLUMNS[kind], *REQUIRED_COMMON)


@dataclass
class Layout:
    """What the header row says about the file."""

    format: str  # "csv" | "xlsx"
    kind: str  # PERSON | ORGANIZATION
    header_row: int  # spreadsheet row of the header (1 unless blank rows precede it)
    headers: list[str]  # the header cells as written (the rejected-rows file repeats them)
    columns: dict[str, int]  # canonical column name -> cell index
    size_hint: int | None = None  # upper bound of the data rows, for progress
    # XLSX only (inherited by forked workers, never pickled per block)
    shared_strings: SharedStrings | None = field(default=None, repr=False)
    date_styles: frozenset[int] = frozenset()
    epoch: dt.datetime = dt.datetime(1899, 12, 30)


def layout_for(fmt: str, header_row: int, cells: list[str], size_hint: int | None = None) -> Layout:
    """Match a header row against the contract; TableError listing what is missing or ambiguous."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        header = normalize_header(cell)
        name = header if header in ALL_COLUMNS else ALIASES.get(header)
        if name is None:
            continue
        if name in columns:
            raise TableError(
                f"表头中“{name}”出现了不止一次（第 {columns[name] + 1} 列和第 {index + 1} 列），请删除多余的一列后重新上传。",
                row_number=header_row, column=name,
            )
        columns[name] = index
    has_person, has_org = ID_NUMBER in columns, CREDIT_CODE in columns
    if has_person and has_org:
        raise TableError(
            "表头同时包含“身份证号”和“统一社会信用代码”：一个花名册只能是个人或单位中的一种，请分成两个文件上传。",
            row_number=header_row,
        )
    kind = ORGANIZATION if has_org else PERSON
    missing = [name for name in required_columns(kind) if name not in columns]
    if missing:
        raise TableError(
            f"第 {header_row} 行表头缺少必需的列：{'、'.join(missing)}。第一行应为表头：{PERSON_TEMPLATE}"
            f"（单位补贴对象用“{'、'.join(IDENTITY_COLUMNS[ORGANIZATION])}”代替前三列；列顺序不限，多余的列会被忽略）。",
            row_number=header_row,
        )
    return Layout(format=fmt, kind=kind, header_row=header_row, headers=[str(c or "").strip() for c in cells],
                  columns=columns, size_hint=size_hint)


# -- blocks ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """A run of whole records. CSV: UTF-8 bytes and the spreadsheet row of the first record.
    XLSX: sheet XML made of whole <row> elements (they carry their own row numbers)."""

    format: str
    start_row: int
    payload: bytes | str


class RosterSource:
    """An opened roster: `layout` and `blocks()`. Use as a context manager."""

    def __init__(self, path, *, max_bytes: int):
        self.path = path
        self.max_bytes = max_bytes
        self._closers = []
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head.startswith(b"PK\x03\x04"):
            self._xlsx = _Xlsx(path, max_bytes=max_bytes)
            self._closers.append(self._xlsx.close)
            self.layout = self._xlsx.layout
        else:
            self._xlsx = None
            self.layout = _csv_layout(path, max_bytes=max_bytes)

    def blocks(self, *, block_bytes: int) -> Iterator[Block]:
        if self._xlsx is not None:
            yield from self._xlsx.blocks(block_bytes=block_bytes)
        else:
            yield from _csv_blocks(self.path, block_bytes=block_bytes)

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> RosterSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def parse_block(block: Block, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    """The data rows of a block as (spreadsheet row, stripped cell texts); blank rows and rows up to the
    header are skipped. Raises TableError for what refuses the whole file (encoding, broken CSV, digits
    lost by Excel)."""
    if block.format == "csv":
        return _parse_csv_block(block, layout)
    return _parse_xlsx_block(block, layout)


def _is_blank(cells) -> bool:
    for cell in cells:
        if cell and not cell.isspace():
            return False
    return True


# -- CSV ---------------------------------------------------------------------------------------------
def _csv_layout(path, *, max_bytes: int) -> Layout:
    # open_table gives the platform's refusals (size, empty, binary, UTF-16, not UTF-8 at the header,
    # duplicated headers) and the header row; with nothing required it takes the first non-blank row.
    with tabular.open_table(path, required=(), optional=ALL_COLUMNS, aliases=ALIASES, max_bytes=max_bytes,
                            header_search_rows=1) as table:
        header_row, size_hint = table.header_row, table.size_hint
    # open_table normalizes header cells; read the row as written for the rejected-rows file
    cells = _first_records(path, header_row)[-1]
    return layout_for("csv", header_row, cells, size_hint)


def _first_records(path, count: int) -> list[list[str]]:
    import csv

    def lines():
        with open(path, "rb") as fh:
            for number, raw in enumerate(iter(fh.readline, b"")):
                # the header was decoded by open_table already; later lines are the workers' business
                text = raw.decode("utf-8", errors="replace")
                yield text[1:] if number == 0 and text.startswith("\ufeff") else text

    reader = csv.reader(lines())
    return [next(reader) for _ in range(count)]


def _records_in(data: bytes) -> int:
    """Newlines outside quoted fields: the number of complete records in `data` (which starts at a
    record boundary). A doubled quote inside a quoted field keeps the parity right."""
    if b'"' not in data:
        return data.count(b"\n")
    return sum(part.count(b"\n") for part in data.split(b'"')[0::2])


def _record_cut(data: bytes) -> int:
    """Index just after the last newline that ends a record (outside quotes); 0 when there is none."""
    end = len(data)
    for _ in range(256):
        pos = data.rfind(b"\n", 0, end)
        if pos < 0:
            return 0
        if data.count(b'"', 0, pos) % 2 == 0:
            return pos + 1
        end = pos
    return 0  # a huge quoted field: read on


def _csv_blocks(path, *, block_bytes: int) -> Iterator[Block]:
    row = 1
    carry = b""
    with open(path, "rb") as fh:
        first = True
        while True:
            data = fh.read(block_bytes)
            if first:
                first = False
                if data.startswith(codecs.BOM_UTF8):
                    data = data[len(codecs.BOM_UTF8):]
            if not data:
                if carry:
                    yield Block("csv", row, carry)
                return
            buffer = carry + data if carry else data
            cut = _record_cut(buffer)
            if cut == 0:
                carry = buffer
                continue
            block, carry = buffer[:cut], buffer[cut:]
            yield Block("csv", row, block)
            row += _records_in(block)


def _decode_error(block: Block, exc: UnicodeDecodeError) -> TableError:
    row = block.start_row + _records_in(block.payload[: exc.start])
    line_end = block.payload.find(b"\n", exc.start)
    line_start = block.payload.rfind(b"\n", 0, exc.start) + 1
    hint = ""
    try:
        block.payload[line_start: line_end if line_end >= 0 else None].decode("gb18030")
        hint = "（看起来是 GBK/GB18030 编码）"
    except UnicodeDecodeError:
        pass
    return TableError(
        f"文件不是 UTF-8 编码：第 {row} 行附近无法按 UTF-8 读取{hint}。"
        f"请用 Excel 或 WPS 打开，“另存为”选择“CSV UTF-8（逗号分隔）”，或另存为 .xlsx 后重新上传。",
        row_number=row,
    )


def _parse_csv_block(block: Block, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    import csv
    import io

    try:
        text = block.payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _decode_error(block, exc) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header_row = layout.header_row
    row = block.start_row - 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TableError(
                f"第 {row + 1} 行附近 CSV 格式错误（{exc}）：请检查引号是否成对，或另存为 .xlsx 后重新上传。",
                row_number=row + 1,
            ) from None
        row += 1
        if row <= header_row or not cells or _is_blank(cells):
            continue
        yield row, [c.strip() for c in cells]


# -- XLSX --------------------------------------------------------------------------------------------
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_ROW_RE = re.compile(r"<(?:\w+:)?row\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?row>)", re.S)
_CELL_RE = re.compile(r"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_ATTR_RE = re.compile(r'\b(r|t|s)="([^"]*)"')
_V_RE = re.compile(r"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.S)
_T_RE = re.compile(r"<(?:\w+:)?t(?:\s[^>]*)?>(.*?)</(?:\w+:)?t>|<(?:\w+:)?t\s*/>", re.S)
_RPH_RE = re.compile(r"<(?:\w+:)?rPh\b.*?</(?:\w+:)?rPh>", re.S)
_ESCAPED_CHAR = re.compile(r"_x([0-9A-Fa-f]{4})_")
_COLUMN_RE = re.compile(r"^([A-Z]+)")
_BUILTIN_DATE_FORMATS = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47})
_DATE_CODE = re.compile(r"[ymdhs]", re.I)
_FORMAT_NOISE = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


def _xml_text(raw: str) -> str:
    if "&" in raw:
        raw = html.unescape(raw)
    if "_x" in raw:
        raw = _ESCAPED_CHAR.sub(lambda m: chr(int(m.group(1), 16)), raw)
    return raw


def _inline_text(inner: str) -> str:
    if "rPh" in inner:
        inner = _RPH_RE.sub("", inner)
    return "".join(_xml_text(m.group(1) or "") for m in _T_RE.finditer(inner))


def _column_index(ref: str) -> int | None:
    match = _COLUMN_RE.match(ref)
    if not match:
        return None
    index = 0
    for ch in match.group(1):
        index = index * 26 + (ord(ch) - 64)
    return index - 1


class SharedStrings:
    """The shared-strings table as one UTF-8 blob and an offset array (constant per-string overhead)."""

    def __init__(self):
        self._blob = bytearray()
        self._offsets = array("Q", [0])

    def append(self, text: str) -> None:
        self._blob += text.encode("utf-8")
        self._offsets.append(len(self._blob))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, index: int) -> str:
        offsets = self._offsets
        return self._blob[offsets[index]:offsets[index + 1]].decode("utf-8")


def _cell_value(attrs: str, inner: str | None, layout: Layout) -> tuple[int | None, object]:
    """(column index or None, value) of one <c> element; the value is text, a float or a datetime."""
    ref = kind = style = None
    for name, value in _ATTR_RE.findall(attrs):
        if name == "r":
            ref = value
        elif name == "t":
            kind = value
        else:
            style = value
    column = _column_index(ref) if ref else None
    if not inner:
        return column, ""
    if kind == "inlineStr":
        return column, _inline_text(inner)
    match = _V_RE.search(inner)
    if match is None:
        return column, ""
    raw = match.group(1)
    if kind == "s":
        strings = layout.shared_strings
        try:
            return column, strings[int(raw)] if strings is not None else ""
        except (ValueError, IndexError):
            raise TableError(f"{NOT_A_TABLE}（共享字符串表损坏）。") from None
    if kind in ("str", "e", "d"):
        return column, _xml_text(raw)
    if kind == "b":
        return column, "TRUE" if raw.strip() == "1" else "FALSE"
    try:
        number = float(raw)
    except ValueError:
        return column, _xml_text(raw)
    if style is not None and layout.date_styles and int(style or 0) in layout.date_styles:
        try:
            return column, layout.epoch + dt.timedelta(milliseconds=round(number * 86_400_000))
        except OverflowError:
            return column, number
    return column, number


def _parse_xlsx_block(block: Block, layout: Layout) -> Iterator[tuple[int, list[str]]]:
    header_row = layout.header_row
    row = 0
    for row_match in _ROW_RE.finditer(block.payload):
        attrs, inner = row_match.group(1), row_match.group(2)
        number = None
        for name, value in _ATTR_RE.findall(attrs):
            if name == "r":
                number = int(value) if value.isdigit() else None
        row = number if number is not None else row + 1
        if row <= header_row or not inner:
            continue
        cells: list = []
        position = 0
        for cell_match in _CELL_RE.finditer(inner):
            column, value = _cell_value(cell_match.group(1), cell_match.group(2), layout)
            if column is None:
                column = position
            position = column + 1
            if column >= len(cells):
                cells.extend([""] * (column + 1 - len(cells)))
            cells[column] = value
        texts = [_cell_text(value, row, layout, index) for index, value in enumerate(cells)]
        if _is_blank(texts):
            continue
        yield row, texts


def _cell_text(value, row: int, layout: Layout, index: int) -> str:
    """A cell as the text a person sees; a long number Excel has cut refuses the file (core.tabular)."""
    if isinstance(value, str):
        text = value.strip()
        if "E+" in text or "e+" in text:
            return tabular._checked_text(text, row, _column_name(layout, index))  # noqa: SLF001 - shared rule
        return text
    if isinstance(value, float) and value.is_integer() and abs(value) >= 10**tabular.EXCEL_DIGITS:
        return tabular._checked_text(value, row, _column_name(layout, index))  # noqa: SLF001
    return tabular._cell_text(value)  # noqa: SLF001 - the platform's one rendering of cells


def _column_name(layout: Layout, index: int) -> str:
    for name, position in layout.columns.items():
        if position == index:
            return name
    return layout.headers[index] if index < len(layout.headers) else f"第 {index + 1} 列"


class _Xlsx:
    """The first worksheet of an XLSX, streamed: `layout` from the first non-blank row, then blocks."""

    def __init__(self, path, *, max_bytes: int):
        import os

        size = os.path.getsize(path)
        if size > max_bytes:
            raise TableError(f"文件过大：{size / MiB:.1f} MB，超过上限 {max_bytes / MiB:.0f} MB。请分成几个文件分别上传。")
        try:
            self.zip = zipfile.ZipFile(path)
            names = set(self.zip.namelist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise TableError(f"{NOT_A_TABLE}（文件已损坏或不完整）。") from None
        try:
            self.sheet, strings_name, styles_name, date1904 = self._parts(names)
            layout_extra = {
                "shared_strings": self._shared_strings(strings_name) if strings_name in names else None,
                "date_styles": self._date_styles(styles_name) if styles_name in names else frozenset(),
                "epoch": dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 30),
            }
            self._stream = None
            probe = Layout("xlsx", PERSON, 0, [], {}, **layout_extra)
            header_row, cells = self._header(probe)
            self.layout = layout_for("xlsx", header_row, cells, self._dimension_rows())
            for key, value in layout_extra.items():
                setattr(self.layout, key, value)
            if self.layout.size_hint is not None:
                self.layout.size_hint = max(0, self.layout.size_hint - header_row)
        except (zipfile.BadZipFile, KeyError, ET.ParseError, EOFError, OSError, ValueError, RuntimeError) as exc:
            self.close()
            if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
                raise TableError("文件有密码保护：请取消密码后重新上传。") from None
            raise TableError(f"{NOT_A_TABLE}（文件已损坏，或不是 Excel 表格）。") from None
        except DomainError:
            self.close()
            raise

    def close(self) -> None:
        zf = getattr(self, "zip", None)
        if zf is not None:
            zf.close()
            self.zip = None

    # -- package parts -------------------------------------------------------------------------------
    def _parts(self, names: set[str]) -> tuple[str, str, str, bool]:
        if "xl/workbook.xml" not in names:
            raise TableError(f"{NOT_A_TABLE}（不是 Excel 表格）。")
        workbook = ET.fromstring(self.zip.read("xl/workbook.xml"))
        date1904 = False
        props = workbook.find(f"{{{_NS_MAIN}}}workbookPr")
        if props is not None and props.get("date1904") in ("1", "true"):
            date1904 = True
        sheets = workbook.find(f"{{{_NS_MAIN}}}sheets")
        first = sheets.find(f"{{{_NS_MAIN}}}sheet") if sheets is not None else None
        if first is None:
            raise TableError("文件是空的：工作簿中没有工作表。")
        targets = {}
        strings_name, styles_name = "xl/sharedStrings.xml", "xl/styles.xml"
        if "xl/_rels/workbook.xml.rels" in names:
            rels = ET.fromstring(self.zip.read("xl/_rels/workbook.xml.rels"))
            for rel in rels.iter(f"{{{_NS_PKG_REL}}}Relationship"):
                target = rel.get("Target", "")
                path = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
                targets[rel.get("Id")] = path
                rel_type = rel.get("Type", "")
                if rel_type.endswith("/sharedStrings"):
                    strings_name = path
                elif rel_type.endswith("/styles"):
                    styles_name = path
        sheet = targets.get(first.get(f"{{{_NS_REL}}}id"), "xl/worksheets/sheet1.xml")
        if sheet not in names:
            raise TableError(f"{NOT_A_TABLE}（找不到第一个工作表）。")
        return sheet, strings_name, styles_name, date1904

    def _shared_strings(self, name: str) -> SharedStrings:
        strings = SharedStrings()
        si_tag, t_tag, r_tag = f"{{{_NS_MAIN}}}si", f"{{{_NS_MAIN}}}t", f"{{{_NS_MAIN}}}r"
        root = None
        with self.zip.open(name) as fh:
            for event, element in ET.iterparse(fh, events=("start", "end")):
                if root is None:
                    root = element
                if event != "end" or element.tag != si_tag:
                    continue
                # si/t or si/r/t; phonetic runs (si/rPh) are not part of the text
                parts = []
                for child in element:
                    if child.tag == t_tag:
                        parts.append(child.text or "")
                    elif child.tag == r_tag:
                        t = child.find(t_tag)
                        if t is not None:
                            parts.append(t.text or "")
                text = "".join(parts)
                strings.append(_ESCAPED_CHAR.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text)
                root.clear()  # keep memory flat: processed <si> elements are dropped
        return strings

    def _date_styles(self, name: str) -> frozenset[int]:
        root = ET.fromstring(self.zip.read(name))
        custom = {}
        formats = root.find(f"{{{_NS_MAIN}}}numFmts")
        if formats is not None:
            for fmt in formats:
                code = _FORMAT_NOISE.sub("", fmt.get("formatCode", ""))
                custom[int(fmt.get("numFmtId", "0"))] = bool(_DATE_CODE.search(code))
        xfs = root.find(f"{{{_NS_MAIN}}}cellXfs")
        dates = set()
        for index, xf in enumerate(xfs if xfs is not None else []):
            fmt_id = int(xf.get("numFmtId", "0"))
            if fmt_id in _BUILTIN_DATE_FORMATS or custom.get(fmt_id):
                dates.add(index)
        return frozenset(dates)

    def _dimension_rows(self) -> int | None:
        with self.zip.open(self.sheet) as fh:
            head = fh.read(4096).decode("utf-8", "ignore")
        match = re.search(r'<(?:\w+:)?dimension\s+ref="[A-Z]*\d*:?[A-Z]*(\d+)"', head)
        return int(match.group(1)) if match else None

    # -- rows ----------------------------------------------------------------------------------------
    def _chunks(self, block_bytes: int) -> Iterator[str]:
        """The sheetData content in pieces that end after a </row> (the last piece: whatever is left)."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        carry = ""
        started = False
        with self.zip.open(self.sheet) as fh:
            while True:
                data = fh.read(block_bytes)
                text = carry + decoder.decode(data, final=not data)
                if not started:
                    start = re.search(r"<(?:\w+:)?sheetData\b[^>]*?(/?)>", text)
                    if start is None:
                        if not data:
                            return
                        carry = text[-256:]
                        continue
                    if start.group(1) == "/":
                        return
                    started = True
                    text = text[start.end():]
                end = re.search(r"</(?:\w+:)?sheetData>", text)
                if end is not None:
                    if text[: end.start()].strip():
                        yield text[: end.start()]
                    return
                if not data:
                    if text.strip():
                        yield text
                    return
                cut = text.rfind("</row>")
                if cut < 0:
                    carry = text
                    continue
                cut += len("</row>")
                yield text[:cut]
                carry = text[cut:]

    def _header(self, probe: Layout) -> tuple[int, list[str]]:
        for chunk in self._chunks(256 * 1024):
            for row_match in _ROW_RE.finditer(chunk):
                block = Block("xlsx", 0, row_match.group(0))
                rows = list(_parse_xlsx_block(block, probe))
                if rows:
                    number, cells = rows[0]
                    return number, cells
        raise TableError("文件是空的：没有找到表头和数据。")

    def blocks(self, *, block_bytes: int) -> Iterator[Block]:
        for chunk in self._chunks(block_bytes):
            yield Block("xlsx", 0, chunk)
