"""The one-list API (/api/policies/): status codes, JSON shapes (amounts as strings), scope, refusals in
Chinese, and the OpenAPI page served from the platform's own static files."""

import json
import re

import pytest

from tests.policies.conftest import policy_fields
from yikatong.policies.models import AnnualPolicyList, ChangeRequest, LibraryEntry, Policy
from yikatong.policies.services import library_build_from_list, policy_create

YEAR = 2027
P, M, WZ, FL = "500000000000", "500100000000", "500101000000", "500102000000"
BASE = "/api/policies"


def as_user(client, ol, key):
    client.force_login(ol.users.get(key) or ol.world.users[key])
    return client


def post(client, url, payload=None):
    return client.post(url, json.dumps(payload or {}), content_type="application/json")


def patch(client, url, payload):
    return client.patch(url, json.dumps(payload), content_type="application/json")


@pytest.fixture
def policies(one_list, today):
    ol = one_list
    policy_create(actor=ol.scope("p_civil"),
                  fields=policy_fields(code="CQ-X", department="CQ-MZJ", level_set="provincial",
                                       funding_sources=[{"level": "provincial", "share": "100"}]))
    policy_create(actor=ol.scope("civil"), fields=policy_fields())
    policy_create(actor=ol.scope("fl_civil"), fields=policy_fields(code="FL-1", department="FL-MZJ"))
    return ol


NEW_POLICY = {
    "code": "WZ-002", "name": "万州区高龄津贴", "department": "WZ-MZJ", "level_set": "county",
    "funding_sources": [{"level": "county", "share": "100"}], "standard_type": "per_unit",
    "standard_amount": "0.50", "unit_name": "天", "cycle": "monthly", "valid_from": "2026-01-01",
    "min_age": 80, "means_tested": False,
}


def test_docs_render_with_local_assets(client, world):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:href|src)="([^"]+)"', html)
    assert "/static/ninja/swagger-ui-bundle.js" in assets and "/static/ninja/swagger-ui.css" in assets
    assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    schema = client.get("/api/openapi.json").json()
    for path in ["/api/policies/", "/api/policies/{code}", "/api/policies/{code}/compare",
                 "/api/policies/lists/{region}/{year}", "/api/policies/library/check",
                 "/api/policies/changes/{pk}/approve", "/api/policies/lists/{region}/{year}/import"]:
        assert path in schema["paths"], path


def test_login_required(client, policies):
    assert client.get(f"{BASE}/").status_code == 401
    assert post(client, f"{BASE}/", NEW_POLICY).status_code == 401


def test_list_filters_and_scope(client, policies):
    as_user(client, policies, "civil")
    response = client.get(f"{BASE}/")
    assert response.status_code == 200
    body = response.json()
    assert [p["code"] for p in body["items"]] == ["CQ-X", "WZ-001"] and body["count"] == 2
    wz = body["items"][1]
    assert wz["standard_amount"] == "300.00" and wz["funding_sources"] == [{"level": "county", "share": "100"}]
    assert wz["department"] == "WZ-MZJ" and wz["valid_from"] == "2026-01-01" and wz["valid_to"] is None
    assert [p["code"] for p in client.get(f"{BASE}/", {"level": "provincial"}).json()["items"]] == ["CQ-X"]
    assert [p["code"] for p in client.get(f"{BASE}/", {"q": "wz"}).json()["items"]] == ["WZ-001"]
    assert client.get(f"{BASE}/", {"means_tested": "false"}).json()["items"] == []
    assert client.get(f"{BASE}/FL-1").status_code == 404
    missing = client.get(f"{BASE}/NOPE")
    assert missing.status_code == 404 and missing.json()["detail"] == "补贴项目 NOPE 不存在或不在您的查看范围内。"


