"""Reading and writing the data-exchange tables (SPEC §5): UTF-8 CSV (with or without BOM) and XLSX.

Reading::

    with open_table(upload, required=["姓名", "身份证号"], optional=["备注"],
                    aliases={"身份证号码": "身份证号"}) as table:
        for row_number, row in table:        # row_number = the spreadsheet row (header is row 1)
            row["身份证号"]                   # stripped text, "" when empty; every named column present

- The format is detected from the content (XLSX = a zip, anything else is tried as CSV), never from the
  file name. A file that is neither (PDF, picture, old .xls, broken zip) raises TableError.
- Headers: the first non-empty row (a title row above the header is tolerated within the first
  `header_search_rows` rows). Headers are matched after trimming spaces and a leading/trailing "*",
  exactly or through `aliases` (alias → canonical name); other columns are ignored, order is free.
- Rows stream: CSV is decoded line by line (memory does not grow with the file). XLSX is read with
  python-calamine, which loads the whole sheet before the first row (about 1 KB per row of a roster;
  upstream has no lazy reader), so XLSX is refused above `max_sheet_bytes` with advice to use CSV.
- Numbers in XLSX come back as text exactly as a person typed them: integral numbers without ".0",
  dates as YYYY-MM-DD. A long number Excel stored as a number (ID or account) has lost digits; such a
  value raises TableError naming the row and column, as does text in scientific notation ("5.00101E+17").
  A TableError raised while iterating rejects the file (the fix is to reformat that column).

Writing: `write_csv` (streaming, BOM for Excel), `xlsx_writer` (openpyxl write-only: constant memory,
bold header), `csv_streaming_response` for downloads from views.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import IO, Any

from yikatong.core.errors import DomainError

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 512 * MiB
# Uncompressed sheet XML; calamine holds the decoded sheet in memory (roughly 1 KB per 11-column row).
DEFAULT_MAX_SHEET_BYTES = 400 * MiB

NOT_A_TABLE = "无法读取文件：不是有效的 XLSX 或 CSV 文件"
EXCEL_DIGITS = 15  # Excel keeps 15 significant digits; a longer number typed into a cell is already cut
_SCIENTIFIC = re.compile(r"^[+-]?\d(?:\.\d+)?[eE]\+\d{2,}$")  # how Excel shows long numbers: 5.00101E+17
_HEADER_SPACE = re.compile(r"[\s\u3000\ufeff]+")
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b", b"BM")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"


class TableError(DomainError):
    """The file cannot be read as the expected table; the message says what to fix."""

    def __init__(self, message: str, *, row_number: int | None = None, column: str | None = None):
        super().__init__(message, field=column, code="table")
        self.row_number = row_number
        self.column = column


# -- reading ---------------------------------------------------------------------------------------------


def normalize_header(value: Any) -> str:
    text = value if isinstance(value, str) else _cell_text(value)
    return _HEADER_SPACE.sub("", text).strip("*＊")


class TableReader:
    """Rows of one table as `(row_number, {column: text})`. Iterate once; close when done (or use `with`)."""

    def __init__(self, *, fmt: str, rows: Iterator[tuple[int, list]], required: Sequence[str],
                 optional: Sequence[str], aliases: Mapping[str, str], header_search_rows: int,
                 closer=None, size_hint: int | None = None):
        self.format = fmt
        self.required = list(required)
        self.optional = [name for name in optional if name not in self.required]
        self._rows = rows
        self._closer = closer
        self._size_hint = size_hint
        self._pending: list[tuple[int, list]] = []
        self._aliases = {normalize_header(k): v for k, v in aliases.items()}
        self._iterated = False
        self.headers: list[str] = []
        self.header_row = 0
        self.columns: dict[str, int] = {}
        self._find_header(header_search_rows)

    # -- header ------------------------------------------------------------------------------------
    def _canonical(self, header: str) -> str | None:
        wanted = self.required + self.optional
        name = header if header in wanted else self._aliases.get(header)
        return name if name in wanted else None

    def _match(self, cells: list) -> tuple[dict[str, int], list[str]]:
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            name = self._canonical(normalize_header(cell))
            if name is None:
                continue
            if name in columns:
                raise TableError(
                    f"表头中“{name}”出现了不止一次（第 {columns[name] + 1} 列和第 {index + 1} 列），请删除多余的一列后重新上传。",
                    column=name,
                )
            columns[name] = index
        return columns, [name for name in self.required if name not in columns]

    def _find_header(self, search_rows: int) -> None:
        best = None  # (matched count, row number, cells, columns, missing)
        seen = 0
        for row_number, cells in self._rows:
            if _is_blank(cells):
                continue
            seen += 1
            self._pending.append((row_number, cells))
            columns, missing = self._match(cells)
            if not missing:
                self._accept_header(row_number, cells, columns)
                return
            if best is None or len(columns) > best[0]:
                best = (len(columns), row_number, cells, columns, missing)
            if seen >= search_rows:
                break
        if best is None:
            self.close()
            raise TableError("文件是空的：没有找到表头和数据。")
        self.close()
        _, row_number, cells, _, missing = best
        expected = ", ".join(self.required + self.optional)
        raise TableError(
            f"第 {row_number} 行表头缺少必需的列：{'、'.join(missing)}。"
            f"第一行应为表头：{expected}（列顺序不限，多余的列会被忽略）。",
            row_number=row_number,
        )

    def _accept_header(self, row_number: int, cells: list, columns: dict[str, int]) -> None:
        self.header_row = row_number
        self.headers = [normalize_header(c) for c in cells]
        self.columns = columns
        # rows buffered while searching: the header and everything above it are consumed
        self._pending = [(n, c) for n, c in self._pending if n > row_number]

    @property
    def missing_optional(self) -> list[str]:
        return [name for name in self.optional if name not in self.columns]

    @property
    def size_hint(self) -> int | None:
        """Approximate number of data rows (for a progress total); None when unknown."""
        if self._size_hint is None:
            return None
        return max(0, self._size_hint - self.header_row)

    # -- rows --------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        if self._iterated:
            raise RuntimeError("a TableReader can be iterated only once")
        self._iterated = True
        return self._iter()

    def _iter(self) -> Iterator[tuple[int, dict[str, str]]]:
        wanted = [(name, self.columns.get(name)) for name in self.required + self.optional]
        pending, self._pending = self._pending, []
        try:
            for source in (pending, self._rows):
                for row_number, cells in source:
                    if _is_blank(cells):
                        continue
                    width = len(cells)
                    row = {}
                    for name, index in wanted:
                        if index is None or index >= width:
                            row[name] = ""
                        else:
                            row[name] = _checked_text(cells[index], row_number, name)
                    yield row_number, row
        finally:
            self.close()

    def close(self) -> None:
        if self._closer is not None:
            closer, self._closer = self._closer, None
            closer()

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_blank(cells: list) -> bool:
    for cell in cells:
        if isinstance(cell, str):
            if cell and not cell.isspace():
                return False
        elif cell is not None:
            return False
    return True


def _plain_number(value: float) -> str:
    text = format(value, f".{EXCEL_DIGITS}g")  # Excel's precision: 0.1+0.2 shows as 0.3
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def _cell_text(value: Any) -> str:
    """One spreadsheet cell as the text a person sees (dates as YYYY-MM-DD, integers without .0)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        if value.is_integer() and abs(value) < 10**EXCEL_DIGITS:
            return str(int(value))
        return _plain_number(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value).strip()


