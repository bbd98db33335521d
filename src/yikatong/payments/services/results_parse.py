"""Reading a bank result (回盘, SPEC §5.3) line by line: pure rules, no ORM.

A line is `批次号, 序号, 收款账号, 金额, 处理结果 (成功/失败), 失败原因, 处理日期`. `LineParser.parse` turns it into one
staging row (see STAGE_COLUMNS) and remembers what the set-based matching needs: the batch numbers seen and the
processing dates seen. Bad values never stop the import: the line is marked invalid with a message naming the
field, and stored for review. (Which (batch, seq) pairs come up twice is found by the database after loading.)

`parse_chunk` parses one chunk of lines — a raw CSV block (core.csv_blocks.CsvBlock) or a list of
(line_no, 7 texts) — in a worker process (core.parallel) and returns the staging rows ready for the database:
PostgreSQL COPY text, or tuples for SQLite. Speed matters (a million lines within the import's 20 s): no Decimal
or datetime parsing per line on the common path (amounts become integer fen by a regular expression, dates are
cached per distinct text), one HMAC per line, COPY lines formatted without per-field escaping when the block
holds no character that would need it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from yikatong.core import crypto
from yikatong.core.money import MoneyError, fen, to_money

HEADERS = ("批次号", "序号", "收款账号", "金额", "处理结果", "失败原因", "处理日期")
# Keys a bank may use in the API instead of the Chinese headers.
API_ALIASES = {
    "batch_number": "批次号", "batch": "批次号", "seq": "序号", "sequence": "序号", "account": "收款账号",
    "account_number": "收款账号", "amount": "金额", "outcome": "处理结果", "result": "处理结果", "status": "处理结果",
    "reason": "失败原因", "failure_reason": "失败原因", "processed_on": "处理日期", "date": "处理日期",
}
OUTCOMES = {"成功": "paid", "失败": "failed", "success": "paid", "succeeded": "paid", "paid": "paid",
            "failed": "failed", "failure": "failed", "fail": "failed"}
DEFAULT_REASON = "其他"
REASON_MAX = 100  # PaymentAttempt.failure_reason / PaymentItem.last_failure_reason

# The staging table's columns, in the order `parse` returns them.
STAGE_COLUMNS = ("line_no", "batch_number", "seq", "seq_text", "acc_digest", "acc_masked", "amount_fen",
                 "amount_text", "outcome", "outcome_text", "reason", "processed", "processed_text", "bad")
CONTROL_MARK = "合计"  # a control (totals) line, as in the payment file, is not a result

_AMOUNT = re.compile(r"^(\d{1,13})(?:\.(\d{1,2}))?$")
_DATE_FORMS = (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"),
               re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
               re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"))
_MAX_SEQ = 2_000_000_000
# crypto.digest normalizes again; the value here is already normalized (a 40 % saving on a million lines).
_digest_normalized = getattr(crypto, "_digest_normalized", None)


def _digest(normalized: str) -> str:
    if _digest_normalized is None:
        return crypto.digest("account", normalized)
    return _digest_normalized("account", normalized)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value) -> str:
    """One field in PostgreSQL COPY text format (\\N for NULL)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def mask_tail(normalized: str) -> str:
    """core.masking.mask_account for an already normalized account (keeps the last 4 of 8+ digits)."""
    n = len(normalized)
    if n < 8:
        return "*" * n
    return "*" * (n - 4) + normalized[-4:]


class LineParser:
    """Parses the lines of one import; collects batch numbers, dates and repeated (batch, seq) pairs."""

    def __init__(self, *, today: dt.date):
        self.today = today
        self.lines = 0
        self.invalid = 0
        # batch number -> [valid lines, lowest seq, highest seq, seqs strictly increasing]
        self.batches: dict[str, list] = {}
        self.dates: set[dt.date] = set()
        self._date_cache: dict[str, tuple[dt.date | None, str | None]] = {}

    # -- fields ---------------------------------------------------------------------------------------------
    def _date(self, text: str) -> tuple[dt.date | None, str | None]:
        cached = self._date_cache.get(text)
        if cached is None:
            cached = self._parse_date(text)
            if len(self._date_cache) < 10_000:
                self._date_cache[text] = cached
        return cached

    def _parse_date(self, text: str) -> tuple[dt.date | None, str | None]:
        if not text:
            return None, "处理日期为空"
        for form in _DATE_FORMS:
            m = form.match(text)
            if m:
                try:
                    day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                except ValueError:
                    break
                if day > self.today:
                    return None, f"处理日期 {day.isoformat()} 晚于今天"
                return day, None
        return None, f"处理日期“{text[:20]}”格式不正确，应为 YYYY-MM-DD"

    @staticmethod
    def _amount(text: str) -> tuple[int | None, str | None]:
        m = _AMOUNT.match(text)
        if m:
            value = int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))
        else:
            if not text:
                return None, "金额为空"
            try:
                value = fen(to_money(text))
            except (MoneyError, TypeError):
                return None, f"金额“{text[:30]}”格式不正确，应为元，最多两位小数"
        if value <= 0:
            return None, "金额必须大于 0"
        return value, None

    # -- one line -------------------------------------------------------------------------------------------
    def parse(self, line_no: int, values) -> tuple:
        """`values` = the seven fields in HEADERS order (text, stripped). Returns a STAGE_COLUMNS tuple."""
        batch, seq_text, account, amount_text, outcome_text, reason, processed_text = values
        self.lines += 1
        problems = []
        if not batch:
            problems.append("批次号为空")
        elif len(batch) > 40:
            problems.append("批次号过长")
        seq = None
        if seq_text.isascii() and seq_text.isdigit() and 0 < int(seq_text) <= _MAX_SEQ:
            seq = int(seq_text)
        else:
            problems.append(f"序号“{seq_text[:20]}”不是正整数" if seq_text else "序号为空")
        normalized = account if (account.isascii() and account.isdigit()) else crypto.normalize("account", account)
        digest = masked = None
        if not normalized:
            problems.append("收款账号为空")
        else:
            masked = mask_tail(normalized)[-40:]
            if not (normalized.isascii() and normalized.isdigit()) or len(normalized) > 40:
                problems.append("收款账号应为数字")
            else:
                digest = _digest(normalized)
        amount, problem = self._amount(amount_text)
        if problem:
            problems.append(problem)
        outcome = OUTCOMES.get(outcome_text.lower() if outcome_text.isascii() else outcome_text)
        if outcome is None:
            problems.append(f"处理结果“{outcome_text[:20]}”无法识别，应为“成功”或“失败”" if outcome_text
                            else "处理结果为空，应为“成功”或“失败”")
        reason = reason[:200]
        if outcome == "failed" and not reason:
            reason = DEFAULT_REASON
        day, problem = self._date(processed_text)
        if problem:
            problems.append(problem)
        if problems:
            self.invalid += 1
            bad = "；".join(problems)
        else:
            bad = None
            span = self.batches.get(batch)
            if span is None:
                self.batches[batch] = [1, seq, seq, True]
            else:
                span[0] += 1
                if seq <= span[2]:
                    span[3] = False
                span[2] = max(seq, span[2])
                span[1] = min(seq, span[1])
            self.dates.add(day)
        return (line_no, batch[:60], seq, seq_text[:20], digest, masked or "", amount, amount_text[:30], outcome,
                outcome_text[:20], reason, day, processed_text[:20], bad)


