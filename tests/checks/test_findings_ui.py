"""Pages and API of the findings inbox: list, filters, counts, scope, evidence view, decisions (one and bulk),
export, runs with their progress page, rule settings, the approval screen's findings and the navigation."""

import csv
import io

import pytest
from django.urls import reverse

from yikatong.applications.models import Application
from yikatong.checks.models import CheckRun, Finding, RuleConfig
from yikatong.core.models import AuditEvent, JobProgress

from .engine_support import make_lab

pytestmark = pytest.mark.django_db
INBOX = "/findings/"
API = "/api/findings"


@pytest.fixture
def lab(world, settings):
    return make_lab(world, settings)


@pytest.fixture
def checked(lab):
    """WZ-DB 2026-03 in 高笋塘街道: 张死 dead before the period (block R02), 李车 owns a car (review R08), 王好
    nothing; all three submitted for approval."""
    policy = lab.policy("WZ-DB")
    dead, car, fine = lab.person("张死"), lab.person("李车"), lab.person("王好")
    lab.apps = {"dead": lab.app(dead, policy), "car": lab.app(car, policy), "fine": lab.app(fine, policy)}
    lab.source("death", [{"person": dead, "death_date": "2026-01-20"}])
    lab.imp = lab.source("vehicle", [{"person": car, "plate": "渝F88888", "vehicle_type": "小型轿车"}])
    lab.run(policy)
    lab.people = {"dead": dead, "car": car, "fine": fine}
    lab.block = lab.findings("R02")[0]
    lab.review = lab.findings("R08")[0]
    return lab


def login(client, lab, who):
    client.force_login(lab.world.users[who])
    return client


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def listed(page: str) -> set[str]:
    """Rules of the findings in the table of a page."""
    return {rule for rule in ("R01", "R02", "R08") if f'data-rule="{rule}"' in page}


# -- the inbox ---------------------------------------------------------------------------------------------------------
def test_inbox_lists_open_findings_with_masked_identifiers_and_counts(client, checked):
    page = html(login(client, checked, "civil").get(INBOX))
    assert listed(page) == {"R02", "R08"}
    dead = checked.people["dead"]
    assert "张*" in page and "张死" not in page and dead.id_masked in page and dead.id_plain not in page
    assert "死亡日期 2026-01-20" in page
    # counts per rule and per township, each count a link to the list it counts
    assert 'data-count-rule="R02"' in page and 'data-count-rule="R08"' in page and 'data-count-rule="R05"' not in page
    assert 'data-count-township="500101001000"' in page and "高笋塘街道" in page
    assert "?rule=R02&amp;severity=block&amp;status=open" in page
    assert "?region=500101001000&amp;severity=review&amp;status=open" in page
    assert 'data-testid="bulk-form"' in page and 'value="confirm"' in page
    assert 'data-nav="findings:inbox"' in page


def test_filters(client, checked):
    login(client, checked, "civil")
    assert listed(html(client.get(INBOX, {"rule": "R08"}))) == {"R08"}
    assert listed(html(client.get(INBOX, {"severity": "block"}))) == {"R02"}
    assert listed(html(client.get(INBOX, {"policy": "WZ-DB", "period": "2026-03"}))) == {"R02", "R08"}
    assert listed(html(client.get(INBOX, {"period": "2026-04"}))) == set()
    assert listed(html(client.get(INBOX, {"region": "500101002000"}))) == set()     # 太白街道
    assert listed(html(client.get(INBOX, {"region": "500101001000"}))) == {"R02", "R08"}
    run = CheckRun.objects.get()
    assert listed(html(client.get(INBOX, {"run": run.pk, "rule": "R02"}))) == {"R02"}
    client.post(reverse("findings:decide", args=[checked.review.pk]), {"action": "accept", "reason": "农用车"})
    assert listed(html(client.get(INBOX))) == {"R02"}                                 # default: open
    assert listed(html(client.get(INBOX, {"status": "cleared"}))) == {"R08"}
    assert listed(html(client.get(INBOX, {"status": "all"}))) == {"R02", "R08"}
    # the count link of the rule table leads to exactly the findings it counts
    page = html(client.get(INBOX + "?rule=R02&status=open&severity=block"))
    assert listed(page) == {"R02"} and 'data-testid="finding-count">共 1 条' in page
    # a village (below the listed townships) in scope is a valid filter too
    assert listed(html(client.get(INBOX, {"region": "500101001001", "status": "all"}))) == {"R02", "R08"}
    # a region outside the choices is refused next to the field, nothing is listed
    page = html(client.get(INBOX, {"region": "500102000000"}))
    assert 'data-field-error="region"' in page and listed(page) == set()


