"""Import of the region list from CSV: happy paths, every kind of bad input, all-or-nothing, idempotence,
permissions, audit, the CLI, and speed at 100,000 rows."""

import io
import random
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from yikatong.core.errors import ScopeError
from yikatong.core.models import AuditEvent, Region
from yikatong.core.scope import Scope
from yikatong.core.services import regions as svc
from yikatong.core.services.regions import NOT_UTF8, region_import_csv

DEMO = Path(svc.__file__).resolve().parent.parent / "data" / "regions_demo.csv"


def write(tmp_path, text: str, *, name="regions.csv", encoding="utf-8", bom=False) -> Path:
    path = tmp_path / name
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def snapshot():
    return list(Region.objects.order_by("code").values_list("code", "name", "level", "parent_id", "full_name", "active"))


@pytest.fixture
def admin(world):
    return Scope.for_user(world.users["admin"])


def import_text(tmp_path, text, actor=None, **kw):
    return region_import_csv(actor=actor or Scope.system(), path_or_file=write(tmp_path, text, **kw))


# -- happy paths ------------------------------------------------------------------------------------
def test_demo_file_imports_into_an_empty_database(db):
    result = region_import_csv(actor=Scope.system(), path_or_file=DEMO)
    assert result.ok, result.summary()
    assert (result.rows, result.created, result.updated, result.unchanged) == (56, 56, 0, 0)
    assert Region.objects.count() == 56
    village = Region.objects.get(code="500101001001")
    assert village.full_name == "重庆市/市辖区/万州区/高笋塘街道/高笋塘社区"
    assert (village.level, village.parent_id, village.active) == (Region.Level.VILLAGE, "500101001000", True)
    wanzhou = Region.objects.get(code="500101000000")
    townships = wanzhou.children.all()
    assert townships.count() >= 6
    assert {"甘宁镇", "分水镇", "高笋塘街道"} <= set(townships.values_list("name", flat=True))
    for township in townships:
        assert 3 <= township.children.count() <= 5, township
    fuling = Region.objects.get(code="500102000000")
    assert fuling.children.count() == 2
    assert Region.objects.get(code="500000000000").full_name == "重庆市"


def test_demo_file_over_the_world_fixture_keeps_existing_rows(world):
    result = region_import_csv(actor=Scope.system(), path_or_file=DEMO)
    assert result.ok
    assert (result.created, result.updated, result.unchanged) == (46, 0, 10)
    # The fixture wrote bare names as full names; the import recomputes them for every region.
    assert Region.objects.get(code="500102001001").full_name == "重庆市/市辖区/涪陵区/敦仁街道/敦仁社区"


def test_children_before_parents_chinese_headers_bom_and_short_codes(tmp_path, db):
    text = (
        "名称,区划代码,上级代码,备注\n"  # column order is free, extra columns are ignored
        "某某村,500101001201,,\n"
        "某某街道,500101001,500101,9位代码\n"
        "\n"
        "万州区,500101,,6位代码\n"
        "市辖区,500100000000,,\n"
        "重庆市,500000000000,,\n"
    )
    result = import_text(tmp_path, text, bom=True)
    assert result.ok, result.summary()
    assert result.created == 5
    assert Region.objects.get(code="500101001201").full_name == "重庆市/市辖区/万州区/某某街道/某某村"
    assert Region.objects.get(code="500101001000").parent_id == "500101000000"


def test_explicit_parent_may_skip_a_level(tmp_path, db):
    result = import_text(tmp_path, "code,name,parent_code\n500000000000,重庆市,\n500101000000,万州区,500000000000\n")
    assert result.ok, result.summary()
    assert Region.objects.get(code="500101000000").parent_id == "500000000000"
    assert Region.objects.get(code="500101000000").full_name == "重庆市/万州区"


def test_parent_already_in_database_is_accepted(tmp_path, world):
    result = import_text(tmp_path, "code,name\n500101002101,新建社区\n")
    assert result.ok, result.summary()
    assert Region.objects.get(code="500101002101").full_name == "重庆市/市辖区/万州区/太白街道/新建社区"


