"""Registering and correcting beneficiaries: validation in Chinese, idempotent re-registration, the name
check, versions that never hold a plain identifier, and region scope."""

import json

import pytest

from yikatong.core import crypto
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent
from yikatong.registry.models import Beneficiary, BeneficiaryVersion, Household
from yikatong.registry.services import (
    beneficiary_lookup,
    beneficiary_register_organization,
    beneficiary_register_person,
    beneficiary_update,
)

from .conftest import FL_VILLAGE, GST_VILLAGE, TB_VILLAGE, make_id, make_uscc

ID = make_id("500101", "19580314", "123")


def register(scope, **kw):
    args = {"name": "张三丰", "id_number": ID, "region_code": GST_VILLAGE, "household_number": "H0001",
            "address": "高笋塘社区1号", "phone": "13812345678"}
    args.update(kw)
    return beneficiary_register_person(actor=scope, **args)


def test_register_person_derives_encrypts_masks_and_audits(scopes):
    b = register(scopes["collector"])
    assert b.registered_now is True
    b = Beneficiary.objects.get(pk=b.pk)
    assert (b.kind, b.name, b.gender, b.birth_date.isoformat()) == ("person", "张三丰", "男", "1958-03-14")
    assert b.id_masked == f"500101********{ID[-4:]}"
    assert b.phone_masked == "138****5678"
    assert crypto.decrypt_text(b.id_number_enc) == ID and crypto.decrypt_text(b.phone_enc) == "13812345678"
    assert b.id_digest == crypto.digest("id", ID) and b.phone_digest == crypto.digest("phone", "13812345678")
    assert ID not in b.id_masked
    assert b.household.number == "H0001" and b.household.region_id == GST_VILLAGE
    assert list(b.versions.values_list("version", flat=True)) == [1]
    event = AuditEvent.objects.get(action="beneficiary.register")
    assert event.object_id == str(b.pk) and event.region_code == GST_VILLAGE
    dumped = json.dumps(event.after, ensure_ascii=False)
    assert ID not in dumped and "13812345678" not in dumped


def test_old_wanzhou_county_code_and_a_female_id_are_accepted(scopes):
    old = make_id("512201", "19380101", "024")  # 万县市: the code of the ID's era, no longer in use
    b = register(scopes["collector"], id_number=old.lower(), name="李秀英", household_number="", phone="")
    assert b.gender == "女" and b.birth_date.year == 1938 and b.id_masked.startswith("512201")
    assert b.household is None and b.phone_masked == "" and b.phone_enc is None


def test_minority_name_with_middle_dot(scopes):
    b = register(scopes["collector"], name=" 买买提.艾力 ", id_number=make_id(seq="135"))
    assert b.name == "买买提·艾力"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"id_number": ID[:-1] + ("0" if ID[-1] != "0" else "1")}, "id_number", r"^身份证号校验位错误：应为 "),
        ({"id_number": make_id(birth="20270101")}, "id_number", r"出生日期 2027-01-01 晚于 2026-03-16"),
        ({"id_number": "51010219900101123"}, "id_number", r"^身份证号应为 18 位，实际为 17 位"),
        ({"name": "张3"}, "name", r"^姓名不能包含数字"),
        ({"name": "张三１"}, "name", r"^姓名不能包含数字"),
        ({"name": "张"}, "name", r"^姓名长度应为 2–50 个字符"),
        ({"name": "张三@"}, "name", r"^姓名含有不允许的字符“@”"),
        ({"name": "张三Li"}, "name", r"^姓名含有不允许的字符"),
        ({"name": "·张三"}, "name", r"“·”只能用在两部分之间"),
        ({"name": ""}, "name", r"^姓名为空"),
        ({"phone": "1381234567"}, "phone", r"^手机号码应为 1 开头"),
        ({"phone": "23812345678"}, "phone", r"^手机号码应为 1 开头"),
        ({"phone": "138-1234-567a"}, "phone", r"^手机号码只能包含数字"),
        ({"region_code": "500101009009"}, "region_code", r"^行政区划代码 500101009009 不存在"),
        ({"region_code": "abc"}, "region_code", r"行政区划代码“abc”无效"),
        ({"household_number": "户号1"}, "household_number", r"^户号只能包含数字、字母和短横线"),
    ],
)
def test_validation_failures_name_the_field_in_chinese(scopes, changes, field, message):
    with pytest.raises(DomainError, match=message) as info:
        register(scopes["collector"], **changes)
    assert info.value.field == field
    assert not Beneficiary.objects.exists() and not AuditEvent.objects.filter(action__startswith="beneficiary").exists()


def test_latin_letter_names_are_accepted(scopes):
    assert register(scopes["collector"], name="John  Smith").name == "John Smith"


