"""The roster import end to end (service, both formats, every bad input of the issue, re-upload, crash)."""

import io
from decimal import Decimal

import pytest
from django.db.models import Sum

from yikatong.applications import rules
from yikatong.applications.models import Application, ApplicationEvent, RosterImport, RosterRowError
from yikatong.applications.roster import (
    loading,
    roster_import_create,
    roster_import_run,
    roster_import_start,
    service,
)
from yikatong.applications.selectors import application_events
from yikatong.core import crypto
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent, JobProgress
from yikatong.core.services.files import file_abspath
from yikatong.registry.models import Beneficiary, BeneficiaryVersion, PayeeAccount
from yikatong.registry.services import beneficiary_register_person

from .conftest import TOWNSHIP, VILLAGE, VILLAGE2, luhn_account, resident_id
from .roster_fixtures import (
    ORG_HEADERS,
    PERSON_HEADERS,
    csv_bytes,
    person_row,
    rejected_rows,
    run_import,
    xlsx_bytes,
)

FORMATS = ["csv", "xlsx"]


def roster(fmt, rows, headers=PERSON_HEADERS, **kwargs):
    if fmt == "csv":
        return csv_bytes(rows, headers, **kwargs), "花名册.csv"
    return xlsx_bytes(rows, headers, **kwargs), "花名册.xlsx"


def errors_by_row(ri) -> dict[int, list[RosterRowError]]:
    out = {}
    for err in ri.row_errors.order_by("row_number", "id"):
        out.setdefault(err.row_number, []).append(err)
    return out


# -- the happy path --------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_valid_roster_creates_beneficiaries_accounts_and_applications(flow, fmt):
    rows = [person_row(i) for i in range(5)]
    content, name = roster(fmt, rows)
    ri = run_import(flow, content, name=name)

    assert ri.status == RosterImport.Status.DONE, ri.message
    assert (ri.total_rows, ri.accepted, ri.rejected, ri.duplicates) == (5, 5, 0, 0)
    assert ri.rejected_file is None
    apps = list(Application.objects.filter(roster_import=ri).order_by("roster_row"))
    assert [a.roster_row for a in apps] == [2, 3, 4, 5, 6]
    for app, row in zip(apps, rows, strict=True):
        assert app.channel == "roster" and app.status == "collected"
        assert app.amount == Decimal("300.00") and app.period == "2026-03" and app.policy.code == "WZ-001"
        assert app.region_id == VILLAGE and app.business_line == "civil_affairs"
        assert app.collector_id == flow.world.orgs["collector"].pk
        assert rules.is_application_number(app.number)
        assert app.step_started_on.isoformat() == "2026-03-02" and app.step_deadline.isoformat() == "2026-03-05"
        b = app.beneficiary
        assert b.name == row["姓名"] and b.id_digest == crypto.digest("id", row["身份证号"])
        assert crypto.decrypt_text(b.id_number_enc) == row["身份证号"]
        assert b.id_masked == row["身份证号"][:6] + "********" + row["身份证号"][-4:]
        assert crypto.decrypt_text(b.phone_enc) == row["手机号码"] and b.phone_masked.startswith("139****")
        assert b.birth_date.strftime("%Y%m%d") == row["身份证号"][6:14]
        assert b.gender == ("男" if int(row["身份证号"][16]) % 2 else "女")
        account = app.payee_account
        assert account.beneficiary_id == b.pk and account.is_active and account.kind == "ssc_card"
        assert crypto.decrypt_text(account.account_enc) == row["社保卡银行账号"]
        assert account.account_digest == crypto.digest("account", row["社保卡银行账号"])
        assert account.bank_name == "重庆农村商业银行" and account.account_masked.endswith(row["社保卡银行账号"][-4:])
        assert BeneficiaryVersion.objects.get(beneficiary=b, version=1).snapshot == {}  # implied
        assert not ApplicationEvent.objects.filter(application=app).exists()  # implied (test_roster_history)
        [event] = application_events(app)
        assert (event.from_status, event.to_status, event.reason) == ("", "collected", "新建申报（花名册导入）")
    assert len({a.number for a in apps}) == 5
    # ONE audit event for the import, with its counts
    events = AuditEvent.objects.filter(action="roster.import")
    assert events.count() == 1
    assert events.get().after["accepted"] == 5 and events.get().after["amount_total"] == "1500.00"
    assert not AuditEvent.objects.filter(action__in=["beneficiary.register", "application.create"]).exists()


