"""The one list through a real browser: (a) an annual list from the departments' items to the province's
publication; (b) one change request through its whole chain until the library shows the new entry."""

import re

import pytest
from playwright.sync_api import expect

# The one-list fixtures live in tests/policies/conftest.py; importing them makes them available here.
from tests.policies.conftest import LIST_YEAR, one_list, policy_fields, published, today  # noqa: F401
from tests.world import PASSWORD
from yikatong.policies.models import AnnualPolicyList, ChangeRequest, LibraryEntry
from yikatong.policies.services import library_build_from_list, policy_create

P, M, WZ = "500000000000", "500100000000", "500101000000"


def logout(page):
    with page.expect_navigation():
        page.click("[data-testid=logout]")


def as_user(page, login, username):
    if page.locator("[data-testid=logout]").count():
        logout(page)
    login(username, PASSWORD)
    expect(page.locator("[data-testid=who-user]")).to_contain_text(username)


def messages(page):
    return page.locator(".messages")


@pytest.fixture
def registered(one_list, today):  # noqa: F811
    ol = one_list
    policy_create(actor=ol.scope("p_civil"),
                  fields=policy_fields(code="CQ-X", name="重庆市困难群众救助", department="CQ-MZJ",
                                       level_set="provincial",
                                       funding_sources=[{"level": "provincial", "share": "100"}]))
    policy_create(actor=ol.scope("civil"), fields=policy_fields())
    return ol


def test_list_is_submitted_filed_and_published_through_the_pages(page, login, registered):
    # the 万州区 civil-affairs department puts its policy and the province's on the county list, then submits
    as_user(page, login, "t_civil")
    page.click("[data-nav='policies:lists']")
    expect(page.locator("h1")).to_contain_text(f"万州区 {LIST_YEAR} 年度补贴政策清单")
    expect(page.locator("[data-deadline=department_submit] .badge")).to_have_text("即将到期")
    for code in ["WZ-001", "CQ-X"]:
        page.select_option("[data-testid=item-add-form] select[name=policy]", code)
        with page.expect_navigation():
            page.click("[data-testid=item-add]")
        expect(page.locator(f"tr[data-item='{code}']")).to_contain_text("待提交")
    expect(page.locator("tr[data-item='CQ-X']").locator("xpath=ancestor::table")).to_have_attribute(
        "data-testid", "items-1")  # 规定清单 comes first
    with page.expect_navigation():
        page.click("[data-testid=list-submit]")
    expect(messages(page)).to_contain_text("已提交 2 个清单项目")
    expect(page.locator("tr[data-item='WZ-001']")).to_contain_text("已提交")
    expect(page.locator("[data-testid=list-file]")).to_have_count(0)

    # the prefecture finance bureau files the prefecture's list with its counties
    as_user(page, login, "t_m_finance")
    page.goto(f"/policies/lists/?region={M}&year={LIST_YEAR}")
    with page.expect_navigation():
        page.click("[data-testid=list-file]")
    expect(messages(page)).to_contain_text("已向省财政报备 2 份清单")
    expect(page.locator("[data-testid=list-status]")).to_have_text("已报备")

    # the province finance bureau publishes its own list and the filed ones
    as_user(page, login, "t_p_finance")
    page.goto(f"/policies/lists/?region={P}&year={LIST_YEAR}")
    with page.expect_navigation():
        page.click("[data-testid=list-publish]")
    expect(messages(page)).to_contain_text("已公布 3 份清单")
    page.goto(f"/policies/lists/?region={WZ}&year={LIST_YEAR}")
    expect(page.locator("[data-testid=list-status]")).to_have_text("已公布")
    expect(page.locator("[data-testid=list-versions] tbody tr")).to_have_count(2)
    assert AnnualPolicyList.objects.get(region_id=WZ, year=LIST_YEAR).status == "published"

    # and builds the library from it
    page.click("[data-nav='policies:library']")
    page.goto(f"/policies/library/?year={LIST_YEAR}")
    with page.expect_navigation():
        page.click("[data-testid=library-build]")
    expect(messages(page)).to_contain_text("新增 2 个条目")
    expect(page.locator(f"tr[data-entry='{WZ}:WZ-001']")).to_contain_text("在库")


def test_change_request_goes_through_the_whole_chain(page, login, published, today, tmp_path):  # noqa: F811
    ol = published
    library_build_from_list(actor=ol.scope("p_finance"), province_code=P, year=LIST_YEAR)
    today("2027-03-01")
    policy_create(actor=ol.scope("civil"), fields=policy_fields(code="WZ-002", name="万州区高龄津贴",
                                                                status="draft"))
    attachment = tmp_path / "常务会议纪要.txt"
    attachment.write_text("区政府常务会议同意新增高龄津贴。", encoding="utf-8")

    as_user(page, login, "t_civil")
    page.click("[data-nav='policies:changes']")
    with page.expect_navigation():
        page.click("[data-testid=change-create]")
    page.select_option("#id_policy", "WZ-002")
    page.select_option("#id_change_type", "add")
    page.fill("#id_content", "新增万州区高龄津贴")
    page.fill("#id_reason", "区政府常务会议决定")
    page.fill("#id_amount_impact", "abc")
    with page.expect_navigation():
        page.click("[data-testid=change-save]")
    expect(page.locator("[data-testid=form-error], .field-error").first).to_contain_text("不是有效的数字")
    page.fill("#id_amount_impact", "120000.00")
    page.set_input_files("#id_documents", str(attachment))
    with page.expect_navigation():
        page.click("[data-testid=change-save]")
    expect(page.locator("[data-testid=change-status]")).to_have_text("草稿")
    expect(page.locator("[data-testid=change-documents]")).to_contain_text("常务会议纪要.txt")
    with page.expect_navigation():
        page.click("[data-testid=change-submit]")
    expect(page.locator("[data-testid=step-deadline]")).to_contain_text("2027-03-15")
    cr = ChangeRequest.objects.get()

    for username in ["t_civil", "t_m_finance", "t_p_civil", "t_p_finance"]:
        as_user(page, login, username)
        page.click("[data-nav='policies:change-inbox']")
        row = page.locator(f"tr[data-change='{cr.number}']")
        expect(row).to_have_count(1)
        row.locator("input[name=opinion]").fill(f"{username} 同意")
        with page.expect_navigation():
            row.locator("[data-testid=approve]").click()
        expect(messages(page)).to_contain_text(cr.number)
        expect(page.locator(f"tr[data-change='{cr.number}']")).to_have_count(0)

    page.goto(f"/policies/changes/{cr.pk}/")
    expect(page.locator("[data-testid=change-status]")).to_have_text("已批准生效")
    expect(page.locator("[data-testid=steps] tbody tr")).to_have_count(5)
    expect(page.locator("[data-testid=steps]")).to_contain_text("t_p_civil 同意")
    page.click("[data-nav='policies:library']")
    expect(page.locator(f"tr[data-entry='{WZ}:WZ-002']")).to_contain_text(cr.number)
    assert LibraryEntry.objects.get(policy__code="WZ-002").source_change_id == cr.pk
    # the check box answers for the new entry without reloading the page
    page.fill("[data-testid=check-form] input[name=policy]", "WZ-002")
    page.fill("[data-testid=check-form] input[name=region]", "500101001001")
    page.click("[data-testid=check-submit]")
    expect(page.locator("#check-result")).to_contain_text("可以发放")
    assert re.search(r"/policies/library/", page.url)