def _lost_digits(row_number: int, column: str) -> TableError:
    return TableError(
        f"第 {row_number} 行 {column} 被 Excel 存成了数字，精度已丢失，请把该列设为文本格式，"
        f"重新填入完整号码后再上传。",
        row_number=row_number,
        column=column,
    )


def _checked_text(value: Any, row_number: int, column: str) -> str:
    if isinstance(value, str):
        text = value.strip()
        if _SCIENTIFIC.match(text):
            raise _lost_digits(row_number, column)
        return text
    if isinstance(value, float) and value.is_integer() and abs(value) >= 10**EXCEL_DIGITS:
        raise _lost_digits(row_number, column)
    return _cell_text(value)


# -- sources -----------------------------------------------------------------------------------------------


def _size_of(fileobj) -> int | None:
    size = getattr(fileobj, "size", None)
    if isinstance(size, int):
        return size
    try:
        position = fileobj.tell()
        fileobj.seek(0, os.SEEK_END)
        size = fileobj.tell()
        fileobj.seek(position)
        return size
    except (AttributeError, OSError, ValueError):
        return None


def open_table(
    source: str | os.PathLike | IO[bytes],
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_sheet_bytes: int = DEFAULT_MAX_SHEET_BYTES,
    header_search_rows: int = 10,
) -> TableReader:
    """Open a CSV or XLSX table (a path or a binary file object positioned anywhere; it is rewound)."""
    owned = isinstance(source, (str, os.PathLike))
    fileobj = open(source, "rb") if owned else source  # noqa: SIM115 - closed by the reader
    if hasattr(fileobj, "open") and getattr(fileobj, "closed", False):  # Django File / UploadedFile
        fileobj.open("rb")
    closer = fileobj.close if owned else None
    try:
        fileobj.seek(0)
        size = _size_of(fileobj)
        if size is not None and size > max_bytes:
            raise TableError(
                f"文件过大：{size / MiB:.1f} MB，超过上限 {max_bytes / MiB:.0f} MB。请分成几个文件分别上传。"
            )
        head = fileobj.read(4096)
        fileobj.seek(0)
        if not head:
            raise TableError("文件是空的：没有找到表头和数据。")
        options = dict(required=required, optional=optional, aliases=aliases or {},
                       header_search_rows=header_search_rows)
        if head.startswith(_ZIP_MAGIC):
            return _open_xlsx(fileobj, closer=closer, max_sheet_bytes=max_sheet_bytes, **options)
        _refuse_binary(head)
        return TableReader(fmt="csv", rows=_csv_rows(fileobj), closer=closer,
                           size_hint=_count_lines(fileobj), **options)
    except BaseException:
        if closer:
            closer()
        raise


