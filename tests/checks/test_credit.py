"""The credit list (信用名单): add, lift, import, scope, pages."""

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from yikatong.checks.credit import (
    credit_add,
    credit_entries,
    credit_entries_in_force,
    credit_entry_get,
    credit_import,
    credit_lift,
)
from yikatong.checks.models import CreditListEntry
from yikatong.core import crypto
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent, StoredFile
from yikatong.core.tabular import xlsx_writer

from . import test_sources_support as support
from .test_sources_support import bad_check_digit, csv_bytes, ids

pytestmark = pytest.mark.django_db
fixed_today = support.fixed_today
scopes = support.scopes
WZ, FL, GST = "500101000000", "500102000000", "500101001000"
HEADER = "身份证号,姓名,列入原因,限制类型,有效期起,有效期止"


def add(actor, number, **kw):
    args = dict(id_number=number, name="张三", severity="block", reason="骗取补贴", region_code=WZ,
                valid_from="2026-01-01")
    args.update(kw)
    return credit_add(actor=actor, **args)


def test_add_stores_the_id_encrypted_and_audits(scopes):
    number = ids(1)[0]
    entry = add(scopes["finance"], number, severity="限制申领", valid_to=dt.date(2027, 12, 31))
    assert entry.severity == "block" and entry.region_id == WZ and entry.source == "manual"
    assert crypto.decrypt_text(entry.id_enc) == number and entry.id_digest == crypto.digest("id", number)
    assert entry.id_masked == number[:6] + "********" + number[-4:]
    assert entry.created_by == "t_finance"
    event = AuditEvent.objects.get(action="credit.add")
    assert event.object_id == str(entry.pk) and event.region_code == WZ
    assert number not in str(event.after) and event.after["id_digest"] == entry.id_digest


@pytest.mark.parametrize("kw,field,needle", [
    ({"id_number": "500101196001010000"}, "id_number", "校验位"),
    ({"name": " "}, "name", "姓名"),
    ({"severity": "永久"}, "severity", "提示复核 或 限制申领"),
    ({"reason": ""}, "reason", "列入原因"),
    ({"valid_from": "2026-13-01"}, "valid_from", "不是有效日期"),
    ({"valid_to": "2025-12-31"}, "valid_to", "早于有效期起"),
    ({"region_code": "123"}, "region_code", "行政区划代码"),
    ({"region_code": "510000000000"}, "region_code", "不存在"),
])
def test_add_refusals_name_the_field(scopes, kw, field, needle):
    args = {"id_number": ids(1)[0], **kw}
    with pytest.raises(DomainError) as exc:
        add(scopes["finance"], args.pop("id_number"), **args)
    assert exc.value.field == field and needle in exc.value.message
    assert CreditListEntry.objects.count() == 0


def test_one_person_is_listed_once_per_overlapping_period(scopes):
    number = ids(1)[0]
    add(scopes["finance"], number, valid_to="2026-06-30")
    with pytest.raises(DomainError, match="已在本区划的信用名单中"):
        add(scopes["finance"], number, valid_from="2026-06-01")
    later = add(scopes["finance"], number, valid_from="2026-07-01", severity="flag")  # after the first ends
    assert later.severity == "flag"
    other_region = add(scopes["finance_other"], number, region_code=FL)  # another region has its own list
    assert other_region.region_id == FL


def test_scope_and_roles(scopes):
    number = ids(1)[0]
    with pytest.raises(ScopeError):
        add(scopes["finance"], number, region_code=FL)  # 涪陵 is not 万州 finance's
    for who in ("supervisor", "civil", "collector", "hr"):
        with pytest.raises(ScopeError):
            add(scopes[who], number, region_code=GST if who == "collector" else WZ)
    entry = add(scopes["admin"], number, region_code=GST)
    assert credit_entries(scopes["finance"]).get() == entry
    assert credit_entries(scopes["supervisor"]).get() == entry
    assert credit_entries(scopes["civil"]).get() == entry
    assert not credit_entries(scopes["finance_other"]).exists()
    for who in ("collector", "hr", "paying_bank"):
        with pytest.raises(ScopeError):
            credit_entries(scopes[who])
    with pytest.raises(DomainError):
        credit_entry_get(scopes["finance_other"], entry.pk)


