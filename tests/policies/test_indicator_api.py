"""The budget indicator API (/api/indicators/): a receive → allocate → complete → close round trip with
amounts as decimal strings, the services' Chinese refusals (400, nothing written), scope (403 for roles
without the permission, another county's indicators excluded / 404), warnings, progress exact to the fen,
targets, and that the money services of the payments module are not reachable over HTTP."""

import json

import pytest

from yikatong.core.models import AuditEvent
from yikatong.policies.models import BudgetIndicator, IndicatorEntry
from yikatong.policies.services import indicator_allocate, indicator_commit

from .test_indicators import FL, WZ, YEAR, M, P, receive_central, setup_indicator_world, three_levels
from .test_targets import money_world

BASE = "/api/indicators"


@pytest.fixture
def ol(published, today):
    return setup_indicator_world(published, today)


def as_user(client, ol, key):
    client.force_login(ol.users.get(key) or ol.world.users[key])
    return client


def post(client, url, payload=None):
    return client.post(url, json.dumps(payload or {}), content_type="application/json")


def counts():
    return BudgetIndicator.objects.count(), IndicatorEntry.objects.count(), AuditEvent.objects.count()


def ids(response) -> set[int]:
    return {item["id"] for item in response.json()["items"]}


RECEIVE = {"doc_no": "万州财〔2027〕3号", "received_on": "2027-02-20", "amount": "1234.56", "source_level": "county",
           "policy": "WZ-001", "fiscal_year": 2027}


