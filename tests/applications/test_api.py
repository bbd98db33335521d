"""The applications API (/api/applications/): every endpoint with its status codes, scope (role, region,
business line), masked JSON and the Chinese refusals."""

import io
import json

import pytest
from openpyxl import load_workbook

from tests.applications.helpers import new_app, submitted, verified
from yikatong.applications.models import Application, RosterImport, RosterRowError
from yikatong.applications.services import (
    application_approve,
    notice_publish,
    objection_record,
    register_findings_gate,
    unregister_findings_gate,
)
from yikatong.core.services.files import file_store
from yikatong.policies.models import Policy

from .conftest import TOWNSHIP, VILLAGE, VILLAGE2, luhn_account, resident_id

BASE = "/api/applications"


def login(client, flow, key):
    client.force_login(flow.users.get(key) or flow.world.users[key])
    return client


def post(client, url, payload=None):
    return client.post(url, json.dumps(payload or {}), content_type="application/json")


@pytest.fixture
def wang(flow):
    return flow.person("wang", name="王五", village=VILLAGE2, seq=21, collector="collector2")


def test_anonymous_is_refused(client, flow):
    assert client.get(f"{BASE}/applications").status_code == 401


# -- applications ------------------------------------------------------------------------------------------
def test_list_is_scoped_masked_and_filtered(client, flow, zhang, wang):
    mine = new_app(flow, zhang)
    other = new_app(flow, wang, actor=flow.scope("collector2"))
    login(client, flow, "collector")
    data = client.get(f"{BASE}/applications").json()
    assert data["count"] == 1 and data["items"][0]["number"] == mine.number
    item = data["items"][0]
    assert item["id_masked"] == zhang.id_masked and zhang.id_number_plain not in json.dumps(data)
    assert (item["deadline"], item["deadline_status"], item["amount"]) == ("2026-03-05", "ok", "300.00")
    assert client.get(f"{BASE}/applications", {"status": "verified"}).json()["count"] == 0
    assert client.get(f"{BASE}/applications", {"policy": "WZ-AG"}).json()["count"] == 0
    login(client, flow, "civil")
    numbers = {i["number"] for i in client.get(f"{BASE}/applications").json()["items"]}
    assert numbers == {mine.number, other.number}
    assert client.get(f"{BASE}/applications", {"region": VILLAGE2}).json()["count"] == 1
    assert client.get(f"{BASE}/applications", {"limit": 1, "offset": 1}).json()["items"][0]["number"] in numbers
    response = client.get(f"{BASE}/applications", {"region": "5001x"})
    assert response.status_code == 400 and response.json()["field"] == "region_code"
    flow.set_today("2026-03-10")
    assert client.get(f"{BASE}/applications", {"overdue": "true"}).json()["count"] == 2
    login(client, flow, "agri")
    assert client.get(f"{BASE}/applications").json()["count"] == 0
    login(client, flow, "hr")
    assert client.get(f"{BASE}/applications").status_code == 403


