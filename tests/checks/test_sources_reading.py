"""The CSV fast path of source imports (core/csv_blocks.py) keeps core.tabular's contract, and
duplicates are found in memory across chunks (checks/sources/loader.py)."""

import pytest

from yikatong.checks.models import SourceImport, SourceImportError
from yikatong.checks.sources import load, source_current, source_rows
from yikatong.core import csv_blocks as reading
from yikatong.core.tabular import open_table

from . import test_sources_support as support
from .test_sources_support import HEADERS, csv_bytes, ids, run_import, upload

pytestmark = pytest.mark.django_db
fixed_today = support.fixed_today
scopes = support.scopes


def errors_of(imp):
    return [(e.row_number, e.column, e.value, e.reason)
            for e in SourceImportError.objects.filter(source_import=imp).order_by("row_number")]


def _rows_via_blocks(data: bytes, columns, chunk_rows: int) -> list[tuple]:
    fileobj = upload(data)
    table = open_table(fileobj, required=columns)
    rows = []
    for block in reading.chunks(table, fileobj, columns, chunk_rows):
        rows += reading.block_rows(block)
    return rows


def _rows_via_tabular(data: bytes, columns) -> list[tuple]:
    with open_table(upload(data), required=columns) as table:
        return [(number, *[row[c] for c in columns]) for number, row in table]


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 50])
def test_blocks_give_the_rows_core_tabular_gives(chunk_rows):
    columns = ("身份证号", "姓名", "工作单位")
    data = ("说明：财政供养人员\n"  # a title row above the header
            "备注,工作单位,姓名,身份证号\n"
            "x, 单位一 ,甲,1\n"
            "\n"
            ",,,\n"  # blank rows are skipped but counted
            '"多\n行",单位二,"乙,丙",2\n'  # a quoted new line: one record over two lines
            'y,"单位""三""\n二部",丁,3\n'
            "z,单位四\n"  # a short row
            'v,单位"六,张"三,5\n'  # a stray quote inside an unquoted field is just a character
            "w,单位五,戊,4").encode()  # no new line at the end
    expected = _rows_via_tabular(data, columns)
    assert [r[0] for r in expected] == [3, 6, 7, 8, 9, 10]
    assert _rows_via_blocks(data, columns, chunk_rows) == expected


def test_a_quoted_field_is_never_cut_between_workers(scopes, settings, monkeypatch):
    settings.YIKATONG_SOURCE_IMPORT_WORKERS = 2
    monkeypatch.setattr(load, "CHUNK_ROWS", 2)
    people = ids(9, birth="19820101")
    rows = [f'{p},某{i},"单位{i}\n第二行"' for i, p in enumerate(people)]
    imp = run_import(scopes["admin"], "public_staff", csv_bytes(HEADERS["public_staff"], rows))
    assert (imp.status, imp.accepted) == (SourceImport.Status.ACTIVE, 9), errors_of(imp)
    employers = dict(source_rows("public_staff").values_list("row_number", "employer"))
    assert employers == {i + 2: f"单位{i}\n第二行" for i in range(9)}


def test_a_number_in_scientific_notation_refuses_the_file_naming_the_row(scopes, monkeypatch):
    monkeypatch.setattr(load, "CHUNK_ROWS", 2)
    people = ids(4)
    rows = [f"{p},某,2026-01-01" for p in people] + ["5.00101E+17,某,2026-01-01"]
    imp = run_import(scopes["admin"], "death", csv_bytes(HEADERS["death"], rows))
    assert imp.status == SourceImport.Status.FAILED
    assert "第 6 行" in imp.message and "身份证号" in imp.message and "Excel" in imp.message


def test_broken_utf8_is_named_by_line_also_after_a_multi_line_record(scopes, monkeypatch):
    monkeypatch.setattr(load, "CHUNK_ROWS", 3)
    a, b, c = ids(3)
    data = (csv_bytes(HEADERS["public_staff"], [f'{a},甲,"一\n二"', f"{b},乙,单位"])
            + "王五,某,单位\n".encode("gbk") + f"{c},丙,单位\n".encode())
    imp = run_import(scopes["admin"], "public_staff", data)
    assert imp.status == SourceImport.Status.FAILED
    assert "第 5 行" in imp.message and "GBK" in imp.message