def test_accepts_uploaded_file_objects_and_unseekable_streams(world):
    upload = SimpleUploadedFile("r.csv", "code,name\n500101002102,上传社区\n".encode())
    assert region_import_csv(actor=Scope.system(), path_or_file=upload).ok

    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buf):
            return self._inner.readinto(buf)

    pipe = io.BufferedReader(Pipe("code,name\n500101002103,管道社区\n".encode()))
    assert not pipe.seekable()
    result = region_import_csv(actor=Scope.system(), path_or_file=pipe, source_name="pipe.csv")
    assert result.ok and result.created == 1 and result.source_name == "pipe.csv"
    assert Region.objects.filter(code__in=["500101002102", "500101002103"]).count() == 2


def test_reimport_is_idempotent_and_updates_names(tmp_path, db):
    first = region_import_csv(actor=Scope.system(), path_or_file=DEMO)
    before = snapshot()
    again = region_import_csv(actor=Scope.system(), path_or_file=DEMO)
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 56)
    assert snapshot() == before
    renamed = DEMO.read_text(encoding="utf-8").replace("500101000000,万州区", "500101000000,万州新区")
    third = import_text(tmp_path, renamed)
    assert third.ok and (third.created, third.updated, third.unchanged) == (0, 1, 55)
    assert Region.objects.count() == first.created
    assert Region.objects.get(code="500101000000").name == "万州新区"
    assert Region.objects.get(code="500101001001").full_name == "重庆市/市辖区/万州新区/高笋塘街道/高笋塘社区"
    assert Region.objects.get(code="500102001001").full_name == "重庆市/市辖区/涪陵区/敦仁街道/敦仁社区"


def test_reimport_keeps_deactivated_regions_inactive(tmp_path, world):
    Region.objects.filter(code="500101002001").update(active=False)
    assert region_import_csv(actor=Scope.system(), path_or_file=DEMO).ok
    assert Region.objects.get(code="500101002001").active is False


def test_progress_is_reported_per_chunk(tmp_path, db, monkeypatch):
    monkeypatch.setattr(svc, "CHUNK_SIZE", 10)
    calls = []
    result = region_import_csv(actor=Scope.system(), path_or_file=DEMO, progress=lambda p, n: calls.append((p, n)))
    assert result.ok
    assert ("check", 50) in calls and ("write", 50) in calls
    assert Region.objects.count() == 56  # chunked writes, child-parent order across chunks irrelevant


# -- files refused as a whole -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "文件为空"),
        (b"\n \n", "文件为空"),
        (b"code,name,parent_code\n", "文件没有数据行"),
        (b"code,name,parent_code\n\n,,\n", "文件没有数据行"),
        ("区划,名字\n500000000000,重庆市\n".encode(), "表头缺少“区划代码”“名称”列"),
        (b"code,parent_code\n500000000000,\n", "表头缺少“名称”列"),
        ("code,区划代码,name\n1,2,3\n".encode(), "出现了两次"),
        ("code,name\n500000000000,重庆市\n".encode("gbk"), NOT_UTF8),
        (b"code,name\n500000000000," + b"x" * 200_000 + b"\n", "不是有效的 CSV"),
    ],
)
def test_file_refused_as_a_whole(tmp_path, world, content, expected):
    before = snapshot()
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = region_import_csv(actor=Scope.system(), path_or_file=path)
    assert not result.ok
    assert expected in result.file_error, result.file_error
    assert result.summary().startswith("导入被拒绝")
    assert snapshot() == before


def test_gbk_file_message_is_the_documented_one(tmp_path, db):
    result = import_text(tmp_path, "区划代码,名称,上级代码\n500000000000,重庆市,\n", encoding="gb18030")
    assert result.file_error.startswith("文件不是 UTF-8 编码，请另存为 UTF-8 CSV")
    assert Region.objects.count() == 0


def test_missing_file_is_refused(tmp_path, db):
    result = region_import_csv(actor=Scope.system(), path_or_file=tmp_path / "nope.csv")
    assert "文件不存在" in result.file_error


# -- rows rejected --------------------------------------------------------------------------------------
BAD_ROWS = (
    "code,name,parent_code\n"
    "500101003000,牌楼街道,\n"            # row 2: fine (parent in db)
    "50010100300A,坏代码,\n"              # row 3: letters
    "5001010030011,十三位,\n"             # row 4: 13 digits
    "500101000001,缺乡镇,\n"              # row 5: village with township part 000
    "500101003001,,\n"                    # row 6: empty name
    f"500101003002,{'长' * 101},\n"       # row 7: name too long
    "500101003001,重复社区,\n"            # row 8: duplicate of row 6's code? row 6 invalid -> not counted
    "500101003003,甲社区,\n"              # row 9
    "500101003003,乙社区,\n"              # row 10: duplicate of row 9
    "500101009001,孤儿社区,\n"            # row 11: parent 500101009000 missing
    "500101003004,错上级,500102000000\n"  # row 12: parent not a prefix
    "500000000000,重庆市,510000000000\n"  # row 13: province with a parent
    "510101001001,四川某村,\n"            # row 14: outside the admin's region, and parent missing
    ",无代码,\n"                          # row 15: empty code
    "500101003005,坏\x00名,\n"            # row 16: control character in the name
)


