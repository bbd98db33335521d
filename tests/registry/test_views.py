"""Registry pages: masked list, registration with errors next to fields, the logged full view shown once,
the account change with the transitional exception and the card warning, history tables, navigation."""

import re

import pytest
from django.urls import reverse

from yikatong.core.models import AuditEvent
from yikatong.registry.models import Beneficiary, PayeeAccount
from yikatong.registry.services import beneficiary_register_person, payee_account_set

from .conftest import GST_VILLAGE, TB_VILLAGE, bad_luhn, make_card, make_id, make_uscc

ID = make_id(seq="579")
CARD = make_card("621700000012345678")
WARNING = "该社保卡未激活金融功能，发放前须提醒本人激活"


def login(client, world, key):
    client.force_login(world.users[key])
    return client


def field_errors(response, name):
    return re.findall(rf'data-field-error="{name}">([^<]*)<', response.content.decode())


@pytest.fixture
def zhang(scopes):
    return beneficiary_register_person(actor=scopes["collector"], name="张三丰", id_number=ID, region_code=GST_VILLAGE,
                                       phone="13812345678", household_number="H1")


def test_list_is_masked_and_scoped(client, world, zhang):
    login(client, world, "collector")
    html = client.get(reverse("registry:beneficiary-list")).content.decode()
    assert "张三丰" in html and f"500101********{ID[-4:]}" in html and "138****5678" in html
    assert ID not in html and "13812345678" not in html
    found = client.get(reverse("registry:beneficiary-list"), {"q": ID}).content.decode()
    assert "张三丰" in found
    login(client, world, "collector2")
    assert "张三丰" not in client.get(reverse("registry:beneficiary-list")).content.decode()
    assert client.get(reverse("registry:beneficiary-detail", args=[zhang.pk])).status_code == 404
    login(client, world, "card_bank")
    assert client.get(reverse("registry:beneficiary-list")).status_code == 403


def test_htmx_search_returns_the_results_fragment(client, world, zhang):
    login(client, world, "civil")
    response = client.get(reverse("registry:beneficiary-list"), {"q": "张"},
                          HTTP_HX_REQUEST="true", HTTP_HX_TARGET="beneficiary-results")
    html = response.content.decode()
    assert response.status_code == 200 and "张三丰" in html and "<html" not in html


def test_register_person_through_the_form(client, world):
    login(client, world, "collector")
    url = reverse("registry:person-register")
    page = client.get(url).content.decode()
    assert 'data-check="resident-id"' in page and "registry/registry.js" in page
    assert f'value="{TB_VILLAGE}"' not in page  # only the collector's own township and villages
    bad = client.post(url, {"name": "张3", "id_number": ID[:-1] + ("0" if ID[-1] != "0" else "1"),
                            "region_code": GST_VILLAGE, "phone": ""})
    assert bad.status_code == 400
    assert field_errors(bad, "name") == ["姓名不能包含数字：请填写身份证上的姓名"]
    bad = client.post(url, {"name": "张三", "id_number": ID[:-1] + ("0" if ID[-1] != "0" else "1"),
                            "region_code": GST_VILLAGE, "phone": ""})
    assert bad.status_code == 400 and field_errors(bad, "id_number")[0].startswith("身份证号校验位错误：应为 ")
    bad = client.post(url, {"name": "张三", "id_number": ID, "region_code": GST_VILLAGE, "phone": "12345"})
    assert bad.status_code == 400 and field_errors(bad, "phone")[0].startswith("手机号码应为 1 开头")
    other = client.post(url, {"name": "张三", "id_number": ID, "region_code": TB_VILLAGE})
    assert other.status_code == 400 and field_errors(other, "region_code") == ["请从列表中选择本辖区的区划。"]
    assert not Beneficiary.objects.exists()
    ok = client.post(url, {"name": "张三", "id_number": ID, "region_code": GST_VILLAGE, "household_number": "H9"})
    b = Beneficiary.objects.get()
    assert ok.status_code == 302 and ok["Location"] == reverse("registry:account-change", args=[b.pk])
    again = client.post(url, {"name": "张三", "id_number": ID, "region_code": GST_VILLAGE})
    assert again["Location"] == reverse("registry:beneficiary-detail", args=[b.pk])
    mismatch = client.post(url, {"name": "李四", "id_number": ID, "region_code": GST_VILLAGE})
    assert mismatch.status_code == 400
    assert field_errors(mismatch, "name") == [f"身份证号 500101…{ID[-4:]} 已登记为 张* ，与填写的姓名不一致，请核对"]