def test_create_update_versions_compare_retire(client, policies):
    as_user(client, policies, "civil")
    created = post(client, f"{BASE}/", NEW_POLICY)
    assert created.status_code == 201, created.content
    assert created.json()["standard_amount"] == "0.50" and created.json()["version"] == 1
    duplicate = post(client, f"{BASE}/", NEW_POLICY)
    assert duplicate.status_code == 400
    assert duplicate.json() == {"detail": "补贴项目编码 WZ-002 已存在，请使用其他编码。", "code": None, "field": "code"}
    bad = post(client, f"{BASE}/", {**NEW_POLICY, "code": "WZ-003",
                                   "funding_sources": [{"level": "county", "share": "60"}]})
    assert bad.status_code == 400 and bad.json()["field"] == "funding_sources"
    assert bad.json()["detail"] == "资金来源比例合计应为100%，当前为60%。"

    no_reason = patch(client, f"{BASE}/WZ-002", {"reason": "", "standard_amount": "0.60"})
    assert no_reason.status_code == 400 and no_reason.json()["detail"] == "请填写修改原因（将记入版本历史）。"
    updated = patch(client, f"{BASE}/WZ-002", {"reason": "调标", "standard_amount": "0.60"})
    assert updated.status_code == 200 and updated.json()["standard_amount"] == "0.60"
    assert updated.json()["version"] == 2 and updated.json()["min_age"] == 80  # untouched fields stay
    versions = client.get(f"{BASE}/WZ-002/versions").json()
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["reason"] == "调标"
    rows = client.get(f"{BASE}/WZ-002/compare", {"v1": 1, "v2": 2}).json()
    assert [r for r in rows if r["changed"]] == [
        {"label": "补贴标准（元）", "old": "0.50", "new": "0.60", "changed": True}]
    assert client.get(f"{BASE}/WZ-002/compare", {"v1": 1, "v2": 5}).status_code == 404

    assert post(client, f"{BASE}/WZ-002/retire", {"reason": ""}).json()["detail"] == "请填写停止执行的原因。"
    retired = post(client, f"{BASE}/WZ-002/retire", {"reason": "并入其他政策"})
    assert retired.status_code == 200 and retired.json()["status"] == "retired"
    assert post(client, f"{BASE}/WZ-002/retire", {"reason": "again"}).status_code == 400


def test_wrong_role_and_other_region_get_403(client, policies):
    as_user(client, policies, "supervisor")
    assert post(client, f"{BASE}/", NEW_POLICY).status_code == 403
    assert client.get(f"{BASE}/WZ-001").status_code == 200  # reading is fine
    refused = patch(client, f"{BASE}/WZ-001", {"reason": "x", "name": "改名"})
    assert refused.status_code == 403 and refused.json()["detail"] == "监督、监管角色只能查看，不能修改数据。"
    as_user(client, policies, "finance")  # sees the provincial policy but may not change it
    assert patch(client, f"{BASE}/CQ-X", {"reason": "x", "name": "改名"}).status_code == 403
    as_user(client, policies, "agri")
    assert post(client, f"{BASE}/", NEW_POLICY).status_code == 403  # other business line
    assert Policy.objects.filter(code="WZ-002").count() == 0


