"""Public notices: publication, digest, PDF with QR, objections, closing, corrected rounds, submission and
the public online copy."""

import base64
import datetime as dt
import re
import zlib
from decimal import Decimal

import pytest

from tests.applications.helpers import new_app, verified
from yikatong.applications import rules
from yikatong.applications.models import PublicNotice
from yikatong.applications.notice_pdf import render_notice_pdf
from yikatong.applications.services import (
    application_correct,
    application_return,
    application_verify,
    application_withdraw,
    applications_submit,
    notice_close,
    notice_publish,
    notice_republish,
    objection_record,
    objection_resolve,
)
from yikatong.core.errors import DomainError, ScopeError, TransitionError
from yikatong.core.services.files import file_abspath

from .conftest import TOWNSHIP, VILLAGE


def publish(flow, policy_code="WZ-001", period="2026-03", actor=None, **kwargs):
    return notice_publish(actor=actor or flow.scope("collector"), region_code=VILLAGE, policy_code=policy_code,
                          period=period, **kwargs)


def pdf_text_operations(data: bytes) -> bytes:
    """The decoded content streams of a ReportLab PDF (ASCII85 + Flate)."""
    out = b""
    for raw in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            out += zlib.decompress(base64.a85decode(raw.strip(), adobe=True))
        except ValueError:
            continue
    return out


def recomputed_digest(notice: PublicNotice) -> str:
    entries = [(e.seq, e.name_masked, e.id_masked, e.quantity, e.amount) for e in notice.entries.order_by("seq")]
    return rules.notice_digest(number=notice.number, policy_code=notice.policy.code, period=notice.period,
                               region_code=notice.region_id, round_no=notice.round, entries=entries)


# -- publication --------------------------------------------------------------------------------------------
def test_publish_freezes_masked_entries_digest_and_moves_applications(flow, zhang, li):
    first, second = verified(flow, zhang, li)
    notice = publish(flow)
    assert notice.number == "GS-500101001001-WZ-001-2026-03-R1" and notice.round == 1
    assert notice.starts_on == dt.date(2026, 3, 2) and notice.ends_on == dt.date(2026, 3, 5)
    assert notice.entry_count == 2 and notice.total_amount == Decimal("600.00")
    assert notice.is_public and notice.status == "open" and notice.business_line == "civil_affairs"
    entries = list(notice.entries.order_by("seq"))
    assert [(e.seq, e.name_masked) for e in entries] == [(1, "张**"), (2, "李*")]
    assert entries[0].id_masked == zhang.id_masked and "*" in entries[0].id_masked
    assert notice.digest == recomputed_digest(notice) and len(notice.digest) == 64
    for app in (first, second):
        app.refresh_from_db()
        assert app.status == "in_notice"
        assert (app.step_started_on, app.step_deadline) == (notice.starts_on, notice.ends_on)


def test_publish_writes_a_real_pdf_with_the_qr_url(flow, zhang):
    verified(flow, zhang)
    notice = publish(flow)
    assert notice.public_url == f"http://127.0.0.1:8000/notices/{notice.number}/"
    stored = notice.pdf
    assert stored.purpose == "notice_pdf" and stored.region_id == VILLAGE and stored.size > 1000
    data = file_abspath(stored).read_bytes()
    assert data.startswith(b"%PDF-") and len(data) == stored.size
    assert notice.public_url.encode() in data                       # document subject = the QR payload
    text = pdf_text_operations(data)
    assert f"({notice.public_url}) Tj".encode() in text           # printed under the QR code
    assert f"({notice.digest}) Tj".encode() in text
    assert f"({notice.number}) Tj".encode() in text


def test_public_base_url_setting(flow, zhang, settings):
    settings.YIKATONG_PUBLIC_BASE_URL = "https://butie.example.gov.cn/"
    verified(flow, zhang)
    notice = publish(flow)
    assert notice.public_url == f"https://butie.example.gov.cn/notices/{notice.number}/"
    assert notice.public_url.encode() in file_abspath(notice.pdf).read_bytes()


