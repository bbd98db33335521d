"""The findings inbox through a real browser: the department opens 比对疑点 from the navigation, follows a count
of the per-rule table to the filtered list, decides a review finding on its evidence page, selects the other
findings with the checkboxes and clears them in one bulk decision (one was decided by someone else meanwhile:
refused, with its reason), and starts a new run whose progress page links to the run's counts."""

import pytest
from playwright.sync_api import expect

from tests.checks.engine_support import make_lab
from tests.world import PASSWORD
from yikatong.checks.models import Finding


@pytest.fixture
def checked(world, settings):
    lab = make_lab(world, settings)
    policy = lab.policy("WZ-DB")
    dead, car, fine = lab.person("张死"), lab.person("李车"), lab.person("王好")
    lab.apps = {"dead": lab.app(dead, policy), "car": lab.app(car, policy), "fine": lab.app(fine, policy)}
    lab.source("death", [{"person": dead, "death_date": "2026-01-20"}])
    lab.source("vehicle", [{"person": car, "plate": "渝F88888", "vehicle_type": "小型轿车"},
                           {"person": fine, "plate": "渝F12345", "vehicle_type": "三轮汽车"}])
    lab.run(policy)
    lab.block = lab.findings("R02")[0]
    lab.review = lab.findings("R08", application=lab.apps["car"])[0]
    lab.other = lab.findings("R08", application=lab.apps["fine"])[0]
    return lab


def test_department_works_through_the_findings_inbox(page, login, checked):
    login("t_civil", PASSWORD)
    expect(page.locator("[data-testid=who-user]")).to_contain_text("t_civil")
    with page.expect_navigation():
        page.click("[data-nav='findings:inbox']")
    expect(page.locator("h1")).to_have_text("比对疑点")
    expect(page.locator("[data-testid=finding-table] tbody tr")).to_have_count(3)

    # the count of open blocking R02 findings leads to exactly that list
    with page.expect_navigation():
        page.click("[data-count-rule=R02] [data-count=open_block] a")
    expect(page.locator("[data-testid=finding-table] tbody tr")).to_have_count(1)
    expect(page.locator(f"tr[data-finding='{checked.block.pk}']")).to_contain_text("死亡日期 2026-01-20")

    # a review finding decided on its evidence page
    page.goto(f"/findings/{checked.review.pk}/")
    expect(page.locator("[data-testid=evidence-source]")).to_contain_text("车辆")
    page.check("[data-testid=action-accept]")
    page.fill("#id_reason", "车辆已于2025年报废，不影响低保资格")
    with page.expect_navigation():
        page.click("[data-testid=decision-submit]")
    expect(page.locator(".messages")).to_contain_text("已复核通过")
    expect(page.locator("[data-testid=decision]")).to_contain_text("车辆已于2025年报废")

    # bulk: select every open finding of the page, clear them with one reason
    page.goto("/findings/")
    page.wait_for_load_state("load")  # the page script counts the checked boxes
    expect(page.locator("[data-testid=finding-table] tbody tr")).to_have_count(2)
    page.check("[data-testid=select-all]")
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    # meanwhile a colleague decides one of them
    Finding.objects.filter(pk=checked.other.pk).update(status="cleared", decision="clear",
                                                       decision_reason="同事已处理")
    page.select_option("[data-testid=bulk-action]", "clear")
    page.fill("[data-testid=bulk-reason]", "已与民政核实本人在世")
    with page.expect_navigation():
        page.click("[data-testid=bulk-submit]")
    expect(page.locator("[data-testid=bulk-results]")).to_be_visible()
    expect(page.locator("[data-testid=bulk-done]")).to_have_text("1")
    expect(page.locator("[data-testid=bulk-refused]")).to_have_text("1")
    expect(page.locator(f"tr[data-bulk-item='{checked.other.pk}']")).to_contain_text("只能处理待处理的疑点")
    checked.block.refresh_from_db()
    assert checked.block.status == "cleared" and checked.block.decision_reason == "已与民政核实本人在世"
    expect(page.locator("[data-testid=empty]")).to_be_visible()  # nothing open left

    # the evidence page of the cleared finding shows the decision and its history
    page.goto(f"/findings/{checked.block.pk}/")
    expect(page.locator("[data-testid=evidence-text]")).to_contain_text("补贴期间开始前已死亡")
    expect(page.locator("[data-testid=decision]")).to_contain_text("已与民政核实本人在世")
    expect(page.locator("[data-testid=decision-form]")).to_have_count(0)

    # a new run: its progress page ends with a link to the run's counts
    page.goto("/findings/runs/")
    page.select_option("#id_policy_code", "WZ-DB")
    page.fill("#id_period", "2026-03")
    with page.expect_navigation():
        page.click("[data-testid=run-start]")
    expect(page.locator("[data-testid=job-progress]")).to_have_attribute("data-status", "succeeded")
    with page.expect_navigation():
        page.click("[data-testid=run-link]")
    expect(page.locator("[data-testid=run-subjects]")).to_have_text("3")
    expect(page.locator("[data-run-rule=R02] [data-count=hits]")).to_have_text("1")