def test_list_workflow(client, policies):
    ol = policies
    as_user(client, ol, "civil")
    added = post(client, f"{BASE}/lists/{WZ}/{YEAR}/items", {"policy": "WZ-001"})
    assert added.status_code == 201 and added.json()["part"] == "self_defined" and added.json()["status"] == "draft"
    again = post(client, f"{BASE}/lists/{WZ}/{YEAR}/items", {"policy": "WZ-001"})
    assert again.status_code == 400 and again.json()["detail"] == "补贴项目 WZ-001 已在 2027 年度清单中。"
    post(client, f"{BASE}/lists/{WZ}/{YEAR}/items", {"policy": "CQ-X"})
    assert client.delete(f"{BASE}/lists/{WZ}/{YEAR}/items/CQ-X").status_code == 204
    view = client.get(f"{BASE}/lists/{WZ}/{YEAR}").json()
    assert view["status"] == "draft" and [i["policy"] for i in view["items"]] == ["WZ-001"]
    assert [d["state"] for d in view["deadlines"]] == ["near", "ok", "ok"]
    submitted = post(client, f"{BASE}/lists/{WZ}/{YEAR}/submit")
    assert submitted.status_code == 200 and submitted.json()[0]["status"] == "submitted"
    assert post(client, f"{BASE}/lists/{M}/{YEAR}/file").status_code == 403  # a department cannot file
    assert client.get(f"{BASE}/lists/{FL}/{YEAR}").status_code == 403
    assert client.get(f"{BASE}/lists/500101001000/{YEAR}").status_code == 404

    as_user(client, ol, "m_finance")
    filed = post(client, f"{BASE}/lists/{M}/{YEAR}/file")
    assert filed.status_code == 200 and {x["region"] for x in filed.json()} == {M, WZ}
    as_user(client, ol, "p_finance")
    returned = post(client, f"{BASE}/lists/{M}/{YEAR}/return", {"reason": "补充材料"})
    assert returned.status_code == 200 and all(x["status"] == "draft" for x in returned.json())
    assert AnnualPolicyList.objects.get(region_id=WZ).returned_reason == "补充材料"
    as_user(client, ol, "m_finance")
    post(client, f"{BASE}/lists/{M}/{YEAR}/file")
    as_user(client, ol, "finance")
    assert post(client, f"{BASE}/lists/{P}/{YEAR}/publish").status_code == 403
    as_user(client, ol, "p_finance")
    published = post(client, f"{BASE}/lists/{P}/{YEAR}/publish")
    assert published.status_code == 200 and {x["region"] for x in published.json()} == {P, M, WZ}
    diff = client.get(f"{BASE}/lists/{WZ}/{YEAR}/compare", {"v1": 1, "v2": 3}).json()
    assert diff["added"] == [] and diff["removed"] == []
    assert client.get(f"{BASE}/lists/{WZ}/{YEAR}/compare", {"v1": 1, "v2": 9}).status_code == 404


def test_library_endpoints(client, published):
    ol = published
    as_user(client, ol, "civil")
    assert post(client, f"{BASE}/library/{YEAR}/build").status_code == 403
    as_user(client, ol, "p_finance")
    built = post(client, f"{BASE}/library/{YEAR}/build")
    assert built.status_code == 200 and len(built.json()) == 3
    assert post(client, f"{BASE}/library/{YEAR}/build").json() == []  # idempotent
    locked = post(client, f"{BASE}/library/{YEAR}/lock")
    assert locked.status_code == 201 and locked.json()["region"] == P
    assert post(client, f"{BASE}/library/{YEAR}/lock").json()["detail"] == "2027 年度补贴项目库已锁定，无需重复锁定。"
    as_user(client, ol, "finance")
    library = client.get(f"{BASE}/library/{YEAR}").json()
    assert library["locked"] and sorted(e["policy"] for e in library["entries"]) == ["CQ-X", "WZ-001"]
    assert library["entries"][0]["source"] == "list"
    check = client.get(f"{BASE}/library/check", {"policy": "CQ-X", "region": "500101001001", "year": YEAR}).json()
    assert check["allowed"] is True
    refused = client.get(f"{BASE}/library/check", {"policy": "FL-1", "region": WZ, "year": YEAR}).json()
    assert refused["allowed"] is False and refused["message"].startswith("补贴项目 FL-1 不在 2027 年度 万州区")
    other = client.get(f"{BASE}/library/check", {"policy": "FL-1", "region": FL, "year": YEAR})
    assert other.status_code == 403
    bad = client.get(f"{BASE}/library/check", {"policy": "FL-1", "region": "12", "year": YEAR})
    assert bad.status_code == 400
    expired = post(client, f"{BASE}/library/{YEAR}/expire")
    assert expired.status_code == 200 and expired.json() == []  # nothing past its validity yet