@pytest.mark.parametrize("workers", [0, 2])
def test_duplicates_across_chunks_name_the_first_row(scopes, settings, monkeypatch, workers):
    settings.YIKATONG_SOURCE_IMPORT_WORKERS = workers
    monkeypatch.setattr(load, "CHUNK_ROWS", 3)
    people = ids(8, birth="19830101")
    rows = [f"{p},某,单位{i}" for i, p in enumerate(people)]
    rows += [f"{people[1]},某,另一单位", f"{people[1]},某,第三单位", f"{people[7]},某,x"]
    imp = run_import(scopes["admin"], "public_staff", csv_bytes(HEADERS["public_staff"], rows))
    assert (imp.accepted, imp.rejected) == (8, 3)
    found = errors_of(imp)
    assert [(e[0], e[1], e[3].split("：")[0]) for e in found] == [
        (10, "身份证号", "与第 3 行重复"), (11, "身份证号", "与第 3 行重复"), (12, "身份证号", "与第 9 行重复")]
    assert found[0][2] == found[1][2] != people[1] and found[0][2][-4:] == people[1][-4:]  # masked
    assert sorted(source_rows("public_staff").values_list("row_number", flat=True)) == list(range(2, 10))


def test_real_estate_areas_equal_as_numbers_are_duplicates(scopes):
    a, b = ids(2)
    rows = [f"{a},甲,2,12.5", f"{a},甲,2,12.50", f"{a},甲,2,", f"{a},甲,2,", f"{b},乙,2,12.5"]
    imp = run_import(scopes["admin"], "real_estate", csv_bytes(HEADERS["real_estate"], rows))
    assert [(e[0], e[3].split("：")[0]) for e in errors_of(imp)] == [(3, "与第 2 行重复"), (5, "与第 4 行重复")]
    assert imp.accepted == 3


def test_plates_refused_as_duplicates_show_the_plate(scopes):
    a, b = ids(2)
    rows = [f"{a},甲,渝F12345,轿车,", f"{b},乙,渝F 12345,货车,"]
    imp = run_import(scopes["admin"], "vehicle", csv_bytes(HEADERS["vehicle"], rows))
    assert errors_of(imp) == [(3, "号牌号码", "渝F12345", "与第 2 行重复：同一号牌号码在文件中只能出现一次")]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_sessions_publish_a_large_import_and_a_failure_in_either_leaves_nothing(world, scopes, monkeypatch):
    from django.db import connection

    from yikatong.checks.models import HouseholdRow
    from yikatong.checks.sources import loader as loader_module

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    monkeypatch.setattr(loader_module, "PARALLEL_PUBLISH_ROWS", 1)
    people = ids(300, birth="19840101")
    rows = [f"{p},某,H{i},500101001001" for i, p in enumerate(people)] + [f"{people[7]},某,H,500101001001"]
    copies = []
    real_copy = loader_module.Loader._copy

    def counting_copy(self, conn, buckets):
        copies.append(len(buckets))
        return real_copy(self, conn, buckets)

    monkeypatch.setattr(loader_module.Loader, "_copy", counting_copy)
    imp = run_import(scopes["admin"], "household", csv_bytes(HEADERS["household"], rows))
    assert imp.status == SourceImport.Status.ACTIVE and (imp.accepted, imp.rejected) == (300, 1), imp.message
    assert len(copies) == 2 and sum(copies) > 100  # both halves, each in its own session
    assert sorted(source_rows("household").values_list("row_number", flat=True)) == list(range(2, 302))

    def failing_in_the_other_session(self, conn, buckets):
        if conn is not self.conn:
            real_copy(self, conn, buckets)  # committed, then the failure
            raise RuntimeError("second session lost")
        return real_copy(self, conn, buckets)

    monkeypatch.setattr(loader_module.Loader, "_copy", failing_in_the_other_session)
    with pytest.raises(RuntimeError):
        run_import(scopes["admin"], "household", csv_bytes(HEADERS["household"], rows))
    failed = SourceImport.objects.filter(source="household").order_by("-created_at").first()
    assert failed.status == SourceImport.Status.FAILED
    assert HouseholdRow.objects.filter(source_import=failed).count() == 0
    assert source_current("household") == imp and source_rows("household").count() == 300
