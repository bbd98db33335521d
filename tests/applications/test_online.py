"""The citizen's online application (no login): policies open online, the form with the arithmetic check
and documents, the tracking number, the per-address rate limit, and the status page (masked data only,
the reason of a rejection or return)."""

import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.applications.helpers import new_app
from yikatong.applications.models import Application
from yikatong.applications.services import (
    application_reject,
    application_return,
    application_verify,
    applications_submit,
    notice_close,
    notice_publish,
)
from yikatong.core.models import AuditEvent, StoredFile
from yikatong.registry.models import Beneficiary, PayeeAccount

from .conftest import FL_VILLAGE, VILLAGE, luhn_account, resident_id

PDF = b"%PDF-1.4\n% test document\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
ID = resident_id("500101", "19500505", 41)
CARD = luhn_account("622000000000000041")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def html(response) -> str:
    return response.content.decode()


def field_errors(response, name) -> list[str]:
    return re.findall(rf'data-field-error="{name}">([^<]*)<', html(response))


def answer(client, purpose="apply") -> str:
    return str(client.session[f"apply_captcha_{purpose}"])


def form_data(**overrides) -> dict:
    data = {"name": "孙八", "id_number": ID, "phone": "13700137000", "region_code": VILLAGE, "address": "高笋塘社区1号",
            "bank_name": "重庆农村商业银行", "account_number": CARD, "period": "2026-03"}
    data.update(overrides)
    return data


def apply(client, code="WZ-001", *, captcha=None, files=None, **overrides):
    client.get(reverse("apply:form", args=[code]))
    data = form_data(**overrides)
    data["captcha"] = answer(client) if captcha is None else captcha
    if files is not None:
        data["documents"] = files
    return client.post(reverse("apply:form", args=[code]), data)


def test_index_lists_only_policies_open_online(client, flow):
    page = html(client.get(reverse("apply:index")))
    assert 'data-policy="WZ-001"' in page and 'data-policy="WZ-PRIV"' not in page
    assert client.get(reverse("apply:form", args=["WZ-PRIV"])).status_code == 404
    assert client.get(reverse("apply:form", args=["NOPE"])).status_code == 404
    form = html(client.get(reverse("apply:form", args=["WZ-001"])))
    assert 'data-testid="captcha-question"' in form and 'value="2026-03"' in form
    assert f'value="{VILLAGE}"' in form and FL_VILLAGE not in form  # villages under the policy's county only


def test_online_application_gets_a_tracking_number(client, flow):
    docs = [SimpleUploadedFile("身份证.pdf", PDF, "application/pdf"), SimpleUploadedFile("户口簿.png", PNG, "image/png")]
    response = apply(client, files=docs)
    assert response.status_code == 302 and response.url == reverse("apply:done")
    app = Application.objects.get()
    assert (app.channel, app.status, str(app.amount), app.created_by) == ("online", "collected", "300.00", "网上申请")
    assert app.collector == flow.world.orgs["collector"]  # routed to the collector of the village
    assert app.payee_account.account_masked.endswith(CARD[-4:])
    assert sorted(d.original_name for d in app.documents.all()) == ["户口簿.png", "身份证.pdf"]
    assert set(StoredFile.objects.values_list("purpose", "region_id")) == {("application_doc", VILLAGE)}
    done = html(client.get(response.url))
    assert f'data-testid="tracking-number">{app.number}<' in done
    # the collector of the region sees it like any other and can verify it
    client.force_login(flow.world.users["collector"])
    page = html(client.get(reverse("applications:detail", args=[app.pk])))
    assert "网上申请" in page and "身份证.pdf" in page and 'data-testid="act-verify"' in page


def test_wrong_captcha_is_refused_and_nothing_is_written(client, flow):
    client.get(reverse("apply:form", args=["WZ-001"]))
    right = int(answer(client))
    response = client.post(reverse("apply:form", args=["WZ-001"]), {**form_data(), "captcha": str(right + 1)})
    assert response.status_code == 400 and "验证码计算结果不正确" in field_errors(response, "captcha")[0]
    # an answer can be used once: replaying the right one without a new question fails too
    response = client.post(reverse("apply:form", args=["WZ-001"]), {**form_data(), "captcha": ""})
    assert response.status_code == 400
    assert not Application.objects.exists() and not Beneficiary.objects.exists()


