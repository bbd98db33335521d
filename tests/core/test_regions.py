"""Regions: selectors (scope, subtree range query at 100,000 regions), single edits, the 行政区划 page and
the API — each checked for the users of the `world` fixture inside and outside their region."""

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from yikatong.core import regions as rules
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent, Region
from yikatong.core.navigation import entries_for
from yikatong.core.scope import Scope
from yikatong.core.selectors import regions as sel
from yikatong.core.services import regions as svc

GST, GST_V = "500101001000", "500101001001"     # 高笋塘街道 and its community (the collector's own)
TB, TB_V = "500101002000", "500101002001"       # 太白街道 (collector2)
WANZHOU, FULING, CQ = "500101000000", "500102000000", "500000000000"


def scope(world, key):
    return Scope.for_user(world.users[key])


# -- pure rules ------------------------------------------------------------------------------------
def test_rules_ancestors_and_proper_ancestor():
    assert rules.ancestor_codes(GST_V) == [CQ, "500100000000", WANZHOU, GST]
    assert rules.ancestor_codes("500000") == []
    assert rules.is_proper_ancestor(CQ, WANZHOU)
    assert not rules.is_proper_ancestor(WANZHOU, WANZHOU)
    assert not rules.is_proper_ancestor(FULING, GST)
    assert rules.normalize_code("500101") == WANZHOU
    with pytest.raises(rules.RegionCodeError):
        rules.normalize_code("５００１０１")  # full-width digits are not a code
    with pytest.raises(rules.RegionCodeError):
        rules.normalize_code("000000000000")


# -- selectors -------------------------------------------------------------------------------------
def test_region_get_inside_and_outside_the_users_region(world):
    collector = scope(world, "collector")
    assert sel.region_get(collector, GST).name == "高笋塘街道"
    assert sel.region_get(collector, GST_V).name == "高笋塘社区"
    for other in (TB, TB_V, WANZHOU, CQ, "500102001001"):
        with pytest.raises(ScopeError):
            sel.region_get(collector, other)
    with pytest.raises(sel.RegionNotFound):
        sel.region_get(collector, "500101001999")
    with pytest.raises(ScopeError):  # scope is checked before existence: nothing leaks about other regions
        sel.region_get(collector, "500101002999")
    with pytest.raises(DomainError) as exc:
        sel.region_get(collector, "abc")
    assert exc.value.code == "bad_code"
    assert sel.region_get(collector, "500101001").code == GST  # 9-digit form accepted


def test_region_children_with_counts(world):
    finance = scope(world, "finance")
    children = list(sel.region_children(finance, WANZHOU))
    assert [(r.code, r.child_count) for r in children] == [(GST, 1), (TB, 1)]
    assert [r.code for r in sel.region_children(scope(world, "collector"), GST)] == [GST_V]
    with pytest.raises(ScopeError):
        sel.region_children(scope(world, "collector"), TB)
    with pytest.raises(ScopeError):
        sel.region_children(scope(world, "finance_other"), WANZHOU)
    Region.objects.filter(code=TB).update(active=False)
    assert [r.code for r in sel.region_children(finance, WANZHOU, active_only=True)] == [GST]


def test_region_subtree_is_a_range_within_scope(world):
    finance = scope(world, "finance")
    assert list(sel.region_subtree(finance, WANZHOU).values_list("code", flat=True)) == [
        WANZHOU, GST, GST_V, TB, TB_V]
    assert list(sel.region_subtree(finance, WANZHOU, level=rules.VILLAGE).values_list("code", flat=True)) == [
        GST_V, TB_V]
    assert sel.region_subtree(scope(world, "collector"), GST).count() == 2
    assert sel.region_subtree(scope(world, "admin"), CQ).count() == 10
    assert sel.region_subtree(scope(world, "collector_other"), "500102001000").count() == 2
    with pytest.raises(ScopeError):
        sel.region_subtree(scope(world, "collector2"), GST)
    with pytest.raises(ScopeError):
        sel.region_subtree(scope(world, "collector"), WANZHOU)


