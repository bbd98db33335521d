"""Collection pages through Django's test client: the list with filters and batch actions (per-item results),
one application with its history and actions, the typed entry form (lookup, standard, errors under fields),
notices (publish, PDF, objections, close, submit, republish), the approval inbox (sampling, findings panel),
the register export, the roster pages and the navigation — each with wrong role, other region, bad input."""

import io
import re
import uuid

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from tests.applications.helpers import new_app, submitted, verified
from yikatong.applications.models import (
    Application,
    ApplicationEvent,
    PublicNotice,
    RosterImport,
    RosterRowError,
)
from yikatong.applications.services import (
    notice_publish,
    objection_record,
    register_findings_gate,
    unregister_findings_gate,
)
from yikatong.core.models import AuditEvent, JobProgress
from yikatong.core.services.files import file_store
from yikatong.registry.models import Beneficiary

from .conftest import FL_VILLAGE, TOWNSHIP, VILLAGE, VILLAGE2, luhn_account, resident_id


def login(client, flow, key):
    client.force_login(flow.users.get(key) or flow.world.users[key])
    return client


def html(response) -> str:
    return response.content.decode()


def field_errors(response, name) -> list[str]:
    return re.findall(rf'data-field-error="{name}">([^<]*)<', html(response))


@pytest.fixture
def wang(flow):
    """A person of the other township (collector2)."""
    return flow.person("wang", name="王五", village=VILLAGE2, seq=21, collector="collector2")


# -- list and batch --------------------------------------------------------------------------------------
def test_list_is_scoped_masked_and_filtered(client, flow, zhang, wang):
    mine = new_app(flow, zhang)
    other = new_app(flow, wang, actor=flow.scope("collector2"))
    login(client, flow, "collector")
    page = html(client.get(reverse("applications:list")))
    assert mine.number in page and other.number not in page
    assert zhang.id_masked in page and zhang.id_number_plain not in page
    assert 'data-deadline="ok"' in page and "期限 2026-03-05" in page
    assert 'data-testid="batch-bar"' in page and 'value="verify"' in page and 'value="approve"' not in page
    assert mine.number not in html(client.get(reverse("applications:list"), {"status": "verified"}))
    assert mine.number in html(client.get(reverse("applications:list"), {"status": "collected", "policy": "WZ-001"}))
    bad = client.get(reverse("applications:list"), {"region": "12x"})
    assert bad.status_code == 200 and field_errors(bad, "region")
    partial = client.get(reverse("applications:list"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="application-results")
    assert mine.number in html(partial) and "<html" not in html(partial)
    login(client, flow, "civil")  # the department sees its line in its county
    page = html(client.get(reverse("applications:list")))
    assert mine.number in page and other.number in page and 'value="approve"' in page and 'value="verify"' not in page
    login(client, flow, "supervisor")  # read only: no batch bar
    page = html(client.get(reverse("applications:list")))
    assert mine.number in page and 'data-testid="batch-bar"' not in page
    login(client, flow, "hr")
    assert client.get(reverse("applications:list")).status_code == 403


def test_overdue_filter_and_flag(client, flow, zhang, li):
    late = new_app(flow, zhang)
    flow.set_today("2026-03-10")  # the 3-working-day verification ended on 2026-03-05
    fresh = new_app(flow, li)
    login(client, flow, "collector")
    page = html(client.get(reverse("applications:list"), {"overdue": "on"}))
    assert late.number in page and fresh.number not in page
    assert 'data-deadline="overdue"' in page and "已超期 3 个工作日" in page


def test_batch_verify_reports_each_item(client, flow, zhang, li, wang):
    a, b = new_app(flow, zhang), new_app(flow, li)
    other = new_app(flow, wang, actor=flow.scope("collector2"))
    login(client, flow, "collector")
    next_url = reverse("applications:list") + "?status=collected"
    response = client.post(reverse("applications:batch"),
                           {"action": "verify", "ids": [a.pk, b.pk, other.pk], "note": "属实", "next": next_url})
    assert response.status_code == 302 and response.url == next_url
    page = html(client.get(response.url))
    assert 'data-testid="batch-results"' in page
    assert re.search(rf'data-batch-item="{a.number}" data-ok="1"', page)
    assert re.search(rf'data-batch-item="{b.number}" data-ok="1"', page)
    assert re.search(rf'data-batch-item="#{other.pk}" data-ok="0"', page)  # not visible: no number shown
    assert "成功 2 件，未办理 1 件" in page
    statuses = dict(Application.objects.values_list("pk", "status"))
    assert statuses[a.pk] == statuses[b.pk] == "verified" and statuses[other.pk] == "collected"
    # results are shown once
    assert 'data-testid="batch-results"' not in html(client.get(next_url))


def test_batch_needs_reason_selection_and_role(client, flow, zhang):
    app = new_app(flow, zhang)
    login(client, flow, "collector")
    response = client.post(reverse("applications:batch"), {"action": "return", "ids": [app.pk], "reason": ""},
                           follow=True)
    assert "请填写原因（将告知申请人）。" in html(response)
    response = client.post(reverse("applications:batch"), {"action": "verify"}, follow=True)
    assert "请先勾选要办理的申报。" in html(response)
    app.refresh_from_db()
    assert app.status == "collected"
    login(client, flow, "civil")
    assert client.post(reverse("applications:batch"), {"action": "verify", "ids": [app.pk]}).status_code == 403
    login(client, flow, "supervisor")
    assert client.post(reverse("applications:batch"), {"action": "reject", "ids": [app.pk],
                                                      "reason": "x"}).status_code == 403
    # an external next URL is never followed
    login(client, flow, "collector")
    response = client.post(reverse("applications:batch"), {"action": "verify", "ids": [app.pk],
                                                          "next": "https://evil.example/"})
    assert response.url == reverse("applications:list")


def test_batch_reject_and_return_by_the_department(client, flow, zhang, li):
    a, b = submitted(flow, zhang, li)
    login(client, flow, "civil")
    client.post(reverse("applications:batch"), {"action": "reject", "ids": [a.pk], "reason": "收入超标"})
    client.post(reverse("applications:batch"), {"action": "return", "ids": [b.pk], "reason": "补充材料"})
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, a.rejection_reason, b.status) == ("rejected", "收入超标", "returned")


