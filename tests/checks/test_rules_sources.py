"""Rules against shared data (R02, R04, R05, R07–R10, R13, R15): planted positives and near misses that must
not fire, on the current import of each source only."""

import pytest

from yikatong.checks.services.runs import rule_config_set
from yikatong.core.scope import Scope

from .engine_support import FL_VILLAGE, VILLAGE2, luhn_account, make_lab

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world, settings):
    return make_lab(world, settings)


def only(findings):
    assert len(findings) == 1, findings
    return findings[0]


# -- R02 death ---------------------------------------------------------------------------------------------------
def test_r02_death_before_the_period_blocks_inside_reviews_after_is_nothing(lab):
    policy = lab.policy("WZ-DB")
    before, inside, after, alive = (lab.person(n) for n in ("张一", "张二", "张三", "张四"))
    apps = {key: lab.app(p, policy) for key, p in
            {"before": before, "inside": inside, "after": after, "alive": alive}.items()}
    lab.source("death", [
        {"person": before, "death_date": "2026-02-28"},   # the day before the first day of 2026-03
        {"person": inside, "death_date": "2026-03-01"},   # the first day itself: inside the period
        {"person": after, "death_date": "2026-04-01"},    # after the period: no finding
    ])
    lab.run(policy)
    block = only(lab.findings("R02", application=apps["before"]))
    assert (block.severity, block.status, block.evidence_key) == ("block", "open", "before")
    assert block.evidence["death_date"] == "2026-02-28" and block.evidence["source"] == "death"
    assert block.evidence["row_number"] == 2 and block.evidence["name"] == "张*"
    review = only(lab.findings("R02", application=apps["inside"]))
    assert (review.severity, review.evidence_key) == ("review", "within")
    assert lab.hit_apps("R02") == {apps["before"].pk, apps["inside"].pk}


def test_r02_same_person_in_an_earlier_period_is_not_dead_yet(lab):
    policy = lab.policy("WZ-DB")
    person = lab.person("王五")
    february = lab.app(person, policy, "2026-02", status="approved")
    march = lab.app(person, policy, "2026-03")
    lab.source("death", [{"person": person, "death_date": "2026-03-10"}])
    lab.run(policy, "2026-02")
    assert lab.findings("R02") == []
    lab.run(policy, "2026-03")
    assert lab.hit_apps("R02") == {march.pk}
    assert february.pk not in lab.hit_apps("R02")


def test_r02_reads_only_the_current_import_of_the_source(lab):
    policy = lab.policy("WZ-DB")
    person = lab.person("赵六")
    lab.app(person, policy)
    lab.source("death", [{"person": person, "death_date": "2025-12-01"}])
    lab.source("death", [{"id_number": "500101195001010013", "name": "别人", "death_date": "2025-12-01"}])
    lab.run(policy)
    assert lab.findings("R02") == []


# -- R04 / R05 social security card ----------------------------------------------------------------------------
def test_r04_account_not_the_persons_card_and_name_mismatch(lab):
    policy = lab.policy("WZ-DB")
    own, foreign, renamed, exception, absent = (lab.person(n) for n in ("钱一", "钱二", "钱三", "钱四", "钱五"))
    transitional = lab.person("钱六", kind="other_bank", account_number="6228480402564890018")
    apps = {p.name: lab.app(p, policy) for p in (own, foreign, renamed, exception, absent, transitional)}
    lab.source("ssc_card", [
        {"person": own},                                          # matches: no finding
        {"person": foreign, "account": luhn_account("621700001000000001")},    # another card: account finding
        {"person": renamed, "name": "钱三丰"},                      # same card, other holder name: name finding
        {"person": exception},
        {"person": transitional, "account": luhn_account("621700001000000002")},  # an exception: not compared
    ])
    lab.run(policy)
    findings = lab.findings("R04")
    assert {(f.application_id, f.evidence_key) for f in findings} == {
        (apps["钱二"].pk, "account"), (apps["钱三"].pk, "name")}
    account = only(lab.findings("R04", evidence_key="account"))
    assert account.severity == "block"
    assert account.evidence["account_masked"].endswith(luhn_account("621700001000000001")[-4:]) and account.evidence["source"] == "ssc_card"
    assert luhn_account("621700001000000001") not in str(account.evidence)  # masked, never the full number
    name = only(lab.findings("R04", evidence_key="name"))
    assert name.evidence["name"] == "钱**" and name.evidence["beneficiary_name"] == "钱*"