def test_bad_input_is_shown_under_the_fields(client, flow, zhang):
    response = apply(client, id_number=ID[:-1] + ("0" if ID[-1] != "0" else "1"))
    assert response.status_code == 400 and "校验位错误" in field_errors(response, "id_number")[0]
    response = apply(client, account_number="6220000000000000410")
    assert response.status_code == 400 and field_errors(response, "account_number")
    response = apply(client, period="2026")
    assert response.status_code == 400 and "按月发放" in field_errors(response, "period")[0]
    response = apply(client, region_code=FL_VILLAGE)
    assert response.status_code == 400 and field_errors(response, "region_code")
    response = apply(client, files=[SimpleUploadedFile("a.exe", b"MZ\x90\x00", "application/pdf")])
    assert response.status_code == 400 and "不是 PDF、JPG 或 PNG" in field_errors(response, "documents")[0]
    # a registered person: the name must match and the account cannot be changed online
    response = apply(client, id_number=zhang.id_number_plain, name="张三")
    assert response.status_code == 400 and "身份证号与姓名不一致" in field_errors(response, "name")[0]
    response = apply(client, id_number=zhang.id_number_plain, name="张三丰", account_number=CARD)
    assert response.status_code == 400 and "不能变更收款账户" in field_errors(response, "account_number")[0]
    assert PayeeAccount.objects.filter(beneficiary=zhang).count() == 1
    assert not Application.objects.exists() and not Beneficiary.objects.filter(name="孙八").exists()
    # the registered person with the registered card applies; phone and address stay as registered
    account = PayeeAccount.objects.get(beneficiary=zhang)
    registered_card = luhn_account(f"622000{11:012d}")
    response = apply(client, id_number=zhang.id_number_plain, name="张三丰", account_number=registered_card,
                     phone="13911112222")
    assert response.status_code == 302
    zhang.refresh_from_db()
    assert zhang.phone_masked == "138****8000" and Application.objects.get().payee_account == account
    # a second application for the same period is refused
    response = apply(client, id_number=zhang.id_number_plain, name="张三丰", account_number=registered_card)
    assert response.status_code == 400 and "不能重复申报" in html(response)


def test_rate_limit_per_address(client, flow, settings):
    settings.YIKATONG_ONLINE_RATE_LIMITS = {"apply": (2, 3600), "status": (2, 600)}
    for _ in range(2):
        assert apply(client, captcha="x").status_code == 400  # attempts count, refused or not
    response = apply(client)
    assert response.status_code == 429 and 'data-testid="refusal"' in html(response)
    assert not Application.objects.exists()
    # another address is not affected
    other = client.__class__(REMOTE_ADDR="10.0.0.2")
    assert apply(other).status_code == 302
    # the status check has its own limit
    for _ in range(2):
        client.get(reverse("apply:status"))
        client.post(reverse("apply:status"), {"number": "x", "id_number": ID, "captcha": "x"})
    client.get(reverse("apply:status"))
    response = client.post(reverse("apply:status"), {"number": "x", "id_number": ID, "captcha": answer(client, "status")})
    assert response.status_code == 429


def status(client, number, id_number):
    client.get(reverse("apply:status"))
    return client.post(reverse("apply:status"),
                       {"number": number, "id_number": id_number, "captcha": answer(client, "status")})


def test_status_page_shows_masked_data_only_and_the_rejection_reason(client, flow):
    assert apply(client).status_code == 302
    app = Application.objects.get()
    # the done page's number is offered on the status page
    assert f'value="{app.number}"' in html(client.get(reverse("apply:status")))
    wrong = status(client, app.number, resident_id("500101", "19500505", 42))
    assert wrong.status_code == 404 and "没有找到该申报" in html(wrong)
    assert app.number not in re.sub(r'value="[^"]*"', "", html(wrong))
    response = status(client, app.number.lower(), ID)
    page = html(response)
    assert response.status_code == 200 and 'data-testid="status-label">已采集待核实<' in page
    assert "孙*" in page and "孙八" not in page and ID not in page and "500101********" in page
    assert CARD not in page and CARD[-4:] in page and "13700137000" not in page
    assert AuditEvent.objects.filter(action="application.status_query", object_id=str(app.pk)).count() == 1
    # returned: the reason is shown
    application_return(actor=flow.scope("collector"), application_id=app.pk, reason="请补充低保证明")
    page = html(status(client, app.number, ID))
    assert "退回修改" in page and "退回原因：请补充低保证明" in page
    # walk on to a rejection by the department
    from yikatong.applications.services import application_correct

    application_correct(actor=flow.scope("collector"), application_id=app.pk, reason="已补充")
    application_verify(actor=flow.scope("collector"), application_id=app.pk)
    notice = notice_publish(actor=flow.scope("collector"), region_code=VILLAGE, policy_code="WZ-001", period="2026-03")
    flow.set_today("2026-03-06")
    notice_close(actor=flow.scope("collector"), notice_id=notice.pk)
    applications_submit(actor=flow.scope("collector"), notice_id=notice.pk)
    application_reject(actor=flow.scope("civil"), application_id=app.pk, reason="家庭人均收入高于当地低保标准")
    page = html(status(client, app.number, ID))
    assert 'data-testid="status-label">审核不通过<' in page
    assert "不予补贴原因：家庭人均收入高于当地低保标准" in page
    assert "t_collector" not in page and "t_civil" not in page  # no staff names
    assert page.count("<li>") >= 6  # the steps


def test_status_of_a_typed_application_and_bad_input(client, flow, zhang):
    app = new_app(flow, zhang)
    page = html(status(client, app.number, zhang.id_number_plain))
    assert "经办录入" in page and "张**" in page
    client.get(reverse("apply:status"))
    response = client.post(reverse("apply:status"), {"number": "", "id_number": "", "captcha": answer(client, "status")})
    assert response.status_code == 400 and field_errors(response, "number") and field_errors(response, "id_number")
    client.get(reverse("apply:status"))
    response = client.post(reverse("apply:status"), {"number": app.number, "id_number": zhang.id_number_plain,
                                                     "captcha": "x"})
    assert response.status_code == 400 and 'data-testid="status-result"' not in html(response)


def test_done_page_without_an_application_goes_back(client, flow):
    response = client.get(reverse("apply:done"))
    assert response.status_code == 302 and response.url == reverse("apply:index")
