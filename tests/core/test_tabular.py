"""Reading and writing the exchange tables: CSV/XLSX detection, headers, cell text, errors, memory."""

import datetime as dt
import io
import tracemalloc
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yikatong.core.tabular import (
    NOT_A_TABLE,
    TableError,
    csv_streaming_response,
    open_table,
    write_csv,
    xlsx_writer,
)

ROSTER = ["姓名", "身份证号", "补贴金额"]
ID1 = "500101199001011234"
ID2 = "50010119850202432X"


def read_all(source, **kwargs):
    kwargs.setdefault("required", ROSTER)
    with open_table(source, **kwargs) as table:
        return list(table)


def csv_bytes(text: str, *, bom=False) -> io.BytesIO:
    data = text.encode("utf-8")
    return io.BytesIO((b"\xef\xbb\xbf" if bom else b"") + data)


def xlsx_file(rows, path) -> str:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return str(path)


# -- CSV -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bom", [True, False])
def test_csv_with_and_without_bom(bom):
    text = f"姓名,身份证号,补贴金额\r\n 张三 ,{ID1},120.50\r\n李四,{ID2},80\r\n"
    rows = read_all(csv_bytes(text, bom=bom))
    assert rows == [
        (2, {"姓名": "张三", "身份证号": ID1, "补贴金额": "120.50"}),
        (3, {"姓名": "李四", "身份证号": ID2, "补贴金额": "80"}),
    ]


def test_csv_in_gbk_is_refused_with_advice():
    data = f"姓名,身份证号,补贴金额\n张三,{ID1},1\n".encode("gbk")
    with pytest.raises(TableError) as err:
        read_all(io.BytesIO(data))
    assert "不是 UTF-8 编码" in err.value.message and "第 1 行" in err.value.message
    assert "另存为" in err.value.message and "GBK" in err.value.message


def test_csv_with_bad_bytes_further_down_names_the_line():
    data = f"姓名,身份证号,补贴金额\n张三,{ID1},1\n".encode() + "李四,x,2\n".encode("gbk")
    with pytest.raises(TableError) as err:
        read_all(io.BytesIO(data))
    assert "第 3 行附近" in err.value.message


def test_csv_extra_and_reordered_columns_and_quoted_newlines():
    text = f'备注,补贴金额,序号,身份证号,姓名\n"两行\n备注",10,1,{ID1},张三\n,20,2,{ID2},李四\n'
    rows = read_all(csv_bytes(text))
    assert rows == [
        (2, {"姓名": "张三", "身份证号": ID1, "补贴金额": "10"}),
        (3, {"姓名": "李四", "身份证号": ID2, "补贴金额": "20"}),
    ]


def test_blank_rows_are_skipped_and_row_numbers_stay_spreadsheet_rows():
    text = f"姓名,身份证号,补贴金额\n\n张三,{ID1},1\n , ,\n李四,{ID2},2\n"
    assert [n for n, _ in read_all(csv_bytes(text))] == [3, 5]


def test_row_with_data_only_in_an_ignored_column_is_not_lost():
    text = f"姓名,身份证号,补贴金额,备注\n张三,{ID1},1,\n,,,只有备注\n"
    rows = read_all(csv_bytes(text))
    assert rows[1] == (3, {"姓名": "", "身份证号": "", "补贴金额": ""})


def test_missing_required_headers_are_named_with_the_expected_row():
    with pytest.raises(TableError) as err:
        read_all(csv_bytes("姓名,补贴金额\n张三,1\n"), optional=["备注"])
    message = err.value.message
    assert "缺少必需的列：身份证号" in message
    assert "姓名, 身份证号, 补贴金额, 备注" in message
    assert err.value.row_number == 1


def test_optional_columns_are_present_as_empty_and_reported_missing():
    with open_table(csv_bytes(f"姓名,身份证号,补贴金额\n张三,{ID1},1\n"), required=ROSTER,
                    optional=["备注", "手机号码"]) as table:
        rows = list(table)
        assert table.missing_optional == ["备注", "手机号码"]
    assert rows[0][1]["备注"] == "" and rows[0][1]["手机号码"] == ""


def test_aliases_and_header_decorations():
    text = f"* 姓 名 ,身份证号码,补贴金额（元）\n张三,{ID1},1\n"
    rows = read_all(csv_bytes(text), aliases={"身份证号码": "身份证号", "补贴金额（元）": "补贴金额"})
    assert rows == [(2, {"姓名": "张三", "身份证号": ID1, "补贴金额": "1"})]


def test_duplicate_header_is_refused():
    with pytest.raises(TableError) as err:
        read_all(csv_bytes(f"姓名,身份证号,补贴金额,身份证号\n张三,{ID1},1,{ID2}\n"))
    assert "身份证号" in err.value.message and "不止一次" in err.value.message


def test_scientific_notation_text_is_refused_as_lost_digits():
    with pytest.raises(TableError) as err:
        read_all(csv_bytes("姓名,身份证号,补贴金额\n张三,5.00101E+17,1\n"))
    assert err.value.message.startswith("第 2 行 身份证号 被 Excel 存成了数字，精度已丢失，请把该列设为文本格式")
    assert (err.value.row_number, err.value.column) == (2, "身份证号")


