"""The fast path of results_parse.parse_chunk (CSV blocks, COPY text) against the general path: the same
payload, counts, batch spans and dates for clean blocks and for blocks with odd lines, the same errors.
No database: blocks are cut by the real reader (core.tabular.open_table + core.csv_blocks.chunks)."""

import datetime as dt
import random

import pytest

from yikatong.core import crypto, csv_blocks
from yikatong.core.tabular import TableError, open_table
from yikatong.payments.services import results_parse
from yikatong.payments.services.results_parse import HEADERS, parse_chunk

TODAY = dt.date(2026, 3, 10)
HEADER = ",".join(HEADERS)


@pytest.fixture(autouse=True)
def _keys(settings):
    # keys from the settings (no key files); the settings fixture resets the cached keys
    settings.YIKATONG_DATA_KEY = "1:" + "11" * 32
    settings.YIKATONG_DIGEST_KEY = "22" * 32


def clean_line(seq: int, batch: str = "PB2026030100001") -> str:
    outcome, reason = ("失败", "社保卡未激活金融功能") if seq % 7 == 0 else ("成功", "")
    return f"{batch},{seq},62170012345{seq:08d},{300 + seq % 50}.{seq % 100:02d},{outcome},{reason},2026-03-01"


def clean_lines(count: int, start: int = 1) -> list[str]:
    return [clean_line(seq) for seq in range(start, start + count)]


def blocks(tmp_path, lines, *, header: str = HEADER, newline: str = "\n", chunk: int = 20_000, end: bool = True):
    """The CsvBlocks the import would hand to the workers for a file of `header` and `lines` (text or bytes)."""
    parts = [header.encode()] + [line.encode() if isinstance(line, str) else line for line in lines]
    data = newline.encode().join(parts) + (newline.encode() if end else b"")
    path = tmp_path / "回盘.csv"
    path.write_bytes(data)
    with open(path, "rb") as fileobj, open_table(fileobj, required=HEADERS) as table:
        return list(csv_blocks.chunks(table, fileobj, HEADERS, chunk))