@pytest.mark.parametrize("who, sees", [("civil", True), ("finance", True), ("supervisor", True), ("collector", True),
                                       ("collector2", False), ("finance_other", False), ("agri", False)])
def test_scope_of_the_inbox_and_the_detail(client, checked, who, sees):
    login(client, checked, who)
    assert listed(html(client.get(INBOX, {"status": "all"}))) == ({"R02", "R08"} if sees else set())
    assert client.get(reverse("findings:detail", args=[checked.block.pk])).status_code == (200 if sees else 404)
    response = client.get(f"{API}/{checked.block.pk}")
    assert response.status_code == (200 if sees else 404)


def test_each_township_sees_only_its_own_findings(client, checked):
    from .engine_support import VILLAGE2

    policy = checked.apps["dead"].policy
    other = checked.person("孙亡", village=VILLAGE2)
    checked.app(other, policy)
    checked.source("death", [{"person": checked.people["dead"], "death_date": "2026-01-20"},
                             {"person": other, "death_date": "2026-02-01"}])
    checked.run(policy)
    theirs = Finding.objects.get(application__beneficiary=other)
    page = html(login(client, checked, "collector2").get(INBOX, {"status": "all"}))
    assert f'data-finding="{theirs.pk}"' in page and f'data-finding="{checked.block.pk}"' not in page
    assert 'data-count-township="500101002000"' in page and 'data-count-township="500101001000"' not in page
    assert client.get(reverse("findings:detail", args=[checked.block.pk])).status_code == 404
    page = html(login(client, checked, "collector").get(INBOX, {"status": "all"}))
    assert f'data-finding="{theirs.pk}"' not in page and f'data-finding="{checked.block.pk}"' in page
    page = html(login(client, checked, "civil").get(INBOX))
    assert 'data-count-township="500101002000"' in page and 'data-count-township="500101001000"' in page
    page = html(client.get(INBOX, {"region": "500101002000"}))
    assert f'data-finding="{theirs.pk}"' in page and f'data-finding="{checked.block.pk}"' not in page


@pytest.mark.parametrize("who", ["paying_bank", "hr", "regulator"])
def test_roles_without_finding_view_are_refused(client, checked, who):
    login(client, checked, who)
    assert client.get(INBOX).status_code == 403
    assert client.get(reverse("findings:runs")).status_code == 403
    assert client.get(f"{API}/").status_code == 403
    assert 'data-nav="findings:inbox"' not in html(client.get(reverse("core:home")))


# -- one finding ---------------------------------------------------------------------------------------------------------
def test_detail_shows_evidence_source_and_history(client, checked):
    page = html(login(client, checked, "civil").get(reverse("findings:detail", args=[checked.review.pk])))
    assert "R08 有车辆" in page and "小型轿车" in page and 'data-testid="evidence-text"' in page
    assert str(checked.imp.pk) in page and "2026-02-28" in page and 'data-testid="source-current"' in page
    assert 'data-event="opened"' in page and checked.apps["car"].number in page
    # a review finding: accept / reject
    assert 'data-testid="action-accept"' in page and 'data-testid="action-confirm"' not in page
    page = html(client.get(reverse("findings:detail", args=[checked.block.pk])))
    assert 'data-testid="action-confirm"' in page and 'data-testid="action-clear"' in page
    # read-only and other roles see no form
    page = html(login(client, checked, "finance").get(reverse("findings:detail", args=[checked.block.pk])))
    assert 'data-testid="decision-form"' not in page and 'data-testid="no-decide"' in page
    assert client.get(reverse("findings:detail", args=[999999])).status_code == 404


def test_pair_rule_shows_the_other_application(client, lab):
    policy = lab.policy("WZ-DB")
    person = lab.person("赵二")
    other = lab.app(person, policy, "2026", status="approved")
    lab.app(person, policy)
    lab.run(policy)
    finding = lab.findings("R03")[0]
    page = html(login(client, lab, "civil").get(reverse("findings:detail", args=[finding.pk])))
    assert 'data-testid="evidence-other"' in page and other.number in page
    assert reverse("applications:detail", args=[other.pk]) in page