def test_change_request_chain(client, published, today):
    ol = published
    library_build_from_list(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    today("2027-03-01")
    policy_create(actor=ol.scope("civil"), fields=policy_fields(code="WZ-002", status="draft"))
    as_user(client, ol, "civil")
    payload = {"region": WZ, "year": YEAR, "policy": "WZ-002", "change_type": "add", "content": "新增",
               "reason": "区政府决定", "amount_impact": "-1200.50"}
    created = post(client, f"{BASE}/changes/", payload)
    assert created.status_code == 201, created.content
    cr = created.json()
    assert cr["status"] == "draft" and cr["amount_impact"] == "-1200.50" and cr["number"].startswith("BG2027-")
    assert post(client, f"{BASE}/changes/", payload).status_code == 400  # a second open request
    closed = post(client, f"{BASE}/changes/", {**payload, "year": 2026})
    assert closed.status_code == 400 and closed.json()["detail"] == "2026 年度已结束，不能再申请调整。"
    submitted = post(client, f"{BASE}/changes/{cr['id']}/submit").json()
    assert submitted["status"] == "in_review" and submitted["current_step_label"] == "县级主管部门审核"
    assert submitted["step_deadline"] == "2027-03-15"
    assert post(client, f"{BASE}/changes/{cr['id']}/return", {"reason": ""}).status_code == 400
    for key in ["civil", "m_finance", "p_civil"]:
        as_user(client, ol, key)
        assert [c["id"] for c in client.get(f"{BASE}/changes/awaiting").json()] == [cr["id"]]
        assert post(client, f"{BASE}/changes/{cr['id']}/approve", {"opinion": "同意"}).status_code == 200
    as_user(client, ol, "m_finance")  # not its step any more
    wrong = post(client, f"{BASE}/changes/{cr['id']}/approve", {})
    assert wrong.status_code == 403 and "省级财政部门审核" in wrong.json()["detail"]
    as_user(client, ol, "finance_other")
    assert client.get(f"{BASE}/changes/{cr['id']}").status_code == 404
    assert client.get(f"{BASE}/changes/").json()["items"] == []
    as_user(client, ol, "p_finance")
    final = post(client, f"{BASE}/changes/{cr['id']}/approve", {}).json()
    assert final["status"] == "approved" and final["step_deadline"] is None
    assert [s["step"] for s in final["steps"]] == ["applicant", "county_department", "prefecture_government",
                                                   "province_department", "province_finance"]
    entry = LibraryEntry.objects.get(policy__code="WZ-002")
    assert entry.source_change_id == cr["id"]
    as_user(client, ol, "finance")
    sources = {e["policy"]: e["source_change"] for e in client.get(f"{BASE}/library/{YEAR}").json()["entries"]}
    assert sources["WZ-002"] == cr["number"]


def test_change_request_withdraw_and_modify(client, published, today):
    ol = published
    library_build_from_list(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    today("2027-03-01")
    as_user(client, ol, "civil")
    modify = post(client, f"{BASE}/changes/", {
        "region": WZ, "year": YEAR, "policy": "WZ-001", "change_type": "modify", "content": "提标",
        "reason": "物价上涨", "new_standard": {"standard_amount": "320"}})
    assert modify.status_code == 201 and modify.json()["new_standard"] == {"standard_amount": "320.00"}
    withdrawn = post(client, f"{BASE}/changes/{modify.json()['id']}/withdraw", {"reason": "另行申请"})
    assert withdrawn.json()["status"] == "withdrawn"
    assert post(client, f"{BASE}/changes/{modify.json()['id']}/submit").status_code == 400
    as_user(client, ol, "agri")
    assert post(client, f"{BASE}/changes/", {
        "region": WZ, "year": YEAR, "policy": "WZ-001", "change_type": "remove", "content": "x",
        "reason": "y"}).status_code == 403
    assert ChangeRequest.objects.count() == 1
