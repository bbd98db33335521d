"""Budget indicator and performance target pages through Django's test client: every page for 万州区 finance,
departments read-only on their line, collectors and banks refused (403), another county blind (list
excludes, detail 404), receive and allocate by POST with the services' Chinese refusals shown and nothing
written, the warnings inbox, targets, and progress figures exact to the fen."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from yikatong.core.models import AuditEvent
from yikatong.policies.models import BudgetIndicator, IndicatorEntry, PerformanceTarget
from yikatong.policies.services import indicator_allocate, indicator_commit, target_set

from .test_indicators import FL, WZ, YEAR, M, P, receive_central, setup_indicator_world, three_levels
from .test_targets import money_world


@pytest.fixture
def ol(published, today):
    return setup_indicator_world(published, today)


@pytest.fixture
def levels(ol):
    """root (province, 1,000,000.00) → pref 600,000.00 → 万州 400,000.00 and 涪陵 150,000.00."""
    return three_levels(ol)


def login(client, ol, key):
    client.force_login(ol.users.get(key) or ol.world.users[key])
    return client


def text(response) -> str:
    return response.content.decode()


def field_error(response, field: str) -> str:
    match = re.search(rf'data-field-error="{re.escape(field)}">([^<]*)<', text(response))
    return match.group(1) if match else ""


def counts():
    return BudgetIndicator.objects.count(), IndicatorEntry.objects.count(), AuditEvent.objects.count()


def listed(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'<tr data-indicator="(\d+)"', text(response))}


def cell(response, row_attr: str, col: str) -> str:
    """The figure in column `col` of the table row whose opening tag contains `row_attr`."""
    html = text(response)
    start = html.index(row_attr)
    row = html[start:html.index("</tr>", start)]
    match = re.search(rf'data-col="{col}">(?:<strong>)?([^<]*)<', row)
    return match.group(1).strip() if match else ""


URL = {
    "list": reverse("indicators:list"),
    "receive": reverse("indicators:receive"),
    "warnings": reverse("indicators:warnings"),
    "progress": reverse("indicators:progress"),
    "monitoring": reverse("indicators:monitoring"),
    "targets": reverse("indicators:targets"),
}


# -- every page ---------------------------------------------------------------------------------------
def test_every_page_renders_for_wanzhou_finance(client, ol, levels):
    root, pref, wz, fl = levels
    login(client, ol, "finance")
    response = client.get(URL["list"])
    assert response.status_code == 200
    assert listed(response) == {wz.pk}
    assert cell(response, f'data-indicator="{wz.pk}"', "amount") == "400000.00"
    assert cell(response, f'data-indicator="{wz.pk}"', "available") == "400000.00"
    assert 'data-nav="indicators:warnings"' in text(response)       # the navigation entries are there
    assert 'data-nav="indicators:targets"' in text(response)
    assert 'data-testid="indicator-receive"' in text(response)

    detail = client.get(reverse("indicators:detail", args=[wz.pk]))
    assert detail.status_code == 200
    page = text(detail)
    assert re.findall(r'data-entry="(\w+)"', page) == ["allocated_in"]
    assert "上级下达" in page and "万州区财政局" in page
    assert 'data-testid="close-form"' in page and 'data-testid="complete-form"' in page
    assert 'data-testid="proposal-form"' not in page                 # finance does not propose

    for name in ("receive", "warnings", "progress", "monitoring", "targets"):
        response = client.get(URL[name] + ("?fiscal_year=2027" if name != "receive" else ""))
        assert response.status_code == 200, name
    # 万州 is a county: no lower finance bureau to allocate to
    response = client.get(reverse("indicators:allocate", args=[wz.pk]))
    assert response.status_code == 200 and "下级没有有效的财政部门" in text(response)


def test_detail_shows_children_deadlines_and_the_append_only_ledger(client, ol, levels):
    root, pref, wz, fl = levels
    login(client, ol, "p_finance")
    response = client.get(reverse("indicators:detail", args=[root.pk]))
    assert response.status_code == 200
    page = text(response)
    assert re.findall(r'data-entry="(\w+)"', page) == ["received", "allocated_out"]
    assert f'data-indicator="{pref.pk}"' in page                        # the child allocation
    steps = dict(re.findall(r'data-step="(\w+)" data-state="(\w+)"', page))
    assert set(steps) == {"central_funds_proposal", "central_funds_allocation"}
    assert steps["central_funds_proposal"] == "overdue"                   # 02-10 + 15 days, today 03-01
    assert "台账只追加" in page
    assert 'data-testid="allocate-link"' in page


def test_list_filters(client, ol, levels):
    root, pref, wz, fl = levels
    login(client, ol, "p_finance")
    assert listed(client.get(URL["list"])) == {root.pk, pref.pk, wz.pk, fl.pk}
    assert listed(client.get(URL["list"], {"region": WZ})) == {wz.pk}
    assert listed(client.get(URL["list"], {"region": M})) == {pref.pk, wz.pk, fl.pk}
    assert listed(client.get(URL["list"], {"fiscal_year": "2027", "policy": "CQ-X"})) == {root.pk, pref.pk, wz.pk, fl.pk}
    assert listed(client.get(URL["list"], {"fiscal_year": "2028"})) == set()
    assert listed(client.get(URL["list"], {"source_level": "central"})) == {root.pk, pref.pk, wz.pk, fl.pk}
    assert listed(client.get(URL["list"], {"source_level": "county"})) == set()
    assert listed(client.get(URL["list"], {"status": "closed"})) == set()
    assert listed(client.get(URL["list"], {"deadline": "overdue"})) == {root.pk}
    assert listed(client.get(URL["list"], {"deadline": "ok"})) == {pref.pk}     # 30 days from 03-01
    assert listed(client.get(URL["list"], {"deadline": "none"})) == {wz.pk, fl.pk}
    response = client.get(URL["list"])
    assert 'data-deadline-state="overdue"' in cell_row(response, root.pk)
    # an invalid filter is shown next to its field and ignored
    response = client.get(URL["list"], {"region": "12x"})
    assert response.status_code == 200 and field_error(response, "region")
    assert listed(response) == {root.pk, pref.pk, wz.pk, fl.pk}


def cell_row(response, pk) -> str:
    html = text(response)
    start = html.index(f'<tr data-indicator="{pk}"')
    return html[start:html.index("</tr>", start)]


# -- who sees what ------------------------------------------------------------------------------------
def test_department_sees_its_line_read_only(client, ol, levels):
    root, pref, wz, fl = levels
    login(client, ol, "civil")                                           # 万州区民政局, CQ-X is civil affairs
    assert listed(client.get(URL["list"])) == {wz.pk}
    response = client.get(reverse("indicators:detail", args=[wz.pk]))
    assert response.status_code == 200
    page = text(response)
    for form in ("close-form", "complete-form", "allocate-link", "proposal-form"):
        assert f'data-testid="{form}"' not in page
    assert 'data-testid="indicator-receive"' not in text(client.get(URL["list"]))
    before = counts()
    assert client.get(URL["receive"]).status_code == 403
    assert client.post(URL["receive"], {"doc_no": "X"}).status_code == 403
    assert client.get(reverse("indicators:allocate", args=[wz.pk])).status_code == 403
    assert client.post(reverse("indicators:close", args=[wz.pk]), {"reason": "年终"}).status_code == 403
    assert client.post(reverse("indicators:complete", args=[wz.pk])).status_code == 403
    assert counts() == before
    assert BudgetIndicator.objects.get(pk=wz.pk).status == "active"
    login(client, ol, "agri")                                            # another business line
    assert listed(client.get(URL["list"])) == set()
    assert client.get(reverse("indicators:detail", args=[wz.pk])).status_code == 404


@pytest.mark.parametrize("key", ["collector", "paying_bank", "card_bank", "hr"])
def test_collector_and_banks_are_refused(client, ol, levels, key):
    wz = levels[2]
    login(client, ol, key)
    for url in [*URL.values(), reverse("indicators:detail", args=[wz.pk]),
                reverse("indicators:allocate", args=[wz.pk])]:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("indicators:close", args=[wz.pk]), {"reason": "x"}).status_code == 403


def test_other_county_cannot_see_wanzhou(client, ol, levels):
    root, pref, wz, fl = levels
    login(client, ol, "finance_other")                                   # 涪陵区财政局
    assert listed(client.get(URL["list"])) == {fl.pk}
    assert listed(client.get(URL["list"], {"region": WZ})) == set()
    before = counts()
    assert client.get(reverse("indicators:detail", args=[wz.pk])).status_code == 404
    assert client.get(reverse("indicators:allocate", args=[wz.pk])).status_code == 404
    assert client.post(reverse("indicators:close", args=[wz.pk]), {"reason": "x"}).status_code == 404
    assert client.post(reverse("indicators:complete", args=[wz.pk])).status_code == 404
    assert counts() == before
    # the province sees 万州's indicator but only the holder acts on it
    login(client, ol, "p_finance")
    assert client.post(reverse("indicators:close", args=[wz.pk]), {"reason": "x"}).status_code == 403
    assert client.get(reverse("indicators:allocate", args=[wz.pk])).status_code == 403


# -- receive --------------------------------------------------------------------------------------------
RECEIVE = {"doc_no": "万州财〔2027〕3号", "policy": "WZ-001", "fiscal_year": "2027", "amount": "1234.56",
           "received_on": "2027-02-20", "source_level": "county", "central_document_date": "", "note": ""}


def test_receive_by_post(client, ol):
    login(client, ol, "finance")
    form = client.get(URL["receive"])
    choices = re.findall(r'<option value="([^"]+)"', text(form))
    assert "WZ-001" in choices and "CQ-X" in choices and "FL-1" not in choices   # only policies for 万州
    response = client.post(URL["receive"], RECEIVE)
    indicator = BudgetIndicator.objects.get(doc_no="万州财〔2027〕3号")
    assert response.status_code == 302 and response.url == reverse("indicators:detail", args=[indicator.pk])
    assert (indicator.amount, indicator.available, indicator.region_id, indicator.holder.code) == (
        Decimal("1234.56"), Decimal("1234.56"), WZ, "WZ-CZJ")
    assert list(indicator.entries.values_list("kind", "amount")) == [("received", Decimal("1234.56"))]
    page = text(client.get(response.url))
    assert "已登记预算指标 万州财〔2027〕3号" in page

    before = counts()
    again = client.post(URL["receive"], RECEIVE)
    assert again.status_code == 400 and "请勿重复登记" in field_error(again, "doc_no")
    bad = client.post(URL["receive"], {**RECEIVE, "doc_no": "新1", "amount": "12.345"})
    assert bad.status_code == 400 and "最多保留两位小数" in field_error(bad, "amount")
    future = client.post(URL["receive"], {**RECEIVE, "doc_no": "新2", "received_on": "2027-03-02"})
    assert future.status_code == 400 and "晚于今天" in field_error(future, "received_on")
    central = client.post(URL["receive"], {**RECEIVE, "doc_no": "新3", "central_document_date": "2027-02-01"})
    assert "只有中央资金需要填写中央资金文件日期" in field_error(central, "central_document_date")
    empty = client.post(URL["receive"], {**RECEIVE, "doc_no": "", "policy": "FL-1"})
    assert empty.status_code == 400 and field_error(empty, "doc_no") and field_error(empty, "policy")
    assert counts() == before


# -- allocate -------------------------------------------------------------------------------------------
def parts_data(*parts, complete=False) -> dict:
    data = {"parts-TOTAL_FORMS": str(len(parts)), "parts-INITIAL_FORMS": "0", "parts-MIN_NUM_FORMS": "1",
            "parts-MAX_NUM_FORMS": "30", "note": ""}
    if complete:
        data["complete"] = "on"
    for i, (region, holder, amount, doc) in enumerate(parts):
        data.update({f"parts-{i}-region": region, f"parts-{i}-holder": holder, f"parts-{i}-amount": amount,
                     f"parts-{i}-doc_no": doc})
    return data


@pytest.fixture
def prefecture(ol):
    """The province's 1,000,000.00 with 600,000.00 allocated to the prefecture (市辖区财政局 holds it)."""
    root = receive_central(ol)
    (pref,) = indicator_allocate(actor=ol.scope("p_finance"), parent_id=root.pk, parts=[
        {"region_code": M, "holder_code": "CQ-SXQ-CZ", "amount": "600000.00", "doc_no": "渝财农〔2027〕5号"}])
    return pref