def test_empty_file_and_header_only():
    with pytest.raises(TableError, match="文件是空的"):
        read_all(io.BytesIO(b""))
    with pytest.raises(TableError, match="文件是空的"):
        read_all(csv_bytes("\n\n"))
    assert read_all(csv_bytes("姓名,身份证号,补贴金额\n")) == []


def test_size_guard():
    with pytest.raises(TableError, match="文件过大"):
        read_all(csv_bytes("姓名,身份证号,补贴金额\n" + "张三,1,1\n" * 100), max_bytes=200)


def test_uploaded_file_and_size_hint():
    upload = SimpleUploadedFile("花名册.csv", f"姓名,身份证号,补贴金额\n张三,{ID1},1\n李四,{ID2},2\n".encode())
    with open_table(upload, required=ROSTER) as table:
        assert table.format == "csv" and table.size_hint == 2
        assert [n for n, _ in table] == [2, 3]


def test_reader_iterates_once():
    table = open_table(csv_bytes(f"姓名,身份证号,补贴金额\n张三,{ID1},1\n"), required=ROSTER)
    list(table)
    with pytest.raises(RuntimeError):
        list(table)


# -- not a table ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n",
        b"PK\x03\x04" + b"\x00garbage that is not a zip archive" * 20,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
    ids=["pdf", "corrupt-xlsx", "png"],
)
def test_files_that_are_not_tables(data):
    with pytest.raises(TableError) as err:
        read_all(io.BytesIO(data))
    assert err.value.message.startswith(NOT_A_TABLE)


def test_zip_that_is_not_a_workbook(tmp_path):
    import zipfile

    path = tmp_path / "x.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(TableError) as err:
        read_all(str(path))
    assert err.value.message.startswith(NOT_A_TABLE)


def test_old_xls_gets_specific_advice():
    with pytest.raises(TableError) as err:
        read_all(io.BytesIO(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600))
    assert NOT_A_TABLE in err.value.message and ".xls" in err.value.message


# -- XLSX -------------------------------------------------------------------------------------------------------
def test_xlsx_cells_become_the_text_people_typed(tmp_path):
    path = xlsx_file(
        [
            ["姓名", "身份证号", "补贴金额", "发放日期", "手机号码", "备注"],
            ["张三", ID1, 12.5, dt.date(2026, 3, 1), 13800001111, None],
            [None, None, None, None, None, None],
            ["李四", ID2, 80, dt.datetime(2026, 3, 2, 0, 0), "13900002222", 0.1 + 0.2],
            ["王五", "500101199001015678", 12.0, dt.datetime(2026, 3, 2, 8, 30), 1.5e-5, True],
        ],
        tmp_path / "roster.xlsx",
    )
    rows = read_all(path, optional=["发放日期", "手机号码", "备注"])
    assert rows == [
        (2, {"姓名": "张三", "身份证号": ID1, "补贴金额": "12.5", "发放日期": "2026-03-01", "手机号码": "13800001111", "备注": ""}),
        (4, {"姓名": "李四", "身份证号": ID2, "补贴金额": "80", "发放日期": "2026-03-02", "手机号码": "13900002222", "备注": "0.3"}),
        (5, {"姓名": "王五", "身份证号": "500101199001015678", "补贴金额": "12", "发放日期": "2026-03-02 08:30:00",
             "手机号码": "0.000015", "备注": "TRUE"}),
    ]


def test_xlsx_id_number_stored_as_number_is_refused(tmp_path):
    path = xlsx_file(
        [["姓名", "身份证号", "补贴金额"], ["张三", ID1, 1], ["李四", 500101198502024321, 2]], tmp_path / "n.xlsx"
    )
    with pytest.raises(TableError) as err:
        read_all(path)
    assert err.value.message.startswith("第 3 行 身份证号 被 Excel 存成了数字，精度已丢失，请把该列设为文本格式")


def test_xlsx_sixteen_digit_account_as_number_is_refused(tmp_path):
    # Excel keeps 15 significant digits: a 16-digit account typed as a number already lost its last digit.
    path = xlsx_file([["姓名", "身份证号", "补贴金额", "账号"], ["张三", ID1, 1, 6222020200112345]], tmp_path / "a.xlsx")
    with pytest.raises(TableError, match="第 2 行 账号 被 Excel 存成了数字"):
        read_all(path, optional=["账号"])
    # … but the same number in a column nobody reads does not matter
    assert len(read_all(path)) == 1