@pytest.mark.parametrize("who", ["finance", "supervisor", "agri", "collector"])
def test_wrong_role_cannot_decide(client, checked, who):
    login(client, checked, who)
    response = client.post(reverse("findings:decide", args=[checked.block.pk]), {"action": "clear", "reason": "无权"})
    assert response.status_code in (403, 404)
    response = client.post(reverse("findings:bulk"), {"action": "clear", "reason": "无权", "ids": [checked.block.pk]})
    if who == "agri":  # a department of another line: refused item by item, with the reason
        assert response.status_code == 302
        page = html(client.get(response.url))
        assert f'data-bulk-item="{checked.block.pk}" data-ok="0"' in page and "不属于您的部门" in page
    else:
        assert response.status_code == 403
    assert client.post(f"{API}/{checked.block.pk}/decide", {"action": "clear", "reason": "x"},
                       content_type="application/json").status_code in (403, 404)
    checked.block.refresh_from_db()
    assert checked.block.status == "open"
    assert not AuditEvent.objects.filter(action__startswith="finding.").exists()


def test_decide_needs_a_reason_then_clears_and_audits(client, checked):
    login(client, checked, "civil")
    url = reverse("findings:decide", args=[checked.block.pk])
    response = client.post(url, {"action": "clear", "reason": ""})
    assert response.status_code == 400 and 'data-field-error="reason"' in response.content.decode()
    response = client.post(url, {"action": "accept", "reason": "x"})   # accept is for review findings only
    assert response.status_code == 400
    response = client.post(url, {"action": "clear", "reason": "火化记录身份证号录入错误，已核实本人在世"})
    assert response.status_code == 302
    checked.block.refresh_from_db()
    assert (checked.block.status, checked.block.decided_by) == ("cleared", "t_civil")
    assert AuditEvent.objects.filter(action="finding.clear", object_id=str(checked.block.pk)).exists()
    page = html(client.get(response.url))
    assert 'data-testid="decision"' in page and "已核实本人在世" in page and 'data-event="clear"' in page
    # decided once: a second decision is refused with the reason, nothing changes
    response = client.post(url, {"action": "confirm", "reason": "改主意"})
    assert response.status_code == 400 and "只能处理待处理的疑点" in response.content.decode()


def test_confirm_rejects_the_application(client, checked):
    login(client, checked, "civil")
    response = client.post(reverse("findings:decide", args=[checked.review.pk]),
                           {"action": "reject", "reason": "名下小型轿车一辆，不符合低保条件"})
    assert response.status_code == 302
    app = Application.objects.get(pk=checked.apps["car"].pk)
    assert app.status == "rejected" and "不符合低保条件" in app.rejection_reason


# -- bulk ----------------------------------------------------------------------------------------------------------------
def test_bulk_decision_applies_audits_and_reports_each_item(client, checked):
    login(client, checked, "civil")
    response = client.post(reverse("findings:bulk"), {"action": "accept", "reason": "批量复核无误",
                                                      "ids": [checked.block.pk, checked.review.pk],
                                                      "next": INBOX + "?status=all"})
    assert response.status_code == 302 and response.url == INBOX + "?status=all"
    page = html(client.get(response.url))
    assert 'data-testid="bulk-results"' in page
    assert f'data-bulk-item="{checked.review.pk}" data-ok="1"' in page
    assert f'data-bulk-item="{checked.block.pk}" data-ok="0"' in page and "为阻断类" in page
    assert 'data-testid="bulk-done">1<' in page and 'data-testid="bulk-refused">1<' in page
    assert "data-testid=\"bulk-results\"" not in html(client.get(INBOX))   # shown once
    checked.review.refresh_from_db()
    checked.block.refresh_from_db()
    assert (checked.review.status, checked.block.status) == ("cleared", "open")
    assert AuditEvent.objects.filter(action="finding.accept").count() == 1

    response = client.post(reverse("findings:bulk"), {"action": "clear", "reason": "已核实在世",
                                                      "ids": [checked.block.pk]})
    assert response.status_code == 302
    checked.block.refresh_from_db()
    assert checked.block.status == "cleared"
    assert AuditEvent.objects.filter(action="finding.clear").count() == 1