# -- chunks (run in the worker processes) ------------------------------------------------------------------
@dataclass
class ParsedChunk:
    payload: str | list  # COPY text (PostgreSQL) or staging tuples (SQLite)
    lines: int = 0
    invalid: int = 0
    batches: dict = field(default_factory=dict)  # LineParser.batches of the chunk
    dates: set = field(default_factory=set)


def may_repeat(spans: dict[str, list[tuple]]) -> bool:
    """Whether a (batch, seq) pair may come up twice in the import, from each chunk's [lines, lowest seq,
    highest seq, strictly increasing] per batch: no when every chunk's seqs increase and the chunks' ranges of
    a batch do not overlap (the usual file, in seq order); otherwise the database looks (Stage.find_later)."""
    for chunk_spans in spans.values():
        if not all(increasing for _, _, _, increasing in chunk_spans):
            return True
        ordered = sorted((low, high) for _, low, high, _ in chunk_spans)
        if any(ordered[i][0] <= ordered[i - 1][1] for i in range(1, len(ordered))):
            return True
    return False


_NEEDS_ESCAPE = re.compile(r'[\\\t"]')


def parse_chunk(rows, *, today: dt.date, copy: bool) -> ParsedChunk:
    """Parse one chunk: `rows` is a reading.CsvBlock or a list of (line_no, 7 texts in HEADERS order).
    Control (合计) lines are skipped. Returns the staging rows as COPY text when `copy`, else as tuples."""
    clean = False
    if not isinstance(rows, list):
        from yikatong.core.csv_blocks import block_rows

        clean = _NEEDS_ESCAPE.search(rows.data.decode("utf-8", errors="replace")) is None
        rows = block_rows(rows)
    parser = LineParser(today=today)
    parse = parser.parse
    parsed = [parse(row[0], row[1:]) for row in rows if row[1] != CONTROL_MARK]
    if not copy:
        payload = parsed
    elif clean:
        payload = _copy_clean(parsed)
    else:
        payload = "".join("\t".join(copy_text(v) for v in row) + "\n" for row in parsed)
    return ParsedChunk(payload, parser.lines, parser.invalid, parser.batches, parser.dates)


def _copy_clean(parsed: list[tuple]) -> str:
    """COPY text of rows whose texts hold no backslash, tab, CR or LF (the block had none and no quotes)."""
    days: dict = {None: "\\N"}
    out = []
    append = out.append
    for (n, batch, seq, seq_text, digest, masked, amount, amount_text, outcome, outcome_text, reason, day,
         day_text, bad) in parsed:
        iso = days.get(day)
        if iso is None:
            iso = days[day] = day.isoformat()
        if bad is None:
            append(f"{n}\t{batch}\t{seq}\t{seq_text}\t{digest}\t{masked}\t{amount}\t{amount_text}\t{outcome}\t"
                   f"{outcome_text}\t{reason}\t{iso}\t{day_text}\t\\N\n")
        else:
            append("\t".join(copy_text(v) for v in (n, batch, seq, seq_text, digest, masked, amount, amount_text,
                                                     outcome, outcome_text, reason, day, day_text, bad)) + "\n")
    return "".join(out)


# -- sources ------------------------------------------------------------------------------------------------
def api_rows(payload: bytes) -> Iterator[tuple[int, tuple]]:
    """Lines of an API payload as stored ({"rows": [{header or alias: value}, …]}): (line_no, 7 texts)."""
    data = json.loads(payload.decode("utf-8"))
    rows = data.get("rows") if isinstance(data, dict) else data
    for index, row in enumerate(rows or [], start=1):
        yield index, row_values(row)


def row_values(row) -> tuple:
    """The seven HEADERS fields of one API row (a dict keyed by the Chinese header or an English alias)."""
    if not isinstance(row, dict):
        return ("",) * len(HEADERS)
    canonical = {}
    for key, value in row.items():
        name = str(key).strip()
        name = API_ALIASES.get(name.lower(), name)
        canonical[name] = "" if value is None else str(value).strip()
    return tuple(canonical.get(h, "") for h in HEADERS)


def chunked(lines: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for line in lines:
        chunk.append(line)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