def test_banks_see_the_regions_of_their_area(world):
    # Regions are reference data: the own-organization rule of banks does not hide them.
    bank = scope(world, "paying_bank")
    assert [r.code for r in sel.region_children(bank, WANZHOU)] == [GST, TB]
    with pytest.raises(ScopeError):
        sel.region_get(bank, FULING)


def test_region_search_stays_in_scope(world):
    assert [r.code for r in sel.region_search(scope(world, "collector"), "社区")] == [GST_V]
    assert [r.code for r in sel.region_search(scope(world, "collector2"), "社区")] == [TB_V]
    assert [r.code for r in sel.region_search(scope(world, "finance"), "太白")] == [TB, TB_V]
    assert [r.code for r in sel.region_search(scope(world, "admin"), "敦仁")] == ["500102001000", "500102001001"]
    assert sel.region_search(scope(world, "collector"), "500101002") == []
    assert [r.code for r in sel.region_search(scope(world, "finance"), "500101001")] == [GST, GST_V]
    assert sel.region_search(scope(world, "finance"), "  ") == []
    assert sel.region_search(scope(world, "finance_other"), "万州") == []


def test_names_above_the_users_region_are_context_only(world):
    assert sel.region_names_above(scope(world, "collector")) == ["重庆市", "市辖区", "万州区"]
    assert sel.region_names_above(scope(world, "admin")) == []
    assert sel.region_names_above(Scope.system()) == []


def test_region_breadcrumb_starts_at_the_users_region(world):
    assert [r.code for r in sel.region_breadcrumb(scope(world, "collector"), GST_V)] == [GST, GST_V]
    assert [r.code for r in sel.region_breadcrumb(scope(world, "admin"), GST_V)] == [
        CQ, "500100000000", WANZHOU, GST, GST_V]


def generate_regions(counties=40, townships=50, villages=49):
    rows = [Region(code=CQ, name="重庆市", level=1, full_name="重庆市"),
            Region(code="500100000000", name="市辖区", level=2, parent_id=CQ)]
    for c in range(1, counties + 1):
        county = f"5001{c:02d}000000"
        rows.append(Region(code=county, name=f"区县{c}", level=3, parent_id="500100000000"))
        for t in range(1, townships + 1):
            town = f"5001{c:02d}{t:03d}000"
            rows.append(Region(code=town, name=f"乡镇{t}", level=4, parent_id=county))
            rows.extend(Region(code=f"5001{c:02d}{t:03d}{v:03d}", name=f"村{v}", level=5, parent_id=town)
                        for v in range(1, villages + 1))
    return rows


def test_subtree_of_a_county_among_100k_regions_is_one_fast_query_without_joins(db):
    Region.objects.bulk_create(generate_regions(), batch_size=5000)
    assert Region.objects.count() == 100_042
    system = Scope.system()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        codes = list(sel.region_subtree(system, "500107000000").values_list("code", flat=True))
        elapsed = time.perf_counter() - started
    assert len(codes) == 1 + 50 + 50 * 49
    assert codes[0] == "500107000000" and codes[-1] == "500107050049"
    assert len(queries.captured_queries) == 1
    sql = queries.captured_queries[0]["sql"].upper()
    assert "JOIN" not in sql and '"CODE" >=' in sql and '"CODE" <=' in sql  # a range scan on the key
    assert elapsed < 0.2, f"subtree query took {elapsed:.3f} s"
    # The same through a user's scope (the scope range is one more condition, still no join).
    county = Scope.system(region_code="500107000000")
    with CaptureQueriesContext(connection) as queries:
        assert sel.region_subtree(county, "500107001000", level=rules.VILLAGE).count() == 49
    assert len(queries.captured_queries) == 1 and "JOIN" not in queries.captured_queries[0]["sql"].upper()
    with pytest.raises(ScopeError):
        sel.region_subtree(county, "500108000000")