def test_allocate_in_parts_by_post(client, ol, prefecture):
    url = reverse("indicators:allocate", args=[prefecture.pk])
    login(client, ol, "m_finance")
    page = client.get(url)
    assert page.status_code == 200
    assert len(re.findall(r'<tr data-part="', text(page))) == 3
    assert set(re.findall(r'<option value="([A-Z-]+)"', text(page))) == {"WZ-CZJ", "FL-CZJ"}
    assert len(re.findall(r'<tr data-part="', text(client.get(url, {"rows": "6"})))) == 6

    before = counts()
    over = client.post(url, parts_data((WZ, "WZ-CZJ", "400000.00", "D1"), (FL, "FL-CZJ", "200000.01", "D2")))
    assert over.status_code == 400
    assert "分配金额 600,000.01 超过上级指标可用余额 600,000.00。" in text(over)
    assert "分配未完成：各项均未下达" in text(over)
    assert counts() == before
    mismatch = client.post(url, parts_data((WZ, "WZ-CZJ", "1.00", "D1"), (WZ, "FL-CZJ", "1.00", "D2")))
    assert mismatch.status_code == 400
    assert field_error(mismatch, "parts-1-holder").startswith("第2项分配：涪陵区财政局不在区划 500101000000")
    bad_amount = client.post(url, parts_data((WZ, "WZ-CZJ", "-5", "D1")))
    assert "应大于0" in field_error(bad_amount, "parts-0-amount")
    empty = client.post(url, parts_data(("", "", "", "")))
    assert empty.status_code == 400
    assert counts() == before

    done = client.post(url, parts_data((WZ, "WZ-CZJ", "400000.00", "D1"), (FL, "FL-CZJ", "150000.00", "D2"),
                                       ("", "", "", "")))
    assert done.status_code == 302
    pref = BudgetIndicator.objects.get(pk=prefecture.pk)
    assert (pref.allocated_out_total, pref.available, pref.allocation_done_on) == (
        Decimal("550000.00"), Decimal("50000.00"), None)
    children = {c.region_id: c.amount for c in pref.children.all()}
    assert children == {WZ: Decimal("400000.00"), FL: Decimal("150000.00")}
    assert "已分配下达 2 项，合计 550000.00 元" in text(client.get(done.url))
    # the rest, with the allocation marked complete
    last = client.post(url, parts_data((WZ, "WZ-CZJ", "50000.00", "D3"), complete=True))
    assert last.status_code == 302
    pref.refresh_from_db()
    assert pref.available == Decimal("0.00") and pref.allocation_done_on is not None