def test_every_bad_row_is_reported_and_nothing_is_written(tmp_path, admin):
    before = snapshot()
    events_before = AuditEvent.objects.count()
    result = import_text(tmp_path, BAD_ROWS, actor=admin)
    assert not result.ok and not result.file_error
    assert snapshot() == before
    by_row = {}
    for err in result.errors:
        by_row.setdefault(err.row, []).append(err)
    reasons = {row: " ".join(e.reason for e in errs) for row, errs in by_row.items()}
    assert 2 not in by_row and 9 not in by_row and 8 not in by_row
    assert "应为12位数字" in reasons[3] and by_row[3][0].column == "code" and by_row[3][0].value == "50010100300A"
    assert "应为12位数字" in reasons[4]
    assert "乡镇部分不能为000" in reasons[5]
    assert "名称不能为空" in reasons[6] and by_row[6][0].column == "name"
    assert "名称过长" in reasons[7] and "101" in reasons[7]
    assert "重复" in reasons[10] and "第 9 行" in reasons[10]
    assert "上级区划 500101009000 不存在" in reasons[11]
    assert "必须是本级代码的前缀" in reasons[12] and by_row[12][0].column == "parent_code"
    assert "省级区划不能有上级代码" in reasons[13]
    assert "不在您的管辖范围内" in reasons[14]
    assert "区划代码不能为空" in reasons[15]
    assert "不可见字符" in reasons[16]
    assert result.error_count == len(result.errors) == sum(len(v) for v in by_row.values())
    assert [e.row for e in result.errors] == sorted(e.row for e in result.errors)
    assert "未写入任何数据" in result.summary()
    # the rejection itself is audited, once
    assert AuditEvent.objects.count() == events_before + 1
    event = AuditEvent.objects.latest("seq")
    assert event.action == "region.import_rejected" and event.after["error_count"] == result.error_count


def test_one_bad_row_among_thousands_writes_nothing(tmp_path, world, monkeypatch):
    monkeypatch.setattr(svc, "CHUNK_SIZE", 100)  # the bad row sits in a later chunk
    lines = ["code,name"] + [f"500101002{n:03d},社区{n}" for n in range(101, 400)] + ["500101002400,"]
    before = snapshot()
    result = import_text(tmp_path, "\n".join(lines) + "\n")
    assert not result.ok and result.error_count == 1 and result.errors[0].row == 301
    assert snapshot() == before


def test_listed_errors_are_capped_but_all_counted(tmp_path, db, monkeypatch):
    monkeypatch.setattr(svc, "MAX_LISTED_ERRORS", 5)
    result = import_text(tmp_path, "code,name\n" + "x,坏\n" * 20)
    assert result.error_count == 20 and len(result.errors) == 5 and result.errors_truncated


# -- permissions and audit --------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["finance", "collector", "civil", "supervisor", "paying_bank"])
def test_non_admin_is_refused(tmp_path, world, role):
    before = snapshot()
    events = AuditEvent.objects.count()
    with pytest.raises(ScopeError):
        import_text(tmp_path, "code,name\n500101002101,新社区\n", actor=Scope.for_user(world.users[role]))
    assert snapshot() == before and AuditEvent.objects.count() == events


def test_successful_import_is_audited_once_with_counts(tmp_path, admin):
    events = AuditEvent.objects.count()
    result = region_import_csv(actor=admin, path_or_file=DEMO, source_name="民政厅2026年区划.csv")
    assert result.ok
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("seq")
    assert event.action == "region.import" and event.actor_username == "t_admin"
    assert event.object_id == "民政厅2026年区划.csv"
    assert event.after["created"] == 46 and event.after["unchanged"] == 10 and event.after["rows"] == 56
    assert event.after["file"].endswith("regions_demo.csv")


