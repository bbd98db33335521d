"""Reading rosters in blocks: CSV cut at record boundaries, XLSX streamed without loading the sheet
(compared with python-calamine, which core.tabular uses), header checks. No database."""

import csv
import datetime as dt
import io
import random
import zipfile

import pytest
from openpyxl import Workbook
from python_calamine import CalamineWorkbook

from yikatong.applications.roster import reader
from yikatong.core.tabular import TableError

from .roster_fixtures import ORG_HEADERS, PERSON_HEADERS, csv_bytes, person_row, xlsx_bytes


def read_all(path, block_bytes=1 << 20):
    with reader.RosterSource(path, max_bytes=1 << 30) as source:
        rows = []
        for block in source.blocks(block_bytes=block_bytes):
            rows.extend(reader.parse_block(block, source.layout))
        return source.layout, rows


def write(tmp_path, content: bytes, name="r.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


# -- CSV -------------------------------------------------------------------------------------------------
CELL_ALPHABET = ["a", "张", "三", ",", '"', "\n", "\r\n", " ", "1", "\t", "x\x1fy"]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("block_bytes", [7, 64, 1000])
def test_csv_blocks_give_the_rows_csv_reader_gives(tmp_path, seed, block_bytes):
    rng = random.Random(seed)
    rows = [["".join(rng.choice(CELL_ALPHABET) for _ in range(rng.randrange(0, 6))) for _ in range(11)]
            for _ in range(rng.randrange(5, 60))]
    for index in rng.sample(range(len(rows)), k=min(3, len(rows))):
        rows[index] = [""] * 11  # blank rows are skipped but still counted
    content = csv_bytes(rows, PERSON_HEADERS)
    path = write(tmp_path, content)
    layout, got = read_all(path, block_bytes)
    expected = []
    for number, cells in enumerate(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")), 1):
        if number > 1 and any(c.strip() for c in cells):
            expected.append((number, [c.strip() for c in cells]))
    assert got == expected
    assert layout.kind == reader.PERSON and layout.header_row == 1 and layout.headers == PERSON_HEADERS


def test_records_in_counts_newlines_outside_quotes():
    assert reader._records_in(b'a,b\n"x\ny",z\n"q""\n"\n') == 3
    assert reader._record_cut(b'a\n"b\nc') == 2


def test_csv_header_row_after_blank_lines_and_columns_are_matched(tmp_path):
    content = ("\n\n" + ",".join(["序号", *PERSON_HEADERS]) + "\n1," + ",".join(person_row(0).values()) + "\n").encode()
    layout, rows = read_all(write(tmp_path, content))
    assert layout.header_row == 3 and layout.columns["姓名"] == 1 and rows[0][0] == 4


@pytest.mark.parametrize("headers, message", [
    ([*PERSON_HEADERS, "姓名"], "出现了不止一次"),
    ([*PERSON_HEADERS, "统一社会信用代码"], "只能是个人或单位中的一种"),
    (["姓名", "身份证号"], "缺少必需的列：社保卡银行账号、开户银行、行政区划代码、补贴金额"),
    (["单位名称", "统一社会信用代码", "开户银行"], "缺少必需的列：对公账号、行政区划代码、补贴金额"),
])
def test_header_refusals_list_what_is_wrong(tmp_path, headers, message):
    with pytest.raises(TableError, match=message):
        read_all(write(tmp_path, csv_bytes([], headers)))


def test_organization_header_and_aliases(tmp_path):
    layout, _ = read_all(write(tmp_path, csv_bytes([], ORG_HEADERS)))
    assert layout.kind == reader.ORGANIZATION
    headers = ["姓名", "身份证号码", "社保卡银行账号", "开户银行", "行政区划代码", "补贴金额", "档次"]
    layout, _ = read_all(write(tmp_path, csv_bytes([], headers)))
    assert layout.columns["身份证号"] == 1 and layout.columns["补贴档次"] == 6


def test_gbk_rows_refuse_the_file_naming_the_row(tmp_path):
    content = csv_bytes([person_row(0)]) + "王五,1\r\n".encode("gbk")
    with pytest.raises(TableError, match="第 3 行附近.*GBK"):
        read_all(write(tmp_path, content), block_bytes=16)


# -- XLSX ------------------------------------------------------------------------------------------------
def calamine_rows(path):
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    from yikatong.core.tabular import _cell_text

    out = []
    for number, cells in enumerate(sheet.iter_rows(), 1):
        texts = [_cell_text(c) for c in cells]
        while texts and texts[-1] == "":
            texts.pop()
        if number > 1 and any(texts):
            out.append((number, texts))
    return out


def trimmed(rows):
    out = []
    for number, cells in rows:
        cells = list(cells)
        while cells and cells[-1] == "":
            cells.pop()
        out.append((number, cells))
    return out


@pytest.mark.parametrize("block_bytes", [300, 1 << 20])
def test_xlsx_streaming_reads_what_calamine_reads(tmp_path, block_bytes):
    wb = Workbook()
    ws = wb.active
    ws.append(PERSON_HEADERS)
    ws.append(["张三", "500101196301010016", "6230000000000000001", "银行 & <Co>", None, "500101001001", "WZ-001",
               "2026-03", 2.5, 300, "备注\n第二行"])
    ws.append([None] * 11)  # blank row: skipped
    ws.append(["李四", "500101196301010016", 6230000000000, "银行", 13800138000, 500101001001, None, None, 3,
               300.5, dt.date(2026, 3, 1)])
    ws.append(["王五", None, None, None, None, None, None, None, 1e-3, 12345678901234, True])
    ws["K7"] = dt.datetime(2026, 3, 1, 8, 30)
    path = tmp_path / "r.xlsx"
    wb.save(path)
    layout, rows = read_all(path, block_bytes)
    assert layout.format == "xlsx" and layout.headers == PERSON_HEADERS
    assert trimmed(rows) == calamine_rows(path)
    assert rows[0][1][3] == "银行 & <Co>" and rows[0][1][10] == "备注\n第二行"
    assert rows[1][1][9] == "300.5" and rows[1][1][10] == "2026-03-01" and rows[1][1][2] == "6230000000000"


def _zip(tmp_path, sheet: str, strings: str | None = None, workbook_pr: str = "") -> str:
    path = tmp_path / "hand.xlsx"
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel_ns = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", f'<workbook {ns} {rel_ns}>{workbook_pr}<sheets>'
                                       f'<sheet name="花名册" sheetId="1" r:id="rId7"/></sheets></workbook>')
        rels = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                '<Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/data.xml"/>'
                '<Relationship Id="rId8" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="strings.xml"/>'
                '</Relationships>')
        zf.writestr("xl/_rels/workbook.xml.rels", rels)
        zf.writestr("xl/worksheets/data.xml", f'<worksheet {ns}><dimension ref="A1:K4"/><sheetData>{sheet}</sheetData></worksheet>')
        if strings is not None:
            zf.writestr("xl/strings.xml", f"<sst {ns}>{strings}</sst>")
    return path


