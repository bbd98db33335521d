"""The policy list as XLSX: export, import into a draft list (all or nothing, per-row reasons), round trip,
and the uploads that must be refused."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook
from python_calamine import CalamineWorkbook

from tests.policies.conftest import policy_fields
from yikatong.core.errors import ScopeError
from yikatong.core.models import AuditEvent, StoredFile
from yikatong.policies import xlsx
from yikatong.policies.models import AnnualListItem
from yikatong.policies.services import (
    list_file,
    list_item_add,
    list_items_submit,
    list_publish,
    policy_create,
)

YEAR, NEXT = 2027, 2028
P, M, WZ, FL = "500000000000", "500100000000", "500101000000", "500102000000"


def read_xlsx(content: bytes) -> list[list]:
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
    return [[("" if c is None else c) for c in row] for row in sheet.to_python()]


def make_xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(content: bytes, name="清单.xlsx"):
    return SimpleUploadedFile(name, content, content_type=xlsx.XLSX_CONTENT_TYPE)


@pytest.fixture
def catalogue(one_list, today):
    """CQ-X (province), WZ-001 (no end date), WZ-002 (per mu) and FL-1 registered, nothing on a list."""
    ol = one_list
    policy_create(actor=ol.scope("p_civil"),
                  fields=policy_fields(code="CQ-X", name="重庆市困难群众救助", department="CQ-MZJ",
                                       level_set="provincial", direct_funds=True,
                                       funding_sources=[{"level": "central", "share": "80"},
                                                        {"level": "provincial", "share": "20"}]))
    policy_create(actor=ol.scope("civil"), fields=policy_fields())
    policy_create(actor=ol.scope("civil"),
                  fields=policy_fields(code="WZ-002", name="万州区养老服务补贴", standard_type="per_unit",
                                       unit_name="人", standard_amount="12.50", cycle="quarterly",
                                       means_tested=False, valid_to="2030-12-31"))
    policy_create(actor=ol.scope("fl_civil"), fields=policy_fields(code="FL-1", department="FL-MZJ"))
    return ol


def test_export_list_has_the_chinese_headers_and_the_items(catalogue):
    ol = catalogue
    for code in ["CQ-X", "WZ-001", "WZ-002"]:
        list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code=code)
    rows = read_xlsx(xlsx.export_list(ol.scope("civil"), WZ, YEAR))
    assert rows[0] == xlsx.LIST_HEADERS == ["序号", "补贴项目编码", "补贴资金名称", "主管部门", "清单类型", "设立层级",
                                            "补贴标准", "计量单位", "发放周期", "是否家计调查", "是否直达资金",
                                            "有效期起", "有效期止"]
    by_code = {r[1]: r for r in rows[1:]}
    assert [r[0] for r in rows[1:]] == [1, 2, 3]
    assert by_code["CQ-X"][2:7] == ["重庆市困难群众救助", "重庆市民政局", "规定清单", "省级", 300]
    assert by_code["CQ-X"][9:11] == ["是", "是"]
    assert by_code["WZ-002"][4:13] == ["自定清单", "县级", 12.5, "人", "按季", "否", "否",
                                       by_code["WZ-002"][11], by_code["WZ-002"][12]]
    assert str(by_code["WZ-002"][11])[:10] == "2026-01-01" and str(by_code["WZ-002"][12])[:10] == "2030-12-31"
    assert by_code["WZ-001"][12] == ""  # no end date
    # another county's reader sees nothing of this list
    assert read_xlsx(xlsx.export_list(ol.scope("finance_other"), WZ, YEAR)) == [xlsx.LIST_HEADERS]


def test_round_trip_export_then_import_into_another_draft_list(catalogue):
    ol = catalogue
    for code in ["CQ-X", "WZ-001", "WZ-002"]:
        list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code=code)
    list_items_submit(actor=ol.scope("civil"), region_code=WZ, year=YEAR)
    list_file(actor=ol.scope("m_finance"), region_code=M, year=YEAR)
    list_publish(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    exported = xlsx.export_list(ol.scope("civil"), WZ, YEAR)

    result = xlsx.import_list(actor=ol.scope("civil"), region_code=WZ, year=NEXT, fileobj=upload(exported),
                              original_name="2027清单.xlsx")
    assert sorted(i.policy.code for i in result.added) == ["CQ-X", "WZ-001", "WZ-002"]
    items = AnnualListItem.objects.filter(policy_list__region_id=WZ, policy_list__year=NEXT)
    assert {(i.policy.code, i.part, i.status) for i in items} == {
        ("CQ-X", "prescribed", "draft"), ("WZ-001", "self_defined", "draft"), ("WZ-002", "self_defined", "draft")}
    # the original file is kept and the import is audited
    stored = StoredFile.objects.get(pk=result.stored.pk)
    assert stored.purpose == "policy-list-import" and stored.original_name == "2027清单.xlsx"
    event = AuditEvent.objects.get(action="list.import")
    assert sorted(event.after["added"]) == ["CQ-X", "WZ-001", "WZ-002"]
    # and the export of the new list equals the old one apart from nothing
    assert read_xlsx(xlsx.export_list(ol.scope("civil"), WZ, NEXT))[1:] == read_xlsx(exported)[1:]


def test_csv_with_only_the_code_column_is_accepted(catalogue):
    content = "\ufeff补贴项目编码,备注\nWZ-001,x\nWZ-002,\n".encode()
    result = xlsx.import_list(actor=catalogue.scope("civil"), region_code=WZ, year=YEAR,
                              fileobj=upload(content, "清单.csv"), original_name="清单.csv")
    assert [i.policy.code for i in result.added] == ["WZ-001", "WZ-002"]


def _refused(ol, rows_or_bytes, key="civil", year=YEAR, name="清单.xlsx") -> xlsx.ImportRefused:
    content = rows_or_bytes if isinstance(rows_or_bytes, bytes) else make_xlsx(rows_or_bytes)
    with pytest.raises(xlsx.ImportRefused) as info:
        xlsx.import_list(actor=ol.scope(key), region_code=WZ, year=year, fileobj=upload(content, name),
                         original_name=name)
    assert AnnualListItem.objects.count() == 0  # all or nothing
    return info.value


@pytest.mark.parametrize("content", [
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,   # old .xls
    b"PK\x03\x04not really a zip at all",
])
def test_an_upload_that_is_not_a_table_is_refused(catalogue, content):
    refused = _refused(catalogue, content)
    assert refused.message.startswith("文件不是有效的 XLSX 文件，请用 Excel 另存为 .xlsx 后重新上传")
    assert AuditEvent.objects.filter(action="list.import_refused").count() == 1
    assert StoredFile.objects.filter(purpose="policy-list-import").count() == 1  # the original is kept


def test_wrong_headers_are_refused(catalogue):
    refused = _refused(catalogue, [["编码", "名称"], ["WZ-001", "万州区困难群众临时生活补助"]])
    assert "表头缺少必需的列：补贴项目编码" in refused.message
    assert refused.errors[0].row == 1


def test_unknown_code_duplicates_and_mismatches_are_reported_per_row(catalogue):
    rows = [
        xlsx.LIST_HEADERS,
        [1, "WZ-001", "万州区困难群众临时生活补助", "", "", "", "", "", "", "", "", "", ""],
        [2, "WZ-404", "不存在的补贴", "", "", "", "", "", "", "", "", "", ""],
        [3, "WZ-001", "", "", "", "", "", "", "", "", "", "", ""],
        [4, "WZ-002", "万州区养老补贴（写错）", "", "", "", "", "", "", "", "", "", ""],
        [5, "CQ-X", "", "", "其他清单", "", "", "", "", "", "", "", ""],
        [6, "FL-1", "", "", "", "", "", "", "", "", "", "", ""],
        [7, "", "漏填编码", "", "", "", "", "", "", "", "", "", ""],
    ]
    refused = _refused(catalogue, rows)
    assert "6 行有错误" in refused.message and "本次未导入任何项目" in refused.message
    found = {(e.row, e.column): e.message for e in refused.errors}
    assert found[(3, "补贴项目编码")].startswith("补贴项目 WZ-404 不存在：请先在“补贴政策”中登记该政策")
    assert found[(4, "补贴项目编码")] == "补贴项目 WZ-001 与第 2 行重复，请删除重复的行。"
    assert found[(5, "补贴资金名称")].startswith("“万州区养老补贴（写错）”与补贴项目 WZ-002 登记的名称")
    assert found[(6, "清单类型")] == "“其他清单”无效，应为“规定清单”或“自定清单”（或留空）。"
    assert found[(7, "补贴项目编码")] == "补贴项目 FL-1 由其他地区制定，不能列入本地区清单。"
    assert found[(8, "补贴项目编码")] == "请填写补贴项目编码。"
    assert [e.row for e in refused.errors] == [3, 4, 5, 6, 7, 8]


def test_row_refused_by_the_service_rolls_back_the_good_rows(catalogue):
    list_item_add(actor=catalogue.scope("civil"), region_code=WZ, year=NEXT, policy_code="WZ-002")
    with pytest.raises(xlsx.ImportRefused) as info:
        xlsx.import_list(actor=catalogue.scope("civil"), region_code=WZ, year=NEXT,
                         fileobj=upload(make_xlsx([["补贴项目编码"], ["WZ-001"], ["WZ-002"]])), original_name="x.xlsx")
    assert [(e.row, e.message) for e in info.value.errors] == [(3, "补贴项目 WZ-002 已在 2028 年度清单中。")]
    assert list(AnnualListItem.objects.values_list("policy__code", flat=True)) == ["WZ-002"]


def test_import_wrong_role_other_region_and_closed_list(catalogue):
    ol = catalogue
    content = make_xlsx([["补贴项目编码"], ["WZ-001"]])
    with pytest.raises(ScopeError):
        xlsx.import_list(actor=ol.scope("finance"), region_code=WZ, year=YEAR, fileobj=upload(content),
                         original_name="x.xlsx")
    with pytest.raises(ScopeError):
        xlsx.import_list(actor=ol.scope("fl_civil"), region_code=WZ, year=YEAR, fileobj=upload(content),
                         original_name="x.xlsx")
    list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-002")
    list_items_submit(actor=ol.scope("civil"), region_code=WZ, year=YEAR)
    list_file(actor=ol.scope("m_finance"), region_code=M, year=YEAR)
    with pytest.raises(Exception, match="2027年度清单已报备，不能再导入"):
        xlsx.import_list(actor=ol.scope("civil"), region_code=WZ, year=YEAR, fileobj=upload(content),
                         original_name="x.xlsx")


# -- through the page and the API ------------------------------------------------------------------------
def test_upload_form_shows_row_errors(client, catalogue):
    client.force_login(catalogue.world.users["civil"])
    url = reverse("policies:list-import", args=[WZ, YEAR])
    bad = client.post(url, {"file": upload(make_xlsx([["补贴项目编码"], ["WZ-404"]]))})
    assert bad.status_code == 400
    body = bad.content.decode()
    assert 'data-testid="import-errors"' in body and "补贴项目 WZ-404 不存在" in body
    not_xlsx = client.post(url, {"file": upload(b"%PDF-1.4 hello", "清单.pdf")})
    assert not_xlsx.status_code == 400
    assert "文件不是有效的 XLSX 文件，请用 Excel 另存为 .xlsx 后重新上传" in not_xlsx.content.decode()
    empty = client.post(url, {})
    assert empty.status_code == 400 and "请选择要上传的文件。" in empty.content.decode()
    good = client.post(url, {"file": upload(make_xlsx([["补贴项目编码", "清单类型"], ["WZ-001", "自定清单"]]))},
                       follow=True)
    assert any("导入 1 个清单项目" in str(m) for m in good.context["messages"])
    assert AnnualListItem.objects.get().policy.code == "WZ-001"
    export = client.get(reverse("policies:list-export", args=[WZ, YEAR]))
    assert export.status_code == 200 and read_xlsx(export.content)[1][1] == "WZ-001"
    assert "filename*=UTF-8''" in export["Content-Disposition"]
    client.force_login(catalogue.world.users["supervisor"])
    assert client.post(url, {"file": upload(make_xlsx([["补贴项目编码"], ["WZ-002"]]))}).status_code == 403


def test_api_import_and_export(client, catalogue):
    client.force_login(catalogue.world.users["civil"])
    url = f"/api/policies/lists/{WZ}/{YEAR}/import"
    bad = client.post(url, {"file": upload(make_xlsx([["补贴项目编码"], ["WZ-001"], ["WZ-001"]]))})
    assert bad.status_code == 400
    assert bad.json()["errors"] == [{"row": 3, "column": "补贴项目编码",
                                     "message": "补贴项目 WZ-001 与第 2 行重复，请删除重复的行。"}]
    not_xlsx = client.post(url, {"file": upload(b"\x89PNG\r\n\x1a\n", "a.png")})
    assert not_xlsx.status_code == 400 and not_xlsx.json()["detail"].startswith("文件不是有效的 XLSX 文件")
    ok = client.post(url, {"file": upload(make_xlsx([["补贴项目编码"], ["WZ-001"], ["CQ-X"]]))})
    assert ok.status_code == 201 and ok.json()["added"] == ["WZ-001", "CQ-X"]
    export = client.get(f"/api/policies/lists/{WZ}/{YEAR}/export.xlsx")
    assert export.status_code == 200
    assert [r[1] for r in read_xlsx(export.content)[1:]] == ["CQ-X", "WZ-001"]
    catalogue_export = client.get("/api/policies/export.xlsx", {"q": "养老"})
    assert [r[1] for r in read_xlsx(catalogue_export.content)[1:]] == ["WZ-002"]
    client.force_login(catalogue.world.users["finance"])
    assert client.post(url, {"file": upload(make_xlsx([["补贴项目编码"], ["WZ-002"]]))}).status_code == 403