def test_lift_keeps_the_entry_with_its_reason(scopes):
    number = ids(1)[0]
    entry = add(scopes["finance"], number)
    with pytest.raises(DomainError, match="解除原因"):
        credit_lift(actor=scopes["finance"], entry_id=entry.pk, reason=" ")
    with pytest.raises(DomainError, match="不存在或不在您的管辖范围内"):
        credit_lift(actor=scopes["finance_other"], entry_id=entry.pk, reason="x")
    with pytest.raises(ScopeError):
        credit_lift(actor=scopes["supervisor"], entry_id=entry.pk, reason="x")
    lifted = credit_lift(actor=scopes["finance"], entry_id=entry.pk, reason="复核后确认系误报")
    assert lifted.lifted_at is not None and lifted.lifted_reason == "复核后确认系误报"
    with pytest.raises(DomainError, match="不能重复解除"):
        credit_lift(actor=scopes["finance"], entry_id=entry.pk, reason="again")
    assert CreditListEntry.objects.count() == 1
    assert AuditEvent.objects.get(action="credit.lift").reason == "复核后确认系误报"
    assert not credit_entries(scopes["finance"]).exists()
    assert credit_entries(scopes["finance"], state="lifted").get() == entry
    # a lifted entry no longer blocks listing the person again
    assert add(scopes["finance"], number).pk != entry.pk


def test_entries_in_force_for_the_rule_engine(scopes):
    a, b, c, d = ids(4)
    add(scopes["finance"], a, valid_from="2026-01-01", valid_to="2026-03-31")
    add(scopes["finance"], b, valid_from="2026-04-01")
    lifted = add(scopes["finance"], c)
    credit_lift(actor=scopes["finance"], entry_id=lifted.pk, reason="x")
    add(scopes["finance"], d)
    digests = lambda qs: {e.id_digest for e in qs}  # noqa: E731
    on_march = digests(credit_entries_in_force(on=dt.date(2026, 3, 31)))
    assert on_march == {crypto.digest("id", a), crypto.digest("id", d)}
    on_april = digests(credit_entries_in_force(on=dt.date(2026, 4, 1), id_digests=[crypto.digest("id", b)]))
    assert on_april == {crypto.digest("id", b)}


def test_search_by_full_id_or_name(scopes):
    a, b = ids(2)
    add(scopes["finance"], a, name="张三")
    add(scopes["finance"], b, name="李四")
    assert credit_entries(scopes["finance"], q=a).get().name == "张三"
    assert credit_entries(scopes["finance"], q="李").get().name == "李四"
    assert not credit_entries(scopes["finance"], q=a[:10]).exists()  # partial numbers are not searched


def test_import_adds_good_rows_and_reports_the_rest(scopes):
    a, b, c, d = ids(4)
    add(scopes["finance"], d)
    data = csv_bytes(HEADER, [
        f"{a},甲,骗取补贴,限制申领,2026-01-01,",
        f"{bad_check_digit(b)},乙,冒领,提示复核,2026-01-01,",
        f"{c},丙,冒领,永久,2026-01-01,",
        f"{c},丙,冒领,提示复核,2026-02-01,2026-01-01",
        f"{a},甲,重复,提示复核,2026-01-01,",
        f"{d},丁,已在名单,提示复核,2026-01-01,",
        f"{b},乙,冒领,提示复核,2026-01-01,2026-12-31",
    ], bom=True)
    result = credit_import(actor=scopes["finance"], fileobj=io.BytesIO(data), original_name="名单.csv")
    assert (result.rows, result.added, result.rejected) == (7, 2, 5)
    errors = {row: (column, value, reason) for row, column, value, reason in result.errors}
    assert errors[3][0] == "身份证号" and "校验位" in errors[3][2] and errors[3][1].count("*") == 8
    assert errors[4][0] == "限制类型"
    assert errors[5][0] == "有效期止"
    assert "与第 2 行重复" in errors[6][2]
    assert "已在本区划的信用名单中" in errors[7][2]
    entries = {e.name: e for e in CreditListEntry.objects.filter(source="import")}
    assert set(entries) == {"甲", "乙"} and entries["乙"].valid_to == dt.date(2026, 12, 31)
    assert entries["甲"].severity == "block" and entries["乙"].severity == "flag"
    assert StoredFile.objects.get(pk=result.file.pk).purpose == "credit-import"
    event = AuditEvent.objects.get(action="credit.import")
    assert event.after["added"] == 2 and event.after["rejected"] == 5
    again = credit_import(actor=scopes["finance"], fileobj=io.BytesIO(data), original_name="名单.csv")
    assert again.added == 0  # re-importing the same file adds nobody
    assert CreditListEntry.objects.count() == 3