def test_long_notice_pdf_spans_several_pages():
    entries = [(i, "张*", "500101********0011", None, Decimal("300.00")) for i in range(1, 151)]
    data = render_notice_pdf(number="GS-X-R1", region_name="高笋塘社区", policy_name="补助", policy_code="X",
                             period="2026-03", round_no=1, starts_on=dt.date(2026, 3, 2),
                             ends_on=dt.date(2026, 3, 5), entries=entries, total_amount=Decimal("45000.00"),
                             digest="0" * 64, url="http://127.0.0.1:8000/notices/GS-X-R1/")
    pages = len(re.findall(rb"/Type /Page\b(?!s)", data))
    assert pages >= 4
    text = pdf_text_operations(data)
    assert b"(45,000.00) Tj" in text and b"(150) Tj" in text


def test_publish_refusals(flow, zhang):
    collector = flow.scope("collector")
    with pytest.raises(DomainError, match="没有已核实待公示的申报"):
        publish(flow)
    verified(flow, zhang)
    with pytest.raises(DomainError, match="不是村（社区）级区划"):
        notice_publish(actor=collector, region_code=TOWNSHIP, policy_code="WZ-001", period="2026-03")
    with pytest.raises(ScopeError):
        notice_publish(actor=flow.scope("collector2"), region_code=VILLAGE, policy_code="WZ-001", period="2026-03")
    with pytest.raises(ScopeError, match="没有该权限"):
        publish(flow, actor=flow.scope("civil"))
    with pytest.raises(DomainError, match="按月发放"):
        publish(flow, period="2026Q1")
    with pytest.raises(DomainError, match="早于今天"):
        publish(flow, starts_on="2026-02-27")
    notice = publish(flow, starts_on="2026-03-04")                 # a later start is fine
    assert notice.ends_on == dt.date(2026, 3, 9)
    flow.set_today("2026-03-04")
    li = flow.person("li", name="李四", seq=12)
    verified(flow, li)
    with pytest.raises(DomainError, match=rf"公示 {notice.number} 正在公示中"):
        publish(flow)


def test_notice_period_is_configurable(flow, zhang):
    from yikatong.core.models import TimeLimit

    TimeLimit.objects.create(step="public_notice", label="公示", days=5, unit="wd", source="test")
    verified(flow, zhang)
    assert publish(flow).ends_on == dt.date(2026, 3, 9)           # Mon + 5 working days


# -- closing and objections ---------------------------------------------------------------------------------
def test_close_only_after_the_notice_period_and_without_open_objections(flow, zhang, li):
    first, second = verified(flow, zhang, li)
    notice = publish(flow)
    collector = flow.scope("collector")
    flow.set_today("2026-03-05")
    with pytest.raises(DomainError, match="公示期未满：.*至 2026-03-05.*2026-03-06 起方可结束公示"):
        notice_close(actor=collector, notice_id=notice.pk)
    objection = objection_record(actor=collector, notice_id=notice.pk, application_id=second.pk, filed_by="",
                                 contact="", content="反映李四家有经营性收入")
    assert objection.status == "open" and objection.recorded_by == "t_collector"
    flow.set_today("2026-03-06")
    with pytest.raises(DomainError, match="仍有 1 条异议未处理"):
        notice_close(actor=collector, notice_id=notice.pk)
    with pytest.raises(DomainError, match="请在公示期满并结束公示后再报送"):
        applications_submit(actor=collector, notice_id=notice.pk)
    with pytest.raises(DomainError, match="请填写调查结论"):
        objection_resolve(actor=collector, objection_id=objection.pk, upheld=False, finding="")
    with pytest.raises(DomainError, match="异议不成立时不能作出不予补贴"):
        objection_resolve(actor=collector, objection_id=objection.pk, upheld=False, finding="x", reject=True)
    objection_resolve(actor=flow.scope("civil"), objection_id=objection.pk, upheld=False,
                      finding="经核实为季节性务工收入，未超过标准")
    objection.refresh_from_db()
    assert objection.status == "dismissed" and objection.investigated_by == "t_civil"
    with pytest.raises(TransitionError, match="该异议已处理"):
        objection_resolve(actor=collector, objection_id=objection.pk, upheld=True, finding="again")
    with pytest.raises(ScopeError):
        notice_close(actor=flow.scope("civil"), notice_id=notice.pk)   # the collector manages notices
    notice_close(actor=collector, notice_id=notice.pk)
    notice.refresh_from_db()
    assert notice.status == "closed"
    with pytest.raises(TransitionError, match="当前状态为“公示期满”，不能结束公示"):
        notice_close(actor=collector, notice_id=notice.pk)
    with pytest.raises(DomainError, match="不能再登记异议"):
        objection_record(actor=collector, notice_id=notice.pk, content="迟到的异议")
    submitted = applications_submit(actor=collector, notice_id=notice.pk)
    assert sorted(a.pk for a in submitted) == sorted([first.pk, second.pk])
    assert all(a.status == "submitted" and a.step_deadline == dt.date(2026, 3, 20) for a in submitted)
    with pytest.raises(DomainError, match="没有待报送的申报"):
        applications_submit(actor=collector, notice_id=notice.pk)


