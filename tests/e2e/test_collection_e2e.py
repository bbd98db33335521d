"""Collection and approval through a real browser: (a) a collector types an application — a bad ID number is
flagged while typing, before anything is submitted — and saves a good one; (b) a collector uploads a roster
with errors, reads the per-row errors, downloads the rejected rows, fixes them and uploads again without
creating duplicates; (c) a department approves submitted applications in one batch."""

import csv
import io

from playwright.sync_api import expect

# The collection fixtures live in tests/applications/conftest.py; importing them makes them available here.
from tests.applications.conftest import VILLAGE, flow, li, luhn_account, resident_id, zhang  # noqa: F401
from tests.applications.helpers import submitted
from tests.applications.roster_fixtures import PERSON_HEADERS, csv_bytes, person_row
from tests.world import PASSWORD
from yikatong.applications.models import Application, RosterImport


def as_user(page, login, username):
    login(username, PASSWORD)
    expect(page.locator("[data-testid=who-user]")).to_contain_text(username)


def test_collector_types_an_application(page, login, flow, zhang):  # noqa: F811
    as_user(page, login, "t_collector")
    page.click("[data-nav='applications:create']")
    expect(page.locator("h1")).to_have_text("录入申报")
    # the checks run in page scripts: wait until they are attached before typing (slow machines)
    page.wait_for_load_state("load")

    good = resident_id("500101", "19580506", 61)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    page.fill("[data-testid=id-number]", bad)
    error = page.locator("[data-testid=id-client-error]")
    expect(error).to_be_visible()
    expect(error).to_contain_text("校验位错误")
    expect(page.locator("[data-testid=id-check]")).to_contain_text("校验位错误")  # the server says the same
    assert Application.objects.count() == 0  # nothing was submitted

    # a registered person: their data is shown, the new-person fields are not asked for
    page.fill("[data-testid=id-number]", zhang.id_number_plain)
    expect(page.locator("[data-testid=person-found]")).to_contain_text("张三丰")
    expect(error).to_be_hidden()
    expect(page.locator("[data-field=name]")).to_be_hidden()

    # a new person: registered together with the application
    page.fill("[data-testid=id-number]", good)
    expect(page.locator("[data-testid=person-new]")).to_be_visible()
    expect(page.locator("[data-field=name]")).to_be_visible()
    page.fill("#id_name", "赵六")
    page.select_option("#id_region_code", VILLAGE)
    page.fill("#id_phone", "13900139000")
    page.fill("#id_bank_name", "重庆农村商业银行")
    page.fill("#id_account_number", luhn_account("622000000000000061"))
    page.select_option("#id_policy_code", "WZ-001")
    expect(page.locator("[data-testid=standard-max]")).to_have_text("300.00")
    page.fill("#id_period", "2026-03")
    with page.expect_navigation():
        page.click("[data-testid=entry-save]")
    expect(page.locator(".messages")).to_contain_text("已保存申报")
    expect(page.locator("[data-testid=app-amount]")).to_contain_text("300.00")
    expect(page.locator("[data-deadline=ok]")).to_contain_text("2026-03-05")
    app = Application.objects.get()
    assert (app.beneficiary.name, app.channel, app.status) == ("赵六", "typed", "collected")
    expect(page.locator("[data-testid=app-number]")).to_have_text(app.number)


def test_collector_fixes_a_roster_and_uploads_it_again(page, login, flow, tmp_path):  # noqa: F811
    rows = [person_row(i) for i in range(5)]
    rows[1] = person_row(1, 补贴金额="300.001")
    rows[3] = person_row(3, 社保卡银行账号="1234")
    first_file = tmp_path / "花名册.csv"
    first_file.write_bytes(csv_bytes(rows))

    as_user(page, login, "t_collector")
    page.click("[data-nav='applications:rosters']")
    page.select_option("#id_policy_code", "WZ-001")
    page.fill("#id_period", "2026-03")
    page.set_input_files("#id_file", str(first_file))
    with page.expect_navigation():
        page.click("[data-testid=roster-submit]")
    progress = page.locator("[data-testid=roster-progress]")
    expect(progress).to_have_attribute("data-status", "done")
    expect(page.locator("[data-count=accepted]")).to_have_text("3")
    expect(page.locator("[data-count=rejected]")).to_have_text("2")
    expect(page.locator("[data-error-row='3']")).to_contain_text("最多两位小数")
    expect(page.locator("[data-error-row='5']")).to_contain_text("银行账号")

    with page.expect_download() as info:
        page.click("[data-testid=rejected-download]")
    download = info.value
    rejected = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert rejected[0][: len(PERSON_HEADERS)] == PERSON_HEADERS and len(rejected) == 3
    amount, account = PERSON_HEADERS.index("补贴金额"), PERSON_HEADERS.index("社保卡银行账号")
    rejected[1][amount] = "300.00"
    rejected[2][account] = person_row(3)["社保卡银行账号"]
    fixed = tmp_path / "花名册_改正.csv"
    fixed.write_bytes(csv_bytes(rejected[1:], rejected[0]))

    page.click("[data-testid=reupload]")
    expect(page.locator("#id_period")).to_have_value("2026-03")
    page.set_input_files("#id_file", str(fixed))
    with page.expect_navigation():
        page.click("[data-testid=roster-submit]")
    expect(page.locator("[data-count=accepted]")).to_have_text("2")
    expect(page.locator("[data-count=rejected]")).to_have_text("0")
    expect(page.locator("[data-testid=roster-no-errors]")).to_be_visible()

    # the whole (now correct) roster once more: everything is already there, nothing is duplicated
    rows[1], rows[3] = person_row(1), person_row(3)
    whole = tmp_path / "花名册_全部.csv"
    whole.write_bytes(csv_bytes(rows))
    page.goto("/applications/rosters/")
    page.select_option("#id_policy_code", "WZ-001")
    page.fill("#id_period", "2026-03")
    page.set_input_files("#id_file", str(whole))
    with page.expect_navigation():
        page.click("[data-testid=roster-submit]")
    expect(page.locator("[data-count=duplicates]")).to_have_text("5")
    expect(page.locator("[data-count=accepted]")).to_have_text("0")
    assert Application.objects.count() == 5 and RosterImport.objects.count() == 3


def test_department_approves_submitted_applications_in_a_batch(page, login, flow, zhang, li):  # noqa: F811
    a, b = submitted(flow, zhang, li)
    as_user(page, login, "t_civil")
    page.click("[data-nav='applications:approval']")
    expect(page.locator("[data-testid=no-findings]")).to_be_visible()
    expect(page.locator(f"tr[data-application='{a.number}']")).to_contain_text("已报送待审核")
    page.check("[data-testid=select-all]")
    expect(page.locator("[data-selected-count]")).to_have_text("2")
    page.select_option("[data-testid=batch-action]", "approve")
    page.fill("[data-testid=batch-note]", "材料齐全，同意")
    with page.expect_navigation():
        page.click("[data-testid=batch-submit]")
    expect(page.locator("[data-testid=batch-done]")).to_have_text("2")
    expect(page.locator(f"[data-batch-item='{a.number}']")).to_contain_text("审核通过")
    expect(page.locator(f"[data-batch-item='{b.number}']")).to_contain_text("审核通过")
    expect(page.locator("[data-testid=empty]")).to_contain_text("没有待审核的申报")
    assert set(Application.objects.values_list("status", flat=True)) == {"approved"}