def test_re_register_is_idempotent_and_fills_in_what_changed(scopes):
    first = register(scopes["collector"], phone="", address="")
    again = register(scopes["collector"], phone="", address="", id_number=ID[:6] + " " + ID[6:])
    assert again.pk == first.pk and again.registered_now is False
    assert Beneficiary.objects.count() == 1 and BeneficiaryVersion.objects.count() == 1
    assert Beneficiary.objects.get().version == 1

    updated = register(scopes["collector"], phone="139 0000 1111", address="", household_number="")
    assert updated.pk == first.pk and updated.version == 2
    assert updated.phone_masked == "139****1111" and updated.household.number == "H0001"
    versions = list(BeneficiaryVersion.objects.filter(beneficiary=first).order_by("version"))
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].snapshot["phone_masked"] == "139****1111" and versions[0].snapshot["phone_masked"] == ""
    assert versions[1].reason == "重复登记时补充信息" and versions[1].changed_by == "t_collector"
    # the same values again: no new version
    register(scopes["collector"], phone="13900001111", address="", household_number="")
    assert Beneficiary.objects.get().version == 2


def test_re_register_with_another_name_is_refused(scopes):
    register(scopes["collector"])
    with pytest.raises(DomainError) as info:
        register(scopes["collector"], name="李四", address="别处")
    assert info.value.message == f"身份证号 500101…{ID[-4:]} 已登记为 张** ，与填写的姓名不一致，请核对"
    assert info.value.field == "name"
    assert Beneficiary.objects.get().address == "高笋塘社区1号"


def test_versions_hold_no_plain_identifier(scopes):
    b = register(scopes["collector"])
    beneficiary_update(actor=scopes["collector"], beneficiary_id=b.pk, reason="依据户口簿更正", name="张三峰",
                       phone="13700000000", address="高笋塘社区2号")
    b.refresh_from_db()
    assert b.version == 2 and b.name == "张三峰"
    snapshots = json.dumps(list(BeneficiaryVersion.objects.values_list("snapshot", flat=True)), ensure_ascii=False)
    events = json.dumps(list(AuditEvent.objects.values_list("before", "after")), ensure_ascii=False)
    for plain in (ID, "13812345678", "13700000000"):
        assert plain not in snapshots and plain not in events
    assert crypto.digest("id", ID) in snapshots and "137****0000" in snapshots
    latest = BeneficiaryVersion.objects.get(beneficiary=b, version=2)
    assert latest.snapshot["name"] == "张三峰" and latest.reason == "依据户口簿更正"
    update = AuditEvent.objects.get(action="beneficiary.update")
    assert update.before["name"] == "张三丰" and update.after["name"] == "张三峰"


def test_name_correction_requires_a_reason_and_id_is_immutable(scopes):
    b = register(scopes["collector"])
    with pytest.raises(DomainError, match="^更正姓名或变更区划须填写原因") as info:
        beneficiary_update(actor=scopes["collector"], beneficiary_id=b.pk, reason="  ", name="张三峰")
    assert info.value.field == "reason"
    with pytest.raises(DomainError, match="^证件号码及由其得出的性别、出生日期不能修改"):
        beneficiary_update(actor=scopes["collector"], beneficiary_id=b.pk, reason="x", id_number=make_id(seq="999"))
    with pytest.raises(DomainError, match="^姓名不能包含数字"):
        beneficiary_update(actor=scopes["collector"], beneficiary_id=b.pk, reason="x", name="张三2")
    # an address change needs no reason; an unchanged value makes no version
    beneficiary_update(actor=scopes["collector"], beneficiary_id=b.pk, address="高笋塘社区1号")
    beneficiary_update(actor=scopes["collector"], beneficiary_id=b.pk, address="新地址")
    b.refresh_from_db()
    assert (b.version, b.name, b.address) == (2, "张三丰", "新地址")


def test_phone_can_be_cleared_and_region_moved_with_household(scopes):
    b = register(scopes["civil"], region_code=GST_VILLAGE)
    with pytest.raises(DomainError, match="变更区划时请同时填写新区划的户号"):
        beneficiary_update(actor=scopes["civil"], beneficiary_id=b.pk, reason="迁入太白", region_code=TB_VILLAGE)
    beneficiary_update(actor=scopes["civil"], beneficiary_id=b.pk, reason="迁入太白", region_code=TB_VILLAGE,
                       household_number="H0002", phone="")
    b.refresh_from_db()
    assert (b.region_id, b.household.number, b.household.region_id) == (TB_VILLAGE, "H0002", TB_VILLAGE)
    assert (b.phone_enc, b.phone_digest, b.phone_masked) == (None, "", "")