# -- complete, close, proposal ------------------------------------------------------------------------
def test_complete_close_and_proposal(client, ol, levels):
    root, pref, wz, fl = levels
    login(client, ol, "p_civil")
    proposal = reverse("indicators:proposal", args=[root.pk])
    assert 'data-testid="proposal-form"' in text(client.get(reverse("indicators:detail", args=[root.pk])))
    empty = client.post(proposal, {"note": ""})
    assert empty.status_code == 400 and field_error(empty, "note") == "请填写分配建议方案说明。"
    assert client.post(proposal, {"note": "万州40万、涪陵15万"}).status_code == 302
    again = client.post(proposal, {"note": "再报一次"})
    assert again.status_code == 400 and "分配建议方案已于 2027-03-01 报送" in text(again)
    assert BudgetIndicator.objects.get(pk=root.pk).proposal_note == "万州40万、涪陵15万"

    login(client, ol, "finance")
    indicator_commit(actor=ol.scope("civil"), indicator_id=wz.pk, amount="100.00", ref_type="plan", ref_id="1",
                     policy_code="CQ-X", fiscal_year=YEAR)
    close = reverse("indicators:close", args=[wz.pk])
    no_reason = client.post(close, {"reason": ""})
    assert no_reason.status_code == 400 and field_error(no_reason, "reason") == "请填写关闭原因。"
    committed = client.post(close, {"reason": "年终清理"})
    assert committed.status_code == 400 and "尚有已挂接未支付资金 100.00 元" in text(committed)
    assert BudgetIndicator.objects.get(pk=wz.pk).status == "active"

    complete = reverse("indicators:complete", args=[wz.pk])
    assert client.post(complete, {"note": "余额留县级"}).status_code == 302
    assert BudgetIndicator.objects.get(pk=wz.pk).allocation_done_on is not None
    twice = client.post(complete, {"note": ""})
    assert twice.status_code == 400 and "已于 2027-03-01 确认分配下达完成" in text(twice)
    assert client.get(complete).status_code == 405

    login(client, ol, "finance_other")
    assert client.post(reverse("indicators:close", args=[fl.pk]), {"reason": "年终清理"}).status_code == 302
    closed = client.get(reverse("indicators:detail", args=[fl.pk]))
    assert 'data-testid="closed"' in text(closed) and 'data-testid="close-form"' not in text(closed)


