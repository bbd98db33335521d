"""R01 (ID invalid) and R14 (age from the ID on the last day of the period)."""

import pytest

from yikatong.registry.models import Beneficiary
from yikatong.registry.services import beneficiary_register_organization

from .engine_support import VILLAGE, make_lab

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world, settings):
    return make_lab(world, settings)

VALID_USCC = "91500101MA5U00001K"


# -- R01 ---------------------------------------------------------------------------------------------------------
def test_r01_records_that_arrived_around_the_registry_checks(lab):
    policy = lab.policy("WZ-DB")
    good = lab.person("张好")
    old_wanzhou = lab.person("李老", prefix="512201", birth="19400101")  # 万县 code of the old era: valid
    no_birth, bad_region, bad_shape, future = (lab.person(n) for n in ("王一", "王二", "王三", "王四"))
    # rows written around the services (an import, a migration) with data that cannot come from a valid ID
    Beneficiary.objects.filter(pk=no_birth.pk).update(birth_date=None)
    Beneficiary.objects.filter(pk=bad_region.pk).update(id_masked="999999********1234")
    Beneficiary.objects.filter(pk=bad_shape.pk).update(id_masked="500101********12A")
    Beneficiary.objects.filter(pk=future.pk).update(birth_date="2030-01-01")
    apps = {p.name: lab.app(p, policy) for p in (good, old_wanzhou, no_birth, bad_region, bad_shape, future)}
    lab.run(policy)
    assert lab.hit_apps("R01") == {apps[n].pk for n in ("王一", "王二", "王三", "王四")}
    reasons = {f.application_id: f.evidence["reason"] for f in lab.findings("R01")}
    assert "出生日期" in reasons[apps["王一"].pk]
    assert "地区码 999999" in reasons[apps["王二"].pk]
    assert "校验位" in reasons[apps["王三"].pk]
    assert "出生日期" in reasons[apps["王四"].pk]
    assert {f.severity for f in lab.findings("R01")} == {"block"}


def test_r01_organizations_by_credit_code(lab):
    policy = lab.policy("WZ-ORG", standard_amount="1000.00", means_tested=False)
    actor = lab.scope("collector")
    good = beneficiary_register_organization(actor=actor, name="万州区某合作社", credit_code=VALID_USCC,
                                             region_code=VILLAGE, reason="测试")
    # an organization whose stored code is not a valid GB 32100 code (arrived around the registry)
    bad = Beneficiary.objects.create(kind="organization", name="来历不明单位", id_number_enc=b"x", id_digest="d" * 64,
                                     id_masked="91500101MA5U00000X", region_id=VILLAGE)
    a_good, a_bad = lab.app(good, policy), lab.app(bad, policy)
    lab.run(policy)
    assert lab.hit_apps("R01") == {a_bad.pk}
    assert a_good.pk not in lab.hit_apps("R01")


# -- R14 ---------------------------------------------------------------------------------------------------------
def test_r14_minimum_age_on_the_last_day_of_the_period_exactly_at_the_limit_passes(lab):
    policy = lab.policy("WZ-GL", min_age=80, means_tested=False)  # 高龄津贴: 80 and over
    exactly = lab.person("赵整", birth="19460331")   # 80 on 2026-03-31, the last day of 2026-03
    day_late = lab.person("赵差", birth="19460401")  # 80 only on 2026-04-01
    older = lab.person("赵老", birth="19300101")
    apps = {p.name: lab.app(p, policy) for p in (exactly, day_late, older)}
    lab.run(policy)
    assert lab.hit_apps("R14") == {apps["赵差"].pk}
    finding = lab.findings("R14")[0]
    assert finding.severity == "block"
    assert finding.evidence["age"] == 79 and finding.evidence["reference_date"] == "2026-03-31"
    assert finding.evidence["min_age"] == 80 and finding.evidence["max_age"] is None


def test_r14_maximum_age_and_the_quarter_and_year_reference_days(lab):
    policy = lab.policy("WZ-ER", max_age=17, cycle="quarterly", means_tested=False)  # children up to 17
    seventeen = lab.person("钱小", birth="20080401")  # 17 on 2026-03-31 (turns 18 on 2026-04-01)
    eighteen = lab.person("钱大", birth="20080331")   # 18 on 2026-03-31
    apps = {p.name: lab.app(p, policy, "2026Q1") for p in (seventeen, eighteen)}
    lab.run(policy, "2026Q1")
    assert lab.hit_apps("R14") == {apps["钱大"].pk}
    yearly = lab.policy("WZ-ERY", max_age=17, cycle="yearly", means_tested=False)
    year_apps = {p.name: lab.app(p, yearly, "2026") for p in (seventeen, eighteen)}
    lab.run(yearly, "2026")  # reference day 2026-12-31: both are 18 by then
    assert lab.hit_apps("R14", policy=yearly) == {year_apps["钱小"].pk, year_apps["钱大"].pk}


def test_r14_born_on_29_february(lab):
    policy = lab.policy("WZ-GL62", min_age=62, means_tested=False)
    leapling = lab.person("孙闰", birth="19640229")
    february = lab.app(leapling, policy, "2026-02")  # on 2026-02-28 still 61: turns 62 on 2026-03-01
    march = lab.app(leapling, policy, "2026-03", status="collected")
    lab.run(policy, "2026-02")
    lab.run(policy, "2026-03")
    assert lab.hit_apps("R14") == {february.pk}
    assert march.pk not in lab.hit_apps("R14")


def test_r14_limits_from_the_rule_parameters_override_the_policy(lab):
    from yikatong.checks.services.runs import rule_config_set

    policy = lab.policy("WZ-GL", min_age=80, means_tested=False)
    person = lab.person("周七十", birth="19560101")
    app = lab.app(person, policy)
    lab.run(policy)
    assert lab.hit_apps("R14") == {app.pk}
    rule_config_set(actor=lab.scope("civil"), policy_code=policy.code, rule="R14", params={"min_age": 70})
    run = lab.run(policy)
    assert lab.findings("R14", status="open") == []
    assert run.counts["R14"]["closed"] == 1
