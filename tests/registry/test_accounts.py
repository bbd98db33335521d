"""Payee accounts (one person, one card): validation, the transitional exception, supersession with
exactly one active account, the no-op, card statuses one by one and in bulk, and concurrency."""

import json
import threading

import pytest
from django.db import IntegrityError, connection, transaction

from yikatong.core import crypto
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent
from yikatong.core.scope import Scope
from yikatong.registry.models import PayeeAccount
from yikatong.registry.services import (
    beneficiary_register_organization,
    beneficiary_register_person,
    card_status_refresh_bulk,
    card_status_update,
    payee_account_set,
)

from .conftest import GST_VILLAGE, TB_VILLAGE, bad_luhn, make_card, make_id, make_uscc

ID = make_id()
CARD = make_card("621700000012345678")
CARD2 = make_card("621799990087654321")


@pytest.fixture
def person(scopes):
    return beneficiary_register_person(actor=scopes["collector"], name="张三丰", id_number=ID, region_code=GST_VILLAGE)


@pytest.fixture
def org(scopes):
    return beneficiary_register_organization(actor=scopes["collector"], name="高笋塘种植专业合作社",
                                             credit_code=make_uscc(), region_code=GST_VILLAGE)


def set_card(scope, person, number=CARD, **kw):
    args = {"bank_name": "重庆农村商业银行", "account_number": number, "reason": ""}
    args.update(kw)
    return payee_account_set(actor=scope, beneficiary_id=person.pk, **args)


def test_first_account_is_the_social_security_card(scopes, person):
    acc = set_card(scopes["collector"], person, number=" ".join([CARD[:4], CARD[4:8], CARD[8:]]))
    acc = PayeeAccount.objects.get(pk=acc.pk)
    assert (acc.kind, acc.version, acc.is_active, acc.card_status) == ("ssc_card", 1, True, "unknown")
    assert acc.account_masked == "*" * 15 + CARD[-4:]
    assert crypto.decrypt_text(acc.account_enc) == CARD and acc.account_digest == crypto.digest("account", CARD)
    assert acc.created_by == "t_collector" and acc.payable
    event = AuditEvent.objects.get(action="account.set")
    assert event.region_code == GST_VILLAGE and event.before is None and event.after["version"] == 1
    assert CARD not in json.dumps(event.after)


@pytest.mark.parametrize(
    ("kw", "field", "message"),
    [
        ({"account_number": bad_luhn(CARD)}, "account", r"^银行卡号校验失败（末位校验码不符）"),
        ({"account_number": "6217 abc"}, "account", r"^银行账号只能包含数字"),
        ({"account_number": "1234567"}, "account", r"^银行账号长度应为 8–32 位"),
        ({"account_number": ""}, "account", r"^银行账号为空"),
        ({"bank_name": " "}, "bank_name", r"^请填写开户银行"),
        ({"kind": "other_bank"}, "exception_reason", r"^使用非社保卡账户须填写过渡期例外原因$"),
        ({"kind": "corporate", "account_number": "50001234567890123"}, "kind", r"^个人补贴对象不能使用对公账户"),
        ({"kind": "savings"}, "kind", r"^账户类型“savings”无效"),
        ({"card_status": "冻结"}, "card_status", r"^金融功能状态“冻结”无效"),
    ],
)
def test_account_validation_failures(scopes, person, kw, field, message):
    with pytest.raises(DomainError, match=message) as info:
        set_card(scopes["collector"], person, **kw)
    assert info.value.field == field
    assert not PayeeAccount.objects.exists()


def test_other_bank_is_a_recorded_exception(scopes, person):
    passbook = "1234567890123"  # a passbook number: no Luhn rule for it
    acc = set_card(scopes["collector"], person, number=passbook, kind="other_bank",
                   exception_reason="社保卡尚在制卡中", card_status="activated")
    assert (acc.kind, acc.exception_reason, acc.card_status) == ("other_bank", "社保卡尚在制卡中", "unknown")
    # the database refuses the exception without its reason, whatever the code does
    with pytest.raises(IntegrityError, match="other_bank_needs_reason"), transaction.atomic():
        PayeeAccount.objects.filter(pk=acc.pk).update(exception_reason="")


def test_organization_uses_a_corporate_account_without_luhn(scopes, org):
    corporate = "50001234567890123"
    acc = payee_account_set(actor=scopes["collector"], beneficiary_id=org.pk, bank_name="重庆银行",
                            account_number=corporate, reason="")
    assert acc.kind == "corporate"
    with pytest.raises(DomainError, match="^单位补贴对象只能使用对公账户"):
        payee_account_set(actor=scopes["collector"], beneficiary_id=org.pk, kind="ssc_card", bank_name="重庆银行",
                          account_number=CARD2, reason="换卡")
    # a 62… corporate number is not a card: no Luhn rule
    acc2 = payee_account_set(actor=scopes["collector"], beneficiary_id=org.pk, bank_name="重庆银行",
                             account_number=bad_luhn(CARD), reason="单位账户变更")
    assert acc2.version == 2


