"""The audit log page, its detail view, the CSV export and the API — who sees which events."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from yikatong.core.audit import check_chain, record
from yikatong.core.models import AuditEvent, AuditHead
from yikatong.core.navigation import entries_for
from yikatong.core.scope import Scope

WANZHOU_VILLAGE = "500101001001"
WANZHOU_COUNTY = "500101000000"
FULING_VILLAGE = "500102001001"


@pytest.fixture
def events(world):
    """One event per place: a 万州 village, 万州 county, a 涪陵 village, and a platform event without a region."""
    system = Scope.system(reason="测试")
    out = {
        "wz_village": record(actor=world.users["collector"], action="application.submit", object_type="apps.application",
                             object_id="11", region_code=WANZHOU_VILLAGE, before={"state": "draft"},
                             after={"state": "submitted", "金额": "300.00"}, reason="高笋塘社区提交"),
        "wz_county": record(actor=world.users["finance"], action="batch.approve", object_type="payments.batch",
                            object_id="7", region_code=WANZHOU_COUNTY, after={"state": "approved"}),
        "fl_village": record(actor=world.users["collector_other"], action="application.submit",
                             object_type="apps.application", object_id="12", region_code=FULING_VILLAGE,
                             after={"state": "submitted"}, reason="敦仁社区提交"),
        "platform": record(actor=system, action="region.import", object_type="core.region", object_id="",
                           after={"rows": 10}),
    }
    return out


def _login(client, world, key):
    client.force_login(world.users[key])
    return client


def _seqs(response) -> set[int]:
    return {e.seq for e in response.context["page"].events}


# -- the list page -------------------------------------------------------------------------------------
def test_admin_sees_every_event_including_platform_events(client, world, events):
    response = _login(client, world, "admin").get(reverse("core:audit"))
    assert response.status_code == 200
    assert _seqs(response) == {e.seq for e in events.values()}
    html = response.content.decode()
    assert "审计日志" in html and "region.import" in html
    assert AuditHead.objects.get(id=1).hash in html  # admin sees the head to anchor it


@pytest.mark.parametrize("key", ["supervisor", "finance"])
def test_wanzhou_supervisor_and_finance_see_only_wanzhou(client, world, events, key):
    response = _login(client, world, key).get(reverse("core:audit"))
    assert response.status_code == 200
    assert _seqs(response) == {events["wz_village"].seq, events["wz_county"].seq}
    html = response.content.decode()
    assert "敦仁社区提交" not in html and "region.import" not in html
    assert AuditHead.objects.get(id=1).hash not in html


def test_fuling_finance_sees_only_fuling(client, world, events):
    response = _login(client, world, "finance_other").get(reverse("core:audit"))
    assert _seqs(response) == {events["fl_village"].seq}


@pytest.mark.parametrize("key", ["collector", "paying_bank", "card_bank", "civil", "hr", "regulator"])
def test_roles_without_audit_view_are_refused(client, world, events, key):
    _login(client, world, key)
    assert client.get(reverse("core:audit")).status_code == 403
    assert client.get(reverse("core:audit-detail", args=[events["wz_village"].seq])).status_code == 403
    assert client.get(reverse("core:audit-export")).status_code == 403
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_anonymous_is_sent_to_login(client, events):
    response = client.get(reverse("core:audit"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_nav_entry_for_audit_roles_only():
    def names(role):
        return {link["name"] for section in entries_for(role) for link in section["links"]}

    for role in ("admin", "supervisor", "finance"):
        assert "core:audit" in names(role)
    for role in ("collector", "paying_bank", "department"):
        assert "core:audit" not in names(role)
    sections = {s["section"]: s for s in entries_for("supervisor")}
    assert any(link["name"] == "core:audit" and link["label"] == "审计日志" for link in sections["监督"]["links"])


def test_filters(client, world, events):
    _login(client, world, "admin")
    url = reverse("core:audit")
    assert _seqs(client.get(url, {"action": "application."})) == {events["wz_village"].seq, events["fl_village"].seq}
    assert _seqs(client.get(url, {"action": "batch.approve"})) == {events["wz_county"].seq}
    assert _seqs(client.get(url, {"actor": "t_finance"})) == {events["wz_county"].seq}
    assert _seqs(client.get(url, {"object_type": "apps.application", "object_id": "12"})) == {events["fl_village"].seq}
    assert _seqs(client.get(url, {"region": "500101"})) == {events["wz_village"].seq, events["wz_county"].seq}
    today = timezone.localdate()
    assert len(_seqs(client.get(url, {"date_from": today.isoformat(), "date_to": today.isoformat()}))) == 4
    assert _seqs(client.get(url, {"date_to": (today - dt.timedelta(days=1)).isoformat()})) == set()
    assert _seqs(client.get(url, {"date_from": (today + dt.timedelta(days=1)).isoformat()})) == set()


def test_supervisor_cannot_widen_scope_with_a_region_filter(client, world, events):
    response = _login(client, world, "supervisor").get(reverse("core:audit"), {"region": "500102"})
    assert response.status_code == 200 and _seqs(response) == set()


@pytest.mark.parametrize(
    "params, message",
    [
        ({"date_from": "2026-03-05", "date_to": "2026-03-01"}, "起始日期不能晚于截止日期"),
        ({"date_from": "2026/03/05"}, "起始日期格式应为 YYYY-MM-DD"),
        ({"region": "5001x"}, "行政区划代码"),
    ],
)
def test_bad_filters_get_a_readable_message(client, world, events, params, message):
    response = _login(client, world, "admin").get(reverse("core:audit"), params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_keyset_pages_newest_first(client, world):
    for i in range(120):
        record(actor=None, action="thing.step", object_id=str(i), region_code=WANZHOU_VILLAGE)
    _login(client, world, "supervisor")
    url = reverse("core:audit")
    first = client.get(url, {"action": "thing."})
    page = first.context["page"]
    assert [e.seq for e in page.events] == list(range(120, 70, -1))
    assert page.total == 120 and not page.total_capped and page.newer is None and page.older == 71
    assert "共 120 条事件" in first.content.decode()
    assert "before=71" in first.content.decode()
    second = client.get(url, {"action": "thing.", "before": page.older}).context["page"]
    assert [e.seq for e in second.events] == list(range(70, 20, -1))
    third = client.get(url, {"action": "thing.", "before": second.older}).context["page"]
    assert [e.seq for e in third.events] == list(range(20, 0, -1)) and third.older is None
    back = client.get(url, {"action": "thing.", "after": third.newer}).context["page"]
    assert [e.seq for e in back.events] == list(range(70, 20, -1))


def test_count_is_capped(client, world, monkeypatch):
    from yikatong.core.selectors import audit as selectors

    for i in range(6):
        record(actor=None, action="thing.step", object_id=str(i))
    monkeypatch.setattr(selectors, "COUNT_CAP", 4)
    response = _login(client, world, "admin").get(reverse("core:audit"))
    page = response.context["page"]
    assert (page.total, page.total_capped) == (4, True) and len(page.events) == 6
    assert "共 超过 4 条事件" in response.content.decode()
    assert selectors.count_capped(AuditEvent.objects.all(), cap=6) == (6, False)


# -- the detail page -------------------------------------------------------------------------------------
def test_detail_shows_before_and_after(client, world, events):
    response = _login(client, world, "supervisor").get(reverse("core:audit-detail", args=[events["wz_village"].seq]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "application.submit" in html and "高笋塘社区提交" in html
    assert "draft" in html and "submitted" in html and "300.00" in html
    changes = {row["field"]: row for row in response.context["changes"]}
    assert changes["state"]["changed"] and changes["state"]["before"] == '"draft"'
    assert changes["金额"]["changed"] and changes["金额"]["before"] == ""


@pytest.mark.parametrize("which", ["fl_village", "platform"])
def test_detail_out_of_scope_is_not_found(client, world, events, which):
    response = _login(client, world, "supervisor").get(reverse("core:audit-detail", args=[events[which].seq]))
    assert response.status_code == 404


def test_admin_opens_platform_event(client, world, events):
    response = _login(client, world, "admin").get(reverse("core:audit-detail", args=[events["platform"].seq]))
    assert response.status_code == 200


# -- the CSV export ----------------------------------------------------------------------------------------
def _csv_rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))


def test_supervisor_export_contains_only_scoped_rows_and_is_audited(client, world, events):
    response = _login(client, world, "supervisor").get(reverse("core:audit-export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv_rows(response)
    assert {int(r["序号"]) for r in rows} == {events["wz_village"].seq, events["wz_county"].seq}
    assert all(r["区划"].startswith("500101") for r in rows)
    assert rows[0]["哈希"] and rows[0]["动作"] in ("batch.approve", "application.submit")
    export = AuditEvent.objects.get(action="audit.export")
    assert export.actor_username == "t_supervisor" and export.region_code == WANZHOU_COUNTY
    assert export.after["rows"] == 2 and export.after["filters"] == {}
    assert export.seq > max(int(r["序号"]) for r in rows)
    assert check_chain().ok


def test_export_applies_the_filters(client, world, events):
    response = _login(client, world, "admin").get(reverse("core:audit-export"), {"action": "application."})
    rows = _csv_rows(response)
    assert {int(r["序号"]) for r in rows} == {events["wz_village"].seq, events["fl_village"].seq}
    export = AuditEvent.objects.get(action="audit.export")
    assert export.after["filters"] == {"action": "application."} and export.after["rows"] == 2


def test_second_export_shows_the_first_export_to_the_same_region(client, world, events):
    _login(client, world, "finance")
    _csv_rows(client.get(reverse("core:audit-export")))
    rows = _csv_rows(client.get(reverse("core:audit-export")))
    assert "audit.export" in {r["动作"] for r in rows}
    assert AuditEvent.objects.filter(action="audit.export").count() == 2


def test_export_neutralizes_spreadsheet_formulas(client, world):
    record(actor=None, action="thing.note", region_code=WANZHOU_VILLAGE, reason="=HYPERLINK(\"http://x\")")
    rows = _csv_rows(_login(client, world, "admin").get(reverse("core:audit-export")))
    assert rows[-1]["事由"].startswith("'=")


def test_export_with_bad_filter_is_refused_without_audit(client, world, events):
    response = _login(client, world, "admin").get(reverse("core:audit-export"), {"date_from": "yesterday"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="audit.export").exists()


# -- the API ------------------------------------------------------------------------------------------------
def test_api_events_scoped_for_supervisor(client, world, events):
    response = _login(client, world, "supervisor").get("/api/audit/events")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and not body["count_capped"]
    assert [i["seq"] for i in body["items"]] == [events["wz_county"].seq, events["wz_village"].seq]
    assert body["items"][1]["after"] == {"state": "submitted", "金额": "300.00"}


def test_api_events_for_admin_with_paging_and_filters(client, world, events):
    _login(client, world, "admin")
    body = client.get("/api/audit/events", {"limit": 2, "offset": 1}).json()
    assert body["count"] == 4 and [i["seq"] for i in body["items"]] == [3, 2]
    body = client.get("/api/audit/events", {"action": "application.", "region": "500102"}).json()
    assert [i["seq"] for i in body["items"]] == [events["fl_village"].seq]
    assert client.get("/api/audit/events", {"limit": 501}).status_code == 422
    bad = client.get("/api/audit/events", {"date_from": "2026-03-05", "date_to": "2026-03-01"})
    assert bad.status_code == 400 and "起始日期" in bad.json()["detail"]


def test_api_event_detail_respects_scope(client, world, events):
    _login(client, world, "supervisor")
    assert client.get(f"/api/audit/events/{events['wz_village'].seq}").json()["action"] == "application.submit"
    assert client.get(f"/api/audit/events/{events['fl_village'].seq}").status_code == 404


@pytest.mark.parametrize("key", ["collector", "paying_bank", "civil"])
def test_api_refuses_roles_without_audit_view(client, world, events, key):
    _login(client, world, key)
    assert client.get("/api/audit/events").status_code == 403
    assert client.get("/api/audit/verify").status_code == 403


def test_api_requires_login(client, events):
    assert client.get("/api/audit/events").status_code == 401


def test_api_verify_is_admin_only_and_reports_problems(client, world, events):
    _login(client, world, "supervisor")
    assert client.get("/api/audit/verify").status_code == 403
    client.logout()
    _login(client, world, "admin")
    body = client.get("/api/audit/verify").json()
    head = AuditHead.objects.get(id=1)
    assert body == {"ok": True, "count": 4, "head_seq": 4, "head_hash": head.hash, "problem": None}
    AuditEvent.objects.filter(seq=2).update(after={"state": "rejected"})
    body = client.get("/api/audit/verify").json()
    assert body["ok"] is False and body["count"] == 1
    assert body["problem"]["seq"] == 2 and body["problem"]["kind"] == "altered"
    assert "第 2 号事件被篡改" in body["problem"]["detail"]