def test_empty_policy_and_period_cells_take_the_import_values(flow):
    rows = [person_row(0, 补贴项目编码="", 补贴期间=""), person_row(1, 补贴金额="")]
    ri = run_import(flow, csv_bytes(rows))
    assert (ri.accepted, ri.rejected) == (2, 0)
    # an empty amount is the policy standard (as for a typed application)
    assert Application.objects.get(roster_import=ri, roster_row=3).amount == Decimal("300.00")


def test_columns_in_any_order_and_extra_columns_are_ignored(flow):
    headers = ["序号", *reversed(PERSON_HEADERS), "说明"]
    rows = [["1", *[person_row(0)[h] for h in reversed(PERSON_HEADERS)], "x"]]
    ri = run_import(flow, csv_bytes(rows, headers))
    assert (ri.accepted, ri.rejected) == (1, 0)


def test_csv_without_bom_and_with_quoted_cells(flow):
    rows = [person_row(0, 备注="含逗号, 和\n换行"), person_row(1)]
    ri = run_import(flow, csv_bytes(rows, bom=False))
    assert (ri.accepted, ri.rejected) == (2, 0)
    assert Application.objects.get(roster_import=ri, roster_row=2).remarks == "含逗号, 和\n换行"
    assert Application.objects.get(roster_import=ri, roster_row=3).roster_row == 3


def test_per_unit_policy_uses_quantity(flow):
    rows = [person_row(0, 补贴项目编码="WZ-AG", 补贴期间="2026", 补贴数量="2.5", 补贴金额="301.25"),
            person_row(1, 补贴项目编码="WZ-AG", 补贴期间="2026", 补贴数量="2", 补贴金额="241.01"),
            person_row(2, 补贴项目编码="WZ-AG", 补贴期间="2026", 补贴数量="", 补贴金额="100")]
    ri = run_import(flow, csv_bytes(rows), policy="WZ-AG", period="2026")
    assert (ri.accepted, ri.rejected) == (1, 2)
    app = Application.objects.get(roster_import=ri)
    assert app.quantity == Decimal("2.50") and app.amount == Decimal("301.25")
    errors = errors_by_row(ri)
    assert "超过补贴标准上限 241.00 元" in errors[3][0].reason
    assert errors[4][0].column == "补贴数量" and "请填写补贴数量" in errors[4][0].reason


def test_organization_rows(flow):
    from stdnum.cn import uscc

    def credit_code(stem):
        return stem + uscc.calc_check_digit(stem)

    rows = [
        {"单位名称": "万州区高笋塘社区股份经济合作社", "统一社会信用代码": credit_code("N2500101MA5U7X8Y9"),
         "对公账号": "31050166360000000123", "开户银行": "中国建设银行万州分行", "行政区划代码": VILLAGE,
         "补贴金额": "300"},
        {"单位名称": "某公司", "统一社会信用代码": "91500101MA5U7X8Y9X", "对公账号": "123", "开户银行": "银行",
         "行政区划代码": VILLAGE, "补贴金额": "300"},
    ]
    ri = run_import(flow, csv_bytes(rows, ORG_HEADERS))
    assert (ri.accepted, ri.rejected) == (1, 1), list(ri.row_errors.values_list("reason", flat=True))
    b = Application.objects.get(roster_import=ri).beneficiary
    assert b.kind == "organization" and b.id_masked == rows[0]["统一社会信用代码"]
    assert b.id_digest == crypto.digest("uscc", rows[0]["统一社会信用代码"]) and b.gender == "" and b.birth_date is None
    account = PayeeAccount.objects.get(beneficiary=b)
    assert account.kind == "corporate" and crypto.decrypt_text(account.account_enc) == "31050166360000000123"
    columns = {e.column for e in ri.row_errors.all()}
    assert {"统一社会信用代码", "对公账号"} <= columns