# -- single edits -----------------------------------------------------------------------------------
def test_region_create_by_admin_is_audited(world):
    admin = scope(world, "admin")
    region = svc.region_create(actor=admin, code="500101001002", name="  白岩社区 ")
    assert (region.name, region.level, region.parent_id) == ("白岩社区", rules.VILLAGE, GST)
    assert region.full_name == "高笋塘街道/白岩社区"  # the world fixture's township has a bare full name
    event = AuditEvent.objects.latest("seq")
    assert event.action == "region.create" and event.object_id == "500101001002" and event.region_code == "500101001002"
    assert event.after["name"] == "白岩社区"


def test_region_create_refusals(world):
    admin = scope(world, "admin")
    with pytest.raises(DomainError, match="已存在"):
        svc.region_create(actor=admin, code=GST_V, name="重复")
    with pytest.raises(DomainError, match="上级区划 500101009000 不存在"):
        svc.region_create(actor=admin, code="500101009001", name="孤儿")
    with pytest.raises(DomainError, match="前缀"):
        svc.region_create(actor=admin, code="500101001003", name="错上级", parent_code=FULING)
    with pytest.raises(DomainError, match="过长"):
        svc.region_create(actor=admin, code="500101001003", name="长" * 101)
    with pytest.raises(DomainError, match="12位数字"):
        svc.region_create(actor=admin, code="5001010010", name="坏代码")
    with pytest.raises(ScopeError):  # outside the admin's own region (重庆市)
        svc.region_create(actor=admin, code="510000000000", name="四川省")
    Region.objects.filter(code=TB).update(active=False)
    with pytest.raises(DomainError, match="已停用"):
        svc.region_create(actor=admin, code="500101002005", name="新社区")
    for role in ("collector", "finance", "supervisor"):
        with pytest.raises(ScopeError):
            svc.region_create(actor=scope(world, role), code="500101001004", name="越权")
    assert not Region.objects.filter(code__in=["500101009001", "500101001003", "500101002005", "500101001004"]).exists()


def test_region_rename_updates_full_names_below(world):
    admin = scope(world, "admin")
    svc.refresh_full_names()
    with pytest.raises(DomainError, match="原因"):
        svc.region_rename(actor=admin, code=WANZHOU, name="万州新区", reason=" ")
    with pytest.raises(DomainError, match="相同"):
        svc.region_rename(actor=admin, code=WANZHOU, name="万州区", reason="批复")
    region = svc.region_rename(actor=admin, code=WANZHOU, name="万州新区", reason="渝府〔2026〕1号")
    assert region.full_name == "重庆市/市辖区/万州新区"
    assert Region.objects.get(code=TB_V).full_name == "重庆市/市辖区/万州新区/太白街道/太白社区"
    assert Region.objects.get(code="500102001001").full_name == "重庆市/市辖区/涪陵区/敦仁街道/敦仁社区"
    event = AuditEvent.objects.latest("seq")
    assert event.action == "region.rename" and event.reason == "渝府〔2026〕1号"
    assert (event.before["name"], event.after["name"]) == ("万州区", "万州新区")
    with pytest.raises(ScopeError):
        svc.region_rename(actor=scope(world, "finance"), code=WANZHOU, name="x", reason="y")


def test_region_deactivate_never_deletes_and_goes_bottom_up(world):
    admin = scope(world, "admin")
    with pytest.raises(DomainError, match="下还有 1 个有效的下级区划"):
        svc.region_deactivate(actor=admin, code=TB, reason="撤并")
    svc.region_deactivate(actor=admin, code=TB_V, reason="撤并")
    svc.region_deactivate(actor=admin, code=TB, reason="撤并入高笋塘街道")
    assert Region.objects.filter(code__in=[TB, TB_V], active=False).count() == 2
    with pytest.raises(DomainError, match="已经停用"):
        svc.region_deactivate(actor=admin, code=TB, reason="再次")
    with pytest.raises(DomainError, match="请先恢复上级区划"):
        svc.region_reactivate(actor=admin, code=TB_V, reason="恢复")
    svc.region_reactivate(actor=admin, code=TB, reason="恢复")
    assert Region.objects.get(code=TB).active
    actions = list(AuditEvent.objects.order_by("-seq").values_list("action", flat=True)[:3])
    assert actions == ["region.reactivate", "region.deactivate", "region.deactivate"]
    with pytest.raises(DomainError, match="不存在"):
        svc.region_deactivate(actor=admin, code="500101001999", reason="x")
    with pytest.raises(ScopeError):
        svc.region_deactivate(actor=scope(world, "collector"), code=GST_V, reason="x")