# -- warnings ----------------------------------------------------------------------------------------
def test_warnings_inbox(client, ol, levels):
    root, pref, wz, fl = levels
    login(client, ol, "p_finance")
    response = client.get(URL["warnings"], {"fiscal_year": "2027"})
    page = text(response)
    assert response.status_code == 200
    warn = re.findall(r'data-indicator="(\d+)" data-step="(\w+)" data-state="(\w+)"', page)
    assert (str(root.pk), "central_funds_proposal", "overdue") in warn
    mine = page[page.index('data-testid="mine"'):page.index("预警（即将到期")]
    assert "central_funds_allocation" in mine and "central_funds_proposal" not in mine   # finance's own step
    assert "超期" in page

    login(client, ol, "p_civil")
    page = text(client.get(URL["warnings"]))
    mine = page[page.index('data-testid="mine"'):page.index("预警（即将到期")]
    assert "central_funds_proposal" in mine and "central_funds_allocation" not in mine

    login(client, ol, "finance")
    response = client.get(URL["warnings"])
    assert 'data-testid="mine-empty"' in text(response) and str(root.pk) not in re.findall(
        r'data-indicator="(\d+)"', text(response))

    # completing the allocation finishes the clock
    login(client, ol, "p_finance")
    client.post(reverse("indicators:complete", args=[root.pk]), {"note": ""})
    page = text(client.get(URL["warnings"]))
    assert f'data-indicator="{root.pk}" data-step="central_funds_allocation" data-state="done"' in page