def test_objection_must_concern_an_entry_and_be_in_scope(flow, zhang, li):
    verified(flow, zhang)
    other = new_app(flow, li)
    notice = publish(flow)
    with pytest.raises(DomainError, match="不在公示 .* 的名单中"):
        objection_record(actor=flow.scope("collector"), notice_id=notice.pk, application_id=other.pk,
                         content="x")
    with pytest.raises(DomainError, match="请填写异议内容"):
        objection_record(actor=flow.scope("collector"), notice_id=notice.pk, content=" ")
    with pytest.raises(ScopeError):
        objection_record(actor=flow.scope("collector2"), notice_id=notice.pk, content="x")
    with pytest.raises(ScopeError):
        objection_record(actor=flow.scope("agri"), notice_id=notice.pk, content="x")   # other line
    general = objection_record(actor=flow.scope("civil"), notice_id=notice.pk, filed_by="村民", contact="电话",
                               content="公示地点不显眼")
    assert general.application_id is None


def test_upheld_objection_correction_and_second_round(flow, zhang, li):
    first, second = verified(flow, zhang, li)
    collector = flow.scope("collector")
    r1 = publish(flow)
    objection = objection_record(actor=collector, notice_id=r1.pk, application_id=second.pk, filed_by="王某",
                                 contact="13900000000", content="李四实际耕种面积不足，金额偏高")
    flow.set_today("2026-03-03")
    with pytest.raises(DomainError, match="内容没有更正，无需重新公示|仍有 1 条异议未处理"):
        notice_republish(actor=collector, notice_id=r1.pk)
    objection_resolve(actor=collector, objection_id=objection.pk, upheld=True, finding="经核查金额应为200元")
    second.refresh_from_db()
    assert second.status == "returned" and "经核查金额应为200元" in second.events.last().reason
    with pytest.raises(DomainError, match=rf"申报 {second.number}（退回修改）仍在更正中"):
        notice_republish(actor=collector, notice_id=r1.pk)
    application_correct(actor=collector, application_id=second.pk, amount="200", reason="按异议调查结论更正")
    application_verify(actor=collector, application_id=second.pk, note="复核属实")
    r2 = notice_republish(actor=collector, notice_id=r1.pk)
    r1.refresh_from_db()
    assert r1.status == "superseded"
    assert r2.number == "GS-500101001001-WZ-001-2026-03-R2" and r2.round == 2 and r2.previous_id == r1.pk
    assert (r2.starts_on, r2.ends_on) == (dt.date(2026, 3, 3), dt.date(2026, 3, 6))
    assert r2.total_amount == Decimal("500.00") and r2.entry_count == 2
    assert r2.digest != r1.digest and r2.digest == recomputed_digest(r2)
    assert list(r2.entries.values_list("amount", flat=True)) == [Decimal("300.00"), Decimal("200.00")]
    for app in (first, second):
        app.refresh_from_db()
        assert app.status == "in_notice" and app.step_deadline == dt.date(2026, 3, 6)
    with pytest.raises(TransitionError, match="已更正重新公示"):
        notice_close(actor=collector, notice_id=r1.pk)
    with pytest.raises(DomainError, match="已有后续轮次|不能更正后重新公示"):
        notice_republish(actor=collector, notice_id=r1.pk)
    flow.set_today("2026-03-09")
    notice_close(actor=collector, notice_id=r2.pk)
    assert len(applications_submit(actor=collector, notice_id=r2.pk)) == 2


