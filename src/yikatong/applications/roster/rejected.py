"""The rejected-rows file: the refused rows as received, in the uploaded format (CSV or XLSX), with the
file's own header row plus a 错误原因 column, so a person corrects them and uploads the file again.

Rows arrive ordered by row number, possibly several reasons per row; `add` joins them into one line.
Memory stays constant (CSV streamed, XLSX through openpyxl's write-only mode)."""

from __future__ import annotations

import csv

from yikatong.core.tabular import xlsx_writer

from . import reader
from .validate import mask_value, raw_cells

REASON_HEADER = "错误原因"
REASON_SEPARATOR = "；"


class RejectedWriter:
    def __init__(self, target, layout: reader.Layout):
        self.layout = layout
        self.headers = [*layout.headers, REASON_HEADER]
        self.rows = 0
        self._pending: tuple[int, list[str], list[str]] | None = None
        if layout.format == "xlsx":
            self._xlsx = xlsx_writer(target, self.headers, sheet_title="错误行")
            self._fh = None
        else:
            self._xlsx = None
            self._fh = open(target, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in close()
            self._fh.write("\ufeff")  # Excel reads UTF-8 with a BOM
            self._csv = csv.writer(self._fh, lineterminator="\r\n")
            self._csv.writerow(self.headers)

    def add(self, row_no: int, raw: str | None, reason: str) -> None:
        if self._pending is not None and self._pending[0] == row_no:
            if reason not in self._pending[2]:
                self._pending[2].append(reason)
            return
        self._flush()
        self._pending = (row_no, raw_cells(raw), [reason])

    def _flush(self) -> None:
        if self._pending is None:
            return
        _row_no, cells, reasons = self._pending
        width = len(self.layout.headers)
        line = (cells + [""] * width)[:max(width, len(cells))] + [REASON_SEPARATOR.join(reasons)]
        if self._xlsx is not None:
            self._xlsx.write(line)
        else:
            self._csv.writerow(line)
        self.rows += 1
        self._pending = None

    def close(self) -> None:
        self._flush()
        if self._xlsx is not None:
            self._xlsx.close()
        if self._fh is not None:
            self._fh.close()

    def __enter__(self) -> RejectedWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def masked_raw(raw: str | None, layout: reader.Layout) -> dict:
    """The raw row for RosterRowError.raw: {header: value}, with ID numbers, bank accounts and phones
    masked — the database keeps no plain identifiers; the full row is in the rejected-rows file."""
    cells = raw_cells(raw)
    by_index = {index: name for name, index in layout.columns.items()}
    out = {}
    cells = cells + [""] * (len(layout.headers) - len(cells))
    for index, value in enumerate(cells):
        header = layout.headers[index] if index < len(layout.headers) else ""
        key = header or f"第{index + 1}列"
        if key in out:
            key = f"{key}（第{index + 1}列）"
        canonical = by_index.get(index)
        out[key] = mask_value(canonical, value) if canonical else value
    return out