def test_change_supersedes_the_previous_account(scopes, person):
    first = set_card(scopes["collector"], person)
    with pytest.raises(DomainError, match="^更换收款账户须填写变更原因") as info:
        set_card(scopes["collector"], person, number=CARD2)
    assert info.value.field == "reason"
    second = set_card(scopes["collector"], person, number=CARD2, bank_name="中国农业银行", reason="补办社保卡")
    first.refresh_from_db()
    assert (first.is_active, first.superseded_reason) == (False, "补办社保卡")
    assert first.superseded_at is not None
    assert (second.is_active, second.version) == (True, 2)
    assert PayeeAccount.objects.filter(beneficiary=person, is_active=True).count() == 1
    # back to the first card: a third version, still exactly one active
    third = set_card(scopes["collector"], person, reason="旧卡恢复使用")
    assert third.version == 3 and third.pk not in (first.pk, second.pk)
    assert list(PayeeAccount.objects.filter(beneficiary=person, is_active=True).values_list("pk", flat=True)) == [
        third.pk]
    event = AuditEvent.objects.filter(action="account.set").order_by("-seq").first()
    assert event.before["version"] == 2 and event.after["version"] == 3 and event.reason == "旧卡恢复使用"


def test_same_account_again_is_a_no_op(scopes, person):
    first = set_card(scopes["collector"], person)
    events = AuditEvent.objects.count()
    again = set_card(scopes["collector"], person, number=CARD[:4] + "-" + CARD[4:], reason="重复提交")
    assert again.pk == first.pk and again.version == 1
    assert PayeeAccount.objects.count() == 1 and AuditEvent.objects.count() == events
    # the same card with a status observed: recorded on the same row, no new version
    again = set_card(scopes["collector"], person, card_status="未激活")
    assert again.pk == first.pk and again.card_status == "not_activated" and PayeeAccount.objects.count() == 1


def test_the_database_keeps_one_active_account(scopes, person):
    acc = set_card(scopes["collector"], person)
    with pytest.raises(IntegrityError), transaction.atomic():
        PayeeAccount.objects.create(beneficiary=person, bank_name="x", account_enc=acc.account_enc,
                                    account_digest="d", account_masked="m", version=2)


def test_account_scope(scopes, person):
    with pytest.raises(ScopeError):
        set_card(scopes["collector2"], person)
    with pytest.raises(ScopeError):
        set_card(scopes["collector_other"], person)
    for role in ("finance", "supervisor", "hr", "card_bank", "admin"):
        with pytest.raises(ScopeError):
            set_card(scopes[role], person)
    assert not PayeeAccount.objects.exists()
    assert set_card(scopes["civil"], person).is_active  # the county's competent department may


# -- card status -------------------------------------------------------------------------------------
def test_card_status_update_by_hr_and_card_bank(scopes, person):
    acc = set_card(scopes["collector"], person)
    card_status_update(actor=scopes["hr"], account_id=acc.pk, status="未激活", source="人社卡管系统")
    acc.refresh_from_db()
    assert acc.card_status == "not_activated" and not acc.payable and acc.card_status_checked_at is not None
    event = AuditEvent.objects.get(action="card_status.update")
    assert (event.before["card_status"], event.after["card_status"], event.reason) == (
        "unknown", "not_activated", "人社卡管系统")
    card_status_update(actor=scopes["card_bank"], account_id=acc.pk, status="activated")
    acc.refresh_from_db()
    assert acc.card_status == "activated" and acc.payable
    for role in ("collector", "finance", "supervisor"):
        with pytest.raises(ScopeError):
            card_status_update(actor=scopes[role], account_id=acc.pk, status="lost")
    with pytest.raises(DomainError, match="^金融功能状态“坏了”无效"):
        card_status_update(actor=scopes["hr"], account_id=acc.pk, status="坏了")


def test_card_status_of_a_replaced_or_non_card_account_is_refused(scopes, person):
    old = set_card(scopes["collector"], person)
    set_card(scopes["collector"], person, number="1234567890123", kind="other_bank", exception_reason="制卡中",
             reason="过渡")
    current = PayeeAccount.objects.get(is_active=True)
    with pytest.raises(DomainError, match="^该账户已被替换"):
        card_status_update(actor=scopes["hr"], account_id=old.pk, status="lost")
    with pytest.raises(DomainError, match="^只有社会保障卡银行账户有金融功能状态"):
        card_status_update(actor=scopes["hr"], account_id=current.pk, status="lost")


def _people(scopes, n):
    accounts = []
    for i in range(n):
        b = beneficiary_register_person(actor=scopes["collector"], name="测试人", id_number=make_id(seq=f"{i:03d}"),
                                        region_code=GST_VILLAGE)
        accounts.append(set_card(scopes["collector"], b, number=make_card(f"6217000000123400{i:02d}")))
    return accounts