def test_upheld_objection_can_reject_an_ineligible_applicant(flow, zhang, li):
    first, second = verified(flow, zhang, li)
    collector = flow.scope("collector")
    r1 = publish(flow)
    objection = objection_record(actor=collector, notice_id=r1.pk, application_id=second.pk,
                                 content="李四为财政供养人员")
    objection_resolve(actor=collector, objection_id=objection.pk, upheld=True, reject=True,
                      finding="经核实李四为在编教师，不符合条件")
    second.refresh_from_db()
    assert second.status == "rejected" and second.rejection_reason == "经核实李四为在编教师，不符合条件"
    r2 = notice_republish(actor=collector, notice_id=r1.pk)
    assert list(r2.entries.values_list("application_id", flat=True)) == [first.pk]
    assert r2.total_amount == Decimal("300.00")


def test_withdrawal_during_notice_also_needs_a_new_round(flow, zhang, li):
    first, second = verified(flow, zhang, li)
    collector = flow.scope("collector")
    r1 = publish(flow)
    application_withdraw(actor=collector, application_id=first.pk, reason="本人放弃")
    r2 = notice_republish(actor=collector, notice_id=r1.pk)
    assert [e.application_id for e in r2.entries.all()] == [second.pk]
    application_return(actor=collector, application_id=second.pk, reason="发现户籍信息有误")
    application_withdraw(actor=collector, application_id=second.pk, reason="户籍不在本村")
    with pytest.raises(DomainError, match="更正后没有需要公示的申报"):
        notice_republish(actor=collector, notice_id=r2.pk)


def test_non_public_policy_notice_is_board_only(flow, zhang, client):
    verified(flow, zhang, policy_code="WZ-PRIV")
    notice = publish(flow, policy_code="WZ-PRIV")
    assert notice.is_public is False and notice.pdf is not None
    assert file_abspath(notice.pdf).read_bytes().startswith(b"%PDF")
    assert client.get(f"/notices/{notice.number}/").status_code == 404


# -- the public online copy ---------------------------------------------------------------------------------
def test_public_page_shows_masked_data_only(flow, zhang, li, client):
    first, second = verified(flow, zhang, li)
    notice = publish(flow)
    response = client.get(f"/notices/{notice.number}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert notice.number in html and notice.digest in html and "600.00" in html
    assert "张**" in html and zhang.id_masked in html
    for secret in (zhang.id_number_plain, li.id_number_plain, "张三丰", "李四", "13800138000"):
        assert secret not in html
    assert client.get("/notices/GS-NOPE-R1/").status_code == 404


def test_public_page_of_a_superseded_round_points_to_the_new_one(flow, zhang, li, client):
    first, second = verified(flow, zhang, li)
    collector = flow.scope("collector")
    r1 = publish(flow)
    application_return(actor=collector, application_id=second.pk, reason="金额有误")
    application_correct(actor=collector, application_id=second.pk, amount="150", reason="更正金额")
    application_verify(actor=collector, application_id=second.pk)
    r2 = notice_republish(actor=collector, notice_id=r1.pk)
    html = client.get(f"/notices/{r1.number}/").content.decode()
    assert "已更正并重新公示" in html and f"/notices/{r2.number}/" in html
    html2 = client.get(f"/notices/{r2.number}/").content.decode()
    assert "第 2 轮" in html2 and r1.number in html2 and "450.00" in html2


def test_supplementary_round_after_a_closed_notice(flow, zhang, li):
    collector = flow.scope("collector")
    verified(flow, zhang)
    r1 = publish(flow)
    flow.set_today("2026-03-06")
    notice_close(actor=collector, notice_id=r1.pk)
    verified(flow, li)                                  # verified later: its own round
    r2 = publish(flow)
    r1.refresh_from_db()
    assert r2.round == 2 and r2.previous_id == r1.pk and r1.status == "closed"
    assert list(r2.entries.values_list("name_masked", flat=True)) == ["李*"]
    assert len(applications_submit(actor=collector, notice_id=r1.pk)) == 1