def test_register_organization_form(client, world):
    login(client, world, "civil")
    url = reverse("registry:org-register")
    bad = client.post(url, {"name": "合作社", "credit_code": "91500101MA5U00000", "region_code": GST_VILLAGE})
    assert bad.status_code == 400 and field_errors(bad, "credit_code")[0].startswith("统一社会信用代码应为 18 位")
    ok = client.post(url, {"name": "高笋塘种植专业合作社", "credit_code": make_uscc(), "region_code": GST_VILLAGE})
    assert ok.status_code == 302 and Beneficiary.objects.get().kind == "organization"


@pytest.mark.parametrize("role", ["finance", "supervisor", "hr"])
def test_read_roles_cannot_open_the_forms(client, world, zhang, role):
    login(client, world, role)
    assert client.get(reverse("registry:person-register")).status_code == 403
    assert client.get(reverse("registry:account-change", args=[zhang.pk])).status_code == 403
    assert client.get(reverse("registry:beneficiary-detail", args=[zhang.pk])).status_code == 200


def test_full_view_is_shown_once_and_logged(client, world, zhang):
    login(client, world, "civil")
    detail_url = reverse("registry:beneficiary-detail", args=[zhang.pk])
    assert 'data-testid="reveal-form"' in client.get(detail_url).content.decode()
    url = reverse("registry:beneficiary-reveal", args=[zhang.pk])
    missing = client.post(url, {"field": "id_number", "reason": ""})
    assert missing.status_code == 400 and field_errors(missing, "reason") == ["请填写查看完整信息的事由。"]
    assert not AuditEvent.objects.filter(action="pii.view").exists()
    shown = client.post(url, {"field": "id_number", "reason": "核对户籍信息"})
    assert shown.status_code == 200 and ID in shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="pii.view")
    assert (event.actor_username, event.reason, event.after) == ("t_civil", "核对户籍信息", {"field": "id_number"})
    assert ID not in client.get(detail_url).content.decode()  # not shown again
    fragment = client.post(url, {"field": "phone", "reason": "电话联系本人"}, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "13812345678" in html and "<html" not in html
    assert AuditEvent.objects.filter(action="pii.view").count() == 2


@pytest.mark.parametrize("role", ["card_bank", "paying_bank", "admin"])
def test_full_view_refused_for_roles_without_permission(client, world, zhang, role):
    login(client, world, role)
    response = client.post(reverse("registry:beneficiary-reveal", args=[zhang.pk]),
                           {"field": "id_number", "reason": "想看"})
    assert response.status_code == 403 and ID not in response.content.decode()
    assert not AuditEvent.objects.filter(action="pii.view").exists()


def test_account_change_form(client, world, zhang):
    login(client, world, "collector")
    url = reverse("registry:account-change", args=[zhang.pk])
    page = client.get(url).content.decode()
    assert WARNING in page and "data-card-warning" in page  # the warning the script shows when 未激活 is picked
    bad = client.post(url, {"kind": "ssc_card", "bank_name": "农商行", "account_number": bad_luhn(CARD)})
    assert bad.status_code == 400 and field_errors(bad, "account_number")[0].startswith("银行卡号校验失败")
    no_reason = client.post(url, {"kind": "other_bank", "bank_name": "农商行", "account_number": "1234567890123"})
    assert no_reason.status_code == 400
    assert field_errors(no_reason, "exception_reason") == ["使用非社保卡账户须填写过渡期例外原因"]
    corporate = client.post(url, {"kind": "corporate", "bank_name": "农商行", "account_number": "1234567890123"})
    assert corporate.status_code == 400  # not offered to a person
    assert not PayeeAccount.objects.exists()
    ok = client.post(url, {"kind": "ssc_card", "bank_name": "农商行", "account_number": CARD,
                           "card_status": "not_activated"}, follow=True)
    html = ok.content.decode()
    assert ok.status_code == 200 and "收款账户已保存（第 1 版）" in html and WARNING in html
    assert 'data-testid="card-warning"' in html
    same = client.post(url, {"kind": "ssc_card", "bank_name": "农商行", "account_number": CARD}, follow=True)
    assert "未生成新版本" in same.content.decode()
    changed = client.post(url, {"kind": "other_bank", "bank_name": "邮储银行", "account_number": "1234567890123",
                                "exception_reason": "社保卡制卡中", "reason": "过渡期"}, follow=True)
    html = changed.content.decode()
    assert "收款账户已保存（第 2 版）" in html
    assert 'data-account-version="2"' in html and 'data-account-version="1"' in html and "社保卡制卡中" in html
    assert PayeeAccount.objects.filter(is_active=True).count() == 1


def test_edit_form_versions(client, world, zhang):
    login(client, world, "collector")
    url = reverse("registry:beneficiary-edit", args=[zhang.pk])
    assert client.get(url).status_code == 200
    base = {"name": "张三峰", "region_code": GST_VILLAGE, "household_number": "H1", "address": "", "phone": ""}
    bad = client.post(url, base)
    assert bad.status_code == 400 and field_errors(bad, "reason")[0].startswith("更正姓名或变更区划须填写原因")
    ok = client.post(url, {**base, "reason": "依据户口簿更正"}, follow=True)
    html = ok.content.decode()
    assert 'data-version="2"' in html and "依据户口簿更正" in html
    zhang.refresh_from_db()
    assert zhang.name == "张三峰" and zhang.phone_masked == "138****5678"  # blank phone keeps the number
    client.post(url, {**base, "name": "张三峰", "clear_phone": "on"})
    zhang.refresh_from_db()
    assert zhang.phone_masked == "" and zhang.version == 3


def test_hr_updates_the_card_status(client, world, scopes, zhang):
    acc = payee_account_set(actor=scopes["collector"], beneficiary_id=zhang.pk, bank_name="农商行",
                            account_number=CARD, reason="")
    login(client, world, "hr")
    detail = client.get(reverse("registry:beneficiary-detail", args=[zhang.pk])).content.decode()
    assert 'data-testid="card-status-form"' in detail
    response = client.post(reverse("registry:card-status", args=[zhang.pk]),
                           {"status": "not_activated", "source": "社保卡管理系统"}, follow=True)
    assert WARNING in response.content.decode()
    acc.refresh_from_db()
    assert acc.card_status == "not_activated"
    login(client, world, "collector")
    assert client.post(reverse("registry:card-status", args=[zhang.pk]), {"status": "activated"}).status_code == 403


def test_navigation(client, world):
    login(client, world, "collector")
    html = client.get(reverse("registry:beneficiary-list")).content.decode()
    assert 'data-nav="registry:beneficiary-list"' in html and 'data-nav="registry:person-register"' in html
    login(client, world, "finance")
    html = client.get(reverse("registry:beneficiary-list")).content.decode()
    assert 'data-nav="registry:beneficiary-list"' in html and 'data-nav="registry:person-register"' not in html


def test_admin_is_read_only_and_masked(client, world, zhang):
    login(client, world, "admin")
    response = client.get("/admin/registry/beneficiary/")
    html = response.content.decode()
    assert response.status_code == 200 and "张三丰" in html and ID not in html
    detail = client.get(f"/admin/registry/beneficiary/{zhang.pk}/change/").content.decode()
    assert ID not in detail and "13812345678" not in detail
    assert client.get("/admin/registry/beneficiary/add/").status_code == 403