def test_bulk_card_status_refresh_counts(scopes):
    accounts = _people(scopes, 5)
    fuling = beneficiary_register_person(actor=scopes["collector_other"], name="涪陵人", id_number=make_id(seq="900"),
                                         region_code="500102001001")
    fl_acc = payee_account_set(actor=scopes["collector_other"], beneficiary_id=fuling.pk, bank_name="农商行",
                               account_number=make_card("621700000099990000"), reason="")
    PayeeAccount.objects.filter(pk=accounts[1].pk).update(card_status="activated")
    rows = [
        (accounts[0].beneficiary.id_digest, accounts[0].account_digest, "未激活"),  # changed
        (accounts[1].beneficiary.id_digest, accounts[1].account_digest, "已激活"),  # unchanged
        (accounts[2].beneficiary.id_digest, accounts[2].account_digest, "挂失"),  # changed (twice listed)
        (accounts[2].beneficiary.id_digest, accounts[2].account_digest, "注销"),  # … last row wins
        (accounts[3].beneficiary.id_digest, crypto.digest("account", CARD2), "已激活"),  # not the person's card
        (crypto.digest("id", make_id(seq="555")), accounts[4].account_digest, "已激活"),  # unknown person
        (accounts[4].beneficiary.id_digest, accounts[4].account_digest, "冻结"),  # invalid status
        ("", accounts[4].account_digest, "已激活"),  # invalid: no digest
        (fuling.id_digest, fl_acc.account_digest, "挂失"),  # outside 万州: hr of 万州 does not touch it
    ]
    counts = card_status_refresh_bulk(actor=scopes["hr"], rows=iter(rows), source="社保卡数据 2026-03", chunk_size=4)
    assert counts == {"rows": 9, "matched": 3, "updated": 2, "unchanged": 1, "unmatched": 3, "invalid": 2,
                      "duplicates": 1}
    status = dict(PayeeAccount.objects.values_list("pk", "card_status"))
    assert [status[a.pk] for a in accounts] == ["not_activated", "activated", "cancelled", "unknown", "unknown"]
    assert status[fl_acc.pk] == "unknown"
    assert PayeeAccount.objects.get(pk=accounts[1].pk).card_status_checked_at is not None
    event = AuditEvent.objects.get(action="card_status.refresh")
    assert event.after["matched"] == 3 and event.reason == "社保卡数据 2026-03"
    # the system scope reaches 涪陵 too; a second run changes nothing more
    again = card_status_refresh_bulk(actor=Scope.system(), rows=rows, source="社保卡数据 2026-03")
    assert (again["matched"], again["updated"], again["duplicates"]) == (4, 1, 1)
    assert PayeeAccount.objects.get(pk=fl_acc.pk).card_status == "lost"


def test_bulk_refresh_skips_superseded_accounts_and_needs_the_permission(scopes):
    acc = _people(scopes, 1)[0]
    set_card(scopes["collector"], acc.beneficiary, number=CARD2, reason="换卡")
    counts = card_status_refresh_bulk(actor=scopes["hr"], rows=[(acc.beneficiary.id_digest, acc.account_digest,
                                                                  "注销")], source="社保卡数据")
    assert (counts["matched"], counts["unmatched"]) == (0, 1)
    with pytest.raises(ScopeError):
        card_status_refresh_bulk(actor=scopes["collector"], rows=[], source="x")
    with pytest.raises(DomainError, match="^请填写数据来源"):
        card_status_refresh_bulk(actor=scopes["hr"], rows=[], source="")


# -- concurrency -------------------------------------------------------------------------------------
def _racer(scope, beneficiary_id, number, barrier, outcomes):
    try:
        barrier.wait(timeout=30)
        acc = payee_account_set(actor=scope, beneficiary_id=beneficiary_id, bank_name="农商行",
                                account_number=number, reason="并发更换")
        outcomes.append(("ok", acc.version))
    except Exception as exc:  # noqa: BLE001 - reported to the test thread
        outcomes.append(("error", repr(exc)))
    finally:
        connection.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_account_changes_leave_exactly_one_active(transactional_db, world, scopes):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    b = beneficiary_register_person(actor=scopes["collector"], name="张三丰", id_number=ID, region_code=GST_VILLAGE)
    set_card(scopes["collector"], b)
    for round_ in range(3):
        barrier, outcomes = threading.Barrier(2), []
        numbers = [make_card(f"62170000555{round_}0{i}0000"[:18]) for i in (1, 2)]
        threads = [threading.Thread(target=_racer, args=(scopes["collector"], b.pk, n, barrier, outcomes))
                   for n in numbers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(o[0] for o in outcomes) == ["ok", "ok"], outcomes
        assert PayeeAccount.objects.filter(beneficiary=b, is_active=True).count() == 1
    versions = sorted(PayeeAccount.objects.filter(beneficiary=b).values_list("version", flat=True))
    assert versions == [1, 2, 3, 4, 5, 6, 7]


def test_other_region_account_set_by_collector2_in_own_region(scopes):
    b = beneficiary_register_person(actor=scopes["collector2"], name="王五", id_number=make_id(seq="468"),
                                    region_code=TB_VILLAGE)
    assert set_card(scopes["collector2"], b).beneficiary_id == b.pk