def test_create_and_enter(client, flow, zhang):
    login(client, flow, "collector")
    response = post(client, f"{BASE}/applications",
                    {"beneficiary_id": zhang.pk, "policy_code": "WZ-001", "period": "2026-03", "amount": "280.00"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "collected" and body["amount"] == "280.00" and body["channel"] == "typed"
    assert body["allowed_actions"] == ["verify", "return", "correct", "withdraw"]
    assert [e["to_status"] for e in body["events"]] == ["collected"]
    response = post(client, f"{BASE}/applications",
                    {"beneficiary_id": zhang.pk, "policy_code": "WZ-001", "period": "2026-03"})
    assert response.status_code == 400 and "不能重复申报" in response.json()["detail"]
    response = post(client, f"{BASE}/applications",
                    {"beneficiary_id": zhang.pk, "policy_code": "WZ-OUT", "period": "2026-03"})
    assert response.status_code == 400 and "项目库" in response.json()["detail"]
    new_id = resident_id("500101", "19600202", 51)
    entry = {"id_number": new_id, "name": "周九", "region_code": VILLAGE, "phone": "13600136000",
             "bank_name": "重庆农村商业银行", "account_number": luhn_account("622000000000000051"),
             "policy_code": "WZ-AG", "period": "2026", "quantity": "3.5"}
    response = post(client, f"{BASE}/applications/enter", entry)
    assert response.status_code == 201 and response.json()["amount"] == "421.75"
    response = post(client, f"{BASE}/applications/enter", {**entry, "policy_code": "WZ-001", "period": "2026-03",
                                                           "account_number": ""})
    assert response.status_code == 201  # the registered person and account are used
    response = post(client, f"{BASE}/applications/enter", {**entry, "id_number": new_id[:-1] + "Y"})
    assert response.status_code == 400 and response.json()["field"] == "id_number"
    login(client, flow, "collector2")  # a person of another township
    response = post(client, f"{BASE}/applications/enter", {**entry, "policy_code": "WZ-TIER", "period": "2026Q1",
                                                           "tier": "T1"})
    assert response.status_code == 403
    response = post(client, f"{BASE}/applications",
                    {"beneficiary_id": zhang.pk, "policy_code": "WZ-TIER", "period": "2026Q1", "tier": "T1"})
    assert response.status_code == 403
    login(client, flow, "civil")
    response = post(client, f"{BASE}/applications",
                    {"beneficiary_id": zhang.pk, "policy_code": "WZ-TIER", "period": "2026Q1", "tier": "T1"})
    assert response.status_code == 403
    assert Application.objects.count() == 3


def test_detail_events_and_single_actions(client, flow, zhang, wang):
    app = new_app(flow, zhang)
    other = new_app(flow, wang, actor=flow.scope("collector2"))
    login(client, flow, "collector")
    assert client.get(f"{BASE}/applications/{app.pk}").json()["number"] == app.number
    assert client.get(f"{BASE}/applications/{other.pk}").status_code == 404
    assert client.get(f"{BASE}/applications/999999").status_code == 404
    assert post(client, f"{BASE}/applications/{other.pk}/verify").status_code == 404
    response = post(client, f"{BASE}/applications/{app.pk}/verify", {"note": "属实"})
    assert response.status_code == 200 and response.json()["status"] == "verified"
    response = post(client, f"{BASE}/applications/{app.pk}/verify", {"note": "again"})
    assert response.status_code == 400 and response.json()["code"] == "illegal_transition"
    response = post(client, f"{BASE}/applications/{app.pk}/return", {"reason": ""})
    assert response.status_code == 400 and "退回原因" in response.json()["detail"]
    assert post(client, f"{BASE}/applications/{app.pk}/return", {"reason": "金额有误"}).json()["status"] == "returned"
    response = post(client, f"{BASE}/applications/{app.pk}/correct", {"reason": "核减", "amount": "260.00"})
    assert response.status_code == 200 and (response.json()["status"], response.json()["amount"]) == ("collected",
                                                                                                      "260.00")
    events = client.get(f"{BASE}/applications/{app.pk}/events").json()
    assert [e["to_status"] for e in events] == ["collected", "verified", "returned", "collected"]
    assert events[-1]["changes"] == {"amount": ["300.00", "260.00"]}
    assert client.get(f"{BASE}/applications/{other.pk}/events").status_code == 404
    login(client, flow, "civil")
    assert post(client, f"{BASE}/applications/{app.pk}/withdraw", {"reason": "x"}).status_code == 403
    assert post(client, f"{BASE}/applications/{app.pk}/approve").status_code == 400  # not submitted yet
    login(client, flow, "collector")
    response = post(client, f"{BASE}/applications/{app.pk}/withdraw", {"reason": "本人放弃"})
    assert response.json()["status"] == "withdrawn" and response.json()["allowed_actions"] == []


def test_approve_reject_and_the_findings_gate(client, flow, zhang, li):
    a, b = submitted(flow, zhang, li)
    login(client, flow, "collector")
    assert post(client, f"{BASE}/applications/{a.pk}/approve").status_code == 403
    login(client, flow, "agri")
    assert post(client, f"{BASE}/applications/{a.pk}/approve").status_code == 404  # another line
    login(client, flow, "civil")
    assert client.get(f"{BASE}/approval/findings", {"ids": f"{a.pk},{b.pk}"}).json() == {}

    def gate(ids):
        return {a.pk: "R03 重复发放"} if a.pk in ids else {}

    register_findings_gate(gate)
    try:
        assert client.get(f"{BASE}/approval/findings", {"ids": f"{a.pk},{b.pk}"}).json() == {str(a.pk): "R03 重复发放"}
        assert client.get(f"{BASE}/applications/{a.pk}").json()["blocking_finding"] == "R03 重复发放"
        response = post(client, f"{BASE}/applications/{a.pk}/approve")
        assert response.status_code == 400 and response.json()["code"] == "blocked_by_findings"
        login(client, flow, "fl_civil")  # another county: ids it cannot see are not answered
        assert client.get(f"{BASE}/approval/findings", {"ids": f"{a.pk}"}).json() == {}
        login(client, flow, "civil")
    finally:
        unregister_findings_gate(gate)
    assert post(client, f"{BASE}/applications/{a.pk}/approve", {"note": "同意"}).json()["status"] == "approved"
    response = post(client, f"{BASE}/applications/{b.pk}/reject", {"reason": "不符合条件"})
    assert response.json()["status"] == "rejected" and response.json()["rejection_reason"] == "不符合条件"


def test_batches(client, flow, zhang, li, wang):
    a, b = new_app(flow, zhang), new_app(flow, li)
    other = new_app(flow, wang, actor=flow.scope("collector2"))
    login(client, flow, "collector")
    response = post(client, f"{BASE}/applications/batch/verify", {"ids": [a.pk, str(b.pk), other.pk, "x"]})
    assert response.status_code == 200
    results = {str(r["application_id"]): r for r in response.json()}
    assert results[str(a.pk)]["ok"] and results[str(b.pk)]["ok"] and results[str(b.pk)]["status"] == "verified"
    assert not results[str(other.pk)]["ok"] and "管辖范围" in results[str(other.pk)]["message"]
    assert not results["x"]["ok"]
    response = post(client, f"{BASE}/applications/batch/withdraw", {"ids": [a.pk], "reason": ""})
    assert response.status_code == 400
    assert post(client, f"{BASE}/applications/batch/explode", {"ids": [a.pk]}).status_code == 404
    assert post(client, f"{BASE}/applications/batch/approve", {"ids": [a.pk]}).status_code == 403
    login(client, flow, "supervisor")
    assert post(client, f"{BASE}/applications/batch/return", {"ids": [a.pk], "reason": "x"}).status_code == 403
    login(client, flow, "collector")
    response = post(client, f"{BASE}/applications/batch/return", {"ids": [a.pk, b.pk], "reason": "补充材料"})
    assert all(r["ok"] for r in response.json())
    assert set(Application.objects.filter(pk__in=[a.pk, b.pk]).values_list("status", flat=True)) == {"returned"}


def test_batch_approve_reject_and_sampling(client, flow, zhang, li):
    a, b = submitted(flow, zhang, li)
    login(client, flow, "civil")
    response = post(client, f"{BASE}/approval/sample",
                    {"policy_code": "WZ-001", "period": "2026-03", "region_code": TOWNSHIP, "ratio": "50%",
                     "seed": "s1"})
    assert response.status_code == 200 and len(response.json()["sampled"]) == 1
    sampled = response.json()["sampled"][0]
    response = post(client, f"{BASE}/approval/sample",
                    {"policy_code": "WZ-001", "period": "2026-03", "region_code": TOWNSHIP, "ratio": "abc"})
    assert response.status_code == 400 and response.json()["field"] == "ratio"
    response = post(client, f"{BASE}/applications/batch/approve", {"ids": [a.pk, b.pk]})
    by_number = {r["number"] or r["application_id"]: r for r in response.json()}
    refused = [r for r in response.json() if not r["ok"]]
    assert len(refused) == 1 and "抽查" in refused[0]["message"] and sampled not in by_number
    response = post(client, f"{BASE}/applications/batch/reject", {"ids": [refused[0]["application_id"]],
                                                                  "reason": "抽查不属实"})
    assert response.json()[0]["ok"] and response.json()[0]["status"] == "rejected"
    login(client, flow, "collector")
    response = post(client, f"{BASE}/approval/sample",
                    {"policy_code": "WZ-001", "period": "2026-03", "region_code": TOWNSHIP, "ratio": "50%"})
    assert response.status_code == 403


# -- notices -----------------------------------------------------------------------------------------------
def test_notice_endpoints(client, flow, zhang, li):
    a, b = verified(flow, zhang, li)
    login(client, flow, "civil")
    response = post(client, f"{BASE}/notices", {"region_code": VILLAGE, "policy_code": "WZ-001", "period": "2026-03"})
    assert response.status_code == 403
    login(client, flow, "collector")
    response = post(client, f"{BASE}/notices", {"region_code": TOWNSHIP, "policy_code": "WZ-001", "period": "2026-03"})
    assert response.status_code == 400 and "不是村（社区）级区划" in response.json()["detail"]
    response = post(client, f"{BASE}/notices", {"region_code": VILLAGE, "policy_code": "WZ-001", "period": "2026-03"})
    assert response.status_code == 201
    notice = response.json()
    assert notice["number"] == "GS-500101001001-WZ-001-2026-03-R1" and len(notice["entries"]) == 2
    assert notice["entries"][0]["name_masked"] == "张**" and notice["pdf_url"].startswith("/files/")
    assert notice["public_url"].endswith(f"/notices/{notice['number']}/") and len(notice["digest"]) == 64
    nid = notice["id"]
    assert client.get(f"{BASE}/notices").json()["count"] == 1
    assert client.get(f"{BASE}/notices/{nid}").json()["entry_count"] == 2
    pdf = client.get(f"{BASE}/notices/{nid}/pdf")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    response = post(client, f"{BASE}/notices/{nid}/objections", {"application_id": a.pk, "content": "有疑问"})
    assert response.status_code == 201 and response.json()["application"] == a.number
    assert post(client, f"{BASE}/notices/{nid}/objections", {"content": ""}).status_code == 400
    oid = response.json()["id"]
    assert len(client.get(f"{BASE}/notices/{nid}/objections").json()) == 1
    response = post(client, f"{BASE}/notices/{nid}/close")
    assert response.status_code == 400 and "公示期未满" in response.json()["detail"]
    response = post(client, f"{BASE}/objections/{oid}/resolve", {"upheld": False, "finding": "经核实不成立"})
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    assert post(client, f"{BASE}/objections/{oid}/resolve", {"upheld": True, "finding": "x"}).status_code == 400
    assert post(client, f"{BASE}/objections/999/resolve", {"upheld": True, "finding": "x"}).status_code == 404
    response = post(client, f"{BASE}/notices/{nid}/republish", {})
    assert response.status_code == 400 and "无需重新公示" in response.json()["detail"]
    assert post(client, f"{BASE}/notices/{nid}/submit").status_code == 400
    flow.set_today("2026-03-06")
    assert post(client, f"{BASE}/notices/{nid}/close").json()["status"] == "closed"
    response = post(client, f"{BASE}/notices/{nid}/submit")
    assert response.status_code == 200 and {r["status"] for r in response.json()} == {"submitted"}
    # other regions
    login(client, flow, "collector2")
    assert client.get(f"{BASE}/notices/{nid}").status_code == 404
    assert client.get(f"{BASE}/notices/{nid}/pdf").status_code == 404
    assert client.get(f"{BASE}/notices/{nid}/objections").status_code == 404
    assert post(client, f"{BASE}/objections/{oid}/resolve", {"upheld": False, "finding": "x"}).status_code == 404
    assert client.get(f"{BASE}/notices").json()["count"] == 0


def test_republish_after_an_upheld_objection(client, flow, zhang, li):
    a, b = verified(flow, zhang, li)
    notice = notice_publish(actor=flow.scope("collector"), region_code=VILLAGE, policy_code="WZ-001", period="2026-03")
    objection = objection_record(actor=flow.scope("collector"), notice_id=notice.pk, application_id=a.pk,
                                 content="不符合")
    login(client, flow, "civil")  # a department may resolve objections
    response = post(client, f"{BASE}/objections/{objection.pk}/resolve",
                    {"upheld": True, "reject": True, "finding": "已有同类补助"})
    assert response.status_code == 200 and response.json()["status"] == "upheld"
    a.refresh_from_db()
    assert (a.status, a.rejection_reason) == ("rejected", "已有同类补助")
    login(client, flow, "collector")
    response = post(client, f"{BASE}/notices/{notice.pk}/republish", {"starts_on": "2026-03-03"})
    assert response.status_code == 201
    body = response.json()
    assert body["round"] == 2 and body["previous"] == notice.number and len(body["entries"]) == 1
    assert client.get(f"{BASE}/notices/{notice.pk}").json()["status"] == "superseded"


# -- register ----------------------------------------------------------------------------------------------
def test_register_xlsx(client, flow, zhang, li):
    a, b = submitted(flow, zhang, li)
    application_approve(actor=flow.scope("civil"), application_id=a.pk)
    application_approve(actor=flow.scope("civil"), application_id=b.pk)
    login(client, flow, "finance")
    response = client.get(f"{BASE}/register.xlsx", {"township": TOWNSHIP, "policy": "WZ-001", "period": "2026-03"})
    assert response.status_code == 200 and response["X-Register-Rows"] == "2"
    assert response["X-Register-Total"] == "600.00"
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(values_only=True))
    assert [r[1] for r in rows[1:3]] == ["张三丰", "李四"]
    response = client.get(f"{BASE}/register.xlsx", {"township": VILLAGE, "policy": "WZ-001", "period": "2026-03"})
    assert response.status_code == 400 and "不是乡镇" in response.json()["detail"]
    response = client.get(f"{BASE}/register.xlsx", {"township": TOWNSHIP, "policy": "WZ-001", "period": "2026-13"})
    assert response.status_code == 400
    login(client, flow, "collector2")
    response = client.get(f"{BASE}/register.xlsx", {"township": TOWNSHIP, "policy": "WZ-001", "period": "2026-03"})
    assert response.status_code == 403
    login(client, flow, "hr")
    response = client.get(f"{BASE}/register.xlsx", {"township": TOWNSHIP, "policy": "WZ-001", "period": "2026-03"})
    assert response.status_code == 403


# -- rosters -----------------------------------------------------------------------------------------------
@pytest.fixture
def roster(flow):
    actor = flow.scope("collector")
    original = file_store(actor=actor, fileobj=io.BytesIO(b"x"), original_name="r.csv", purpose="roster",
                          region_code=TOWNSHIP)
    roster = RosterImport.objects.create(
        policy=Policy.objects.get(code="WZ-001"), period="2026-03", organization=flow.world.orgs["collector"],
        region_id=TOWNSHIP, file=original, status="done", total_rows=3, accepted=2, rejected=1,
        created_by="t_collector")
    RosterRowError.objects.create(roster_import=roster, row_number=2, column="身份证号", value="5001",
                                  reason="身份证号应为 18 位", raw=["a"])
    return roster


def test_roster_records_and_errors(client, flow, roster):
    login(client, flow, "collector")
    assert [r["id"] for r in client.get(f"{BASE}/rosters").json()] == [str(roster.pk)]
    body = client.get(f"{BASE}/rosters/{roster.pk}").json()
    assert (body["status"], body["accepted"], body["rejected"], body["percent"]) == ("done", 2, 1, 100)
    assert body["rejected_file_url"] is None
    errors = client.get(f"{BASE}/rosters/{roster.pk}/errors").json()
    assert errors["count"] == 1 and errors["items"][0] == {"row_number": 2, "column": "身份证号", "value": "5001",
                                                           "reason": "身份证号应为 18 位"}
    assert client.get(f"{BASE}/rosters/not-a-uuid").status_code == 404
    login(client, flow, "collector2")
    assert client.get(f"{BASE}/rosters/{roster.pk}").status_code == 404
    assert client.get(f"{BASE}/rosters/{roster.pk}/errors").status_code == 404
    assert client.get(f"{BASE}/rosters").json() == []


def test_roster_upload_runs_the_import(client, flow):
    from .roster_fixtures import csv_bytes, person_row

    login(client, flow, "collector")
    content = csv_bytes([person_row(0), person_row(1, 补贴金额="abc")])
    response = client.post(f"{BASE}/rosters", {"policy_code": "WZ-001", "period": "2026-03",
                                               "file": io.BytesIO(content)})
    assert response.status_code == 202, response.content
    body = response.json()  # the immediate task backend of the tests has already run it
    assert (body["status"], body["accepted"], body["rejected"]) == ("done", 1, 1)
    assert body["rejected_file_url"].startswith("/files/")
    errors = client.get(f"{BASE}/rosters/{body['id']}/errors").json()["items"]
    assert errors[0]["row_number"] == 3 and errors[0]["column"] == "补贴金额"
    response = client.post(f"{BASE}/rosters", {"policy_code": "WZ-001", "period": "2026Q1",
                                               "file": io.BytesIO(content)})
    assert response.status_code == 400 and response.json()["field"] == "period"


def test_roster_upload_roles(client, flow):
    login(client, flow, "civil")
    response = client.post(f"{BASE}/rosters", {"policy_code": "WZ-001", "period": "2026-03",
                                               "file": io.BytesIO("姓名\n".encode())})
    assert response.status_code == 403
    login(client, flow, "supervisor")
    response = client.post(f"{BASE}/rosters", {"policy_code": "WZ-001", "period": "2026-03",
                                               "file": io.BytesIO("姓名\n".encode())})
    assert response.status_code == 403
