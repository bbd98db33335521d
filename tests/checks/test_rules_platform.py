"""Rules on platform data: R03 paid twice, R06 amount above the standard, R11 mutually exclusive policies, R12
shared account / phone across households, R16 credit list — and the generic input used for payment items."""

from decimal import Decimal

import pytest
from django.db.models import BigIntegerField, Case, CharField, F, Value, When
from django.db.models.functions import Cast

from yikatong.applications.models import Application
from yikatong.checks.engine.rules import register_paid_records, unregister_paid_records
from yikatong.checks.selectors_findings import payment_gate
from yikatong.checks.services.runs import check_run_items
from yikatong.core.scope import Scope

from .engine_support import luhn_account, make_lab

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world, settings):
    return make_lab(world, settings)


# -- R03 -----------------------------------------------------------------------------------------------------------
def test_r03_already_approved_for_an_overlapping_period_any_region(lab):
    policy = lab.policy("WZ-DB")
    twice, other_period, clean = lab.person("张一"), lab.person("张二"), lab.person("张三")
    # approved for the whole year 2026 (before the policy became monthly), in another township
    lab.app(twice, policy, "2026", status="approved", region="500101002001")
    lab.app(other_period, policy, "2026-02", status="approved")
    subject = lab.app(twice, policy, "2026-03")
    lab.app(other_period, policy, "2026-03")
    lab.app(clean, policy, "2026-03")
    lab.run(policy, "2026-03", region="500101001000")
    finding = lab.findings("R03")
    assert [f.application_id for f in finding] == [subject.pk]
    assert finding[0].evidence["other_period"] == "2026" and finding[0].evidence["other_status"] == "approved"
    assert finding[0].severity == "block"


def test_r03_sees_payment_records_registered_by_the_payments_module(lab):
    policy = lab.policy("WZ-DB")
    paid, own = lab.person("李一"), lab.person("李二")
    subject = lab.app(paid, policy)
    own_app = lab.app(own, policy, status="approved")
    # stand-ins for payment items of the same person/policy/period; the one of `own` stems from the very
    # application being checked (o_application), so it is not a second payment

    def provider():
        return Application.objects.filter(pk__in=[subject.pk, own_app.pk]).values(
            o_beneficiary=F("beneficiary_id"), o_policy=F("policy_id"), o_period=F("period"),
            o_ref_type=Value("payment_item"), o_ref_id=Cast(F("id") + 9000, CharField()),
            o_application=Case(When(pk=own_app.pk, then=F("id")), default=None, output_field=BigIntegerField()),
            o_label=Value("PAY"), o_status=Value("paid"),
        )

    register_paid_records(provider)
    try:
        lab.run(policy)
    finally:
        unregister_paid_records(provider)
    findings = lab.findings("R03")
    assert [(f.application_id, f.evidence["other"]) for f in findings] == [(subject.pk, "payment_item")]
    assert findings[0].evidence_key == f"payment_item:{subject.pk + 9000}"