def test_r05_card_status_from_the_source_or_the_account(lab):
    policy = lab.policy("WZ-DB")
    inactive = lab.person("孙一")
    lost_account = lab.person("孙二", card_status="lost")
    fine = lab.person("孙三")
    old_card_inactive = lab.person("孙四")
    apps = {p.name: lab.app(p, policy) for p in (inactive, lost_account, fine, old_card_inactive)}
    lab.source("ssc_card", [
        {"person": inactive, "card_status": "not_activated"},
        {"person": fine},
        {"person": old_card_inactive},
        {"person": old_card_inactive, "account": luhn_account("621700001000000003"),
         "card_status": "cancelled"},  # an old card
    ])
    lab.run(policy)
    assert lab.hit_apps("R05") == {apps["孙一"].pk, apps["孙二"].pk}
    from_source = only(lab.findings("R05", application=apps["孙一"]))
    assert from_source.evidence["source"] == "ssc_card" and from_source.evidence["card_status"] == "not_activated"
    from_account = only(lab.findings("R05", application=apps["孙二"]))
    assert from_account.evidence["source"] == "payee_account" and from_account.evidence["card_status"] == "lost"


def test_r05_runs_on_account_status_even_without_the_card_source(lab):
    policy = lab.policy("WZ-DB")
    person = lab.person("周一", card_status="cancelled")
    app = lab.app(person, policy)
    run = lab.run(policy)
    assert lab.hit_apps("R05") == {app.pk}
    assert "skipped" in run.rules["R04"]  # R04 needs the card source


# -- R07–R10 means tests ---------------------------------------------------------------------------------------
def test_means_tested_sources(lab):
    policy = lab.policy("WZ-DB", means_tested=True)
    staff, car, boss, clerk, houses, house, split = (
        lab.person(n) for n in ("吴一", "吴二", "吴三", "吴四", "吴五", "吴六", "吴七"))
    apps = {p.name: lab.app(p, policy) for p in (staff, car, boss, clerk, houses, house, split)}
    lab.source("public_staff", [{"person": staff, "employer": "万州区某中学"}])
    lab.source("vehicle", [{"person": car, "plate": "渝F12345", "vehicle_type": "小型轿车",
                            "registered_on": "2020-05-01"}])
    lab.source("enterprise", [
        {"person": boss, "enterprise_name": "重庆某商贸有限公司", "credit_code": "91500101MA5U000000",
         "capacity": "股东"},
        {"person": clerk, "enterprise_name": "重庆某商贸有限公司", "credit_code": "91500101MA5U000000",
         "capacity": "监事"},  # neither legal representative nor shareholder
    ])
    lab.source("real_estate", [
        {"person": houses, "property_count": 3, "floor_area": "240.00"},
        {"person": house, "property_count": 1, "floor_area": "80.00"},   # one property is allowed
        {"person": split, "property_count": 1}, {"person": split, "property_count": 1},  # 1 + 1 = 2
    ])
    lab.run(policy)
    assert lab.hit_apps("R07") == {apps["吴一"].pk}
    assert lab.hit_apps("R08") == {apps["吴二"].pk}
    assert lab.hit_apps("R09") == {apps["吴三"].pk}
    assert lab.hit_apps("R10") == {apps["吴五"].pk, apps["吴七"].pk}
    for rule in ("R07", "R08", "R09", "R10"):
        assert {f.severity for f in lab.findings(rule)} == {"review"}
    assert only(lab.findings("R07")).evidence["employer"] == "万州区某中学"
    assert only(lab.findings("R08")).evidence["plate"] == "渝******"
    assert only(lab.findings("R09")).evidence["capacity"] == "股东"
    assert lab.findings("R10", application=apps["吴七"])[0].evidence["property_count"] == 2


def test_r10_threshold_is_a_policy_parameter(lab):
    policy = lab.policy("WZ-DB")
    person = lab.person("郑一")
    lab.app(person, policy)
    lab.source("real_estate", [{"person": person, "property_count": 2}])
    rule_config_set(actor=lab.scope("civil"), policy_code=policy.code, rule="R10", params={"max_properties": 2})
    lab.run(policy)
    assert lab.findings("R10") == []


def test_non_means_tested_policy_ignores_r07_to_r10(lab):
    policy = lab.policy("WZ-GD", means_tested=False)
    person = lab.person("冯一")
    lab.app(person, policy)
    lab.source("public_staff", [{"person": person, "employer": "某局"}])
    lab.source("vehicle", [{"person": person, "plate": "渝F00001", "vehicle_type": "货车"}])
    lab.source("enterprise", [{"person": person, "enterprise_name": "某公司", "credit_code": "91500101MA5U000000",
                               "capacity": "法定代表人"}])
    lab.source("real_estate", [{"person": person, "property_count": 5}])
    run = lab.run(policy)
    assert [f.rule for f in lab.findings()] == []
    for rule in ("R07", "R08", "R09", "R10"):
        assert run.rules[rule]["skipped"] == "该补贴项目未启用此规则"
    # …unless the policy enables one explicitly
    rule_config_set(actor=lab.scope("civil"), policy_code=policy.code, rule="R08", enabled=True)
    lab.run(policy)
    assert [f.rule for f in lab.findings()] == ["R08"]