# -- whole-file refusals -----------------------------------------------------------------------------------
@pytest.mark.parametrize("content, message", [
    (b"", "文件是空的"),
    ("\ufeff姓名,身份证号\r\n张三,1\r\n".encode(), "缺少必需的列：社保卡银行账号、开户银行、行政区划代码、补贴金额"),
    (b"name,id,account\r\n", "缺少必需的列：姓名、身份证号"),
    (csv_bytes([]), "没有数据行"),
    ("姓名,身份证号,社保卡银行账号,开户银行,行政区划代码,补贴金额\r\n张三,1,2,3,4,5\r\n".encode("gbk"), "不是 UTF-8"),
    (b"%PDF-1.4 binary", "不是有效的 XLSX 或 CSV"),
    (b"PK\x03\x04 this is not a zip", "已损坏"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版 Excel"),
])
def test_whole_file_refusals_import_nothing(flow, content, message):
    ri = run_import(flow, content)
    assert ri.status == RosterImport.Status.FAILED
    assert message in ri.message
    assert ri.accepted == 0 and not Application.objects.exists() and not Beneficiary.objects.exists()
    assert not ri.row_errors.exists()


def test_not_utf8_further_down_refuses_the_whole_file(flow):
    good = csv_bytes([person_row(i) for i in range(3)])
    bad = ",".join(person_row(5, 姓名="王五").get(h, "") for h in PERSON_HEADERS).encode("gbk") + b"\r\n"
    ri = run_import(flow, good + bad)
    assert ri.status == RosterImport.Status.FAILED and "第 5 行附近" in ri.message and "GBK" in ri.message
    assert not Application.objects.exists()


def test_file_over_the_size_limit_is_refused(flow, settings):
    settings.YIKATONG_ROSTER_MAX_BYTES = 2000
    content = xlsx_bytes([person_row(i) for i in range(40)])
    assert len(content) > 2000
    ri = run_import(flow, content, name="big.xlsx")
    assert ri.status == RosterImport.Status.FAILED and "文件过大" in ri.message
    ri = run_import(flow, csv_bytes([person_row(i) for i in range(40)]))
    assert ri.status == RosterImport.Status.FAILED and "文件过大" in ri.message
    assert not Application.objects.exists()


def test_corrupt_xlsx_is_refused(flow):
    content = xlsx_bytes([person_row(0)])
    ri = run_import(flow, content[: len(content) // 2], name="broken.xlsx")
    assert ri.status == RosterImport.Status.FAILED and "已损坏" in ri.message


def test_headers_for_both_persons_and_organizations_are_refused(flow):
    headers = [*PERSON_HEADERS, "统一社会信用代码"]
    ri = run_import(flow, csv_bytes([], headers))
    assert ri.status == RosterImport.Status.FAILED and "只能是个人或单位中的一种" in ri.message


def test_excel_number_that_lost_digits_refuses_the_file(flow):
    row = next(person_row(i) for i in range(20) if not person_row(i)["身份证号"].endswith("X"))
    content = xlsx_bytes([row], numbers=("身份证号",))
    ri = run_import(flow, content, name="numbers.xlsx")
    assert ri.status == RosterImport.Status.FAILED and "精度已丢失" in ri.message


def test_policy_and_period_are_checked_before_anything_is_stored(flow):
    with pytest.raises(DomainError, match="不存在"):
        roster_import_create(actor=flow.scope("collector"), fileobj=io.BytesIO(b"x"), original_name="a.csv",
                             policy_code="NOPE", period="2026-03")
    with pytest.raises(DomainError, match="按月发放"):
        roster_import_create(actor=flow.scope("collector"), fileobj=io.BytesIO(b"x"), original_name="a.csv",
                             policy_code="WZ-001", period="2026")
    with pytest.raises(ScopeError):
        roster_import_create(actor=flow.scope("civil"), fileobj=io.BytesIO(b"x"), original_name="a.csv",
                             policy_code="WZ-001", period="2026-03")
    assert not RosterImport.objects.exists()


# -- row refusals ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_bad_row_is_reported_and_good_rows_are_imported(flow, fmt):
    other_id = resident_id("500101", "19700101", 901)
    rows = [
        person_row(0),                                                    # 2 ok
        person_row(1, 身份证号=person_row(1)["身份证号"][:17] + ("0" if person_row(1)["身份证号"][17] != "0" else "1")),
        person_row(2, 补贴金额="100.123"),                                # 4 three decimals
        person_row(3, 补贴金额="300.01"),                                 # 5 above the standard
        person_row(4, 行政区划代码=VILLAGE2),                             # 6 other township
        person_row(5, 身份证号=person_row(0)["身份证号"]),                  # 7 same person as row 2
        person_row(6, 姓名=""),                                           # 8 no name
        person_row(7, 社保卡银行账号="6230000000000000001"),               # 9 Luhn
        person_row(8, 开户银行=""),                                       # 10 no bank
        person_row(9, 手机号码="12345"),                                  # 11 phone
        person_row(10, 补贴项目编码="WZ-AG"),                              # 12 other policy
        person_row(11, 补贴期间="2026-04"),                               # 13 other period
        person_row(12, 补贴金额="0"),                                     # 14 zero
        person_row(13, 行政区划代码="500101001999"),                       # 15 unknown region in scope
        person_row(14, 身份证号=other_id, 备注="x" * 201),                  # 16 remarks too long
        person_row(15, 身份证号=resident_id("500101", "19630230", 123)),  # 17 impossible birth date
        person_row(16),                                                   # 18 ok
    ]
    content, name = roster(fmt, rows)
    ri = run_import(flow, content, name=name)
    assert ri.status == RosterImport.Status.DONE
    assert (ri.total_rows, ri.accepted, ri.rejected, ri.duplicates) == (17, 2, 15, 0)
    errors = errors_by_row(ri)
    expected = {
        3: ("身份证号", "校验位错误"), 4: ("补贴金额", "补贴金额最多两位小数"), 5: ("补贴金额", "超过补贴标准上限 300.00 元"),
        6: ("行政区划代码", f"行政区划 {VILLAGE2} 不在您的管辖范围内"), 7: ("身份证号", "与第 2 行为同一人"),
        8: ("姓名", "姓名为空"), 9: ("社保卡银行账号", "校验失败"), 10: ("开户银行", "请填写开户银行"),
        11: ("手机号码", "手机号码"), 12: ("补贴项目编码", "与本次导入的补贴项目 WZ-001 不一致"),
        13: ("补贴期间", "与本次导入的补贴期间 2026-03 不一致"), 14: ("补贴金额", "应大于0"),
        15: ("行政区划代码", "不存在或已撤销"), 16: ("备注", "不能超过200字"), 17: ("身份证号", "出生日期"),
    }
    assert sorted(errors) == sorted(expected)
    for row, (column, text) in expected.items():
        assert errors[row][0].column == column, (row, errors[row][0].column)
        assert text in errors[row][0].reason, (row, errors[row][0].reason)
    # identifiers are masked in the error and in the stored raw row; the raw row has every column
    dup = errors[7][0]
    assert dup.value == rows[5]["身份证号"][:6] + "********" + rows[5]["身份证号"][-4:]
    assert dup.raw["身份证号"] == dup.value and dup.raw["姓名"] == rows[5]["姓名"]
    assert errors[9][0].value.endswith(rows[7]["社保卡银行账号"][-4:]) and "*" in errors[9][0].value
    assert set(dup.raw) == set(PERSON_HEADERS)
    assert sorted(Application.objects.filter(roster_import=ri).values_list("roster_row", flat=True)) == [2, 18]


def test_duplicate_of_a_row_refused_for_another_reason_is_still_a_duplicate(flow, settings):
    settings.YIKATONG_ROSTER_BLOCK_BYTES = 600  # several blocks: the duplicate check across blocks
    rows = [person_row(i) for i in range(8)]
    rows[1] = person_row(1, 补贴金额="999")
    rows[6] = person_row(6, 身份证号=rows[1]["身份证号"])
    rows[7] = person_row(7, 身份证号=rows[0]["身份证号"])
    ri = run_import(flow, csv_bytes(rows))
    errors = errors_by_row(ri)
    assert "超过补贴标准上限" in errors[3][0].reason
    assert "与第 3 行为同一人" in errors[8][0].reason and "与第 2 行为同一人" in errors[9][0].reason
    assert (ri.accepted, ri.rejected) == (5, 3)


def test_policy_not_in_the_years_library(flow):
    rows = [person_row(i, 补贴项目编码="WZ-OUT", 补贴金额="100") for i in range(2)]
    ri = run_import(flow, csv_bytes(rows), policy="WZ-OUT")
    assert ri.status == RosterImport.Status.DONE and (ri.accepted, ri.rejected) == (0, 2)
    err = ri.row_errors.first()
    assert err.column == "补贴项目编码" and "不在 2026 年度" in err.reason and "补贴项目库" in err.reason


def test_library_is_asked_once_per_region(flow, monkeypatch):
    calls = []
    real = service.library_allows

    def counting(**kwargs):
        calls.append(kwargs["region_code"])
        return real(**kwargs)

    monkeypatch.setattr(service, "library_allows", counting)
    rows = [person_row(i, 行政区划代码=TOWNSHIP if i % 2 else VILLAGE) for i in range(10)]
    ri = run_import(flow, csv_bytes(rows))
    assert ri.accepted == 10
    assert sorted(calls) == sorted([TOWNSHIP, VILLAGE])


# -- registered persons and re-uploads ----------------------------------------------------------------------
def test_registered_person_name_mismatch_and_account_change_are_refused(flow, zhang):
    same = person_row(0, 姓名="张三丰", 身份证号=zhang.id_number_plain,
                      社保卡银行账号=luhn_account(f"622000{11:012d}"))
    renamed = person_row(1, 姓名="张三", 身份证号=resident_id("500101", "19600101", 12))
    flow.person("li", name="李四", seq=12)
    other_account = person_row(2, 姓名="王二", 身份证号=resident_id("500101", "19600101", 13))
    flow.person("wang", name="王二", seq=13)
    ri = run_import(flow, csv_bytes([same, renamed, other_account]))
    assert (ri.accepted, ri.rejected) == (1, 2)
    errors = errors_by_row(ri)
    assert "与已登记姓名不一致" in errors[3][0].reason and "李*" in errors[3][0].reason
    assert errors[4][0].reason == "收款账号与已登记账户不一致，请通过账户变更办理"
    app = Application.objects.get(roster_import=ri)
    assert app.beneficiary_id == zhang.pk
    assert app.payee_account_id == PayeeAccount.objects.get(beneficiary=zhang, is_active=True).pk
    assert Beneficiary.objects.count() == 3 and PayeeAccount.objects.count() == 3  # nothing new


def test_registered_person_without_account_gets_one(flow):
    person = flow.person("nocard", name="赵敏", seq=20, account=False)
    row = person_row(6, 姓名="赵敏", 身份证号=person.id_number_plain, 手机号码="13800138000")
    ri = run_import(flow, csv_bytes([row]))
    assert ri.accepted == 1
    account = PayeeAccount.objects.get(beneficiary=person)
    assert account.is_active and account.version == 1 and account.kind == "ssc_card"
    person.refresh_from_db()
    assert person.version == 1  # same phone: nothing to update


def test_registered_person_phone_is_filled_in_with_a_new_version(flow):
    person = flow.person("p", name="赵敏", seq=21)
    row = person_row(6, 姓名="赵敏", 身份证号=person.id_number_plain, 手机号码="13912345678",
                     社保卡银行账号=luhn_account(f"622000{21:012d}"))
    ri = run_import(flow, csv_bytes([row]))
    assert ri.accepted == 1
    person.refresh_from_db()
    assert person.version == 2 and crypto.decrypt_text(person.phone_enc) == "13912345678"
    assert BeneficiaryVersion.objects.get(beneficiary=person, version=2).snapshot["phone_masked"] == "139****5678"


def test_registered_elsewhere_is_refused(flow):
    other = beneficiary_register_person(actor=flow.scope("collector2"), name="孙丽", region_code=VILLAGE2,
                                        id_number=resident_id("500101", "19700505", 30))
    row = person_row(0, 姓名="孙丽", 身份证号=resident_id("500101", "19700505", 30))
    ri = run_import(flow, csv_bytes([row]))
    assert ri.rejected == 1 and "不在您的管辖范围内" in ri.row_errors.get().reason
    assert not Application.objects.filter(beneficiary=other).exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrected_file_reuploaded_creates_no_duplicates(flow, fmt):
    rows = [person_row(i) for i in range(6)]
    rows[2] = person_row(2, 补贴金额="300.001")
    rows[4] = person_row(4, 社保卡银行账号="1234")
    content, name = roster(fmt, rows)
    first = run_import(flow, content, name=name)
    assert (first.accepted, first.rejected, first.duplicates) == (4, 2, 0)

    # the rejected-rows file: same format, same headers + 错误原因, the rows as received
    table = rejected_rows(first)
    assert first.rejected_file.original_name == f"花名册_错误行.{fmt}"
    assert table[0] == [*PERSON_HEADERS, "错误原因"]
    assert [r[1] for r in table[1:]] == [rows[2]["身份证号"], rows[4]["身份证号"]]
    assert table[1][9] == "300.001" and "最多两位小数" in table[1][11]
    assert table[2][2] == "1234" and "银行账号长度" in table[2][11]

    # correct the rejected rows in that file and upload the whole roster again
    rows[2] = person_row(2)
    rows[4] = person_row(4)
    content, name = roster(fmt, rows)
    second = run_import(flow, content, name=name)
    assert second.status == RosterImport.Status.DONE
    assert (second.total_rows, second.accepted, second.rejected, second.duplicates) == (6, 2, 0, 4)
    assert second.rejected_file is None
    assert Application.objects.count() == 6 and Beneficiary.objects.count() == 6
    assert sorted(Application.objects.filter(roster_import=second).values_list("roster_row", flat=True)) == [4, 6]

    # and once more: everything is a duplicate now, nothing new
    third = run_import(flow, content, name=name)
    assert (third.accepted, third.duplicates) == (0, 6) and Application.objects.count() == 6


def test_uploading_the_rejected_file_itself_works(flow):
    rows = [person_row(0), person_row(1, 补贴金额="abc")]
    first = run_import(flow, csv_bytes(rows))
    table = rejected_rows(first)
    table[1][PERSON_HEADERS.index("补贴金额")] = "300"
    again = run_import(flow, csv_bytes(table[1:], table[0]))  # 错误原因 is an extra column: ignored
    assert (again.accepted, again.rejected) == (1, 0)


def test_rejected_row_errors_keep_no_plain_identifiers(flow):
    row = person_row(0, 补贴金额="999")
    ri = run_import(flow, csv_bytes([row]))
    err = ri.row_errors.get()
    text = str(err.raw) + err.value
    assert row["身份证号"] not in text and row["社保卡银行账号"] not in text and row["手机号码"] not in text
    assert rejected_rows(ri)[1][1] == row["身份证号"]  # the file for the uploader has the full row


# -- running ----------------------------------------------------------------------------------------------
def test_progress_is_reported(flow):
    calls = []
    ri = run_import(flow, csv_bytes([person_row(i) for i in range(30)]), progress=lambda d, t: calls.append((d, t)))
    assert ri.accepted == 30
    assert calls[0] == (0, 30) and calls[-1] == (30, 30)


def test_start_queues_the_task_with_a_job(flow):
    ri = roster_import_start(actor=flow.scope("collector"), fileobj=io.BytesIO(csv_bytes([person_row(0)])),
                             original_name="花名册.csv", policy_code="WZ-001", period="2026-03")
    assert ri.status == RosterImport.Status.DONE and ri.accepted == 1  # immediate task backend in tests
    job = JobProgress.objects.get(pk=ri.job_id)
    assert job.status == JobProgress.Status.SUCCEEDED and job.kind == "roster.import"
    assert job.result["已接收"] == 1 and job.done == 1
    assert ri.file.purpose == "roster" and file_abspath(ri.file).read_bytes() == csv_bytes([person_row(0)])


def test_start_with_a_refused_file_fails_the_job_with_the_message(flow):
    ri = roster_import_start(actor=flow.scope("collector"), fileobj=io.BytesIO(b"name\r\nx\r\n"),
                             original_name="bad.csv", policy_code="WZ-001", period="2026-03")
    assert ri.status == RosterImport.Status.FAILED
    job = JobProgress.objects.get(pk=ri.job_id)
    assert job.status == JobProgress.Status.FAILED and "缺少必需的列" in job.message


def test_done_import_is_never_run_twice(flow):
    ri = run_import(flow, csv_bytes([person_row(0)]))
    again = roster_import_run(roster_import_id=ri.pk)
    assert again.status == RosterImport.Status.DONE and Application.objects.count() == 1


@pytest.mark.parametrize("where", ["staging", "commit"])
def test_crash_half_way_leaves_nothing_and_rerun_completes(flow, settings, monkeypatch, where):
    settings.YIKATONG_ROSTER_BLOCK_BYTES = 800  # several blocks
    rows = [person_row(i) for i in range(40)]
    rows[7] = person_row(7, 补贴金额="1000")
    content = csv_bytes(rows)
    ri = roster_import_create(actor=flow.scope("collector"), fileobj=io.BytesIO(content), original_name="a.csv",
                              policy_code="WZ-001", period="2026-03")
    calls = {"n": 0}
    if where == "staging":
        from yikatong.applications.roster.load_postgres import PostgresLoader
        from yikatong.applications.roster.load_sqlite import SqliteLoader

        real_loads = {"sqlite": SqliteLoader.load, "postgresql": PostgresLoader.load}

        def crashing(self, result):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("simulated crash while loading")
            return real_loads[self.vendor](self, result)

        monkeypatch.setattr(SqliteLoader, "load", crashing)
        monkeypatch.setattr(PostgresLoader, "load", crashing)
    else:
        real = loading.Loader.insert_applications

        def crashing(self, **kwargs):
            real(self, **kwargs)  # the applications are written … then the process dies
            raise RuntimeError("simulated crash after inserting applications")

        monkeypatch.setattr(loading.Loader, "insert_applications", crashing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        roster_import_run(roster_import_id=ri.pk)
    ri.refresh_from_db()
    assert ri.status == RosterImport.Status.FAILED and "内部错误" in ri.message
    assert not Application.objects.exists() and not Beneficiary.objects.exists()
    assert not PayeeAccount.objects.exists() and not RosterRowError.objects.exists()
    assert not BeneficiaryVersion.objects.exists() and not ApplicationEvent.objects.exists()
    assert not AuditEvent.objects.filter(action="roster.import").exists()

    monkeypatch.undo()
    ri = roster_import_run(roster_import_id=ri.pk)
    assert ri.status == RosterImport.Status.DONE
    assert (ri.total_rows, ri.accepted, ri.rejected) == (40, 39, 1)
    assert Application.objects.count() == 39 and RosterRowError.objects.count() == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_worker_processes_give_the_same_result(flow, settings, fmt):
    settings.YIKATONG_ROSTER_BLOCK_BYTES = 1500  # many blocks, spread over two forked workers
    settings.YIKATONG_ROSTER_POOL_MIN_BYTES = 0
    settings.YIKATONG_ROSTER_WORKERS = 2
    rows = [person_row(i) for i in range(60)]
    rows[10] = person_row(10, 补贴金额="1000")
    rows[50] = person_row(50, 身份证号=rows[3]["身份证号"])
    content, name = roster(fmt, rows)
    ri = run_import(flow, content, name=name)
    assert ri.status == RosterImport.Status.DONE, ri.message
    assert (ri.total_rows, ri.accepted, ri.rejected) == (60, 58, 2)
    total = Application.objects.filter(roster_import=ri).aggregate(s=Sum("amount"))["s"]
    assert total == Decimal("300.00") * 58
    errors = errors_by_row(ri)
    assert sorted(errors) == [12, 52] and "与第 5 行为同一人" in errors[52][0].reason
    # the nonces of the two workers never repeat
    nonces = [bytes(b.id_number_enc)[2:14] for b in Beneficiary.objects.all()]
    nonces += [bytes(a.account_enc)[2:14] for a in PayeeAccount.objects.all()]
    assert len(set(nonces)) == len(nonces) == 116


def test_free_text_round_trips_through_staging(flow):
    rows = [person_row(0, 备注='制表\t反斜杠\\ 引号" 逗号, 换行\n下一行')]
    ri = run_import(flow, csv_bytes(rows))
    assert ri.accepted == 1
    assert Application.objects.get().remarks == '制表\t反斜杠\\ 引号" 逗号, 换行\n下一行'


def test_registered_in_another_village_of_the_township_is_refused(flow, zhang):
    row = person_row(0, 姓名="张三丰", 身份证号=zhang.id_number_plain, 行政区划代码=TOWNSHIP,
                     社保卡银行账号=luhn_account(f"622000{11:012d}"))
    ri = run_import(flow, csv_bytes([row]))
    err = ri.row_errors.get()
    assert err.column == "行政区划代码" and f"与该对象已登记的区划 {VILLAGE} 不一致" in err.reason


def test_an_open_application_typed_before_makes_the_row_a_duplicate(flow, zhang):
    from .helpers import new_app

    typed = new_app(flow, zhang)
    row = person_row(0, 姓名="张三丰", 身份证号=zhang.id_number_plain, 社保卡银行账号=luhn_account(f"622000{11:012d}"),
                     补贴金额="250")
    ri = run_import(flow, csv_bytes([row, person_row(1)]))
    assert (ri.accepted, ri.duplicates, ri.rejected) == (1, 1, 0)
    assert Application.objects.filter(beneficiary=zhang).get() == typed


def test_numbers_do_not_collide_with_existing_ones(flow, monkeypatch):
    """The block of numbers is checked free first; a taken block makes the import draw another one."""
    first = run_import(flow, csv_bytes([person_row(0), person_row(1)]))
    taken = list(Application.objects.filter(roster_import=first).values_list("number", flat=True))
    draws = iter([loading_offset(taken[0]), 12345])
    monkeypatch.setattr(service.random, "SystemRandom", lambda: type("R", (), {"randrange": lambda self, *a: next(draws)})())
    second = run_import(flow, csv_bytes([person_row(5), person_row(6)]))
    numbers = set(Application.objects.filter(roster_import=second).values_list("number", flat=True))
    assert numbers == {loading.encode_number("20260302", 12345), loading.encode_number("20260302", 12346)}


def loading_offset(number: str) -> int:
    value = 0
    for ch in number[10:]:
        value = value * 32 + loading.NUMBER_ALPHABET.index(ch)
    return value


def test_imported_for_a_county_department_each_row_gets_the_collector_in_charge(flow):
    from yikatong.core.scope import Scope

    rows = [person_row(0), person_row(1, 行政区划代码=VILLAGE2)]
    ri = run_import(flow, csv_bytes(rows), organization=flow.world.orgs["civil"],
                    actor=Scope.system("500101000000", reason="cli:test"))
    collectors = dict(Application.objects.filter(roster_import=ri).values_list("roster_row", "collector__code"))
    assert collectors == {2: "WZ-GST", 3: "WZ-TB"}


def test_a_refusal_found_by_a_worker_process_refuses_the_file(flow, settings):
    settings.YIKATONG_ROSTER_BLOCK_BYTES = 1500
    settings.YIKATONG_ROSTER_POOL_MIN_BYTES = 0
    settings.YIKATONG_ROSTER_WORKERS = 2
    good = csv_bytes([person_row(i) for i in range(40)])
    bad = ",".join(person_row(45, 姓名="王五").get(h, "") for h in PERSON_HEADERS).encode("gbk") + b"\r\n"
    ri = run_import(flow, good + bad + csv_bytes([person_row(50)])[len(csv_bytes([])):])
    assert ri.status == RosterImport.Status.FAILED and "第 42 行附近" in ri.message
    assert not Application.objects.exists() and not Beneficiary.objects.exists()