def test_xlsx_written_by_other_programs(tmp_path):
    header = "".join(f'<c t="inlineStr"><is><t>{h}</t></is></c>' for h in PERSON_HEADERS)  # no r attributes
    strings = ('<si><t>张三</t></si>'
               '<si><r><t>王</t></r><r><rPr><b/></rPr><t xml:space="preserve">小二</t></r><rPh sb="0" eb="1"><t>ワン</t></rPh></si>'
               '<si><t>a_x000D_b</t></si>')
    sheet = (f'<row r="1">{header}</row>'
             '<row r="2"/>'
             '<row r="3"><c r="A3" t="s"><v>0</v></c><c r="C3" t="s"><v>2</v></c><c r="K3" t="str"><v>&lt;x&gt;</v></c></row>'
             '<row r="5"><c r="A5" t="s"><v>1</v></c><c r="B5" t="inlineStr"><is><t>500101196301010016</t></is></c>'
             '<c r="I5"><v>2</v></c><c r="J5" t="b"><v>1</v></c></row>')
    path = _zip(tmp_path, sheet, strings)
    layout, rows = read_all(path, block_bytes=50)
    assert layout.header_row == 1 and layout.size_hint == 3
    assert rows == [
        (3, ["张三", "", "a\rb", "", "", "", "", "", "", "", "<x>"]),
        (5, ["王小二", "500101196301010016", "", "", "", "", "", "", "2", "TRUE"]),
    ]


def test_xlsx_scientific_text_and_cut_numbers_refuse_the_file(tmp_path):
    path = tmp_path / "n.xlsx"
    path.write_bytes(xlsx_bytes([person_row(0, 身份证号="5.00101E+17")]))
    with pytest.raises(TableError, match="精度已丢失"):
        read_all(path)


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04garbage", "已损坏"),
    (None, "找不到第一个工作表"),
])
def test_broken_xlsx(tmp_path, content, message):
    path = tmp_path / "b.xlsx"
    if content is None:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                                           'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                                           '<sheets><sheet name="a" sheetId="1" r:id="rId1"/></sheets></workbook>')
    else:
        path.write_bytes(content)
    with pytest.raises(TableError, match=message):
        read_all(path)


def test_empty_xlsx_and_size_limit(tmp_path):
    path = _zip(tmp_path, "")
    with pytest.raises(TableError, match="文件是空的"):
        read_all(path)
    path = tmp_path / "big.xlsx"
    path.write_bytes(xlsx_bytes([person_row(i) for i in range(20)]))
    with pytest.raises(TableError, match="文件过大"):
        reader.RosterSource(path, max_bytes=1000)


def test_shared_strings_are_kept_compactly():
    strings = reader.SharedStrings()
    for text in ["", "张三", "a" * 1000, "x"]:
        strings.append(text)
    assert [strings[i] for i in range(len(strings))] == ["", "张三", "a" * 1000, "x"]
