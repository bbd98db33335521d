"""Shared-data source imports (SPEC §3.5, §5.2): contract, per-row refusals, atomic replacement, failures."""

import datetime as dt
import random

import pytest
from stdnum.cn import ric

from yikatong.checks.models import (
    SOURCE_MODELS,
    DeathRow,
    HouseholdRow,
    SourceImport,
    SourceImportError,
    SourceState,
    VehicleRow,
)
from yikatong.checks.sources import (
    load,
    source_current,
    source_import_run,
    source_import_start,
    source_rows,
    spec,
)
from yikatong.core import crypto
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent, StoredFile
from yikatong.core.scope import Scope
from yikatong.core.tabular import xlsx_writer

from . import test_sources_support as support
from .test_sources_support import (
    HEADERS,
    bad_check_digit,
    csv_bytes,
    ids,
    make_card,
    make_id,
    make_uscc,
    run_import,
    upload,
)

pytestmark = pytest.mark.django_db
fixed_today = support.fixed_today
scopes = support.scopes


def errors_of(imp):
    return [(e.row_number, e.column, e.value, e.reason) for e in SourceImportError.objects.filter(source_import=imp)]


# -- the pure contract ----------------------------------------------------------------------------
def test_check_digit_shortcut_agrees_with_stdnum():
    rng = random.Random(7)
    for _ in range(5000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        assert spec.check_digit(body) == ric.calc_check_digit(body + "0")


def test_protector_blobs_and_digests_are_core_cryptos(settings):
    p = spec.Protector()
    number = make_id()
    blob, digest = p.protect("id", number)
    assert crypto.decrypt_text(blob) == number
    assert digest == crypto.digest("id", number)
    assert p.protect("id", number)[0] != blob  # a fresh nonce every time


def _child_batch():
    return spec.protector()._nonces


def test_a_forked_worker_draws_its_own_nonces():
    import multiprocessing

    parent = spec.protector()
    parent._nonce()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child_batch = pool.apply(_child_batch)
    assert child_batch == b""  # a fresh protector: nothing drawn yet, never the parent's batch
    assert len(parent._nonces) == spec.Protector.BATCH * 12


def test_every_model_field_is_filled_by_its_spec():
    for code, model in SOURCE_MODELS.items():
        concrete = {f.column for f in model._meta.concrete_fields if f.column != "id"}
        assert set(spec.SPECS[code].db_columns) == concrete, code


def test_bank_account_fast_path_agrees_with_core_identity():
    from stdnum import luhn

    from yikatong.core import identity, masking

    rng = random.Random(11)
    for _ in range(3000):
        length = rng.choice([8, 12, 16, 17, 18, 19, 20, 25])
        body = ("62" if rng.random() < 0.7 else "95") + "".join(rng.choice("0123456789") for _ in range(length - 3))
        number = body + (luhn.calc_check_digit(body) if rng.random() < 0.6 else rng.choice("0123456789"))
        try:
            expected = identity.validate_bank_account(number)
        except identity.IdentityError:
            with pytest.raises(spec.RowError):
                spec.bank_account(number)
            continue
        assert spec.bank_account(number) == expected
        assert "*" * (len(expected) - 4) + expected[-4:] == masking.mask_account(expected)
    card = make_card()
    assert spec.bank_account(f"{card[:4]} {card[4:8]}-{card[8:]}") == card  # grouped as printed


def test_old_and_later_region_codes_are_valid_ids():
    limit = dt.date(2026, 3, 16)
    # 110103 崇文区 existed until 2010; 110115 大兴区 exists since 2001 but the person was born in 1950
    for prefix, birth in (("110103", "19700101"), ("110115", "19500101")):
        number = make_id(prefix, birth)
        assert spec.resident_id(number, "身份证号", limit)[0] == number
    with pytest.raises(spec.RowError) as exc:
        spec.resident_id(make_id("990101"), "身份证号", limit)
    assert "地区码" in exc.value.reason


# -- happy paths, each source ---------------------------------------------------------------------
def test_household_import_is_put_in_force(scopes):
    people = ids(3)
    data = csv_bytes(HEADERS["household"], [f"{p},张三{i},HH{i},500101001001" for i, p in enumerate(people)])
    imp = run_import(scopes["admin"], "household", data, data_date="2026-03-01")
    assert imp.status == SourceImport.Status.ACTIVE, imp.message
    assert (imp.total_rows, imp.accepted, imp.rejected) == (3, 3, 0)
    assert imp.data_date == dt.date(2026, 3, 1)
    assert source_current("household") == imp
    rows = list(source_rows("household").order_by("row_number"))
    assert [r.row_number for r in rows] == [2, 3, 4]
    assert [crypto.decrypt_text(r.id_enc) for r in rows] == people
    assert rows[0].id_digest == crypto.digest("id", people[0])
    assert (rows[1].name, rows[1].household_number, rows[1].region_code) == ("张三1", "HH1", "500101001001")
    # the original file is kept, one audit event for the import
    stored = StoredFile.objects.get(pk=imp.file_id)
    assert stored.purpose == "source-import" and stored.size == len(data)
    events = AuditEvent.objects.filter(action="source.import", object_id=str(imp.pk))
    assert events.count() == 1 and events.get().after["accepted"] == 3


def test_every_source_loads_its_columns(scopes):
    p1, p2 = ids(2)
    card = make_card()
    code = make_uscc()
    files = {
        "death": [f"{p1},李四,2026-01-05"],
        "ssc_card": [f"{p1},李四,{card},重庆农商行,已激活", f"{p2},王五,{make_card('621700000012345679')},工商银行,挂失"],
        "public_staff": [f"{p1},李四,万州区教育委员会"],
        "vehicle": [f"{p1},李四,渝F 12345,小型轿车,2020-05-01", f"{p1},李四,渝F67890,货车,"],
        "enterprise": [f"{p1},李四,重庆某某有限公司,{code},法定代表人", f"{p1},李四,重庆某某有限公司,{code},股东"],
        "real_estate": [f"{p1},李四,2,\"1,203.5\"", f"{p2},王五,0,"],
        "cadre_relative": [f"{p1},李四,{p2},王五,配偶", f"{p2},王五,{p2},王五,本人"],
    }
    for source, rows in files.items():
        imp = run_import(scopes["admin"], source, csv_bytes(HEADERS[source], rows))
        assert imp.status == SourceImport.Status.ACTIVE, (source, imp.message, errors_of(imp))
        assert imp.accepted == len(rows), source
    assert source_rows("death").get().death_date == dt.date(2026, 1, 5)
    ssc = {crypto.decrypt_text(r.account_enc): r for r in source_rows("ssc_card")}
    assert ssc[card].card_status == "activated" and ssc[card].account_digest == crypto.digest("account", card)
    assert ssc[card].account_masked.endswith(card[-4:]) and ssc[card].bank_name == "重庆农商行"
    assert {r.card_status for r in ssc.values()} == {"activated", "lost"}
    vehicles = {v.plate: v for v in source_rows("vehicle")}
    assert set(vehicles) == {"渝F12345", "渝F67890"}
    assert vehicles["渝F67890"].registered_on is None
    assert {e.capacity for e in source_rows("enterprise")} == {"股东", "法定代表人"}
    areas = sorted((r.property_count, r.floor_area) for r in source_rows("real_estate"))
    assert areas[0][0] == 0 and areas[0][1] is None
    assert areas[1][0] == 2 and str(areas[1][1]) in ("1203.5", "1203.50")
    cadre = source_rows("cadre_relative").get(relation="配偶")
    assert cadre.cadre_id_digest == crypto.digest("id", p2) and cadre.id_digest == crypto.digest("id", p1)


def test_bom_csv_and_xlsx_are_read(scopes, tmp_path):
    people = ids(2)
    imp = run_import(scopes["admin"], "public_staff",
                     csv_bytes(HEADERS["public_staff"], [f"{people[0]},甲,单位A"], bom=True))
    assert imp.status == SourceImport.Status.ACTIVE and imp.accepted == 1
    path = tmp_path / "staff.xlsx"
    with xlsx_writer(path, ["工作单位", "姓名", "身份证号", "备注"]) as out:  # order free, extra column ignored
        out.write(["单位B", "乙", people[1], "x"])
        out.write(["单位C", "丙", people[0], ""])
    imp2 = run_import(scopes["admin"], "public_staff", path.read_bytes(), name="staff.xlsx")
    assert imp2.status == SourceImport.Status.ACTIVE, imp2.message
    assert sorted(r.employer for r in source_rows("public_staff")) == ["单位B", "单位C"]


# -- per-row refusals -----------------------------------------------------------------------------
def test_bad_ids_are_refused_with_masked_values(scopes):
    good, other = ids(2)
    bad = bad_check_digit(other)
    rows = [f"{good},甲,HH1,500101001001", f"{bad},乙,HH2,500101001001", "12345,丙,HH3,500101001001",
            f"{make_id('990101')},丁,HH4,500101001001", f"{make_id(birth='20300101')},戊,HH5,500101001001",
            f"{ids(3)[2]},,HH6,500101001001", f"{ids(4)[3]},己,HH7,12ab"]
    imp = run_import(scopes["admin"], "household", csv_bytes(HEADERS["household"], rows))
    assert imp.status == SourceImport.Status.ACTIVE
    assert (imp.total_rows, imp.accepted, imp.rejected) == (7, 1, 6)
    errors = {e[0]: e for e in errors_of(imp)}
    assert errors[3][1] == "身份证号" and "校验位" in errors[3][3]
    assert errors[3][2] == bad[:6] + "********" + bad[-4:]  # masked, never the full number
    assert "18 位" in errors[4][3]
    assert "地区码" in errors[5][3]
    assert "出生日期" in errors[6][3]
    assert errors[7][1] == "姓名" and "为空" in errors[7][3]
    assert errors[8][1] == "行政区划代码"
    assert all(bad not in e.value for e in SourceImportError.objects.all())


def test_duplicate_ids_reject_later_rows(scopes):
    a, b = ids(2)
    rows = [f"{a},甲,2026-01-01", f"{b},乙,2026-01-02", f"{a},甲,2026-01-03", f"{a},甲,2026-01-04"]
    imp = run_import(scopes["admin"], "death", csv_bytes(HEADERS["death"], rows))
    assert (imp.accepted, imp.rejected) == (2, 2)
    assert [(e[0], e[1], e[3].split("：")[0]) for e in errors_of(imp)] == [
        (4, "身份证号", "与第 2 行重复"), (5, "身份证号", "与第 2 行重复")]
    assert sorted(r.row_number for r in source_rows("death")) == [2, 3]
    assert "重复 2 行" in imp.message


def test_vehicles_may_repeat_a_person_but_not_a_plate(scopes):
    a, b = ids(2)
    rows = [f"{a},甲,渝A11111,轿车,2020-01-01", f"{a},甲,渝A22222,货车,2021-01-01", f"{b},乙,渝a 11111,轿车,"]
    imp = run_import(scopes["admin"], "vehicle", csv_bytes(HEADERS["vehicle"], rows))
    assert (imp.accepted, imp.rejected) == (2, 1)
    [err] = errors_of(imp)
    assert err[:3] == (4, "号牌号码", "渝A11111") and "与第 2 行重复" in err[3]


def test_enterprise_cadre_and_real_estate_keys(scopes):
    a, b = ids(2)
    code = make_uscc()
    imp = run_import(scopes["admin"], "enterprise", csv_bytes(HEADERS["enterprise"], [
        f"{a},甲,公司,{code},股东", f"{a},甲,公司,{code},股东", f"{a},甲,公司,{code[:-1]}0,股东",
        f"{b},乙,公司,{code},监事"]))
    reasons = {e[0]: (e[1], e[3]) for e in errors_of(imp)}
    assert imp.accepted == 1 and set(reasons) == {3, 4, 5}
    assert "与第 2 行重复" in reasons[3][1]
    assert reasons[4][0] == "统一社会信用代码"
    assert reasons[5] == ("身份", "身份应为 法定代表人/股东")
    imp = run_import(scopes["admin"], "real_estate", csv_bytes(HEADERS["real_estate"], [
        f"{a},甲,2,100", f"{a},甲,2,100.00", f"{a},甲,1,", f"{a},甲,1,", f"{b},乙,两套,80", f"{b},乙,1,-5",
        f"{b},乙,1.5,80", f"{b},乙,1,80.123"]))
    reasons = {e[0]: (e[1], e[3]) for e in errors_of(imp)}
    assert imp.accepted == 2, reasons
    assert "与第 2 行重复" in reasons[3][1] and "与第 4 行重复" in reasons[5][1]
    assert reasons[6] == ("不动产数量", "不动产数量应为非负整数")
    assert reasons[8][0] == "不动产数量"
    assert reasons[7][0] == reasons[9][0] == "建筑面积"
    imp = run_import(scopes["admin"], "cadre_relative", csv_bytes(HEADERS["cadre_relative"], [
        f"{a},甲,{b},乙,父子", f"{a},甲,{b},乙,父子", f"{a},甲,{bad_check_digit(b)},乙,父子", f"{b},乙,{b},乙,"]))
    reasons = {e[0]: (e[1], e[3]) for e in errors_of(imp)}
    assert imp.accepted == 1 and "与第 2 行重复" in reasons[3][1]
    assert reasons[4][0] == "干部身份证号" and reasons[5][0] == "关系"


def test_dates_after_the_data_date_are_refused(scopes):
    a, b, c, d = ids(4)
    imp = run_import(scopes["admin"], "death", csv_bytes(HEADERS["death"], [
        f"{a},甲,2026-02-28", f"{b},乙,2026-03-02", f"{c},丙,2026/13/01", f"{d},丁,1950-01-01"]),
        data_date="2026-03-01")
    reasons = {e[0]: (e[1], e[3]) for e in errors_of(imp)}
    assert imp.accepted == 1
    assert reasons[3][0] == "死亡日期" and reasons[3][1].startswith("死亡日期晚于数据日期")
    assert "不是有效日期" in reasons[4][1]
    assert "早于身份证号中的出生日期" in reasons[5][1]
    imp = run_import(scopes["admin"], "vehicle", csv_bytes(HEADERS["vehicle"], [
        f"{a},甲,渝A1,轿车,2026-03-17", f"{b},乙,渝A2,轿车,2026-03-16"]))  # no data date: today
    [err] = errors_of(imp)
    assert err[0] == 2 and err[3].startswith("登记日期晚于数据日期（2026-03-16）")


def test_unknown_card_status_and_bad_account(scopes):
    a, b, c = ids(3)
    card = make_card()
    imp = run_import(scopes["admin"], "ssc_card", csv_bytes(HEADERS["ssc_card"], [
        f"{a},甲,{card},农商行,已激活", f"{b},乙,{make_card('621700000099999999')},农商行,冻结",
        f"{c},丙,{card[:-1]}{(int(card[-1]) + 1) % 10},农商行,已激活"]))
    reasons = {e[0]: e for e in errors_of(imp)}
    assert imp.accepted == 1
    assert reasons[3][1:] == ("金融功能状态", "冻结", "金融功能状态应为 已激活/未激活/挂失/注销")
    assert reasons[4][1] == "社保卡银行账号" and reasons[4][2].startswith("*") and reasons[4][2].endswith(
        f"{card[-4:-1]}{(int(card[-1]) + 1) % 10}")


# -- whole-file refusals ----------------------------------------------------------------------------
@pytest.fixture
def in_force(scopes):
    imp = run_import(scopes["admin"], "death", csv_bytes(HEADERS["death"], [f"{ids(1)[0]},甲,2026-01-01"]))
    assert imp.status == SourceImport.Status.ACTIVE
    return imp


@pytest.mark.parametrize("data,needle", [
    (csv_bytes("身份证号,姓名", ["x,y"]), "死亡日期"),
    (b"", "空"),
    ("身份证号,姓名,死亡日期\n".encode() + "500101196001010017,张三,2026-01-01\n".encode("gbk"), "UTF-8"),
    (b"PK\x03\x04garbage-not-a-zip", "损坏"),
    (csv_bytes(HEADERS["death"], []), "没有数据行"),
])
def test_whole_file_refusals_leave_the_previous_import_in_force(scopes, in_force, data, needle):
    imp = run_import(scopes["admin"], "death", data)
    assert imp.status == SourceImport.Status.FAILED
    assert needle in imp.message
    assert source_current("death") == in_force
    assert source_rows("death").count() == 1
    assert AuditEvent.objects.filter(action="source.import", object_id=str(imp.pk)).get().after["status"] == "failed"
    assert StoredFile.objects.filter(pk=imp.file_id).exists()  # the refused file is kept too


def test_wrong_headers_name_the_missing_columns(scopes):
    imp = run_import(scopes["admin"], "ssc_card", csv_bytes("身份证号,姓名,账号", ["a,b,c"]))
    assert imp.status == SourceImport.Status.FAILED
    assert "社保卡银行账号" in imp.message and "金融功能状态" in imp.message


def test_a_file_without_one_good_row_fails_but_keeps_its_report(scopes, in_force):
    imp = run_import(scopes["admin"], "death", csv_bytes(HEADERS["death"], ["1,甲,2026-01-01", "2,乙,2026-01-01"]))
    assert imp.status == SourceImport.Status.FAILED and "全部 2 行均被拒绝" in imp.message
    assert len(errors_of(imp)) == 2 and imp.rejected == 2
    assert source_current("death") == in_force
    assert DeathRow.objects.filter(source_import=imp).count() == 0


def test_a_crash_half_way_leaves_the_previous_import_and_no_rows(scopes, in_force, monkeypatch):
    monkeypatch.setattr(load, "CHUNK_ROWS", 2)
    calls = {"n": 0}
    real_write = load.Loader.write

    def crashing_write(self, result):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return real_write(self, result)

    monkeypatch.setattr(load.Loader, "write", crashing_write)
    people = ids(10, birth="19700101")
    rows = [f"{p},某,2026-01-01" for p in people] + ["bad,某,2026-01-01"]
    imp = source_import_start(actor=scopes["admin"], source="death", fileobj=upload(csv_bytes(HEADERS["death"], rows)),
                              original_name="d.csv")
    with pytest.raises(RuntimeError):
        source_import_run(source_import_id=imp.pk)
    imp.refresh_from_db()
    assert calls["n"] == 3
    assert imp.status == SourceImport.Status.FAILED and "内部错误" in imp.message
    assert DeathRow.objects.filter(source_import=imp).count() == 0  # the 4 rows written before are gone
    assert SourceImportError.objects.filter(source_import=imp).count() == 0
    assert source_current("death") == in_force and source_rows("death").count() == 1
    # running it again does nothing: it has ended
    assert source_import_run(source_import_id=imp.pk).status == SourceImport.Status.FAILED


# -- replacement -----------------------------------------------------------------------------------
def test_reimport_replaces_atomically_and_purges_older_generations(scopes):
    a, b, c = ids(3)
    first = run_import(scopes["admin"], "household", csv_bytes(HEADERS["household"], [f"{a},甲,H1,500101001001"]))
    second = run_import(scopes["admin"], "household", csv_bytes(HEADERS["household"], [
        f"{b},乙,H2,500101001001", f"{c},丙,H3,500101001001"]))
    first.refresh_from_db()
    assert first.status == SourceImport.Status.SUPERSEDED and second.status == SourceImport.Status.ACTIVE
    assert SourceState.objects.get(source="household").current_import == second
    digests = set(source_rows("household").values_list("id_digest", flat=True))
    assert digests == {crypto.digest("id", b), crypto.digest("id", c)}
    assert "已替换此前生效的导入" in second.message
    # the generation before stays for readers that started on it; older ones are purged
    assert HouseholdRow.objects.filter(source_import=first).count() == 1
    assert source_rows("household", import_id=first.pk).count() == 1
    third = run_import(scopes["admin"], "household", csv_bytes(HEADERS["household"], [f"{a},甲,H1,500101001001"]))
    assert third.status == SourceImport.Status.ACTIVE
    assert HouseholdRow.objects.filter(source_import=first).count() == 0
    assert HouseholdRow.objects.filter(source_import=second).count() == 2
    assert list(source_rows("household").values_list("household_number", flat=True)) == ["H1"]
    assert SourceImport.objects.filter(source="household").count() == 3  # imports themselves are kept


def test_an_interrupted_import_is_reaped_by_the_next_one(scopes):
    a, b = ids(2)
    ghost = source_import_start(actor=scopes["admin"], source="death",
                                fileobj=upload(csv_bytes(HEADERS["death"], [f"{a},甲,2026-01-01"])), original_name="x.csv")
    loader = load.Loader(ghost)  # a process that died after publishing, before the switch
    loader.create_stage()
    loader.write(spec.parse_chunk("death", [(2, a, "甲", "2026-01-01")], loader.context(dt.date(2026, 3, 16))))
    assert loader.publish() == 1
    loader.drop_stage()
    assert DeathRow.objects.filter(source_import=ghost).count() == 1
    SourceImport.objects.filter(pk=ghost.pk).update(created_at=ghost.created_at - dt.timedelta(days=1))
    imp = run_import(scopes["admin"], "death", csv_bytes(HEADERS["death"], [f"{b},乙,2026-01-01"]))
    ghost.refresh_from_db()
    assert imp.status == SourceImport.Status.ACTIVE
    assert ghost.status == SourceImport.Status.FAILED and "中断" in ghost.message
    assert DeathRow.objects.filter(source_import=ghost).count() == 0


def test_rows_come_through_the_worker_pool_in_file_order(scopes, settings, monkeypatch):
    settings.YIKATONG_SOURCE_IMPORT_WORKERS = 2
    monkeypatch.setattr(load, "CHUNK_ROWS", 7)
    people = ids(60, birth="19800101")
    rows = [f"{p},某{i},单位{i}" for i, p in enumerate(people)]
    rows[30] = f"{bad_check_digit(people[30])},某,单位"
    rows.append(f"{people[5]},某,单位")  # a duplicate across chunks
    seen = []
    imp = run_import(scopes["admin"], "public_staff", csv_bytes(HEADERS["public_staff"], rows),
                     progress=lambda done, total=None: seen.append(done))
    assert (imp.total_rows, imp.accepted, imp.rejected) == (61, 59, 2), errors_of(imp)
    assert [e[0] for e in errors_of(imp)] == [32, 62]
    employers = dict(source_rows("public_staff").values_list("row_number", "employer"))
    assert employers[2] == "单位0" and employers[61] == "单位59" and 32 not in employers
    assert seen == sorted(seen) and seen[-1] == 61


# -- who may import ----------------------------------------------------------------------------------
def test_hr_imports_ssc_card_only_and_others_not_at_all(scopes):
    data = csv_bytes(HEADERS["ssc_card"], [f"{ids(1)[0]},甲,{make_card()},农商行,已激活"])
    imp = run_import(scopes["hr"], "ssc_card", data)
    assert imp.status == SourceImport.Status.ACTIVE
    with pytest.raises(ScopeError, match="人社部门只能导入社保卡数据"):
        source_import_start(actor=scopes["hr"], source="death", fileobj=upload(b"x"), original_name="d.csv")
    for role in ("finance", "civil", "supervisor", "collector", "card_bank"):
        with pytest.raises(ScopeError):
            source_import_start(actor=scopes[role], source="ssc_card", fileobj=upload(data), original_name="s.csv")
    assert SourceImport.objects.count() == 1


def test_start_refuses_unknown_source_future_data_date_and_bad_channel(scopes):
    admin = scopes["admin"]
    with pytest.raises(DomainError, match="数据源“cars”不存在"):
        source_import_start(actor=admin, source="cars", fileobj=upload(b"x"), original_name="x.csv")
    with pytest.raises(DomainError, match="晚于今天"):
        source_import_start(actor=admin, source="death", fileobj=upload(b"x"), original_name="x.csv",
                            data_date="2026-03-17")
    with pytest.raises(DomainError, match="YYYY-MM-DD"):
        source_import_start(actor=admin, source="death", fileobj=upload(b"x"), original_name="x.csv",
                            data_date="17.03.2026")
    with pytest.raises(DomainError, match="来源渠道"):
        source_import_start(actor=admin, source="death", fileobj=upload(b"x"), original_name="x.csv",
                            channel="fax")
    assert SourceImport.objects.count() == 0


def test_cli_scope_stores_the_file_at_the_top_region(world):
    imp = run_import(Scope.system(reason="cli:test"), "death", csv_bytes(HEADERS["death"], [f"{make_id()},甲,2026-01-01"]))
    assert imp.status == SourceImport.Status.ACTIVE and imp.created_by == "cli:test"
    assert imp.file.region_id == "500000000000"


def test_source_rows_of_a_source_never_imported_is_empty(db):
    assert source_current("vehicle") is None
    assert source_rows("vehicle").count() == 0
    assert VehicleRow.objects.count() == 0
    with pytest.raises(DomainError):
        source_rows("nope")


def test_large_error_lists_are_copied(scopes):
    rows = [f"{i},某,2026-01-01" for i in range(load.ERROR_COPY_THRESHOLD + 5)] + [f"{make_id()},甲,2026-01-01"]
    imp = run_import(scopes["admin"], "death", csv_bytes(HEADERS["death"], rows))
    assert imp.status == SourceImport.Status.ACTIVE and imp.rejected == load.ERROR_COPY_THRESHOLD + 5
    assert SourceImportError.objects.filter(source_import=imp).count() == load.ERROR_COPY_THRESHOLD + 5


def test_text_with_tabs_backslashes_and_newlines_survives(scopes):
    imp = run_import(scopes["admin"], "public_staff", csv_bytes(HEADERS["public_staff"], [
        f'{make_id()},甲,"单位\\一\t部\n二部"']))
    assert imp.status == SourceImport.Status.ACTIVE, errors_of(imp)
    assert source_rows("public_staff").get().employer == "单位\\一\t部\n二部"



def test_a_file_refused_half_way_through_the_worker_pool_leaves_nothing(scopes, in_force, settings, monkeypatch):
    settings.YIKATONG_SOURCE_IMPORT_WORKERS = 2
    monkeypatch.setattr(load, "CHUNK_ROWS", 5)
    people = ids(40, birth="19810101")
    lines = [f"{p},某,2026-01-01" for p in people]
    data = csv_bytes(HEADERS["death"], lines[:30]) + "王五,某,2026-01-01\n".encode("gbk") + csv_bytes("", lines[30:])[1:]
    imp = run_import(scopes["admin"], "death", data)
    assert imp.status == SourceImport.Status.FAILED and "UTF-8" in imp.message and "第 32 行" in imp.message
    assert DeathRow.objects.filter(source_import=imp).count() == 0
    assert source_current("death") == in_force


def test_prefetch_hands_over_the_producers_error_and_stops_when_closed():
    import threading

    def items():
        yield 1
        yield 2
        raise ValueError("bad line")

    got = []
    with pytest.raises(ValueError, match="bad line"):
        for item in load.prefetch(items()):
            got.append(item)
    assert got == [1, 2]
    endless = load.prefetch(iter(range(10**9)), depth=1)
    assert next(endless) == 0
    endless.close()
    assert not any(t.name == "bulk-reader" for t in threading.enumerate())