# -- R06 -----------------------------------------------------------------------------------------------------------
def test_r06_fixed_per_unit_and_tiered_standards(lab):
    fixed = lab.policy("WZ-DB", standard_amount=Decimal("300.00"))
    per_mu = lab.policy("WZ-AG", standard_type="per_unit", standard_amount=Decimal("120.50"), unit_name="亩",
                        cycle="yearly", means_tested=False)
    tiered = lab.policy("WZ-TIER", standard_type="tiered", standard_amount=Decimal("0"), cycle="quarterly",
                        tiers=[{"code": "T1", "label": "一级", "amount": "600.00"},
                               {"code": "T2", "label": "二级", "amount": "900.00"}])
    p = [lab.person(f"吴{n}") for n in "甲乙丙丁戊己庚辛壬"]
    ok_fixed = lab.app(p[0], fixed, amount="300.00")
    over_fixed = lab.app(p[1], fixed, amount="300.01")
    # 120.50 × 3.33 = 401.265 → 401.27 (half up to the fen)
    ok_unit = lab.app(p[2], per_mu, "2026", amount="401.27", quantity=Decimal("3.33"))
    over_unit = lab.app(p[3], per_mu, "2026", amount="401.28", quantity=Decimal("3.33"))
    no_quantity = lab.app(p[4], per_mu, "2026", amount="100.00")
    ok_tier = lab.app(p[5], tiered, "2026Q1", amount="900.00", tier="T2")
    over_tier = lab.app(p[6], tiered, "2026Q1", amount="900.00", tier="T1")
    unknown_tier = lab.app(p[7], tiered, "2026Q1", amount="600.00", tier="T9")
    lab.run(fixed)
    lab.run(per_mu, "2026")
    lab.run(tiered, "2026Q1")
    assert lab.hit_apps("R06") == {over_fixed.pk, over_unit.pk, no_quantity.pk, over_tier.pk, unknown_tier.pk}
    assert not {ok_fixed.pk, ok_unit.pk, ok_tier.pk} & lab.hit_apps("R06")
    unit = lab.findings("R06", application=over_unit)[0]
    assert (unit.evidence["amount_fen"], unit.evidence["max_fen"]) == (40128, 40127)
    tier = lab.findings("R06", application=over_tier)[0]
    assert (tier.evidence["tier"], tier.evidence["max_fen"]) == ("T1", 60000)


# -- R11 -----------------------------------------------------------------------------------------------------------
def test_r11_mutually_exclusive_policies_in_overlapping_periods(lab):
    dibao = lab.policy("WZ-DB")
    tekun = lab.policy("WZ-TK", cycle="yearly")
    unrelated = lab.policy("WZ-XX")
    dibao.exclusive_with.add(tekun)
    both, shifted, rejected, free = (lab.person(n) for n in ("郑一", "郑二", "郑三", "郑四"))
    subject = lab.app(both, dibao, "2026-03")
    lab.app(both, tekun, "2026", status="approved")            # 2026 contains 2026-03
    lab.app(shifted, dibao, "2026-03")
    lab.app(shifted, tekun, "2025", status="approved")         # another year: no overlap
    lab.app(rejected, dibao, "2026-03")
    lab.app(rejected, tekun, "2026", status="rejected")        # rejected: not received
    lab.app(free, dibao, "2026-03")
    lab.app(free, unrelated, "2026-03", status="approved")     # not configured as exclusive
    lab.run(dibao)
    findings = lab.findings("R11")
    assert [f.application_id for f in findings] == [subject.pk]
    assert findings[0].evidence["other_policy"] == "WZ-TK" and findings[0].evidence["other_period"] == "2026"
    # the pair is symmetrical: checking 特困 finds the 低保 application
    lab.run(tekun, "2026")
    tekun_hits = [f for f in lab.findings("R11") if f.policy_id == tekun.pk]
    assert len(tekun_hits) == 1 and tekun_hits[0].evidence["other_policy"] == "WZ-DB"


def test_r11_different_months_are_not_the_same_period(lab):
    dibao, tekun = lab.policy("WZ-DB"), lab.policy("WZ-TK")
    dibao.exclusive_with.add(tekun)
    person = lab.person("王一")
    lab.app(person, dibao, "2026-03")
    lab.app(person, tekun, "2026-02", status="approved")
    lab.app(person, tekun, "2026-04", status="submitted")
    lab.run(dibao)
    assert lab.findings("R11") == []