# -- R13 village cadres ------------------------------------------------------------------------------------------
def test_r13_relative_and_the_cadre_himself(lab):
    policy = lab.policy("WZ-DB")
    cadre, wife, neighbour = lab.person("陈书记"), lab.person("刘芳"), lab.person("黄一")
    apps = {p.name: lab.app(p, policy) for p in (cadre, wife, neighbour)}
    lab.source("cadre_relative", [{"person": wife, "cadre": cadre, "relation": "配偶"}])
    lab.run(policy)
    findings = {f.application_id: f for f in lab.findings("R13")}
    assert set(findings) == {apps["陈书记"].pk, apps["刘芳"].pk}
    assert findings[apps["刘芳"].pk].evidence_key == "person"
    assert findings[apps["刘芳"].pk].evidence["relation"] == "配偶"
    assert findings[apps["刘芳"].pk].evidence["cadre_name"] == "陈**"
    assert findings[apps["陈书记"].pk].evidence_key == "cadre"
    assert findings[apps["陈书记"].pk].evidence["is_cadre"] == 1
    assert {f.severity for f in findings.values()} == {"review"}


def test_r13_cadre_listed_as_himself_gives_one_finding(lab):
    policy = lab.policy("WZ-DB")
    cadre, son = lab.person("何主任"), lab.person("何小")
    app = lab.app(cadre, policy)
    lab.source("cadre_relative", [{"person": cadre, "cadre": cadre, "relation": "本人"},
                                  {"person": son, "cadre": cadre, "relation": "子女"}])
    lab.run(policy)
    assert [(f.application_id, f.evidence_key) for f in lab.findings("R13")] == [(app.pk, "person")]


# -- R15 household registration -----------------------------------------------------------------------------------
def test_r15_not_registered_in_the_paying_county(lab):
    policy = lab.policy("WZ-DB")
    local, moved, unknown = lab.person("林一"), lab.person("林二"), lab.person("林三")
    other_township = lab.person("林四", village=VILLAGE2)
    apps = {p.name: lab.app(p, policy) for p in (local, moved, unknown, other_township)}
    lab.source("household", [
        {"person": local, "household_number": "H001", "region_code": "500101001001"},
        {"person": moved, "household_number": "H002", "region_code": FL_VILLAGE},   # 涪陵区
        {"person": other_township, "household_number": "H003", "region_code": "500101001001"},
    ])
    lab.run(policy)
    assert lab.hit_apps("R15") == {apps["林二"].pk, apps["林三"].pk}
    moved_finding = only(lab.findings("R15", application=apps["林二"]))
    assert moved_finding.evidence["found"] is True and moved_finding.evidence["region_code"] == FL_VILLAGE
    assert moved_finding.severity == "review"
    assert only(lab.findings("R15", application=apps["林三"])).evidence["found"] is False
    # compared per township, the person registered in 高笋塘 but applying in 太白 is a finding too
    rule_config_set(actor=lab.scope("civil"), policy_code=policy.code, rule="R15", params={"level": "township"})
    lab.run(policy)
    assert lab.hit_apps("R15", status="open") == {apps["林二"].pk, apps["林三"].pk, apps["林四"].pk}


def test_rules_with_a_source_never_imported_are_skipped_not_closed(lab):
    policy = lab.policy("WZ-DB")
    person = lab.person("邓一")
    lab.app(person, policy)
    run = lab.run(policy)
    for rule in ("R02", "R04", "R07", "R08", "R09", "R10", "R13", "R15"):
        assert run.rules[rule]["skipped"].startswith("数据源"), rule
        assert rule not in run.counts


def test_department_runs_checks_for_its_line_and_region_only(lab):
    from yikatong.core.errors import ScopeError

    policy = lab.policy("WZ-DB")
    lab.app(lab.person("曹一"), policy)
    run = lab.run(policy, actor=lab.scope("civil"))
    assert run.status == "succeeded" and run.subjects == 1 and run.region_id == "500101000000"
    with pytest.raises(ScopeError):
        lab.run(policy, actor=lab.scope("agri"))  # another business line
    with pytest.raises(ScopeError):
        lab.run(policy, actor=lab.scope("finance_other"), region="500101000000")  # another county
    with pytest.raises(ScopeError):
        lab.run(policy, actor=lab.scope("supervisor"))  # read only
    with pytest.raises(ScopeError):
        lab.run(policy, actor=lab.scope("collector"))  # no check.run
    assert lab.run(policy, actor=Scope.system()).status == "succeeded"