def test_household_of_another_region_is_refused(scopes):
    register(scopes["collector"])
    with pytest.raises(DomainError, match="^户号 H0001 已登记在区划 500101001001，与填写的区划 500101002001 不一致"):
        register(scopes["collector2"], id_number=make_id(seq="246"), name="王五", region_code=TB_VILLAGE)
    assert Household.objects.count() == 1


def test_register_organization(scopes):
    code = make_uscc()
    org = beneficiary_register_organization(actor=scopes["civil"], name="万州区某某种植专业合作社",
                                            credit_code=code.lower(), region_code=GST_VILLAGE, address="高笋塘")
    assert (org.kind, org.id_masked, org.gender, org.birth_date) == ("organization", code, "", None)
    assert org.id_digest == crypto.digest("uscc", code) and crypto.decrypt_text(org.id_number_enc) == code
    again = beneficiary_register_organization(actor=scopes["civil"], name="万州区某某种植专业合作社",
                                              credit_code=code, region_code=GST_VILLAGE)
    assert again.pk == org.pk and again.registered_now is False
    with pytest.raises(DomainError, match=f"^统一社会信用代码 {code} 已登记为 万州区某某种植专业合作社 ，与填写的单位名称不一致"):
        beneficiary_register_organization(actor=scopes["civil"], name="别的合作社", credit_code=code,
                                          region_code=GST_VILLAGE)
    with pytest.raises(DomainError, match="^统一社会信用代码校验位错误") as info:
        beneficiary_register_organization(actor=scopes["civil"], name="某公司", credit_code=code[:-1] + "0"
                                          if code[-1] != "0" else code[:-1] + "1", region_code=GST_VILLAGE)
    assert info.value.field == "credit_code"
    assert beneficiary_lookup(id_number=code).pk == org.pk


def test_lookup_by_digest(scopes):
    b = register(scopes["collector"])
    assert beneficiary_lookup(id_number=ID.lower()).pk == b.pk
    assert beneficiary_lookup(id_number=make_id(seq="777")) is None
    assert beneficiary_lookup(id_number="") is None


# -- scope -------------------------------------------------------------------------------------------
def test_collector_registers_only_in_own_township(scopes):
    with pytest.raises(ScopeError, match="^无权在区划 太白社区（500101002001）登记补贴对象"):
        register(scopes["collector"], region_code=TB_VILLAGE)
    with pytest.raises(ScopeError):
        register(scopes["collector_other"], region_code=GST_VILLAGE)
    assert not Beneficiary.objects.exists()


def test_collector_of_another_township_cannot_re_register_or_update(scopes):
    b = register(scopes["collector"])
    with pytest.raises(ScopeError, match="^该证件号码已在其他区划登记，不在您的管辖范围内"):
        register(scopes["collector2"], region_code=TB_VILLAGE, household_number="")
    with pytest.raises(ScopeError):
        beneficiary_update(actor=scopes["collector2"], beneficiary_id=b.pk, address="x")
    with pytest.raises(ScopeError):
        beneficiary_update(actor=scopes["collector_other"], beneficiary_id=b.pk, address="x")
    b.refresh_from_db()
    assert b.address == "高笋塘社区1号" and b.version == 1


@pytest.mark.parametrize("role", ["finance", "supervisor", "hr", "card_bank", "paying_bank", "regulator", "admin"])
def test_roles_without_manage_cannot_register(scopes, role):
    with pytest.raises(ScopeError):
        register(scopes[role])
    assert not Beneficiary.objects.exists()


def test_unknown_beneficiary_is_not_found(scopes):
    with pytest.raises(DomainError, match="^补贴对象不存在或不在您的管辖范围内") as info:
        beneficiary_update(actor=scopes["collector"], beneficiary_id=999999, address="x")
    assert info.value.code == "not_found"


def test_collector_of_fuling_registers_there(scopes):
    b = register(scopes["collector_other"], region_code=FL_VILLAGE, household_number="FL-1")
    assert b.region_id == FL_VILLAGE


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_person_make_one_record(transactional_db, world, scopes):
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL concurrency")
    barrier, outcomes = threading.Barrier(2), []

    def racer(phone):
        try:
            barrier.wait(timeout=30)
            b = register(scopes["collector"], phone=phone)
            outcomes.append(("ok", b.pk, b.registered_now))
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcomes.append(("error", repr(exc), None))
        finally:
            connection.close()

    threads = [threading.Thread(target=racer, args=(p,)) for p in ("13812345678", "13900001111")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [o[0] for o in outcomes] == ["ok", "ok"], outcomes
    assert len({o[1] for o in outcomes}) == 1 and sorted(o[2] for o in outcomes) == [False, True]
    b = Beneficiary.objects.get()
    assert Household.objects.count() == 1
    # the second registration brought another phone: one more version
    assert b.version == 2 and BeneficiaryVersion.objects.filter(beneficiary=b).count() == 2
