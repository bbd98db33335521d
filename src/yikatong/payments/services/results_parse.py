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

Fast path (`_parse_block_fast`, COPY output of a CsvBlock only): the block is decoded once and its lines
are matched by one regular expression (_FAST_LINE). It takes a block whose columns are exactly HEADERS in
order, that is UTF-8 and holds no quote (so each line is one CSV record); within it, a line of exactly seven
fields with nothing to strip — an ASCII batch number of 1–40 letters, digits, '_' or '-'; a seq of 1–10
ASCII digits; an account of 1–40 ASCII digits; an amount of 1–13 ASCII digits, optionally '.' and 1–2 more;
an outcome 成功/失败 or ASCII letters; a reason of at most 1000 characters without quote, backslash, '+',
control characters or white space at its ends; a date of digits and ` :T/-年月日`; an optional CR before
the LF — whose values are valid (seq in range, amount above zero, outcome known, date accepted by
LineParser._date) is formatted directly. Every other line (blank, 合计, quoted, spaces to strip, bad values,
'+' numbers, …) is parsed in place by the general path (block_rows + LineParser.parse) as a small block of
its own that keeps its row number, so messages, row numbers and results are the general path's; should that
raise, the whole block is parsed again by the general path, which raises its own error. Lists of rows, and
`copy=False`, take the general path.
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
# The text a valid outcome is written with when the COPY line leaves outcome_text NULL (see Stage.texts).
CANONICAL_OUTCOME_TEXT = {"paid": "成功", "failed": "失败"}
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
        self.account_digest = crypto.digester("account")  # of an already normalized account

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
                digest = self.account_digest(normalized)
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
    if copy and not isinstance(rows, list):
        fast = _parse_block_fast(rows, today)
        if fast is not None:
            return fast
    return _parse_chunk_general(rows, today=today, copy=copy)


def _parse_chunk_general(rows, *, today: dt.date, copy: bool) -> ParsedChunk:
    """parse_chunk for any input, line by line through core.csv_blocks.block_rows and LineParser.parse."""
    clean = False
    if not isinstance(rows, list):
        from yikatong.core.csv_blocks import block_rows

        clean = _NEEDS_ESCAPE.search(rows.data.decode("utf-8", errors="replace")) is None
        rows = block_rows(rows)
    parser = LineParser(today=today)
    parse = parser.parse
    parsed = [parse(row[0], row[1:]) for row in rows if row[1] != CONTROL_MARK]
    payload = _copy_rows(parsed, clean) if copy else parsed
    return ParsedChunk(payload, parser.lines, parser.invalid, parser.batches, parser.dates)


def _copy_rows(parsed: list[tuple], clean: bool) -> str:
    """COPY text of staging rows; `clean` when their texts hold no backslash, tab, CR or LF."""
    if clean:
        return _copy_clean(parsed)
    return "".join("\t".join(copy_text(v) for v in row) + "\n" for row in parsed)


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


# -- the fast path for CSV blocks (see the module docstring) -----------------------------------------------
_NO_EDGE = r"[^\s,\"\\+\x00-\x1f\x7f]"  # no white space (str.strip), separator, quote, backslash, '+', control
_FAST_LINE = re.compile(
    r"^([0-9A-Za-z_\-]{1,40}),"  # 批次号 (ASCII, so never 合计)
    r"([0-9]{1,10}),"  # 序号
    r"([0-9]{1,40}),"  # 收款账号 (already normalized)
    r"(([0-9]{1,13})(?:\.([0-9]{1,2}))?),"  # 金额: whole yuan, optional fen
    r"(成功|失败|[A-Za-z]{1,20}),"  # 处理结果 (looked up in OUTCOMES)
    rf"((?:{_NO_EDGE}(?:[^,\"\\+\x00-\x1f\x7f]{{0,998}}{_NO_EDGE})?)?),"  # 失败原因
    r"([0-9][0-9 :T/\-年月日]{0,18}[0-9日])"  # 处理日期 (LineParser._date decides)
    r"\r?$",
    re.MULTILINE,
)
_FAST_COLUMNS = tuple(range(len(HEADERS)))
_FEN = {None: 0, **{f"{d}": d * 10 for d in range(10)}, **{f"{d:02d}": d for d in range(100)}}