def test_xlsx_title_row_and_offset_header(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "2026年耕地地力保护补贴花名册"
    for col, value in zip("BCD", ["补贴金额", "姓名", "身份证号"], strict=True):
        sheet[f"{col}3"] = value
    sheet["B4"], sheet["C4"], sheet["D4"] = 100, "张三", ID1
    sheet["C6"], sheet["D6"], sheet["B6"] = "李四", ID2, 50
    path = tmp_path / "title.xlsx"
    workbook.save(path)
    with open_table(str(path), required=ROSTER) as table:
        rows = list(table)
        assert table.header_row == 3 and table.format == "xlsx"
    assert rows == [
        (4, {"姓名": "张三", "身份证号": ID1, "补贴金额": "100"}),
        (6, {"姓名": "李四", "身份证号": ID2, "补贴金额": "50"}),
    ]


def test_xlsx_missing_headers(tmp_path):
    path = xlsx_file([["姓名", "补贴金额", "其他"], ["张三", 1, "x"]], tmp_path / "m.xlsx")
    with pytest.raises(TableError) as err:
        read_all(path)
    assert "缺少必需的列：身份证号" in err.value.message


def test_xlsx_from_file_object_and_sheet_size_guard(tmp_path):
    path = xlsx_file([ROSTER, ["张三", ID1, 1]], tmp_path / "f.xlsx")
    with open(path, "rb") as handle:
        assert read_all(handle) == [(2, {"姓名": "张三", "身份证号": ID1, "补贴金额": "1"})]
        assert not handle.closed  # the caller's file stays the caller's
    with pytest.raises(TableError, match="XLSX 文件过大"):
        read_all(path, max_sheet_bytes=100)


# -- memory ---------------------------------------------------------------------------------------------------
def test_large_csv_is_read_in_bounded_memory(tmp_path):
    path = tmp_path / "big.csv"
    n = 200_000
    with open(path, "w", encoding="utf-8", newline="") as handle:
        rows = ((f"姓名{i}", f"5001011990{i:08d}", "123.45", "备注文字" * 3) for i in range(n))
        write_csv(rows, ["姓名", "身份证号", "补贴金额", "备注"], handle)
    size = path.stat().st_size
    assert size > 10_000_000

    tracemalloc.start()
    try:
        count = 0
        last = None
        with open_table(str(path), required=ROSTER, optional=["备注"]) as table:
            for row_number, row in table:
                count += 1
                last = (row_number, row["身份证号"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n and last == (n + 1, f"5001011990{n - 1:08d}")
    assert peak < 3_000_000 and peak < size / 5, f"peak {peak} bytes for a {size}-byte file"


# -- writers ----------------------------------------------------------------------------------------------------
def test_write_csv_round_trip_with_bom_and_types():
    out = io.BytesIO()
    rows = [
        {"姓名": "张三", "身份证号": ID1, "补贴金额": Decimal("120.50"), "日期": dt.date(2026, 3, 1)},
        ["李四", ID2, Decimal("-3.00"), None],
    ]
    assert write_csv(rows, ["姓名", "身份证号", "补贴金额", "日期"], out) == 2
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    out.seek(0)
    assert read_all(out, optional=["日期"]) == [
        (2, {"姓名": "张三", "身份证号": ID1, "补贴金额": "120.50", "日期": "2026-03-01"}),
        (3, {"姓名": "李四", "身份证号": ID2, "补贴金额": "-3.00", "日期": ""}),
    ]


def test_write_csv_to_text_file_without_bom_and_formula_guard():
    out = io.StringIO()
    write_csv([["=HYPERLINK(\"x\")", "-5", "@SUM(A1)"]], ["a", "b", "c"], out, bom=False, escape_formulas=True)
    assert out.getvalue() == "a,b,c\r\n\"'=HYPERLINK(\"\"x\"\")\",-5,'@SUM(A1)\r\n"


def test_xlsx_writer_bold_header_text_ids_and_dates(tmp_path):
    path = tmp_path / "out.xlsx"
    with xlsx_writer(path, ["姓名", "身份证号", "补贴金额", "发放日期"]) as out:
        out.write(["张三", ID1, Decimal("120.50"), dt.date(2026, 3, 1)])
        out.write({"姓名": "李四\x07", "身份证号": ID2, "补贴金额": 80, "发放日期": None})
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    assert sheet["A1"].value == "姓名" and sheet["A1"].font.bold
    assert sheet["B2"].data_type == "s" and sheet["B2"].value == ID1
    assert sheet["A3"].value == "李四"
    rows = read_all(str(path), optional=["发放日期"])
    assert rows[0] == (2, {"姓名": "张三", "身份证号": ID1, "补贴金额": "120.5", "发放日期": "2026-03-01"})


def test_csv_streaming_response_headers_and_body():
    consumed = []

    def rows():
        for i in range(1200):
            consumed.append(i)
            yield [f"张{i}", ID1, Decimal("1.00")]

    response = csv_streaming_response("2026年 发放明细.csv", ["姓名", "身份证号", "补贴金额"], rows())
    assert response.streaming and not consumed  # nothing generated before the body is read
    disposition = response["Content-Disposition"]
    assert disposition == (
        "attachment; filename=\"2026.csv\"; filename*=UTF-8''2026%E5%B9%B4%20%E5%8F%91%E6%94%BE%E6%98%8E%E7%BB%86.csv"
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf\xe5\xa7\x93\xe5\x90\x8d,")
    assert read_all(io.BytesIO(body))[-1] == (1201, {"姓名": "张1199", "身份证号": ID1, "补贴金额": "1.00"})