def test_store_import_file_keeps_the_original(settings, db):
    upload = SimpleUploadedFile("../../区划 2026.csv", b"code,name\n")
    path = svc.store_import_file(upload)
    assert path.parent == Path(settings.MEDIA_ROOT) / "imports" / "regions"
    assert path.read_bytes() == b"code,name\n"
    assert path.name.endswith("_区划_2026.csv")
    long_name = svc.store_import_file(SimpleUploadedFile("区" * 200 + ".csv", b"x"))
    assert long_name.name.endswith("区" * 60 + ".csv") and long_name.read_bytes() == b"x"


# -- CLI -------------------------------------------------------------------------------------------------
def test_cli_imports_and_prints_a_summary(db, settings):
    out, err = io.StringIO(), io.StringIO()
    call_command("import-regions", str(DEMO), stdout=out, stderr=err)
    assert "导入完成" in out.getvalue() and "新增 56 个" in out.getvalue()
    assert Region.objects.count() == 56
    kept = list((Path(settings.MEDIA_ROOT) / "imports" / "regions").iterdir())
    assert len(kept) == 1 and kept[0].read_bytes() == DEMO.read_bytes()
    event = AuditEvent.objects.latest("seq")
    assert event.action == "region.import" and event.actor_username == "cli" and "imports/regions/" in event.after["file"]


def test_cli_rejected_file_lists_rows_and_exits_non_zero(tmp_path, world, monkeypatch, capsys):
    path = write(tmp_path, BAD_ROWS)
    with pytest.raises(CommandError, match="导入被拒绝"):
        call_command("import-regions", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    # Through the real entry point: exit status 1 and the row errors on stderr.
    from django.core.management import load_command_class

    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    command = load_command_class("yikatong.core", "import-regions")
    with pytest.raises(SystemExit) as exc:
        command.run_from_argv(["yikatong", "import-regions", str(path), "--skip-checks"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "第 3 行" in err and "第 11 行" in err and "未写入任何数据" in err
    assert Region.objects.count() == 10


@pytest.mark.parametrize("content", [None, b"", "code,name\n500000000000,重庆市\n".encode("gbk")])
def test_cli_refuses_missing_empty_or_non_utf8_file(tmp_path, db, content):
    path = tmp_path / "r.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CommandError):
        call_command("import-regions", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert Region.objects.count() == 0


# -- scale -------------------------------------------------------------------------------------------------
def generated_rows(counties=40, townships=50, villages=49):
    yield "500000000000", "重庆市"
    yield "500100000000", "市辖区"
    for c in range(1, counties + 1):
        yield f"5001{c:02d}000000", f"区县{c}"
        for t in range(1, townships + 1):
            yield f"5001{c:02d}{t:03d}000", f"区县{c}乡镇{t}"
            for v in range(1, villages + 1):
                yield f"5001{c:02d}{t:03d}{v:03d}", f"区县{c}乡镇{t}村{v}"


def test_import_of_100k_rows_in_random_order_is_fast(tmp_path, db):
    rows = list(generated_rows())
    assert len(rows) == 100_042
    random.Random(7).shuffle(rows)  # children before parents, all over the file
    path = write(tmp_path, "code,name,parent_code\n" + "".join(f"{c},{n},\n" for c, n in rows))
    started = time.monotonic()
    result = region_import_csv(actor=Scope.system(), path_or_file=path)
    elapsed = time.monotonic() - started
    assert result.ok, result.summary()
    assert result.created == 100_042
    assert Region.objects.count() == 100_042
    assert Region.objects.get(code="500140050049").full_name == "重庆市/市辖区/区县40/区县40乡镇50/区县40乡镇50村49"
    assert Region.objects.filter(parent_id="500107001000").count() == 49
    print(f"\n100,042 regions imported in {elapsed:.1f} s")
    assert elapsed < 30  # a few seconds on a developer machine; generous for a loaded CI box


def test_long_source_name_fits_the_audit_event(tmp_path, world):
    name = "重庆市民政局关于公布2026年度全市统计用区划代码和城乡划分代码的通知附件一（万州区部分）最终修订版本第三稿（含乡镇街道和村社区名称更正说明）.csv"
    assert len(name) > 64
    result = region_import_csv(actor=Scope.system(), path_or_file=DEMO, source_name=name)
    assert result.ok
    event = AuditEvent.objects.latest("seq")
    assert event.after["source_name"] == name and event.object_id == name[:64]