def outcome_of(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except TableError as exc:
        return ("TableError", str(exc), exc.row_number, exc.column)


def with_texts(payload: str) -> str:
    """The COPY text with the texts the fast path leaves NULL (their canonical form: Stage.texts derives them
    the same way) written out."""
    rows = []
    for line in payload.split("\n"):  # not splitlines: \u2028 in a reason
        cols = line.split("\t")
        if len(cols) == len(results_parse.STAGE_COLUMNS):
            fen = int(cols[6]) if cols[6] != "\\N" else 0
            derived = {3: cols[2], 7: f"{fen // 100}.{fen % 100:02d}",
                       9: results_parse.CANONICAL_OUTCOME_TEXT.get(cols[8], ""), 12: cols[11]}
            cols = [derived[i] if i in derived and value == "\\N" else value for i, value in enumerate(cols)]
        rows.append("\t".join(cols))
    return "\n".join(rows)


def assert_same(block) -> results_parse.ParsedChunk | tuple:
    """parse_chunk (fast path) equals the general path on `block`, field by field (or raises the same); the
    texts the fast path leaves NULL are the canonical ones."""
    fast = outcome_of(parse_chunk, block, today=TODAY, copy=True)
    general = outcome_of(results_parse._parse_chunk_general, block, today=TODAY, copy=True)
    if isinstance(general, tuple):
        assert fast == general
        return fast
    assert with_texts(fast.payload) == general.payload
    assert (fast.lines, fast.invalid) == (general.lines, general.invalid)
    assert fast.batches == general.batches
    assert fast.dates == general.dates
    return fast


@pytest.fixture
def general_runs(monkeypatch):
    """The (first row, text) of every run of lines the fast path hands to the general path."""
    runs = []
    original = results_parse._FastBlock._general

    def spy(self, start, end, first_row):
        runs.append((first_row, self.text[start:end]))
        return original(self, start, end, first_row)

    monkeypatch.setattr(results_parse._FastBlock, "_general", spy)
    return runs


# -- the digest --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["account", "id", "phone"])
def test_digester_equals_the_hmac_digest(kind):
    digest = crypto.digester(kind)
    for value in ("1", "6217001234567890123", "5" * 40, "51010219900101123X", "0" * 200, "账号"):
        assert digest(value) == crypto._digest_normalized(kind, value)


def test_digester_follows_the_digest_key(settings):
    before = crypto.digester("account")("6217001234567890123")
    settings.YIKATONG_DIGEST_KEY = "33" * 32
    after = crypto.digester("account")("6217001234567890123")
    assert after != before
    assert after == crypto._digest_normalized("account", "6217001234567890123") == crypto.digest(
        "account", "6217 0012 3456 7890 123")


# -- clean blocks ------------------------------------------------------------------------------------------
def test_clean_block_takes_the_fast_path_only(tmp_path, general_runs):
    [block] = blocks(tmp_path, clean_lines(500))
    parsed = assert_same(block)
    assert general_runs == []
    assert parsed.lines == 500 and parsed.invalid == 0
    assert parsed.batches == {"PB2026030100001": [500, 1, 500, True]}
    assert parsed.dates == {dt.date(2026, 3, 1)}
    first = parsed.payload.split("\n")[0].split("\t")
    assert first[0] == "2" and first[1:4] == ["PB2026030100001", "1", "\\N"]  # seq_text: canonical, left NULL
    assert first[5] == "*" * 15 + "0001" and first[6] == "30101" and first[-1] == "\\N"


def test_many_blocks_keep_their_row_numbers(tmp_path, general_runs):
    chunks = blocks(tmp_path, clean_lines(95), chunk=20)
    assert len(chunks) == 5
    for block in chunks:
        parsed = assert_same(block)
        assert int(parsed.payload.split("\t", 1)[0]) == block.first_row
    assert general_runs == []


def test_several_batches_and_seqs_out_of_order(tmp_path, general_runs):
    lines = [clean_line(s, "PB-A") for s in (3, 1, 2)] + [clean_line(s, "PB_B") for s in (5, 5, 9)]
    lines += [clean_line(s, "PB-A") for s in (10, 0o07)] + ["PB-A,0007,6217000000000001,1.5,success,,2026-03-01"]
    [block] = blocks(tmp_path, lines)
    parsed = assert_same(block)
    assert general_runs == []
    assert parsed.batches == {"PB-A": [6, 1, 10, False], "PB_B": [3, 5, 9, False]}


def test_crlf_line_endings(tmp_path, general_runs):
    for end in (True, False):
        [block] = blocks(tmp_path, clean_lines(30), newline="\r\n", end=end)
        assert_same(block)
    assert general_runs == []


def test_last_line_without_a_newline(tmp_path, general_runs):
    [block] = blocks(tmp_path, clean_lines(30), end=False)
    assert assert_same(block).lines == 30
    assert general_runs == []


def test_values_the_fast_path_formats_itself(tmp_path, general_runs):
    lines = [
        "PB1,1,6217000000000000001,300,失败,,2026-03-01",  # failure without a reason: DEFAULT_REASON
        "PB1,2,1234,0.01,FAIL,余额不足 请核实,2026/03/01",  # short account, ASCII alias, space inside the reason
        "PB1,3,62170000000000000000000000000000000001,9999999999999.99,Succeeded,,20260301",
        "PB1,4,6217000000000000004,12.5,成功,,2026年3月1日",
        "PB1,5,6217000000000000005,12.05,成功,x,2026-3-1",
        "PB1,6,6217000000000000006,12,成功,原因\u2028中间\u00a0有,2026-03-01 10:00:00",
        "PB1,7,6217000000000000007,12,失败," + "长" * 300 + ",2026-03-10",  # cut to 200; today
        "PB1,0000000008,6217000000000000008,12,成功,,2026-03-01",
    ]
    [block] = blocks(tmp_path, lines)
    parsed = assert_same(block)
    assert general_runs == []
    rows = [line.split("\t") for line in parsed.payload.split("\n")]  # not splitlines: \u2028
    assert rows[0][10] == results_parse.DEFAULT_REASON
    assert rows[2][6] == "999999999999999" and rows[3][6] == "1250" and rows[4][6] == "1205"
    assert len(rows[6][10]) == 200 and rows[7][2:4] == ["8", "0000000008"]


# -- odd lines ---------------------------------------------------------------------------------------------
ODD_LINES = {
    "quoted": 'PB2026030100001,"25",6217001234500000025,300.25,成功,,2026-03-01',
    "quoted_newline": 'PB2026030100001,25,6217001234500000025,300.25,失败,"卡号\n错误",2026-03-01',
    "spaces": " PB2026030100001 ,25, 6217001234500000025,300.25 ,成功,,2026-03-01 ",
    "ideographic_space": "PB2026030100001,25,6217001234500000025,300.25,失败,\u3000原因,2026-03-01",
    "blank": "",
    "blank_cells": " , ,,,,,",
    "control": "合计,,,15000.00,,,",
    "control_spaced": " 合计 ,500,,15000.00,,,",
    "amount_3_decimals": "PB2026030100001,25,6217001234500000025,12.345,成功,,2026-03-01",
    "amount_negative": "PB2026030100001,25,6217001234500000025,-1.00,成功,,2026-03-01",
    "amount_zero": "PB2026030100001,25,6217001234500000025,0.00,成功,,2026-03-01",
    "amount_comma_style": "PB2026030100001,25,6217001234500000025,１２.00,成功,,2026-03-01",
    "amount_empty": "PB2026030100001,25,6217001234500000025,,成功,,2026-03-01",
    "outcome_unknown": "PB2026030100001,25,6217001234500000025,300.25,未知,,2026-03-01",
    "outcome_ascii_unknown": "PB2026030100001,25,6217001234500000025,300.25,OK,,2026-03-01",
    "outcome_empty": "PB2026030100001,25,6217001234500000025,300.25,,,2026-03-01",
    "date_slashes": "PB2026030100001,25,6217001234500000025,300.25,成功,,2026/03/01",
    "date_compact": "PB2026030100001,25,6217001234500000025,300.25,成功,,20260301",
    "date_chinese": "PB2026030100001,25,6217001234500000025,300.25,成功,,2026年3月1日",
    "date_future": "PB2026030100001,25,6217001234500000025,300.25,成功,,2026-03-11",
    "date_impossible": "PB2026030100001,25,6217001234500000025,300.25,成功,,2026-02-30",
    "date_garbage": "PB2026030100001,25,6217001234500000025,300.25,成功,,1-1",
    "date_empty": "PB2026030100001,25,6217001234500000025,300.25,成功,,",
    "account_letters": "PB2026030100001,25,6217abc,300.25,成功,,2026-03-01",
    "account_spaces": "PB2026030100001,25,6217 0012 3450 0000 025,300.25,成功,,2026-03-01",
    "account_41_digits": "PB2026030100001,25," + "6" * 41 + ",300.25,成功,,2026-03-01",
    "account_empty": "PB2026030100001,25,,300.25,成功,,2026-03-01",
    "seq_zero": "PB2026030100001,0,6217001234500000025,300.25,成功,,2026-03-01",
    "seq_too_big": "PB2026030100001,2000000001,6217001234500000025,300.25,成功,,2026-03-01",
    "seq_11_digits": "PB2026030100001,99999999999,6217001234500000025,300.25,成功,,2026-03-01",
    "seq_letters": "PB2026030100001,2a,6217001234500000025,300.25,成功,,2026-03-01",
    "reason_tab": "PB2026030100001,25,6217001234500000025,300.25,失败,卡号\t错误,2026-03-01",
    "reason_backslash": "PB2026030100001,25,6217001234500000025,300.25,失败,卡号\\错误,2026-03-01",
    "reason_plus": "PB2026030100001,25,6217001234500000025,300.25,失败,户名+卡号不符,2026-03-01",
    "reason_very_long": "PB2026030100001,25,6217001234500000025,300.25,失败," + "x" * 1500 + ",2026-03-01",
    "crlf_line": "PB2026030100001,25,6217001234500000025,300.25,成功,,2026-03-01\r",
    "lone_cr": "PB2026030100001,25,6217001234500000025,300.25,成功,\rx,2026-03-01",
    "batch_41": "P" * 41 + ",25,6217001234500000025,300.25,成功,,2026-03-01",
    "batch_very_long": "PB" * 80 + ",25,6217001234500000025,300.25,成功,,2026-03-01",
    "batch_chinese": "批次一,25,6217001234500000025,300.25,成功,,2026-03-01",
    "batch_empty": ",25,6217001234500000025,300.25,成功,,2026-03-01",
    "six_fields": "PB2026030100001,25,6217001234500000025,300.25,成功,",
    "eight_fields": "PB2026030100001,25,6217001234500000025,300.25,成功,,2026-03-01,备注",
    "scientific_account": "PB2026030100001,25,6.21700123E+18,300.25,成功,,2026-03-01",
    "not_utf8": "PB2026030100001,25,6217001234500000025,300.25,失败,余额不足,2026-03-01".encode("gb18030"),
}


@pytest.mark.parametrize("where", [0, 24, 49])
@pytest.mark.parametrize("name", sorted(ODD_LINES))
def test_block_with_one_odd_line(tmp_path, name, where):
    lines = clean_lines(50)
    lines[where] = ODD_LINES[name]
    [block] = blocks(tmp_path, lines)
    assert_same(block)


@pytest.mark.parametrize("name", ["control", "blank", "amount_zero", "date_slashes", "outcome_unknown"])
def test_odd_lines_keep_the_rest_on_the_fast_path(tmp_path, general_runs, name):
    lines = clean_lines(50)
    lines[24] = ODD_LINES[name]
    [block] = blocks(tmp_path, lines)
    assert_same(block)
    if name == "date_slashes":  # a date form the fast path reads itself
        assert general_runs == []
    else:  # only the odd line went the general way, with its own row number (the header is row 1)
        assert general_runs == [(26, ODD_LINES[name] + "\n")]


def test_errors_are_the_general_paths(tmp_path):
    for name, message in (("not_utf8", "UTF-8"), ("scientific_account", "精度已丢失"), ("lone_cr", "CSV 格式错误")):
        lines = clean_lines(50)
        lines[30] = ODD_LINES[name]
        [block] = blocks(tmp_path, lines)
        error = assert_same(block)
        assert error[0] == "TableError" and message in error[1]


def test_nul_after_the_files_head(tmp_path):
    lines = clean_lines(200)  # open_table refuses a NUL in the first 4096 bytes
    lines[150] = "PB2026030100001,151,6217001234500000151,300.25,失败,a\x00b,2026-03-01"
    [block] = blocks(tmp_path, lines)
    assert_same(block)


def test_extra_column_takes_the_general_path(tmp_path, general_runs):
    lines = [line + ",备注" for line in clean_lines(20)]
    [block] = blocks(tmp_path, lines, header=HEADER + ",备注")
    assert_same(block)
    assert general_runs == [(2, block.data.decode())]  # not one line in the fast form (8 fields)


def test_reordered_columns_take_the_general_path(tmp_path):
    header = ",".join((HEADERS[1], HEADERS[0], *HEADERS[2:]))
    lines = []
    for line in clean_lines(20):
        cells = line.split(",")
        lines.append(",".join((cells[1], cells[0], *cells[2:])))
    [block] = blocks(tmp_path, lines, header=header)
    assert results_parse._parse_block_fast(block, TODAY) is None
    assert_same(block)


def test_random_mixtures_of_odd_lines(tmp_path):
    rng = random.Random(20260310)
    odd = [line for name, line in sorted(ODD_LINES.items())
           if name not in ("not_utf8", "scientific_account", "lone_cr", "quoted", "quoted_newline")]
    for _ in range(15):
        lines = clean_lines(200)
        for _ in range(rng.randint(1, 25)):
            lines[rng.randrange(len(lines))] = rng.choice(odd)
        for block in blocks(tmp_path, lines, newline=rng.choice(["\n", "\r\n"]), chunk=rng.choice([13, 64, 500]),
                            end=rng.random() < 0.8):
            assert results_parse._parse_block_fast(block, TODAY) is not None
            assert_same(block)


# -- copy=False and lists ----------------------------------------------------------------------------------
def test_tuples_for_sqlite_and_lists_of_rows(tmp_path):
    lines = clean_lines(30)
    lines[5] = ODD_LINES["control"]
    lines[9] = ODD_LINES["amount_3_decimals"]
    [block] = blocks(tmp_path, lines)
    tuples = parse_chunk(block, today=TODAY, copy=False)
    assert tuples == results_parse._parse_chunk_general(block, today=TODAY, copy=False)
    assert isinstance(tuples.payload, list) and len(tuples.payload) == 29 and tuples.invalid == 1
    copied = parse_chunk(block, today=TODAY, copy=True)
    assert with_texts(copied.payload) == "".join(
        "\t".join(results_parse.copy_text(v) for v in row) + "\n" for row in tuples.payload)
    rows = csv_blocks.block_rows(block)
    listed = parse_chunk(rows, today=TODAY, copy=True)
    assert listed.payload == with_texts(copied.payload)
    assert (listed.lines, listed.invalid, listed.batches, listed.dates) == (
        copied.lines, copied.invalid, copied.batches, copied.dates)