def _parse_block_fast(block, today: dt.date) -> ParsedChunk | None:
    """COPY text of a CsvBlock whose columns are exactly HEADERS, or None when the block is not for the
    fast path (then the general path parses it). Lines in the strict _FAST_LINE form whose values are all
    valid are formatted here; runs of other lines go through block_rows + LineParser.parse as small blocks
    of their own, in place, with their row numbers; any error there hands the whole block to the general path
    so that errors are exactly the general path's."""
    if block.columns != _FAST_COLUMNS:  # extra or reordered columns
        return None
    try:
        text = block.data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if '"' in text:  # quoted fields may span lines: records are no longer lines
        return None
    parser = LineParser(today=today)
    try:
        payload = _FastBlock(block, text, parser).run()
    except Exception:  # the general path raises (or not) exactly as it always did
        return None
    return ParsedChunk(payload, parser.lines, parser.invalid, parser.batches, parser.dates)


class _FastBlock:
    """One run of the fast path over a decoded block without quotes (one CSV record per line)."""

    def __init__(self, block, text: str, parser: LineParser):
        self.block = block
        self.text = text
        self.parser = parser
        self.out: list[str] = []

    def run(self) -> str:
        text, parser, out = self.text, self.parser, self.out
        append = out.append
        digest = parser.account_digest
        batches, dates, date_of = parser.batches, parser.dates, parser._date
        outcomes: dict[str, str | None] = {}
        days: dict[str, tuple] = {}
        fen_of = _FEN
        fast_lines = 0
        general_from, general_row = 0, self.block.first_row  # lines not taken by the fast path, pending
        expect, row = 0, self.block.first_row  # where the line after the last match starts, and its row
        for m in _FAST_LINE.finditer(text):
            start = m.start()
            if start != expect:  # lines in between that did not match
                row += text.count("\n", expect, start)
            line_row = row
            expect, row = m.end() + 1, row + 1
            batch, seq_text, account, amount_text, yuan, cents, outcome_text, reason, day_text = m.groups()
            seq = int(seq_text)
            amount = int(yuan) * 100 + fen_of[cents]
            outcome = outcomes.get(outcome_text, False)
            if outcome is False:
                key = outcome_text.lower() if outcome_text.isascii() else outcome_text
                outcome = outcomes[outcome_text] = OUTCOMES.get(key)
            day = days.get(day_text)
            if day is None:
                parsed_day, problem = date_of(day_text)
                day = days[day_text] = (None, None) if problem else (parsed_day, parsed_day.isoformat())
            if not (0 < seq <= _MAX_SEQ and amount > 0 and outcome and day[0]):
                continue  # a bad value: the general path words the message
            if general_from < start:
                self._general(general_from, start, general_row)
            general_from, general_row = expect, row
            fast_lines += 1
            span = batches.get(batch)
            if span is None:
                batches[batch] = [1, seq, seq, True]
            else:
                span[0] += 1
                if seq <= span[2]:
                    span[3] = False
                else:
                    span[2] = seq
                if seq < span[1]:
                    span[1] = seq
            dates.add(day[0])
            if outcome == "failed" and not reason:
                reason = DEFAULT_REASON
            n = len(account)
            masked = "*" * n if n < 8 else "*" * (n - 4) + account[-4:]
            # the texts as written are kept only where they differ from the value's canonical form (\N: the
            # stage derives them, results_stage.Stage.texts): less for the server to store per line
            if seq_text[0] == "0":
                seq_out = seq_text
            else:
                seq_out = "\\N"
            if cents is not None and len(cents) == 2 and (len(yuan) == 1 or yuan[0] != "0"):
                amount_out = "\\N"
            else:
                amount_out = amount_text
            outcome_out = "\\N" if outcome_text == CANONICAL_OUTCOME_TEXT[outcome] else outcome_text
            day_out = "\\N" if day_text == day[1] else day_text
            append(f"{line_row}\t{batch}\t{seq}\t{seq_out}\t{digest(account)}\t{masked}\t{amount}\t"
                   f"{amount_out}\t{outcome}\t{outcome_out}\t{reason[:200]}\t{day[1]}\t{day_out}\t\\N\n")
        if general_from < len(text):
            self._general(general_from, len(text), general_row)
        parser.lines += fast_lines
        return "".join(out)

    def _general(self, start: int, end: int, first_row: int) -> None:
        """Parse text[start:end] (whole lines) the general way, as a block of its own."""
        from yikatong.core.csv_blocks import CsvBlock, block_rows

        block = self.block
        text = self.text[start:end]
        data = text.encode("utf-8")
        part = CsvBlock(data, first_row, block.first_line + first_row - block.first_row, block.columns,
                        block.names, data.count(b"\n"))
        parse = self.parser.parse
        parsed = [parse(row[0], row[1:]) for row in block_rows(part) if row[1] != CONTROL_MARK]
        self.out.append(_copy_rows(parsed, _NEEDS_ESCAPE.search(text) is None))


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