# -- targets ---------------------------------------------------------------------------------------------
def test_targets_set_and_record_actual(client, ol):
    login(client, ol, "civil")
    data = {"policy": "CQ-X", "fiscal_year": "2027", "category": "output", "name": "发放人数",
            "direction": "gte", "target_value": "1200", "unit": "人"}
    response = client.post(reverse("indicators:target-set"), data)
    assert response.status_code == 302
    target = PerformanceTarget.objects.get(name="发放人数")
    assert (target.region_id, target.target_value) == (WZ, Decimal("1200.0000"))
    page = text(client.get(URL["targets"], {"fiscal_year": "2027"}))
    assert f'data-target="{target.pk}"' in page and "≥ 1200人" in page and "未评价" in page

    bad = client.post(reverse("indicators:target-set"), {**data, "name": "满意度", "target_value": "abc"})
    assert bad.status_code == 400 and field_error(bad, "target_value")
    actual = reverse("indicators:target-actual", args=[target.pk])
    assert client.post(actual, {"actual_value": "1250", "note": ""}).status_code == 302
    page = text(client.get(URL["targets"]))
    assert "1250人" in page and "达标" in page
    again = client.post(actual, {"actual_value": "1100", "note": ""})
    assert again.status_code == 400 and "更正实际完成值请填写说明" in text(again)
    changed = client.post(reverse("indicators:target-set"), {**data, "target_value": "1300"})
    assert changed.status_code == 400 and "不能再修改目标值" in text(changed)
    assert PerformanceTarget.objects.get(pk=target.pk).actual_value == Decimal("1250.0000")

    login(client, ol, "agri")                                             # another line: not visible
    assert f'data-target="{target.pk}"' not in text(client.get(URL["targets"]))
    assert client.post(actual, {"actual_value": "1"}).status_code == 404
    login(client, ol, "finance_other")
    assert client.post(actual, {"actual_value": "1"}).status_code == 404
    login(client, ol, "supervisor")                                       # reads, never writes
    page = text(client.get(URL["targets"]))
    assert f'data-target="{target.pk}"' in page and 'data-testid="target-form"' not in page
    assert client.post(actual, {"actual_value": "1", "note": "x"}).status_code == 403
    assert client.post(reverse("indicators:target-set"), data).status_code == 403


