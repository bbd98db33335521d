"""API of the shared-data sources: the data-sharing exchange pushes files and rows with its credential."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yikatong.checks.models import SourceImport
from yikatong.checks.sources import source_current, source_rows
from yikatong.core import crypto
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope
from yikatong.core.services.apikeys import apikey_create, apikey_revoke

from . import test_sources_support as support
from .test_sources_support import HEADERS, csv_bytes, ids, make_card

pytestmark = pytest.mark.django_db
fixed_today = support.fixed_today


def key_for(world, org_code: str, interfaces: list[str]) -> str:
    admin = Scope.for_user(world.users["admin"])
    return apikey_create(actor=admin, organization_code=org_code, name="数据共享交换", interfaces=interfaces)[1]


@pytest.fixture
def exchange_key(world):
    return key_for(world, "PLAT-ADMIN", ["data_sharing"])


def post_file(client, source, data, key, **extra):
    upload = SimpleUploadedFile("death.csv", data, content_type="text/csv")
    headers = {"HTTP_X_API_KEY": key} if key else {}
    return client.post(f"/api/sources/{source}/import", {"file": upload, **extra}, **headers)


def post_rows(client, source, payload, key):
    return client.post(f"/api/sources/{source}/rows", json.dumps(payload), content_type="application/json",
                       HTTP_X_API_KEY=key)


def test_exchange_uploads_a_file_and_it_is_put_in_force(client, exchange_key):
    a, b = ids(2)
    response = post_file(client, "death", csv_bytes(HEADERS["death"], [f"{a},甲,2026-01-01", f"{b},乙,2026-03-01"]),
                         exchange_key, data_date="2026-02-28")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "active" and body["channel"] == "api" and body["data_date"] == "2026-02-28"
    assert (body["accepted"], body["rejected"]) == (1, 1)
    assert source_current("death").pk.hex == body["id"].replace("-", "")
    assert body["job_id"]
    errors = client.get(f"/api/sources/imports/{body['id']}/errors", HTTP_X_API_KEY=exchange_key).json()
    assert errors["count"] == 1
    assert errors["items"][0]["row_number"] == 3 and "晚于数据日期" in errors["items"][0]["reason"]
    assert b not in json.dumps(errors, ensure_ascii=False)  # masked
    detail = client.get(f"/api/sources/imports/{body['id']}", HTTP_X_API_KEY=exchange_key)
    assert detail.status_code == 200 and detail.json()["file_name"] == "death.csv"


def test_exchange_pushes_rows_as_json(client, exchange_key):
    a, b = ids(2)
    card = make_card()
    payload = {"data_date": "2026-03-01", "rows": [
        {"身份证号": a, "姓名": "甲", "社保卡银行账号": card, "开户银行": "农商行", "金融功能状态": "已激活"},
        {"身份证号": b, "姓名": "乙", "社保卡银行账号": card, "开户银行": "农商行", "金融功能状态": "冻结", "多余": 1},
    ]}
    response = post_rows(client, "ssc_card", payload, exchange_key)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "active" and (body["accepted"], body["rejected"]) == (1, 1)
    row = source_rows("ssc_card").get()
    assert crypto.decrypt_text(row.account_enc) == card and row.card_status == "activated"
    imp = SourceImport.objects.get(pk=body["id"])
    assert imp.file.original_name.startswith("ssc_card_api_") and imp.channel == "api"
    event = AuditEvent.objects.get(action="source.import", object_id=str(imp.pk))
    assert event.actor_username.startswith("apikey:") and event.organization_code == "PLAT-ADMIN"


def test_rows_push_refusals(client, exchange_key):
    assert post_rows(client, "death", {"rows": []}, exchange_key).status_code == 400
    assert post_rows(client, "planes", {"rows": [{"身份证号": "x"}]}, exchange_key).status_code == 400
    response = post_rows(client, "death", {"data_date": "2099-01-01", "rows": [{"身份证号": ids(1)[0]}]}, exchange_key)
    assert response.status_code == 400 and "晚于今天" in response.json()["detail"]
    assert SourceImport.objects.count() == 0


def test_a_whole_file_refusal_answers_202_with_the_failed_import(client, exchange_key):
    response = post_file(client, "death", csv_bytes("身份证号,姓名", ["x,y"]), exchange_key)
    assert response.status_code == 202
    assert response.json()["status"] == "failed" and "死亡日期" in response.json()["message"]
    assert source_current("death") is None


def test_keys_without_the_interface_or_role_are_refused(client, world):
    bank_key = key_for(world, "WZ-NSH", ["bank"])
    data = csv_bytes(HEADERS["death"], [f"{ids(1)[0]},甲,2026-01-01"])
    assert post_file(client, "death", data, bank_key).status_code == 403
    assert post_file(client, "death", data, None).status_code == 401
    assert post_file(client, "death", data, "ykt_not-a-key").status_code == 401
    hr_key = key_for(world, "WZ-RSJ", ["data_sharing"])  # HR: the card source only
    response = post_file(client, "death", data, hr_key)
    assert response.status_code == 403 and "社保卡" in response.json()["detail"]
    card = csv_bytes(HEADERS["ssc_card"], [f"{ids(1)[0]},甲,{make_card()},农商行,已激活"])
    assert post_file(client, "ssc_card", card, hr_key).status_code == 202
    # the HR credential cannot read imports of sources it may not import
    death_imp = post_file(client, "death", data, key_for(world, "PLAT-ADMIN", ["data_sharing"])).json()
    assert client.get(f"/api/sources/imports/{death_imp['id']}", HTTP_X_API_KEY=hr_key).status_code == 404
    # a revoked credential is refused
    admin = Scope.for_user(world.users["admin"])
    from yikatong.core.models import ApiCredential

    cred = ApiCredential.objects.get(organization__code="WZ-RSJ")
    apikey_revoke(actor=admin, key_id=cred.pk, reason="test")
    assert post_file(client, "ssc_card", card, hr_key).status_code == 403
    assert SourceImport.objects.count() == 2


def test_status_for_staff_sessions(client, world, exchange_key):
    post_file(client, "death", csv_bytes(HEADERS["death"], [f"{ids(1)[0]},甲,2026-01-01"]), exchange_key)
    assert client.get("/api/sources/").status_code == 401
    client.force_login(world.users["finance"])
    body = client.get("/api/sources/").json()
    by_code = {s["source"]: s for s in body}
    assert set(by_code) == {"household", "death", "ssc_card", "public_staff", "vehicle", "enterprise",
                            "real_estate", "cadre_relative"}
    assert by_code["death"]["current"]["accepted"] == 1 and by_code["vehicle"]["current"] is None
    assert by_code["death"]["columns"] == ["身份证号", "姓名", "死亡日期"]
    assert not any(s["can_import"] for s in body)
    imp_id = by_code["death"]["current"]["id"]
    assert client.get(f"/api/sources/imports/{imp_id}").status_code == 200
    client.force_login(world.users["collector"])
    assert client.get("/api/sources/").status_code == 403
    assert client.get(f"/api/sources/imports/{imp_id}").status_code == 403
    client.force_login(world.users["admin"])
    assert all(s["can_import"] for s in client.get("/api/sources/").json())