# -- R12 -----------------------------------------------------------------------------------------------------------
def test_r12_shared_account_or_phone_across_households(lab):
    policy = lab.policy("WZ-DB")
    shared = luhn_account("621700001000000004")
    husband = lab.person("冯夫", household="H-01", account_number=shared, phone="13900000001")
    wife = lab.person("冯妻", household="H-01", account_number=shared, phone="13900000001")    # same household
    stranger = lab.person("马某", household="H-02", account_number=luhn_account("621700001000000005"),
                          phone="13900000002")
    agent = lab.person("代办人", household="H-03", account_number=shared)                     # other household
    phone_a = lab.person("牛一", household="H-04", phone="13900000002")                        # stranger's phone
    apps = {p.name: lab.app(p, policy) for p in (husband, wife, stranger, phone_a)}
    lab.run(policy)
    account = {f.application_id: f for f in lab.findings("R12", evidence_key="account")}
    assert set(account) == {apps["冯夫"].pk, apps["冯妻"].pk}  # both share with 代办人 of H-03
    assert account[apps["冯夫"].pk].evidence["others"] == 1
    assert account[apps["冯夫"].pk].evidence["other_beneficiary_id"] == agent.pk
    phone = {f.application_id for f in lab.findings("R12", evidence_key="phone")}
    assert phone == {apps["马某"].pk, apps["牛一"].pk}
    assert {f.severity for f in lab.findings("R12")} == {"review"}


def test_r12_one_household_sharing_is_fine(lab):
    policy = lab.policy("WZ-DB")
    shared = luhn_account("621700001000000006")
    a = lab.person("杨父", household="H-10", account_number=shared, phone="13900000010")
    b = lab.person("杨子", household="H-10", account_number=shared, phone="13900000010")
    lab.app(a, policy)
    lab.app(b, policy)
    lab.run(policy)
    assert lab.findings("R12") == []


# -- R16 -----------------------------------------------------------------------------------------------------------
def test_r16_credit_list_flag_reviews_block_blocks_lifted_and_expired_do_not_count(lab):
    policy = lab.policy("WZ-DB")
    flagged, blocked, lifted, expired, future = (lab.person(n) for n in ("何一", "何二", "何三", "何四", "何五"))
    apps = {p.name: lab.app(p, policy) for p in (flagged, blocked, lifted, expired, future)}
    lab.credit(flagged)
    lab.credit(blocked, severity="block")
    lab.credit(lifted, lifted=True)
    lab.credit(expired, valid_to="2026-02-28")
    lab.credit(future, valid_from="2026-04-01")
    lab.run(policy)
    findings = {f.application_id: f for f in lab.findings("R16")}
    assert set(findings) == {apps["何一"].pk, apps["何二"].pk}
    assert findings[apps["何一"].pk].severity == "review"
    assert findings[apps["何二"].pk].severity == "block"
    assert findings[apps["何二"].pk].evidence["reason"] == "2025年虚报冒领低保金"


# -- the generic input: payment items ---------------------------------------------------------------------------------
def test_check_run_items_and_the_payment_gate(lab):
    """Any queryset can be checked; here applications stand in for the payment items of a batch."""
    policy = lab.policy("WZ-DB")
    dead, alive = lab.person("卫一"), lab.person("卫二")
    items = [lab.app(dead, policy, status="approved"), lab.app(alive, policy, status="approved")]
    lab.source("death", [{"person": dead, "death_date": "2026-01-01"}])
    run = check_run_items(actor=Scope.system(), item_type="payment_item",
                          items=Application.objects.filter(pk__in=[i.pk for i in items]),
                          columns={"payee_account_id": "payee_account_id", "application_id": "pk"},
                          ref_type="payment_batch", ref_id="PB-1", label="批次 PB-1")
    assert run.kind == "items" and run.subjects == 2 and (run.ref_type, run.ref_id) == ("payment_batch", "PB-1")
    finding = lab.findings("R02")[0]
    assert (finding.ref_type, finding.ref_id, finding.application_id) == ("payment_item", str(items[0].pk), None)
    gate = payment_gate("payment_item", [items[0].pk, items[1].pk])
    assert set(gate) == {str(items[0].pk)} and "R02" in gate[str(items[0].pk)]
    assert payment_gate("other_type", [items[0].pk]) == {}