def test_import_xlsx_and_whole_file_refusals(scopes, tmp_path):
    path = tmp_path / "c.xlsx"
    with xlsx_writer(path, ["姓名", "身份证号", "列入原因", "限制类型", "有效期起"]) as out:  # 有效期止 column omitted
        out.write(["甲", ids(1)[0], "骗取补贴", "提示复核", dt.date(2026, 1, 5)])
    result = credit_import(actor=scopes["finance"], fileobj=io.BytesIO(path.read_bytes()), original_name="c.xlsx")
    assert result.added == 1 and CreditListEntry.objects.get().valid_from == dt.date(2026, 1, 5)
    with pytest.raises(DomainError, match="限制类型"):
        credit_import(actor=scopes["finance"], fileobj=io.BytesIO(csv_bytes("身份证号,姓名,列入原因", [])),
                      original_name="x.csv")
    with pytest.raises(ScopeError):
        credit_import(actor=scopes["finance"], fileobj=io.BytesIO(b"x"), original_name="x.csv", region_code=FL)
    with pytest.raises(ScopeError):
        credit_import(actor=scopes["supervisor"], fileobj=io.BytesIO(b"x"), original_name="x.csv")


# -- pages ----------------------------------------------------------------------------------------------
def test_credit_page_lists_adds_lifts_and_imports(client, world, scopes):
    a, b = ids(2)
    client.force_login(world.users["finance"])
    page = client.get(reverse("sources:credit-list"))
    assert page.status_code == 200 and 'data-testid="credit-add-form"' in page.content.decode()
    response = client.post(reverse("sources:credit-add"), {
        "id_number": a, "name": "张三", "severity": "block", "reason": "骗取补贴", "region_code": WZ,
        "valid_from": "2026-01-01"})
    assert response.status_code == 302
    entry = CreditListEntry.objects.get()
    html = client.get(reverse("sources:credit-list")).content.decode()
    assert f'data-entry="{entry.pk}"' in html and entry.id_masked in html and a not in html
    response = client.post(reverse("sources:credit-add"), {
        "id_number": a, "name": "张三", "severity": "flag", "reason": "x", "region_code": WZ, "valid_from": "2026-01-01"})
    assert response.status_code == 400 and "已在本区划的信用名单中" in response.content.decode()
    response = client.post(reverse("sources:credit-lift", args=[entry.pk]), {"reason": "误报"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.lifted_reason == "误报"
    data = csv_bytes(HEADER, [f"{b},李四,冒领,提示复核,2026-01-01,", "x,王五,冒领,提示复核,2026-01-01,"])
    response = client.post(reverse("sources:credit-import"), {
        "file": SimpleUploadedFile("c.csv", data, content_type="text/csv"), "region_code": WZ})
    html = response.content.decode()
    assert response.status_code == 200 and "列入 1 人，拒绝 1 行" in html and 'data-row="3"' in html
    lifted = client.get(reverse("sources:credit-list") + "?state=lifted").content.decode()
    assert f'data-entry="{entry.pk}"' in lifted and "误报" in lifted


def test_credit_page_role_refusals(client, world, scopes):
    entry = add(scopes["finance"], ids(1)[0])
    client.force_login(world.users["supervisor"])
    html = client.get(reverse("sources:credit-list")).content.decode()
    assert f'data-entry="{entry.pk}"' in html and 'data-testid="credit-add-form"' not in html
    assert client.post(reverse("sources:credit-lift", args=[entry.pk]), {"reason": "x"}).status_code == 403
    client.force_login(world.users["civil"])
    assert client.get(reverse("sources:credit-list")).status_code == 200
    assert client.post(reverse("sources:credit-add"), {}).status_code == 403
    for who in ("collector", "hr", "paying_bank"):
        client.force_login(world.users[who])
        assert client.get(reverse("sources:credit-list")).status_code == 403
    client.force_login(world.users["finance_other"])
    assert client.post(reverse("sources:credit-lift", args=[entry.pk]), {"reason": "x"}).status_code == 404
    entry.refresh_from_db()
    assert entry.lifted_at is None