# -- one application -------------------------------------------------------------------------------------
def test_detail_shows_history_deadline_notice_and_actions(client, flow, zhang):
    app = verified(flow, zhang)[0]
    notice = notice_publish(actor=flow.scope("collector"), region_code=VILLAGE, policy_code="WZ-001", period="2026-03")
    objection_record(actor=flow.scope("collector"), notice_id=notice.pk, application_id=app.pk, content="不符合条件")
    login(client, flow, "collector")
    page = html(client.get(reverse("applications:detail", args=[app.pk])))
    assert app.number in page and 'data-deadline="notice_running"' in page
    assert page.count('data-event="') == 3  # created, verified, in notice
    assert notice.number in page and "不符合条件" in page
    assert 'data-testid="act-withdraw"' in page and 'data-testid="act-return"' in page
    assert 'data-testid="act-approve"' not in page and 'data-testid="act-verify"' not in page
    login(client, flow, "collector2")
    assert client.get(reverse("applications:detail", args=[app.pk])).status_code == 404
    login(client, flow, "agri")  # another business line
    assert client.get(reverse("applications:detail", args=[app.pk])).status_code == 404


def test_actions_on_one_application(client, flow, zhang):
    app = new_app(flow, zhang)
    url = reverse("applications:detail", args=[app.pk])
    login(client, flow, "collector")
    response = client.post(reverse("applications:act", args=[app.pk, "verify"]), {"note": "入户属实"})
    assert response.status_code == 302 and response.url == url
    app.refresh_from_db()
    assert app.status == "verified"
    response = client.post(reverse("applications:act", args=[app.pk, "return"]), {"reason": ""})
    assert response.status_code == 400 and field_errors(response, "reason")
    response = client.post(reverse("applications:act", args=[app.pk, "verify"]), {"note": ""})
    assert response.status_code == 400 and "不能入户核实通过" in html(response)  # wrong state, shown on the page
    client.post(reverse("applications:act", args=[app.pk, "return"]), {"reason": "金额有误"})
    response = client.post(reverse("applications:act", args=[app.pk, "correct"]),
                           {"amount": "250.00", "quantity": "", "tier": "", "remarks": "", "reason": "核减"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.status, str(app.amount)) == ("collected", "250.00")
    assert ApplicationEvent.objects.filter(application=app, changes__amount=["300.00", "250.00"]).exists()
    response = client.post(reverse("applications:act", args=[app.pk, "correct"]),
                           {"amount": "999", "reason": "x"})
    assert response.status_code == 400 and "超过补贴标准上限 300.00 元" in field_errors(response, "amount")[0]
    login(client, flow, "civil")
    assert client.post(reverse("applications:act", args=[app.pk, "verify"]), {"note": ""}).status_code == 403
    login(client, flow, "collector2")
    assert client.post(reverse("applications:act", args=[app.pk, "verify"]), {"note": ""}).status_code == 404
    login(client, flow, "collector")
    assert client.post(reverse("applications:act", args=[app.pk, "explode"]), {}).status_code == 404
    assert client.get(reverse("applications:act", args=[app.pk, "verify"])).status_code == 405


def test_department_approves_and_rejects_on_the_page(client, flow, zhang, li):
    a, b = submitted(flow, zhang, li)
    login(client, flow, "civil")
    page = html(client.get(reverse("applications:detail", args=[a.pk])))
    assert 'data-testid="act-approve"' in page and 'data-testid="act-reject"' in page
    assert client.post(reverse("applications:act", args=[a.pk, "approve"]), {"note": ""}).status_code == 302
    response = client.post(reverse("applications:act", args=[b.pk, "reject"]), {"reason": ""})
    assert response.status_code == 400
    client.post(reverse("applications:act", args=[b.pk, "reject"]), {"reason": "家庭收入超过标准"})
    page = html(client.get(reverse("applications:detail", args=[b.pk])))
    assert 'data-testid="rejection-reason"' in page and "家庭收入超过标准" in page
    login(client, flow, "collector")
    assert client.post(reverse("applications:act", args=[a.pk, "approve"]), {"note": ""}).status_code == 403


# -- typed entry -----------------------------------------------------------------------------------------
def entry_data(**overrides):
    data = {"id_number": resident_id("500101", "19580506", 31), "name": "赵六", "region_code": VILLAGE,
            "phone": "13900139000", "bank_name": "重庆农村商业银行",
            "account_number": luhn_account("622000000000000031"), "policy_code": "WZ-001", "period": "2026-03",
            "quantity": "", "tier": "", "amount": "", "remarks": ""}
    data.update(overrides)
    return data


def test_entry_registers_a_new_person_and_saves_the_application(client, flow):
    login(client, flow, "collector")
    page = html(client.get(reverse("applications:create")))
    assert 'data-check="resident-id"' in page and "WZ-001" in page and "applications/applications.js" in page
    response = client.post(reverse("applications:create"), entry_data())
    assert response.status_code == 302
    app = Application.objects.get()
    assert response.url == reverse("applications:detail", args=[app.pk])
    assert (app.channel, app.status, str(app.amount), app.beneficiary.name) == ("typed", "collected", "300.00", "赵六")
    assert app.payee_account is not None and app.payee_account.card_status == "unknown"
    assert "已保存申报" in html(client.get(response.url))
    # the same person and period again: refused under no field, nothing duplicated
    response = client.post(reverse("applications:create"), entry_data())
    assert response.status_code == 400 and "不能重复申报" in html(response)
    assert Application.objects.count() == 1 and Beneficiary.objects.filter(name="赵六").count() == 1


def test_entry_errors_are_shown_under_their_fields(client, flow, zhang):
    login(client, flow, "collector")
    bad_id = entry_data(id_number=zhang.id_number_plain[:-1] + ("0" if zhang.id_number_plain[-1] != "0" else "1"))
    response = client.post(reverse("applications:create"), bad_id)
    assert response.status_code == 400 and "校验位错误" in field_errors(response, "id_number")[0]
    response = client.post(reverse("applications:create"), entry_data(amount="300.01"))
    assert response.status_code == 400 and "超过补贴标准上限 300.00 元" in field_errors(response, "amount")[0]
    response = client.post(reverse("applications:create"), entry_data(period="2026"))
    assert response.status_code == 400 and "按月发放" in field_errors(response, "period")[0]
    response = client.post(reverse("applications:create"), entry_data(account_number="6220000000000000310"))
    assert response.status_code == 400 and field_errors(response, "account_number")
    response = client.post(reverse("applications:create"), entry_data(region_code=""))
    assert response.status_code == 400 and "请选择户籍/住址区划" in field_errors(response, "region_code")[0]
    response = client.post(reverse("applications:create"), entry_data(policy_code="WZ-AG", period="2026"))
    assert response.status_code == 400 and "请填写补贴数量" in field_errors(response, "quantity")[0]
    # a registered person: the name must match; the registered account is used
    response = client.post(reverse("applications:create"),
                           entry_data(id_number=zhang.id_number_plain, name="张三", account_number=""))
    assert response.status_code == 400 and "不一致" in field_errors(response, "name")[0]
    response = client.post(reverse("applications:create"),
                           entry_data(id_number=zhang.id_number_plain, name="", account_number=""))
    assert response.status_code == 302
    assert Application.objects.get(beneficiary=zhang).payee_account.beneficiary_id == zhang.pk
    assert not Beneficiary.objects.filter(name="赵六").exists()  # refused entries registered nobody


def test_entry_refuses_a_person_of_another_region_and_other_roles(client, flow, wang):
    login(client, flow, "collector")
    response = client.post(reverse("applications:create"),
                           entry_data(id_number=wang.id_number_plain, name="王五", account_number=""))
    assert response.status_code == 403 and "不在您的管辖范围内" in field_errors(response, "id_number")[0]
    assert not Application.objects.exists()
    for key in ("civil", "supervisor"):
        login(client, flow, key)
        assert client.get(reverse("applications:create")).status_code == 403
        assert client.post(reverse("applications:create"), entry_data()).status_code == 403
    assert not Application.objects.exists()


def test_entry_lookup_and_standard_partials(client, flow, zhang, wang):
    login(client, flow, "collector")
    url = reverse("applications:entry-lookup")
    found = html(client.get(url, {"id_number": zhang.id_number_plain}))
    assert 'data-person-state="registered"' in found and "张三丰" in found and zhang.id_number_plain not in found
    assert 'data-needs-account="0"' in found and "*" in found
    bad = html(client.get(url, {"id_number": "50010119600101001"}))
    assert 'data-testid="id-check"' in bad and "18 位" in bad
    new = html(client.get(url, {"id_number": resident_id("500101", "19700101", 99)}))
    assert 'data-person-state="new"' in new
    other = html(client.get(url, {"id_number": wang.id_number_plain}))
    assert "不在您的管辖范围内" in other and "王五" not in other
    standard = reverse("applications:entry-standard")
    assert 'data-testid="standard-max">300.00<' in html(client.get(standard, {"policy_code": "WZ-001"}))
    assert 'data-testid="standard-max">241.00<' in html(client.get(standard, {"policy_code": "WZ-AG", "quantity": "2"}))
    assert "请填写补贴数量" in html(client.get(standard, {"policy_code": "WZ-AG"}))
    assert 'data-testid="standard-max">900.00<' in html(client.get(standard, {"policy_code": "WZ-TIER", "tier": "T2"}))
    assert "数量" in html(client.get(standard, {"policy_code": "WZ-AG", "quantity": "-1"}))
    login(client, flow, "civil")
    assert client.get(url, {"id_number": zhang.id_number_plain}).status_code == 403


# -- notices ---------------------------------------------------------------------------------------------
def test_publish_page_detail_pdf_and_public_copy(client, flow, zhang, li):
    verified(flow, zhang, li)
    login(client, flow, "collector")
    listing = html(client.get(reverse("applications:notices")))
    assert f'data-ready="{VILLAGE}|WZ-001|2026-03"' in listing
    form = html(client.get(reverse("applications:notice-publish"),
                           {"region_code": VILLAGE, "policy_code": "WZ-001", "period": "2026-03"}))
    assert f'<option value="{VILLAGE}" selected' in form and VILLAGE2 not in form
    response = client.post(reverse("applications:notice-publish"),
                           {"region_code": VILLAGE, "policy_code": "WZ-001", "period": "2026-03", "starts_on": ""})
    notice = PublicNotice.objects.get()
    assert response.status_code == 302 and response.url == reverse("applications:notice-detail", args=[notice.pk])
    page = html(client.get(response.url))
    assert notice.digest in page and "张**" in page and "李*" in page and 'data-testid="notice-pdf"' in page
    assert 'data-testid="notice-close"' in page and 'data-testid="objection-form"' in page
    pdf = client.get(reverse("core:file-download", args=[notice.pdf_id]))
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    client.logout()
    public = client.get(reverse("notices:public", args=[notice.number]))
    assert public.status_code == 200 and notice.digest in html(public)
    # a second publication while open is refused with the reason
    login(client, flow, "collector")
    response = client.post(reverse("applications:notice-publish"),
                           {"region_code": VILLAGE, "policy_code": "WZ-001", "period": "2026-03"})
    assert response.status_code == 400 and "正在公示中" in html(response)


def test_publish_wrong_role_other_region_bad_input(client, flow, zhang, wang):
    verified(flow, zhang)
    login(client, flow, "civil")
    assert client.get(reverse("applications:notice-publish")).status_code == 403
    login(client, flow, "collector")
    response = client.post(reverse("applications:notice-publish"),
                           {"region_code": VILLAGE2, "policy_code": "WZ-001", "period": "2026-03"})
    assert response.status_code == 400 and field_errors(response, "region_code")
    response = client.post(reverse("applications:notice-publish"),
                           {"region_code": VILLAGE, "policy_code": "WZ-001", "period": "2026Q1"})
    assert response.status_code == 400 and field_errors(response, "period")
    response = client.post(reverse("applications:notice-publish"),
                           {"region_code": VILLAGE, "policy_code": "WZ-PRIV", "period": "2026-03"})
    assert response.status_code == 400 and "没有已核实待公示的申报" in html(response)
    notice = notice_publish(actor=flow.scope("collector"), region_code=VILLAGE, policy_code="WZ-001",
                            period="2026-03")
    login(client, flow, "collector2")
    assert client.get(reverse("applications:notice-detail", args=[notice.pk])).status_code == 404
    assert client.post(reverse("applications:notice-close", args=[notice.pk])).status_code == 404
    listing = html(client.get(reverse("applications:notices")))
    assert notice.number not in listing and 'data-testid="empty"' in listing


def test_objections_close_submit_and_republish(client, flow, zhang, li):
    a, b = verified(flow, zhang, li)
    notice = notice_publish(actor=flow.scope("collector"), region_code=VILLAGE, policy_code="WZ-001", period="2026-03")
    detail = reverse("applications:notice-detail", args=[notice.pk])
    login(client, flow, "collector")
    response = client.post(reverse("applications:objection-record", args=[notice.pk]),
                           {"application_id": "", "content": ""})
    assert response.status_code == 400 and field_errors(response, "content")
    response = client.post(reverse("applications:objection-record", args=[notice.pk]),
                           {"application_id": str(a.pk), "filed_by": "", "content": "张某有两套住房"})
    assert response.status_code == 302
    objection = notice.objections.get()
    page = html(client.get(detail))
    assert "张某有两套住房" in page and "匿名" in page and f'data-testid="resolve-{objection.pk}"' in page
    # closing too early: the message says from when
    response = client.post(reverse("applications:notice-close", args=[notice.pk]), follow=True)
    assert "公示期未满" in html(response)
    resolve = reverse("applications:objection-resolve", args=[notice.pk, objection.pk])
    response = client.post(resolve, {"decision": "uphold_return", "finding": ""})
    assert response.status_code == 400 and field_errors(response, "finding")
    assert client.post(resolve, {"decision": "uphold_return", "finding": "核实有两套住房，金额核减"}).status_code == 302
    a.refresh_from_db()
    assert a.status == "returned"
    response = client.post(resolve, {"decision": "dismiss", "finding": "x"})
    assert response.status_code == 400 and "该异议已处理" in html(response)
    # correct, verify, republish
    from yikatong.applications.services import application_correct, application_verify

    application_correct(actor=flow.scope("collector"), application_id=a.pk, amount="200.00", reason="核减")
    application_verify(actor=flow.scope("collector"), application_id=a.pk)
    response = client.post(reverse("applications:notice-republish", args=[notice.pk]), {"starts_on": ""})
    second = PublicNotice.objects.get(previous=notice)
    assert response.status_code == 302 and response.url == reverse("applications:notice-detail", args=[second.pk])
    assert 'data-testid="superseded"' in html(client.get(detail))
    flow.set_today("2026-03-06")
    response = client.post(reverse("applications:notice-close", args=[second.pk]), follow=True)
    assert "已结束" in html(response)
    response = client.post(reverse("applications:notice-submit", args=[second.pk]), follow=True)
    assert "报送主管部门审核" in html(response)
    assert set(Application.objects.values_list("status", flat=True)) == {"submitted"}
    response = client.post(reverse("applications:notice-submit", args=[second.pk]), follow=True)
    assert "没有待报送的申报" in html(response)
    login(client, flow, "civil")  # departments record objections but do not manage notices
    assert client.post(reverse("applications:notice-close", args=[second.pk])).status_code == 403


def test_republish_bad_date_and_department_objection(client, flow, zhang):
    verified(flow, zhang)
    notice = notice_publish(actor=flow.scope("collector"), region_code=VILLAGE, policy_code="WZ-001", period="2026-03")
    login(client, flow, "collector")
    response = client.post(reverse("applications:notice-republish", args=[notice.pk]), {"starts_on": "03/02/2026"})
    assert response.status_code == 400 and field_errors(response, "starts_on")
    response = client.post(reverse("applications:notice-republish", args=[notice.pk]), {"starts_on": ""}, follow=True)
    assert "无需重新公示" in html(response)
    login(client, flow, "civil")
    page = html(client.get(reverse("applications:notice-detail", args=[notice.pk])))
    assert 'data-testid="objection-form"' in page and 'data-testid="notice-close"' not in page
    assert client.post(reverse("applications:objection-record", args=[notice.pk]),
                       {"content": "整个公示有误"}).status_code == 302
    login(client, flow, "finance")
    assert client.post(reverse("applications:objection-record", args=[notice.pk]),
                       {"content": "x"}).status_code == 403


# -- approval --------------------------------------------------------------------------------------------
def test_approval_inbox_findings_panel_and_sampling(client, flow, zhang, li):
    a, b = submitted(flow, zhang, li)
    login(client, flow, "civil")
    page = html(client.get(reverse("applications:approval")))
    assert a.number in page and b.number in page and 'data-testid="no-findings"' in page
    assert 'value="approve"' in page and 'value="verify"' not in page and 'data-deadline="ok"' in page

    def gate(ids):
        return {a.pk: "R02 死亡人员"} if a.pk in ids else {}

    register_findings_gate(gate)
    try:
        page = html(client.get(reverse("applications:approval")))
        assert f'data-finding-row="{a.number}"' in page and "R02 死亡人员" in page
        client.post(reverse("applications:batch"), {"action": "approve", "ids": [a.pk, b.pk],
                                                    "next": reverse("applications:approval")})
    finally:
        unregister_findings_gate(gate)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("submitted", "approved")

    response = client.post(reverse("applications:approval-sample"),
                           {"policy_code": "WZ-001", "period": "2026-03", "region_code": TOWNSHIP, "ratio": "150%"})
    assert response.status_code == 400 and field_errors(response, "ratio")
    response = client.post(reverse("applications:approval-sample"),
                           {"policy_code": "WZ-001", "period": "2026-03", "region_code": TOWNSHIP, "ratio": "100%"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.sampled
    page = html(client.get(response.url))
    assert "data-sampled" in page and a.number in page
    # a sampled one needs the note of the on-site check
    client.post(reverse("applications:batch"), {"action": "approve", "ids": [a.pk], "note": ""})
    a.refresh_from_db()
    assert a.status == "submitted"
    client.post(reverse("applications:batch"), {"action": "approve", "ids": [a.pk], "note": "实地核实属实"})
    a.refresh_from_db()
    assert a.status == "approved"


def test_approval_inbox_roles_and_regions(client, flow, zhang):
    app = submitted(flow, zhang)[0]
    for key in ("collector", "finance", "supervisor"):
        login(client, flow, key)
        assert client.get(reverse("applications:approval")).status_code == 403
    login(client, flow, "agri")  # another line: sees nothing of civil affairs
    assert app.number not in html(client.get(reverse("applications:approval")))
    login(client, flow, "fl_civil")  # another county
    assert app.number not in html(client.get(reverse("applications:approval")))
    response = client.post(reverse("applications:approval-sample"),
                           {"policy_code": "WZ-001", "period": "2026-03", "region_code": TOWNSHIP, "ratio": "10%"})
    assert response.status_code == 400 and field_errors(response, "policy_code")  # not its policy
    login(client, flow, "civil")
    response = client.post(reverse("applications:approval-sample"),
                           {"policy_code": "WZ-001", "period": "2026-03", "region_code": FL_VILLAGE, "ratio": "10%"})
    assert response.status_code == 403
    app.refresh_from_db()
    assert not app.sampled


# -- register --------------------------------------------------------------------------------------------
def test_register_export_downloads_the_approved_set(client, flow, zhang, li):
    a, b = submitted(flow, zhang, li)
    from yikatong.applications.services import application_approve

    application_approve(actor=flow.scope("civil"), application_id=a.pk)
    login(client, flow, "collector")
    page = html(client.get(reverse("applications:register")))
    assert f'<option value="{TOWNSHIP}" selected' in page
    response = client.post(reverse("applications:register"),
                           {"township_code": TOWNSHIP, "policy_code": "WZ-001", "period": "2026-03"})
    assert response.status_code == 200 and response["X-Register-Rows"] == "1"
    assert "attachment" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][1] == "张三丰" and rows[1][2] == zhang.id_masked and rows[-1][0] == "合计"
    assert AuditEvent.objects.filter(action="register.export").exists()
    response = client.post(reverse("applications:register"),
                           {"township_code": TOWNSHIP, "policy_code": "WZ-001", "period": "2026-13"})
    assert response.status_code == 400 and "月份无效" in html(response)
    response = client.post(reverse("applications:register"),
                           {"township_code": "500101002000", "policy_code": "WZ-001", "period": "2026-03"})
    assert response.status_code == 400 and field_errors(response, "township_code")
    login(client, flow, "hr")
    assert client.get(reverse("applications:register")).status_code == 403


# -- rosters ---------------------------------------------------------------------------------------------
@pytest.fixture
def roster_done(flow):
    """A finished roster import with two rejected rows (as the import service records it)."""
    actor = flow.scope("collector")
    original = file_store(actor=actor, fileobj=io.BytesIO("姓名,身份证号\n".encode()), original_name="花名册.csv",
                          purpose="roster", region_code=TOWNSHIP)
    rejected = file_store(actor=actor, fileobj=io.BytesIO("姓名,身份证号,错误原因\n".encode()),
                          original_name="花名册_未导入.csv", purpose="roster_rejected", region_code=TOWNSHIP)
    job = JobProgress.objects.create(kind="roster_import", label="花名册导入", region_id=TOWNSHIP,
                                     organization=flow.world.orgs["collector"], status="succeeded", total=5, done=5)
    from yikatong.policies.models import Policy

    roster = RosterImport.objects.create(
        policy=Policy.objects.get(code="WZ-001"), period="2026-03", organization=flow.world.orgs["collector"],
        region_id=TOWNSHIP, file=original, rejected_file=rejected, job=job, status="done", total_rows=5,
        accepted=3, rejected=2, duplicates=0, created_by="t_collector")
    RosterRowError.objects.create(roster_import=roster, row_number=3, column="身份证号", value="500101********123X",
                                  reason="身份证号校验位错误：应为 7", raw=["赵六", "x"])
    RosterRowError.objects.create(roster_import=roster, row_number=5, column="补贴金额", value="999",
                                  reason="补贴金额 999 元超过补贴标准上限 300.00 元", raw=["钱七", "y"])
    return roster


def test_roster_result_page_lists_errors_and_the_rejected_file(client, flow, roster_done):
    login(client, flow, "collector")
    page = html(client.get(reverse("applications:roster-detail", args=[roster_done.pk])))
    assert 'data-count="accepted">3<' in page and 'data-count="rejected">2<' in page
    assert 'data-error-row="3"' in page and "身份证号校验位错误" in page and 'data-error-row="5"' in page
    link = reverse("core:file-download", args=[roster_done.rejected_file_id])
    assert link in page
    assert client.get(link).status_code == 200
    partial = html(client.get(reverse("applications:roster-progress", args=[roster_done.pk])))
    assert "hx-trigger" not in partial and 'data-testid="roster-errors"' in partial
    listing = html(client.get(reverse("applications:rosters")))
    assert "花名册.csv" in listing
    login(client, flow, "collector2")
    assert client.get(reverse("applications:roster-detail", args=[roster_done.pk])).status_code == 404
    assert client.get(reverse("applications:roster-detail", args=[uuid.uuid4()])).status_code == 404
    login(client, flow, "agri")
    assert client.get(reverse("applications:roster-detail", args=[roster_done.pk])).status_code == 404


def test_roster_progress_polls_while_running(client, flow, roster_done):
    RosterImport.objects.filter(pk=roster_done.pk).update(status="running", accepted=0, rejected=0)
    JobProgress.objects.filter(pk=roster_done.job_id).update(status="running", done=2, total=5)
    login(client, flow, "collector")
    partial = html(client.get(reverse("applications:roster-progress", args=[roster_done.pk])))
    assert "hx-trigger=\"every 1s\"" in partial and "40%" in partial and 'data-testid="roster-errors"' not in partial


def test_roster_upload_page_roles_and_bad_input(client, flow):
    login(client, flow, "collector")
    page = html(client.get(reverse("applications:rosters")))
    assert 'data-testid="roster-form"' in page and 'enctype="multipart/form-data"' in page
    response = client.post(reverse("applications:rosters"), {"policy_code": "WZ-001", "period": "2026-03"})
    assert response.status_code == 400 and "请选择花名册文件" in field_errors(response, "file")[0]
    assert not RosterImport.objects.exists()
    for key in ("civil", "supervisor", "hr"):
        login(client, flow, key)
        assert client.get(reverse("applications:rosters")).status_code == 403


def test_roster_upload_runs_the_import_and_a_corrected_file_adds_no_duplicates(client, flow):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from .roster_fixtures import csv_bytes, person_row

    rows = [person_row(i) for i in range(4)]
    rows[1] = person_row(1, 补贴金额="300.001")
    login(client, flow, "collector")
    response = client.post(reverse("applications:rosters"), {
        "policy_code": "WZ-001", "period": "2026-03",
        "file": SimpleUploadedFile("花名册.csv", csv_bytes(rows), "text/csv")})
    roster = RosterImport.objects.get()
    assert response.status_code == 302 and response.url == reverse("applications:roster-detail", args=[roster.pk])
    page = html(client.get(response.url))  # the immediate task backend of the tests has already run it
    assert 'data-count="accepted">3<' in page and 'data-count="rejected">1<' in page
    assert 'data-error-row="3"' in page and "最多两位小数" in page
    rejected = client.get(reverse("core:file-download", args=[roster.rejected_file_id]))
    assert rejected.status_code == 200 and "300.001" in b"".join(rejected.streaming_content).decode("utf-8-sig")
    rows[1] = person_row(1)
    client.post(reverse("applications:rosters"), {
        "policy_code": "WZ-001", "period": "2026-03",
        "file": SimpleUploadedFile("花名册.csv", csv_bytes(rows), "text/csv")})
    second = RosterImport.objects.order_by("-created_at").first()
    assert (second.accepted, second.duplicates, second.rejected) == (1, 3, 0)
    assert Application.objects.count() == 4
    page = html(client.get(reverse("applications:roster-detail", args=[second.pk])))
    assert 'data-testid="roster-no-errors"' in page and 'data-testid="rejected-download"' not in page
    # a whole-file refusal: the page says why
    response = client.post(reverse("applications:rosters"), {
        "policy_code": "WZ-001", "period": "2026-03",
        "file": SimpleUploadedFile("bad.csv", b"name\r\nx\r\n", "text/csv")})
    page = html(client.get(response.url))
    assert 'data-testid="roster-failed"' in page and "缺少必需的列" in page
    # refusals of the upload itself are shown under the fields
    response = client.post(reverse("applications:rosters"), {
        "policy_code": "WZ-001", "period": "2026",
        "file": SimpleUploadedFile("花名册.csv", csv_bytes(rows), "text/csv")})
    assert response.status_code == 400 and "按月发放" in field_errors(response, "period")[0]


# -- navigation ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, shown, hidden", [
    ("collector", ["applications:list", "applications:create", "applications:rosters", "applications:notices",
                   "applications:register"], ["applications:approval"]),
    ("civil", ["applications:list", "applications:approval", "applications:notices", "applications:register"],
     ["applications:create", "applications:rosters"]),
    ("hr", [], ["applications:list"]),
])
def test_navigation_per_role(client, flow, key, shown, hidden):
    login(client, flow, key)
    page = html(client.get("/"))
    for name in shown:
        assert f'data-nav="{name}"' in page
    for name in hidden:
        assert f'data-nav="{name}"' not in page