# -- the 行政区划 page ----------------------------------------------------------------------------------
def test_nav_entry_for_every_role():
    for role in ("collector", "admin", "paying_bank", "supervisor"):
        links = [link for section in entries_for(role) for link in section["links"]
                 if section["section"] == "基础数据"]
        assert any(link["url"] == "/regions/" and link["label"] == "行政区划" for link in links)


def test_page_starts_at_the_users_region(client, world):
    client.force_login(world.users["collector"])
    response = client.get(reverse("core:regions"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "行政区划 · 高笋塘街道" in html
    assert f'data-region="{GST_V}"' in html and "高笋塘社区" in html
    assert "太白" not in html
    # ancestors are context (text), never links
    assert "重庆市/市辖区/万州区" in html
    assert f"?code={WANZHOU}" not in html
    assert 'data-testid="region-import-form"' not in html


def test_page_shows_children_with_counts_and_breadcrumb(client, world):
    client.force_login(world.users["finance"])
    html = client.get(reverse("core:regions"), {"code": GST}).content.decode()
    assert f'<a href="?code={WANZHOU}">万州区</a>' in html
    html = client.get(reverse("core:regions")).content.decode()
    assert f'data-region="{GST}"' in html and f'data-region="{TB}"' in html
    assert '<td class="num">1</td>' in html


@pytest.mark.parametrize("code, status", [(TB, 403), (WANZHOU, 403), (FULING, 403), ("500101001999", 404),
                                          ("abc", 400)])
def test_page_refuses_other_regions(client, world, code, status):
    client.force_login(world.users["collector"])
    response = client.get(reverse("core:regions"), {"code": code})
    assert response.status_code == status
    assert "太白社区" not in response.content.decode()


def test_page_requires_login(client, db):
    response = client.get(reverse("core:regions"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_search_on_the_page_and_through_htmx(client, world):
    client.force_login(world.users["collector2"])
    html = client.get(reverse("core:regions"), {"q": "社区"}).content.decode()
    assert 'data-testid="region-search-results"' in html and "太白社区" in html and "高笋塘社区" not in html
    partial = client.get(reverse("core:regions"), {"q": "高笋塘"}, HTTP_HX_REQUEST="true",
                         HTTP_HX_TARGET="region-search-results")
    text = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in text
    assert "没有找到“高笋塘”" in text


def test_admin_uploads_a_csv_and_the_original_is_kept(client, world, settings):
    client.force_login(world.users["admin"])
    html = client.get(reverse("core:regions")).content.decode()
    assert 'data-testid="region-import-form"' in html
    upload = SimpleUploadedFile("新区划.csv", "区划代码,名称,上级代码\n500101001002,白岩社区,\n".encode("utf-8-sig"))
    response = client.post(reverse("core:regions-import"), {"file": upload})
    assert response.status_code == 200
    html = response.content.decode()
    assert "导入完成" in html and "新增 1 个" in html
    assert Region.objects.get(code="500101001002").full_name == "重庆市/市辖区/万州区/高笋塘街道/白岩社区"
    kept = list((Path(settings.MEDIA_ROOT) / "imports" / "regions").iterdir())
    assert len(kept) == 1 and kept[0].name.endswith("_新区划.csv")
    assert kept[0].read_bytes().startswith(b"\xef\xbb\xbf")
    event = AuditEvent.objects.latest("seq")
    assert event.action == "region.import" and event.actor_username == "t_admin"
    assert event.after["file"] == f"imports/regions/{kept[0].name}"


def test_admin_upload_with_bad_rows_lists_them_and_writes_nothing(client, world, settings):
    client.force_login(world.users["admin"])
    before = Region.objects.count()
    content = "code,name\n500101001002,白岩社区\n500101001X03,坏\n500101009001,孤儿\n".encode()
    response = client.post(reverse("core:regions-import"), {"file": SimpleUploadedFile("bad.csv", content)})
    html = response.content.decode()
    assert 'data-testid="import-rejected"' in html and "未写入任何数据" in html
    assert 'data-row="3"' in html and 'data-row="4"' in html and 'data-row="2"' not in html
    assert "上级区划 500101009000 不存在" in html
    assert Region.objects.count() == before
    assert len(list((Path(settings.MEDIA_ROOT) / "imports" / "regions").iterdir())) == 1  # kept anyway


def test_admin_upload_of_a_gbk_file_is_refused_with_the_encoding_message(client, world):
    client.force_login(world.users["admin"])
    upload = SimpleUploadedFile("gbk.csv", "区划代码,名称\n500101001002,白岩社区\n".encode("gbk"))
    html = client.post(reverse("core:regions-import"), {"file": upload}).content.decode()
    assert "文件不是 UTF-8 编码，请另存为 UTF-8 CSV" in html
    assert not Region.objects.filter(code="500101001002").exists()


@pytest.mark.parametrize("role", ["collector", "finance", "supervisor"])
def test_upload_by_non_admin_is_refused_before_anything_is_stored(client, world, settings, role):
    client.force_login(world.users[role])
    upload = SimpleUploadedFile("r.csv", "code,name\n500101001002,白岩社区\n".encode())
    response = client.post(reverse("core:regions-import"), {"file": upload})
    assert response.status_code == 403
    assert not (Path(settings.MEDIA_ROOT) / "imports").exists()
    assert not Region.objects.filter(code="500101001002").exists()


def test_upload_without_a_file_goes_back_with_a_message(client, world):
    client.force_login(world.users["admin"])
    response = client.post(reverse("core:regions-import"), {}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("core:regions")
    assert "该字段是必填项" in response.content.decode() or "必填" in response.content.decode()


# -- API --------------------------------------------------------------------------------------------------
def test_api_region_detail_in_and_out_of_scope(client, world):
    client.force_login(world.users["collector"])
    response = client.get(f"/api/regions/{GST}")
    assert response.status_code == 200
    assert response.json() == {"code": GST, "name": "高笋塘街道", "level": 4, "level_name": "乡镇",
                               "parent_code": WANZHOU, "full_name": "高笋塘街道", "active": True}
    assert client.get(f"/api/regions/{TB}").status_code == 403
    assert client.get(f"/api/regions/{WANZHOU}").status_code == 403
    assert client.get("/api/regions/500101001999").status_code == 404
    assert client.get("/api/regions/500101002999").status_code == 403
    assert client.get("/api/regions/12x").status_code == 400


def test_api_children(client, world):
    client.force_login(world.users["finance"])
    body = client.get(f"/api/regions/{WANZHOU}/children").json()
    assert [(r["code"], r["child_count"]) for r in body] == [(GST, 1), (TB, 1)]
    client.force_login(world.users["collector"])
    assert [r["code"] for r in client.get(f"/api/regions/{GST}/children").json()] == [GST_V]
    assert client.get(f"/api/regions/{TB}/children").status_code == 403
    assert client.get("/api/regions/500101001999/children").status_code == 404
    client.force_login(world.users["finance_other"])
    assert client.get(f"/api/regions/{WANZHOU}/children").status_code == 403


def test_api_needs_a_login(client, world):
    assert client.get(f"/api/regions/{GST}").status_code == 401
