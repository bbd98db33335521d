"""The registry API (/api/registry/): status codes, masked JSON, scope, refusals in Chinese."""

import json

import pytest

from yikatong.core.models import AuditEvent
from yikatong.registry.models import Beneficiary, PayeeAccount

from .conftest import GST_VILLAGE, TB_VILLAGE, bad_luhn, make_card, make_id, make_uscc

BASE = "/api/registry"
ID = make_id(seq="135")
CARD = make_card("621700000012345678")


def login(client, world, key):
    client.force_login(world.users[key])
    return client


def post(client, url, payload):
    return client.post(url, json.dumps(payload), content_type="application/json")


PERSON = {"name": "张三丰", "id_number": ID, "region_code": GST_VILLAGE, "phone": "13812345678",
          "household_number": "H1"}


@pytest.fixture
def registered(client, world):
    login(client, world, "collector")
    response = post(client, f"{BASE}/beneficiaries/person", PERSON)
    assert response.status_code == 201, response.content
    return response.json()


def test_register_person_201_then_200(client, world, registered):
    assert registered["id_masked"] == f"500101********{ID[-4:]}" and registered["phone_masked"] == "138****5678"
    assert registered["gender"] == "男" and registered["household"] == "H1" and registered["version"] == 1
    assert ID not in json.dumps(registered) and "13812345678" not in json.dumps(registered)
    again = post(client, f"{BASE}/beneficiaries/person", PERSON)
    assert again.status_code == 200 and again.json()["id"] == registered["id"]
    assert Beneficiary.objects.count() == 1


def test_register_refusals(client, world, registered):
    bad = post(client, f"{BASE}/beneficiaries/person", {**PERSON, "id_number": ID[:-1] + "0"
                                                        if ID[-1] != "0" else ID[:-1] + "1"})
    assert bad.status_code == 400
    assert bad.json()["field"] == "id_number" and bad.json()["detail"].startswith("身份证号校验位错误")
    mismatch = post(client, f"{BASE}/beneficiaries/person", {**PERSON, "name": "李四"})
    assert mismatch.status_code == 400 and mismatch.json()["code"] == "name_mismatch"
    other = post(client, f"{BASE}/beneficiaries/person", {**PERSON, "id_number": make_id(seq="246"),
                                                          "region_code": TB_VILLAGE, "household_number": ""})
    assert other.status_code == 403 and "不在您的管辖范围内" in other.json()["detail"]
    missing = post(client, f"{BASE}/beneficiaries/person", {"name": "张三"})
    assert missing.status_code == 422


def test_register_organization(client, world):
    login(client, world, "civil")
    payload = {"name": "高笋塘种植专业合作社", "credit_code": make_uscc(), "region_code": GST_VILLAGE}
    response = post(client, f"{BASE}/beneficiaries/organization", payload)
    assert response.status_code == 201 and response.json()["id_masked"] == make_uscc()
    assert post(client, f"{BASE}/beneficiaries/organization", payload).status_code == 200


def test_list_and_detail_are_masked_and_scoped(client, world, registered):
    listing = client.get(f"{BASE}/beneficiaries", {"q": "张"})
    assert listing.status_code == 200
    body = listing.json()
    assert body["count"] == 1 and body["items"][0]["id_masked"].count("*") == 8
    by_id = client.get(f"{BASE}/beneficiaries", {"id_number": ID.lower()}).json()
    assert [i["id"] for i in by_id["items"]] == [registered["id"]]
    detail = client.get(f"{BASE}/beneficiaries/{registered['id']}")
    assert detail.status_code == 200 and detail.json()["account"] is None
    login(client, world, "collector2")
    assert client.get(f"{BASE}/beneficiaries").json()["count"] == 0
    assert client.get(f"{BASE}/beneficiaries/{registered['id']}").status_code == 404
    login(client, world, "finance_other")
    assert client.get(f"{BASE}/beneficiaries", {"id_number": ID}).json()["count"] == 0
    login(client, world, "card_bank")
    assert client.get(f"{BASE}/beneficiaries").status_code == 403
    client.logout()
    assert client.get(f"{BASE}/beneficiaries").status_code == 401


