"""Reading a CSV or XLSX table in chunks (source imports, bank results): CSV as raw blocks of lines that the
parse workers decode and split themselves, anything else (XLSX) through core.tabular one row at a time.

The CSV fast path keeps core.tabular's contract exactly — the header is found by `open_table` (title rows,
aliases, missing columns, empty or binary files), rows are numbered as it numbers them (CSV records,
blank rows skipped but counted), cells are stripped, a number Excel wrote in scientific notation refuses
the file, a line that is not UTF-8 refuses it naming the line — but the main process only cuts the bytes
after the header into blocks of CHUNK_ROWS lines (never inside a quoted field), so decoding, CSV parsing
and picking the columns run in the workers, beside validation and encryption.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from yikatong.core.tabular import _SCIENTIFIC, TableError, _is_blank, _lost_digits  # noqa: PLC2701


@dataclass(frozen=True)
class CsvBlock:
    """Whole CSV records (never a quoted field cut in two) handed to a parse worker."""

    data: bytes
    first_row: int  # the row number (CSV record) of the first record, as core.tabular numbers rows
    first_line: int  # the physical line of the first byte, for "not UTF-8" messages
    columns: tuple[int, ...]  # cell index of each of the spec's columns
    names: tuple[str, ...]  # the spec's columns (for messages)
    rows: int  # records in the block (blank ones included)


def chunks(table, fileobj, columns: tuple[str, ...], chunk_rows: int) -> Iterator:
    """Chunks of the table opened by `open_table(fileobj, …)`: CsvBlock for CSV, lists of
    (row_number, cells in `columns` order) otherwise."""
    if table.format == "csv":
        return _csv_blocks(table, fileobj, columns, chunk_rows)
    return row_chunks(table, columns, chunk_rows)


def row_chunks(table, columns: tuple[str, ...], chunk_rows: int) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    append = chunk.append
    for number, row in table:
        append((number, *[row[c] for c in columns]))
        if len(chunk) >= chunk_rows:
            yield chunk
            chunk = []
            append = chunk.append
    if chunk:
        yield chunk


def _csv_blocks(table, fileobj, columns: tuple[str, ...], chunk_rows: int) -> Iterator[CsvBlock]:
    # open_table consumed the file exactly up to the end of the header record (its CSV reader pulls
    # lines lazily); what follows is ours.
    offset = fileobj.tell()
    fileobj.seek(0)
    line = fileobj.read(offset).count(b"\n") + 1
    if fileobj.tell() != offset:  # pragma: no cover - defensive
        raise RuntimeError("CSV header offset lost")
    index = tuple(table.columns[c] for c in columns)
    row = table.header_row + 1
    while True:
        lines = list(islice(fileobj, chunk_rows))
        if not lines:
            return
        data = b"".join(lines)
        if b'"' in data:  # a quoted field may hold new lines: count records, never end inside one
            records, more = _records(lines, fileobj)
            if more:
                data += b"".join(more)
        else:
            records = len(lines)
        yield CsvBlock(data, row, line, index, columns, records)
        row += records
        line += data.count(b"\n")


def _records(lines: list[bytes], fileobj) -> tuple[int, list[bytes]]:
    """CSV records in `lines`, parsed as core.tabular parses them; when the last record is still open
    (a quoted field goes on), the lines that complete it are read from `fileobj` and returned."""
    more: list[bytes] = []
    state = {"boundary": 0}

    def feed() -> Iterator[str]:
        for raw in lines:
            yield raw.decode("utf-8", errors="replace")  # a line that is not UTF-8 is the worker's to report
        while reader.line_num != state["boundary"]:  # asked for a line in the middle of a record
            raw = fileobj.readline()
            if not raw:
                return
            more.append(raw)
            yield raw.decode("utf-8", errors="replace")

    reader = csv.reader(feed())
    count = 0
    try:
        for _ in reader:
            count += 1
            state["boundary"] = reader.line_num
    except csv.Error:  # the worker reports it with the row number
        count += 1
    return count, more


def block_rows(block: CsvBlock) -> list[tuple]:
    """(row_number, cells in the spec's column order) of a block's non-blank records; TableError for a
    line that is not UTF-8, broken CSV or a number in scientific notation (core.tabular's messages)."""
    data = block.data
    refusal = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text, refusal = _good_prefix(block)
    index = block.columns
    names = block.names
    width_needed = max(index) + 1
    check_numbers = "+" in text
    rows: list[tuple] = []
    append = rows.append
    number = block.first_row - 1
    reader = csv.reader(io.StringIO(text, newline="\n"))
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise TableError(
                f"第 {number + 1} 行附近 CSV 格式错误（{exc}）：请检查引号是否成对，或另存为 .xlsx 后重新上传。",
                row_number=number + 1,
            ) from None
        number += 1
        if len(cells) >= width_needed:
            values = [cells[i].strip() for i in index]
        else:
            width = len(cells)
            values = [cells[i].strip() if i < width else "" for i in index]
        if not any(values) and _is_blank(cells):
            continue
        if check_numbers:
            for name, value in zip(names, values, strict=True):
                if "+" in value and _SCIENTIFIC.match(value):
                    raise _lost_digits(number, name)
        append((number, *values))
    if refusal is not None:
        raise refusal
    return rows


def _good_prefix(block: CsvBlock) -> tuple[str, TableError]:
    """The text before the first line that is not UTF-8, and the refusal naming that line."""
    lines = block.data.split(b"\n")
    good: list[str] = []
    raw = b""
    for raw in lines:
        try:
            good.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            break
    line_number = block.first_line + len(good)
    hint = ""
    try:
        raw.decode("gb18030")
        hint = "（看起来是 GBK/GB18030 编码）"
    except UnicodeDecodeError:
        pass
    refusal = TableError(
        f"文件不是 UTF-8 编码：第 {line_number} 行附近无法按 UTF-8 读取{hint}。"
        f"请用 Excel 或 WPS 打开，“另存为”选择“CSV UTF-8（逗号分隔）”，或另存为 .xlsx 后重新上传。",
        row_number=line_number,
    )
    return "".join(line + "\n" for line in good), refusal