# -- progress and dual monitoring -----------------------------------------------------------------------
def test_progress_and_monitoring_exact_to_the_fen(client, ol, today):
    money_world(ol, today)                                               # today 2027-03-10
    login(client, ol, "finance")
    response = client.get(URL["progress"], {"fiscal_year": "2027"})
    row = f'data-policy="CQ-X" data-region="{WZ}"'
    assert [cell(response, row, c) for c in ("allocated", "committed", "paid")] == [
        "333333.33", "55555.56", "44444.43"]
    assert 'data-pct="13.33"' in text(response) and 'class="progress' in text(response)
    earlier = client.get(URL["progress"], {"fiscal_year": "2027", "region": WZ, "on": "2027-03-01"})
    assert [cell(earlier, row, c) for c in ("allocated", "committed", "paid")] == [
        "333333.33", "66666.67", "33333.33"]
    outside = client.get(URL["progress"], {"fiscal_year": "2027", "region": P})
    assert outside.status_code == 403 and "无权查看区划 500000000000" in text(outside)

    login(client, ol, "p_finance")
    whole = client.get(URL["progress"], {"fiscal_year": "2027", "region": P})
    assert [cell(whole, f'data-policy="CQ-X" data-region="{P}"', c) for c in ("allocated", "committed", "paid")] == [
        "1000000.00", "88888.89", "62111.10"]
    assert 'data-pct="6.21"' in text(whole)
    per_region = client.get(URL["progress"], {"fiscal_year": "2027"})
    assert [cell(per_region, 'data-total="1"', c) for c in ("allocated", "committed", "paid")] == [
        "1000000.00", "88888.89", "62111.10"]                             # what each region kept adds up

    login(client, ol, "civil")
    target_set(actor=ol.scope("civil"), policy_code="CQ-X", fiscal_year=YEAR, region_code=WZ, category="output",
               name="发放人数", target_value="1200", unit="人")
    monitoring = client.get(URL["monitoring"], {"fiscal_year": "2027"})
    page = text(monitoring)
    assert monitoring.status_code == 200
    assert cell(monitoring, 'data-policy="CQ-X"', "paid") == "44444.43"
    assert 'data-pct="13.33"' in page and 'data-pct="18.90"' in page      # execution behind time progress
    assert 'data-testid="behind"' in page and "发放人数" in page