def _refuse_binary(head: bytes) -> None:
    if head.startswith(_OLE_MAGIC):
        raise TableError(
            f"{NOT_A_TABLE}：这是旧版 Excel（.xls）或加密的 Excel 文件。请在 Excel/WPS 中取消密码，"
            f"另存为 .xlsx 或“CSV UTF-8”后重新上传。"
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise TableError("文件不是 UTF-8 编码（是 UTF-16）：请另存为“CSV UTF-8（逗号分隔）”后重新上传。")
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        raise TableError(f"{NOT_A_TABLE}。请上传 Excel（.xlsx）或 CSV（UTF-8）格式的表格。")


# -- CSV ---------------------------------------------------------------------------------------------------


def _decoded_lines(fileobj) -> Iterator[str]:
    """Lines decoded one by one, so a decoding error can name the line (UTF-8 never has 0x0A inside
    a multi-byte character, so splitting bytes on newlines is safe)."""
    for line_number, raw in enumerate(iter(fileobj.readline, b""), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            hint = ""
            try:
                raw.decode("gb18030")
                hint = "（看起来是 GBK/GB18030 编码）"
            except UnicodeDecodeError:
                pass
            raise TableError(
                f"文件不是 UTF-8 编码：第 {line_number} 行附近无法按 UTF-8 读取{hint}。"
                f"请用 Excel 或 WPS 打开，“另存为”选择“CSV UTF-8（逗号分隔）”，或另存为 .xlsx 后重新上传。",
                row_number=line_number,
            ) from None
        if line_number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield text


def _csv_rows(fileobj) -> Iterator[tuple[int, list]]:
    reader = csv.reader(_decoded_lines(fileobj))
    row_number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TableError(
                f"第 {row_number + 1} 行附近 CSV 格式错误（{exc}）：请检查引号是否成对，或另存为 .xlsx 后重新上传。",
                row_number=row_number + 1,
            ) from None
        row_number += 1
        yield row_number, cells


def _count_lines(fileobj) -> int | None:
    """Newlines in the file (a cheap upper bound of the rows, for progress); the file is rewound."""
    try:
        count = 0
        last = b""
        for chunk in iter(lambda: fileobj.read(MiB), b""):
            count += chunk.count(b"\n")
            last = chunk[-1:]
        fileobj.seek(0)
    except (OSError, ValueError, AttributeError):
        return None
    if last and not last.endswith(b"\n"):
        count += 1
    return count


# -- XLSX --------------------------------------------------------------------------------------------------


def _sheet_xml_bytes(fileobj) -> int:
    with zipfile.ZipFile(fileobj) as archive:
        return sum(
            info.file_size for info in archive.infolist()
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
        )


def _open_xlsx(fileobj, *, closer, max_sheet_bytes: int, **options) -> TableReader:
    from python_calamine import CalamineWorkbook, PasswordError

    try:
        sheet_bytes = _sheet_xml_bytes(fileobj)
        fileobj.seek(0)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise TableError(f"{NOT_A_TABLE}（文件已损坏或不完整）。") from None
    if sheet_bytes > max_sheet_bytes:
        raise TableError(
            "XLSX 文件过大：请另存为“CSV UTF-8（逗号分隔）”后上传（CSV 逐行读取，不受此限制），"
            "或分成几个文件分别上传。"
        )
    try:
        workbook = CalamineWorkbook.from_filelike(fileobj)
        if not workbook.sheet_names:
            raise TableError("文件是空的：工作簿中没有工作表。")
        sheet = workbook.get_sheet_by_index(0)
    except TableError:
        raise
    except PasswordError:
        raise TableError("文件有密码保护：请取消密码后重新上传。") from None
    except Exception:  # calamine raises several error types for broken files
        raise TableError(f"{NOT_A_TABLE}（文件已损坏，或不是 Excel 表格）。") from None

    def close() -> None:
        workbook.close()
        if closer:
            closer()

    # calamine yields rows from the sheet's first row (A1), so enumerate gives spreadsheet row numbers
    rows = ((number, cells) for number, cells in enumerate(sheet.iter_rows(), 1))
    end = sheet.end
    return TableReader(fmt="xlsx", rows=rows, closer=close, size_hint=(end[0] + 1) if end else 0, **options)


# -- writing -------------------------------------------------------------------------------------------------


def format_cell(value: Any) -> str:
    """A value as text for CSV: dates YYYY-MM-DD, local times, Decimals as is, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            from django.utils import timezone

            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _guard_formula(text: str) -> str:
    """Keep spreadsheet programs from running cell text as a formula (CSV injection)."""
    if text and text[0] in "=+-@\t\r":
        try:
            Decimal(text)
            return text  # a plain negative number
        except ArithmeticError:
            return "'" + text
    return text


def _row_values(row, headers: Sequence[str]) -> Sequence:
    if isinstance(row, Mapping):
        return [row.get(h) for h in headers]
    return row


def _csv_line_values(row, headers: Sequence[str], escape_formulas: bool) -> list[str]:
    values = [format_cell(v) for v in _row_values(row, headers)]
    if escape_formulas:
        values = [_guard_formula(v) for v in values]
    return values


def write_csv(rows: Iterable, headers: Sequence[str], fileobj, *, bom: bool = True,
              escape_formulas: bool = False) -> int:
    """Write a header line and the rows (sequences, or mappings keyed by header) as UTF-8 CSV.

    `fileobj` is a text file opened with newline="" or a binary file. Returns the number of data rows.
    Set `escape_formulas` for files people open in Excel (exports); leave it off for machine formats."""
    wrapper = None
    if not isinstance(fileobj, io.TextIOBase):
        wrapper = fileobj = io.TextIOWrapper(fileobj, encoding="utf-8", newline="", write_through=True)
    try:
        if bom:
            fileobj.write("\ufeff")
        writer = csv.writer(fileobj, lineterminator="\r\n")
        writer.writerow(headers)
        count = 0
        for row in rows:
            writer.writerow(_csv_line_values(row, headers, escape_formulas))
            count += 1
        fileobj.flush()
        return count
    finally:
        if wrapper is not None:
            wrapper.detach()  # leave the caller's binary file open


def attachment_header(filename: str) -> str:
    """Content-Disposition for a download: an ASCII fallback name plus the real (Chinese) name as
    RFC 5987 `filename*=UTF-8''…`, which every current browser uses."""
    from urllib.parse import quote

    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    ascii_stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_") or "download"
    fallback = f"{ascii_stem}.{ext}" if ext.isascii() and ext else ascii_stem
    if filename.isascii() and '"' not in filename and "\\" not in filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_streaming_response(filename: str, headers: Sequence[str], rows: Iterable, *,
                           escape_formulas: bool = True, chunk_rows: int = 500):
    """A download that streams rows as they come (constant memory), with a BOM so Excel reads UTF-8
    and a Content-Disposition that keeps Chinese file names (RFC 5987 filename*=UTF-8''…)."""
    from django.http import StreamingHttpResponse

    writer = csv.writer(_Echo(), lineterminator="\r\n")

    def chunks() -> Iterator[bytes]:
        yield ("\ufeff" + writer.writerow(headers)).encode("utf-8")
        buffer = []
        for row in rows:
            buffer.append(writer.writerow(_csv_line_values(row, headers, escape_formulas)))
            if len(buffer) >= chunk_rows:
                yield "".join(buffer).encode("utf-8")
                buffer = []
        if buffer:
            yield "".join(buffer).encode("utf-8")

    response = StreamingHttpResponse(chunks(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = attachment_header(filename)
    response["Cache-Control"] = "no-store"
    return response


class XlsxWriter:
    """Rows into an XLSX in constant memory (openpyxl write-only); call `close()` (or use `with`)."""

    def __init__(self, target, headers: Sequence[str], *, sheet_title: str = "Sheet1",
                 column_widths: Mapping[str, float] | None = None):
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self.target = target
        self.headers = list(headers)
        self.count = 0
        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet(title=sheet_title)
        widths = column_widths or {}
        for index, header in enumerate(self.headers, 1):
            width = widths.get(header) or max(10, min(40, len(header) * 2 + 4))
            self._sheet.column_dimensions[get_column_letter(index)].width = width
        self._sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header_cells = []
        for header in self.headers:
            cell = WriteOnlyCell(self._sheet, value=header)
            cell.font = bold
            header_cells.append(cell)
        self._sheet.append(header_cells)
        self._cell_class = WriteOnlyCell
        self._closed = False

    def _value(self, value):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        if isinstance(value, str):
            return ILLEGAL_CHARACTERS_RE.sub("", value)
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                from django.utils import timezone

                value = timezone.localtime(value).replace(tzinfo=None)
            cell = self._cell_class(self._sheet, value=value)
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
            return cell
        if isinstance(value, dt.date):
            cell = self._cell_class(self._sheet, value=value)
            cell.number_format = "yyyy-mm-dd"
            return cell
        return value  # numbers (int, Decimal) stay numbers; ID numbers are passed as str and stay text

    def write(self, row) -> None:
        self._sheet.append([self._value(v) for v in _row_values(row, self.headers)])
        self.count += 1

    def write_rows(self, rows: Iterable) -> int:
        for row in rows:
            self.write(row)
        return self.count

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._workbook.save(self.target)

    def __enter__(self) -> XlsxWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()


def xlsx_writer(path, headers: Sequence[str], **options) -> XlsxWriter:
    """`with xlsx_writer(path, headers) as out: out.write(row)` — `path` may also be a binary file."""
    return XlsxWriter(path, headers, **options)