def test_receive_allocate_complete_close_round_trip(client, ol):
    as_user(client, ol, "finance")
    response = post(client, f"{BASE}/", RECEIVE)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["available"], body["received_total"], body["region"], body["holder"]) == (
        "1234.56", "1234.56", "1234.56", WZ, "WZ-CZJ")
    assert [(e["kind"], e["amount"], e["ref_id"]) for e in body["entries"]] == [
        ("received", "1234.56", "万州财〔2027〕3号")]
    assert body["deadlines"] == [] and body["deadline_state"] is None       # a county's own funds: no clock
    pk = body["id"]
    assert client.get(f"{BASE}/{pk}").json()["available"] == "1234.56"
    listing = client.get(f"{BASE}/", {"fiscal_year": 2027})
    assert listing.status_code == 200 and listing.json()["count"] == 1 and ids(listing) == {pk}

    before = counts()
    again = post(client, f"{BASE}/", RECEIVE)
    assert again.status_code == 400 and "请勿重复登记" in again.json()["detail"]
    bad = post(client, f"{BASE}/", {**RECEIVE, "doc_no": "X", "amount": "12.345"})
    assert bad.status_code == 400 and bad.json()["field"] == "amount" and "最多保留两位小数" in bad.json()["detail"]
    assert post(client, f"{BASE}/", {**RECEIVE, "doc_no": "Y", "amount": 12.5}).status_code == 422  # no floats
    assert counts() == before

    # the province receives central funds and allocates them to the prefecture, all parts or none
    as_user(client, ol, "p_finance")
    root = post(client, f"{BASE}/", {**RECEIVE, "doc_no": "财农〔2027〕1号", "amount": "1000000.00",
                                      "source_level": "central", "policy": "CQ-X",
                                      "central_document_date": "2027-02-10"}).json()
    assert [d["step"] for d in root["deadlines"]] == ["central_funds_proposal", "central_funds_allocation"]
    assert root["deadline_state"] == "overdue"
    before = counts()
    over = post(client, f"{BASE}/{root['id']}/allocate", {"parts": [
        {"region": M, "holder": "CQ-SXQ-CZ", "amount": "600000.00", "doc_no": "D1"},
        {"region": WZ, "holder": "WZ-CZJ", "amount": "400000.01", "doc_no": "D2"}]})
    assert over.status_code == 400
    assert over.json() == {"detail": "分配金额 1,000,000.01 超过上级指标可用余额 1,000,000.00。",
                           "code": "over_allocation", "field": None}
    mismatch = post(client, f"{BASE}/{root['id']}/allocate", {"parts": [
        {"region": M, "holder": "WZ-CZJ", "amount": "1.00", "doc_no": "D1"}]})
    assert mismatch.status_code == 400 and mismatch.json()["detail"].startswith("第1项分配：万州区财政局不在区划")
    assert post(client, f"{BASE}/{root['id']}/allocate", {"parts": []}).status_code == 400
    assert counts() == before
    children = post(client, f"{BASE}/{root['id']}/allocate", {"parts": [
        {"region": M, "holder": "CQ-SXQ-CZ", "amount": "600000.00", "doc_no": "D1"},
        {"region": WZ, "holder": "WZ-CZJ", "amount": "399999.99", "doc_no": "D2", "direct_to_county": True}]})
    assert children.status_code == 201
    assert [(c["region"], c["amount"], c["available"], c["parent"]) for c in children.json()] == [
        (M, "600000.00", "600000.00", root["id"]), (WZ, "399999.99", "399999.99", root["id"])]
    detail = client.get(f"{BASE}/{root['id']}").json()
    assert (detail["allocated_out_total"], detail["available"]) == ("999999.99", "0.01")
    assert [e["kind"] for e in detail["entries"]] == ["received", "allocated_out", "allocated_out"]
    assert {c["amount"] for c in detail["children"]} == {"600000.00", "399999.99"}

    completed = post(client, f"{BASE}/{root['id']}/complete", {"note": "余额留省级"})
    assert completed.status_code == 200 and completed.json()["allocation_done_on"] == "2027-03-01"
    assert {d["state"] for d in completed.json()["deadlines"]} == {"done"}
    assert "已于 2027-03-01 确认" in post(client, f"{BASE}/{root['id']}/complete").json()["detail"]
    assert post(client, f"{BASE}/{root['id']}/close", {"reason": ""}).json()["detail"] == "请填写关闭原因。"
    closed = post(client, f"{BASE}/{root['id']}/close", {"reason": "年终清理"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert "已关闭" in post(client, f"{BASE}/{root['id']}/close", {"reason": "again"}).json()["detail"]


def test_list_filters_and_deadline_state(client, ol):
    root, pref, wz, fl = three_levels(ol)
    as_user(client, ol, "p_finance")
    everything = client.get(f"{BASE}/")
    assert everything.json()["count"] == 4
    states = {item["id"]: item["deadline_state"] for item in everything.json()["items"]}
    assert states == {root.pk: "overdue", pref.pk: "ok", wz.pk: None, fl.pk: None}
    assert ids(client.get(f"{BASE}/", {"region": M})) == {pref.pk, wz.pk, fl.pk}
    assert ids(client.get(f"{BASE}/", {"deadline": "overdue"})) == {root.pk}
    assert ids(client.get(f"{BASE}/", {"deadline": "none"})) == {wz.pk, fl.pk}
    assert ids(client.get(f"{BASE}/", {"source_level": "county"})) == set()
    assert ids(client.get(f"{BASE}/", {"policy": "WZ-001"})) == set()
    assert ids(client.get(f"{BASE}/", {"status": "active", "fiscal_year": 2027})) == {root.pk, pref.pk, wz.pk, fl.pk}
    page = client.get(f"{BASE}/", {"limit": 2, "offset": 1}).json()
    assert page["count"] == 4 and [i["id"] for i in page["items"]] == [pref.pk, wz.pk]
    bad = client.get(f"{BASE}/", {"deadline": "late"})
    assert bad.status_code == 400 and "分配时限状态“late”无效" in bad.json()["detail"]


def test_scope_over_the_api(client, ol):
    root, pref, wz, fl = three_levels(ol)
    as_user(client, ol, "finance_other")                                  # 涪陵
    assert ids(client.get(f"{BASE}/")) == {fl.pk}
    before = counts()
    assert client.get(f"{BASE}/{wz.pk}").status_code == 404
    assert post(client, f"{BASE}/{wz.pk}/close", {"reason": "x"}).status_code == 404
    assert post(client, f"{BASE}/{wz.pk}/complete").status_code == 404
    assert post(client, f"{BASE}/{wz.pk}/allocate", {"parts": []}).status_code == 404
    assert client.get(f"{BASE}/999999").status_code == 404
    assert counts() == before

    as_user(client, ol, "civil")                                          # department, civil line: read only
    assert ids(client.get(f"{BASE}/")) == {wz.pk}
    refused = post(client, f"{BASE}/", RECEIVE)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert post(client, f"{BASE}/{wz.pk}/close", {"reason": "x"}).status_code == 403
    as_user(client, ol, "agri")
    assert ids(client.get(f"{BASE}/")) == set()
    assert client.get(f"{BASE}/{wz.pk}").status_code == 404

    as_user(client, ol, "p_finance")                                      # sees it, but is not the holder
    assert post(client, f"{BASE}/{wz.pk}/close", {"reason": "x"}).status_code == 403
    for key in ("collector", "paying_bank"):
        as_user(client, ol, key)
        for url in (f"{BASE}/", f"{BASE}/{wz.pk}", f"{BASE}/warnings", f"{BASE}/progress?fiscal_year=2027",
                    f"{BASE}/targets"):
            assert client.get(url).status_code == 403, (key, url)
    assert counts() == before
    client.logout()
    assert client.get(f"{BASE}/").status_code == 401


def test_proposal_and_warnings(client, ol):
    root, pref, wz, fl = three_levels(ol)
    as_user(client, ol, "p_finance")
    rows = client.get(f"{BASE}/warnings", {"fiscal_year": YEAR}).json()
    assert [(r["indicator"], r["step"], r["state"]) for r in rows] == [(root.pk, "central_funds_proposal", "overdue")]
    assert rows[0]["deadline"] == "2027-02-25" and rows[0]["days_overdue"] > 0 and rows[0]["who"] == "department"
    as_user(client, ol, "p_civil")
    done = post(client, f"{BASE}/{root.pk}/proposal", {"note": "万州40万、涪陵15万"})
    assert done.status_code == 200 and done.json()["proposal_submitted_on"] == "2027-03-01"
    assert "已于 2027-03-01 报送" in post(client, f"{BASE}/{root.pk}/proposal", {"note": "x"}).json()["detail"]
    assert client.get(f"{BASE}/warnings").json() == []
    as_user(client, ol, "finance")
    assert client.get(f"{BASE}/warnings").json() == []


def test_progress_exact_to_the_fen(client, ol, today):
    money_world(ol, today)
    as_user(client, ol, "finance")
    rows = client.get(f"{BASE}/progress", {"fiscal_year": YEAR}).json()
    assert rows == [{"policy": "CQ-X", "policy_name": rows[0]["policy_name"], "region": WZ, "region_name": "万州区",
                     "allocated": "333333.33", "committed": "55555.56", "paid": "44444.43", "ratio": "0.1333"}]
    earlier = client.get(f"{BASE}/progress", {"fiscal_year": YEAR, "region": WZ, "on": "2027-03-01"}).json()
    assert [(r["allocated"], r["committed"], r["paid"], r["ratio"]) for r in earlier] == [
        ("333333.33", "66666.67", "33333.33", "0.1000")]
    outside = client.get(f"{BASE}/progress", {"fiscal_year": YEAR, "region": P})
    assert outside.status_code == 403 and "无权查看区划" in outside.json()["detail"]
    as_user(client, ol, "p_finance")
    whole = client.get(f"{BASE}/progress", {"fiscal_year": YEAR, "region": P}).json()
    assert [(r["allocated"], r["committed"], r["paid"], r["ratio"]) for r in whole] == [
        ("1000000.00", "88888.89", "62111.10", "0.0621")]
    per_region = {r["region"]: r["paid"] for r in client.get(f"{BASE}/progress", {"fiscal_year": YEAR}).json()}
    assert per_region == {P: "1000.00", M: "0.00", WZ: "44444.43", FL: "16666.67"}
    assert client.get(f"{BASE}/progress").status_code == 422                 # the year is required


def test_targets_and_monitoring(client, ol, today):
    money_world(ol, today)
    as_user(client, ol, "civil")
    payload = {"policy": "CQ-X", "fiscal_year": YEAR, "category": "output", "name": "发放人数",
               "target_value": "1200", "unit": "人"}
    created = post(client, f"{BASE}/targets", payload)
    assert created.status_code == 200, created.content
    target = created.json()
    assert (target["region"], target["target_value"], target["direction"], target["met"]) == (
        WZ, "1200.0000", "gte", None)
    changed = post(client, f"{BASE}/targets", {**payload, "target_value": "1300"})
    assert changed.json()["id"] == target["id"] and changed.json()["target_value"] == "1300.0000"
    assert post(client, f"{BASE}/targets", {**payload, "target_value": "abc"}).json()["detail"] == (
        "目标值“abc”不是有效的数字。")
    other = post(client, f"{BASE}/targets", {**payload, "region": FL})
    assert other.status_code == 403
    actual = post(client, f"{BASE}/targets/{target['id']}/actual", {"actual_value": "1350.5"})
    assert actual.status_code == 200 and (actual.json()["actual_value"], actual.json()["met"]) == ("1350.5000", True)
    no_note = post(client, f"{BASE}/targets/{target['id']}/actual", {"actual_value": "1"})
    assert no_note.status_code == 400 and no_note.json()["field"] == "note"
    listed = client.get(f"{BASE}/targets", {"fiscal_year": YEAR, "policy": "CQ-X"}).json()
    assert [t["name"] for t in listed] == ["发放人数"]

    rows = client.get(f"{BASE}/monitoring", {"fiscal_year": YEAR}).json()
    cq = next(r for r in rows if r["policy"] == "CQ-X")
    assert (cq["allocated"], cq["paid"], cq["ratio"], cq["time_progress"], cq["behind_schedule"]) == (
        "333333.33", "44444.43", "0.1333", "0.1890", True)
    assert (cq["targets_total"], cq["targets_met"], cq["achievement"]) == (1, 1, "1.0000")
    assert cq["targets"][0]["actual_value"] == "1350.5000"

    as_user(client, ol, "finance_other")
    assert post(client, f"{BASE}/targets/{target['id']}/actual", {"actual_value": "1", "note": "x"}).status_code == 404
    assert client.get(f"{BASE}/targets", {"fiscal_year": YEAR}).json() == []
    assert client.get(f"{BASE}/monitoring", {"fiscal_year": YEAR, "region": WZ}).status_code == 403


def test_money_movements_are_not_exposed(client, ol):
    pref = indicator_allocate(actor=ol.scope("p_finance"), parent_id=receive_central(ol).pk, parts=[
        {"region_code": M, "holder_code": "CQ-SXQ-CZ", "amount": "1000.00", "doc_no": "D1"}])[0]
    schema = client.get("/api/openapi.json").json()
    paths = [p for p in schema["paths"] if p.startswith(BASE)]
    assert f"{BASE}/{{pk}}/allocate" in paths and f"{BASE}/progress" in paths
    assert not any(word in p for p in paths for word in ("commit", "release", "pay", "return"))
    as_user(client, ol, "m_finance")
    before = counts()
    for action in ("commit", "release", "pay", "return"):
        response = post(client, f"{BASE}/{pref.pk}/{action}", {"amount": "1.00", "ref_type": "plan", "ref_id": "1"})
        assert response.status_code in (404, 405), action
    assert counts() == before
    # a commitment made by the payments module's services shows up read-only in the detail
    indicator_commit(actor=ol.scope("m_finance"), indicator_id=pref.pk, amount="10.00", ref_type="plan", ref_id="7",
                     policy_code="CQ-X", fiscal_year=YEAR)
    detail = client.get(f"{BASE}/{pref.pk}").json()
    assert (detail["committed_total"], detail["available"]) == ("10.00", "990.00")
    assert detail["entries"][-1]["kind"] == "committed" and detail["entries"][-1]["ref_id"] == "7"