def test_account_set_and_history(client, world, registered):
    url = f"{BASE}/beneficiaries/{registered['id']}/account"
    first = post(client, url, {"bank_name": "农商行", "account_number": CARD, "card_status": "未激活"})
    assert first.status_code == 201
    data = first.json()
    assert (data["kind"], data["version"], data["card_status"], data["payable"]) == (
        "ssc_card", 1, "not_activated", False)
    assert data["warning"] == "该社保卡未激活金融功能，发放前须提醒本人激活"
    assert data["account_masked"].endswith(CARD[-4:]) and CARD not in json.dumps(data)
    same = post(client, url, {"bank_name": "农商行", "account_number": CARD})
    assert same.status_code == 200 and same.json()["id"] == data["id"]
    bad = post(client, url, {"bank_name": "农商行", "account_number": bad_luhn(CARD), "reason": "换卡"})
    assert bad.status_code == 400 and bad.json()["field"] == "account"
    no_reason = post(client, url, {"bank_name": "农商行", "account_number": "1234567890123", "kind": "other_bank",
                                   "reason": "换卡"})
    assert no_reason.status_code == 400 and no_reason.json()["detail"] == "使用非社保卡账户须填写过渡期例外原因"
    corporate = post(client, url, {"bank_name": "农商行", "account_number": "50001234567890", "kind": "corporate",
                                   "reason": "换卡"})
    assert corporate.status_code == 400 and corporate.json()["field"] == "kind"
    second = post(client, url, {"bank_name": "农业银行", "account_number": make_card("621799990087654321"),
                                "reason": "补办社保卡"})
    assert second.status_code == 201 and second.json()["version"] == 2
    history = client.get(f"{BASE}/beneficiaries/{registered['id']}/accounts").json()
    assert [(a["version"], a["is_active"]) for a in history] == [(2, True), (1, False)]
    assert history[1]["superseded_reason"] == "补办社保卡"
    detail = client.get(f"{BASE}/beneficiaries/{registered['id']}").json()
    assert detail["account"]["version"] == 2
    login(client, world, "collector2")
    assert post(client, url, {"bank_name": "x", "account_number": CARD, "reason": "x"}).status_code == 404
    login(client, world, "finance")
    assert post(client, url, {"bank_name": "x", "account_number": CARD, "reason": "x"}).status_code == 403
    assert PayeeAccount.objects.count() == 2


def test_patch_and_card_status(client, world, registered):
    url = f"{BASE}/beneficiaries/{registered['id']}"
    no_reason = client.patch(url, json.dumps({"name": "张三峰"}), content_type="application/json")
    assert no_reason.status_code == 400 and no_reason.json()["field"] == "reason"
    ok = client.patch(url, json.dumps({"name": "张三峰", "reason": "依据户口簿更正", "phone": ""}),
                      content_type="application/json")
    assert ok.status_code == 200 and ok.json()["name"] == "张三峰" and ok.json()["phone_masked"] == ""
    assert ok.json()["version"] == 2
    acc = post(client, f"{url}/account", {"bank_name": "农商行", "account_number": CARD}).json()
    status_url = f"{BASE}/accounts/{acc['id']}/card-status"
    assert post(client, status_url, {"status": "activated"}).status_code == 403  # collectors cannot
    login(client, world, "hr")
    response = post(client, status_url, {"status": "挂失", "source": "社保卡管理系统"})
    assert response.status_code == 200 and response.json()["card_status"] == "lost"
    assert AuditEvent.objects.filter(action="card_status.update", reason="社保卡管理系统").count() == 1
    assert post(client, status_url, {"status": "冻结"}).status_code == 400


def test_openapi_lists_the_routes(client, world):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/registry/beneficiaries", "/api/registry/beneficiaries/{beneficiary_id}",
                 "/api/registry/beneficiaries/person", "/api/registry/beneficiaries/organization",
                 "/api/registry/beneficiaries/{beneficiary_id}/account",
                 "/api/registry/beneficiaries/{beneficiary_id}/accounts"):
        assert path in paths, path
