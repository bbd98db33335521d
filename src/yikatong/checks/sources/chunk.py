"""One chunk of a source file into database rows (run in the parse workers, see load.py): validation
per row (spec), the person's ID encrypted and digested (core.crypto semantics), the natural key of each
kept row, and the rows as COPY text sorted by ID digest and cut into buckets (PostgreSQL) or as tuples
(SQLite). Pure: no ORM; takes plain values and returns plain values.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from yikatong.core import crypto

from .spec import ID, NAME, PG, SPECS, Context, RowError, SourceSpec, _text, protector, resident_id


# -- one chunk ----------------------------------------------------------------------------------------
@dataclass
class ChunkResult:
    rows: int = 0  # data rows seen
    loaded: int = 0  # rows for the table
    # PostgreSQL: [(bucket, COPY text lines sorted by ID digest)] — bucket = the digest's first byte;
    # SQLite: stage_columns tuples in file order.
    payload: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # (row_number, column, value, reason)
    last_row: int = 0
    numbers: list = field(default_factory=list)  # row number of each loaded row, in file order
    keys: list = field(default_factory=list)  # its natural key as a 128-bit int (see key_function)
    buckets: bytes = b""  # PostgreSQL: the bucket of each loaded row


def _escape(value: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return are escaped."""
    if "\\" in value or not value.isprintable():
        value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def unescape(value: str) -> str:
    """The inverse of `_escape` (for values read back from COPY lines)."""
    if "\\" not in value:
        return value
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r"}.get(nxt, nxt))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, (dt.date, int, Decimal)):
        return str(value)
    raise TypeError(f"no COPY text for {type(value).__name__}")


def _sqlite_value(value):
    if isinstance(value, (dt.date, Decimal)):
        return str(value)
    return value


def parse_row(spec: SourceSpec, row: Sequence, ctx: Context) -> tuple:
    """The database values of one row (row number, ID, name, other cells in the spec's column order)
    without import id and row number, or RowError."""
    id_number, birth = resident_id(row[1], ID, ctx.limit)
    name = row[2]
    if not name or len(name) > 100 or "\x00" in name:
        name = _text(name, NAME, 100, personal=True)
    extra = spec.parse(row, ctx, birth)
    blob, digest = protector().protect("id", id_number)
    return (digest, blob, name, *extra)


_COPY_EXPRESSIONS = {
    "text": "{_escape(%s)}", "raw": "{%s}", "bytes": "\\\\\\\\x{%s.hex()}", "date": "{%s.isoformat()}",
    "int": "{%s}", "opt": "{_copy_text(%s)}",
}
_line_builders: dict[str, Callable] = {}


def _line_builder(spec: SourceSpec) -> Callable:
    """A function (digest, "\\t<import id>\\t", number, blob, name, extra) -> one COPY text line in
    `copy_columns` order, compiled once per source from its copy_kinds into one f-string: no type test
    and no call per value."""
    builder = _line_builders.get(spec.code)
    if builder is None:
        if len(spec.copy_kinds) != len(spec.fields):
            raise ValueError(f"{spec.code}: copy_kinds must name each of {spec.fields}")
        parts = ["{n}", _COPY_EXPRESSIONS["bytes"] % "b", "{_escape(name)}"]
        parts += [_COPY_EXPRESSIONS[kind] % f"e[{i}]" for i, kind in enumerate(spec.copy_kinds)]
        source = "lambda d, p, n, b, name, e: f'{d}{p}" + "\\t".join(parts) + "\\n'"
        builder = _line_builders[spec.code] = eval(source, {"_escape": _escape, "_copy_text": _copy_text})  # noqa: S307 - our own constant text
    return builder


_CENT = Decimal("0.01")


def key_function(spec: SourceSpec) -> Callable | None:
    """(digest, extra) -> the natural key as a 128-bit int, equal exactly when the database would find the
    key equal (NULLs equal, 12.5 = 12.50); None for sources keyed by the ID digest alone, whose key is the
    digest's first 128 bits."""
    if spec.key == ("id_digest",):
        return None
    import hashlib

    positions = [None if k == "id_digest" else spec.fields.index(k) for k in spec.key]

    def key(digest: str, extra: tuple) -> int:
        values = []
        for pos in positions:
            value = digest if pos is None else extra[pos]
            if isinstance(value, Decimal):
                value = str(value.quantize(_CENT))
            values.append(value)
        return int.from_bytes(hashlib.blake2b(repr(values).encode(), digest_size=16).digest(), "big")

    return key


def parse_chunk(code: str, rows, ctx: Context) -> ChunkResult:
    """rows: (row_number, cell, cell, …) in the spec's column order, or a reading.CsvBlock."""
    if not isinstance(rows, list):
        from yikatong.core.csv_blocks import block_rows

        rows = block_rows(rows)
    spec = SPECS[code]
    result = ChunkResult(rows=len(rows))
    lines: list = []
    append = lines.append
    digests: list = []
    add_digest = digests.append
    numbers = result.numbers
    add_number = numbers.append
    keyf = key_function(spec)
    keys = result.keys
    add_key = keys.append
    pg = ctx.fmt == PG
    line = _line_builder(spec) if pg else None
    after_digest = f"\t{ctx.import_id}\t"
    parse = spec.parse
    limit = ctx.limit
    # Protector.protect("id", …) inlined: one os.urandom call for the chunk's nonces, no method calls.
    prot = protector()
    encrypt, header, id_digest = prot._encrypt, prot._header, crypto.digester("id")
    size = crypto.NONCE_SIZE
    nonces = os.urandom(size * len(rows))
    at = 0
    for row in rows:
        try:
            id_number, birth = resident_id(row[1], ID, limit)
            name = row[2]
            if not name or len(name) > 100 or "\x00" in name:
                name = _text(name, NAME, 100, personal=True)
            extra = parse(row, ctx, birth)
        except RowError as exc:
            result.errors.append((row[0], exc.column, exc.value[:200], exc.reason[:300]))
            continue
        raw = id_number.encode()
        nonce = nonces[at:at + size]
        at += size
        blob = header + nonce + encrypt(nonce, raw, header)
        digest = id_digest(id_number)
        add_digest(digest)
        add_number(row[0])
        if keyf is not None:
            add_key(keyf(digest, extra))
        if pg:
            append(line(digest, after_digest, row[0], blob, name, extra))
        else:
            append((row[0], digest, blob, name, *[_sqlite_value(v) for v in extra]))
    if keyf is None:
        result.keys = [int(d[:32], 16) for d in digests]
    result.loaded = len(lines)
    if pg:
        result.buckets = bytes.fromhex("".join([d[:2] for d in digests]))
        result.payload = _bucketed(lines)
    else:
        result.payload = lines
    if rows:
        result.last_row = rows[-1][0]
    return result


_BUCKET_PREFIXES = [f"{b:02x}" for b in range(256)] + ["g"]  # "g" sorts after every hex digit


def _bucketed(lines: list[str]) -> list[tuple[int, bytes]]:
    """Lines sorted by ID digest, cut by the digest's first byte: [(bucket, text)] for non-empty ones."""
    from bisect import bisect_left

    lines.sort()
    out = []
    start = 0
    total = len(lines)
    for bucket in range(256):
        if start >= total:
            break
        end = bisect_left(lines, _BUCKET_PREFIXES[bucket + 1], start)
        if end > start:
            out.append((bucket, "".join(lines[start:end]).encode()))
            start = end
    return out