def test_bulk_form_errors(client, checked):
    login(client, checked, "civil")
    response = client.post(reverse("findings:bulk"), {"action": "clear", "reason": "x"}, follow=True)
    assert "请先勾选要处理的疑点" in response.content.decode()
    response = client.post(reverse("findings:bulk"), {"action": "clear", "reason": "", "ids": [checked.block.pk]},
                           follow=True)
    assert "这个字段是必填项" in response.content.decode() or "必填" in response.content.decode()
    checked.block.refresh_from_db()
    assert checked.block.status == "open"


# -- export ----------------------------------------------------------------------------------------------------------------
def test_export_of_the_filtered_open_findings_is_audited(client, checked):
    login(client, checked, "civil")
    page = html(client.get(INBOX, {"policy": "WZ-DB", "period": "2026-03"}))
    assert 'data-testid="export-csv"' in page
    response = client.get(reverse("findings:export"), {"policy": "WZ-DB", "period": "2026-03"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["规则编码", "姓名", "身份证号"] and len(rows) == 3
    assert checked.people["dead"].id_plain in text
    assert AuditEvent.objects.filter(action="finding.export").count() == 1
    # without policy and period: a message, no file, no audit
    response = client.get(reverse("findings:export"), {"policy": "WZ-DB"}, follow=True)
    assert "请先选择补贴项目并填写补贴期间" in response.content.decode()
    assert AuditEvent.objects.filter(action="finding.export").count() == 1


# -- runs -------------------------------------------------------------------------------------------------------------------
def test_start_a_run_follow_its_progress_and_read_its_counts(client, checked):
    login(client, checked, "civil")
    page = html(client.get(reverse("findings:runs")))
    assert 'data-testid="run-start-form"' in page and f'data-run="{CheckRun.objects.get().pk}"' in page
    response = client.post(reverse("findings:run-start"), {"policy_code": "WZ-DB", "period": "2026-03",
                                                           "region_code": ""})
    assert response.status_code == 302
    job = JobProgress.objects.get(kind="check.run")
    assert response.url == reverse("findings:run-job", args=[job.pk])
    page = html(client.get(response.url))
    assert 'data-testid="job-progress"' in page and 'data-status="succeeded"' in page
    run = CheckRun.objects.get(job=job)
    assert 'data-testid="run-link"' in page and reverse("findings:run-detail", args=[run.pk]) in page
    partial = client.get(reverse("findings:run-job-result", args=[job.pk]))
    assert partial.status_code == 286 and b'data-testid="run-link"' in partial.content
    page = html(client.get(reverse("findings:run-detail", args=[run.pk])))
    assert 'data-run-rule="R02"' in page and 'data-testid="run-subjects">3<' in page
    assert f"?run={run.pk}&amp;rule=R02&amp;status=all" in page
    assert listed(html(client.get(INBOX, {"run": run.pk}))) == {"R02", "R08"}


def test_run_start_refusals(client, checked):
    login(client, checked, "civil")
    response = client.post(reverse("findings:run-start"), {"policy_code": "WZ-DB", "period": "2026-13"})
    assert response.status_code == 400 and 'data-testid="run-start-form"' in response.content.decode()
    login(client, checked, "supervisor")
    assert 'data-testid="run-start-form"' not in html(client.get(reverse("findings:runs")))
    assert client.post(reverse("findings:run-start"), {"policy_code": "WZ-DB", "period": "2026-03"}).status_code == 403
    login(client, checked, "finance_other")
    assert client.get(reverse("findings:run-detail", args=[CheckRun.objects.get().pk])).status_code == 404
    assert not JobProgress.objects.filter(kind="check.run").exists()


# -- rule settings -----------------------------------------------------------------------------------------------------------
def test_rule_settings_page_and_changes(client, checked):
    login(client, checked, "civil")
    page = html(client.get(reverse("findings:rules"), {"policy": "WZ-DB"}))
    assert page.count("data-rule=") == 16 and 'data-testid="rule-form-R08"' in page
    url = reverse("findings:rule-set", args=["WZ-DB", "R10"])
    response = client.post(url, {"enabled": "1", "severity": "block", "param_max_properties": "2", "reason": "本地标准"})
    assert response.status_code == 302
    row = RuleConfig.objects.get(policy__code="WZ-DB", rule="R10")
    assert (row.enabled, row.severity, row.params) == (True, "block", {"max_properties": 2})
    assert AuditEvent.objects.filter(action="check_rule.configure").count() == 1
    client.post(reverse("findings:rule-set", args=["WZ-DB", "R08"]), {"severity": "review", "reason": "停用"})
    assert not RuleConfig.objects.get(policy__code="WZ-DB", rule="R08").enabled
    page = html(client.get(reverse("findings:rules"), {"policy": "WZ-DB"}))
    assert 'data-rule="R08" data-enabled="0"' in page and 'data-rule="R10" data-enabled="1" data-severity="block"' in page
    response = client.post(reverse("findings:rule-set", args=["WZ-DB", "R14"]),
                           {"enabled": "1", "severity": "block", "param_min_age": "70", "param_max_age": "60"})
    assert response.status_code == 400 and "不能大于最高年龄" in response.content.decode()
    # finance reads the settings, cannot change them
    login(client, checked, "finance")
    page = html(client.get(reverse("findings:rules"), {"policy": "WZ-DB"}))
    assert page.count("data-rule=") == 16 and 'data-testid="rule-form-R08"' not in page
    assert client.post(url, {"enabled": "1", "severity": "review"}).status_code == 403
    assert client.get(reverse("findings:rules"), {"policy": "NOPE"}).status_code == 404


# -- the approval screen ------------------------------------------------------------------------------------------------------
def test_approval_screen_lists_each_applications_open_findings(client, checked):
    page = html(login(client, checked, "civil").get(reverse("applications:approval")))
    dead, car = checked.apps["dead"], checked.apps["car"]
    assert f'data-finding-row="{dead.number}"' in page and f'data-finding-row="{car.number}"' in page
    assert f'data-open-finding="{checked.block.pk}"' in page and "R02 死亡人员（阻断）" in page
    assert f'data-open-finding="{checked.review.pk}"' in page and "R08 有车辆（复核）" in page
    assert reverse("findings:detail", args=[checked.block.pk]) in page
    assert f'data-finding-row="{checked.apps["fine"].number}"' not in page
    client.post(reverse("findings:decide", args=[checked.block.pk]), {"action": "clear", "reason": "已核实在世"})
    page = html(client.get(reverse("applications:approval")))
    assert f'data-open-finding="{checked.block.pk}"' not in page and f'data-finding-row="{dead.number}"' not in page


# -- API ------------------------------------------------------------------------------------------------------------------------
def test_api_list_detail_counts_decide_and_rules(client, checked):
    login(client, checked, "civil")
    data = client.get(f"{API}/", {"status": "open"}).json()
    assert data["count"] == 2 and {i["rule"] for i in data["items"]} == {"R02", "R08"}
    assert all("*" in i["name"] for i in data["items"])
    assert client.get(f"{API}/", {"rule": "R08"}).json()["count"] == 1
    counts = {r["rule"]: r for r in client.get(f"{API}/counts/rules").json()}
    assert len(counts) == 16 and counts["R02"]["open_block"] == 1
    assert client.get(f"{API}/counts/townships").json()[0]["township"] == "500101001000"
    detail = client.get(f"{API}/{checked.block.pk}").json()
    assert detail["source"]["row_number"] == 2 and detail["can_decide"] and detail["events"][0]["action"] == "opened"
    bad = client.post(f"{API}/{checked.block.pk}/decide", {"action": "clear", "reason": ""},
                      content_type="application/json")
    assert bad.status_code == 400 and "处理理由" in bad.json()["detail"]
    results = client.post(f"{API}/decide", {"ids": [checked.block.pk, checked.review.pk], "action": "clear",
                                            "reason": "核实无误"}, content_type="application/json").json()
    assert [r["ok"] for r in results] == [True, True]
    assert Finding.objects.filter(status="cleared").count() == 2
    assert client.get(f"{API}/999999").status_code == 404
    rules = client.get(f"{API}/rules/WZ-DB").json()
    assert len(rules) == 16
    changed = client.put(f"{API}/rules/WZ-DB/R08", {"enabled": False, "reason": "停用"},
                         content_type="application/json").json()
    assert changed["enabled"] is False
    job = client.post(f"{API}/runs", {"policy_code": "WZ-DB", "period": "2026-03"}, content_type="application/json")
    assert job.status_code == 202
    runs = client.get(f"{API}/runs").json()
    assert len(runs) == 2
    assert client.get(f"{API}/runs/{runs[0]['id']}").json()["rules"][1]["rule"] == "R02"
