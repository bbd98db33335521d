"""Bank API: account verification (paying banks and card banks) — yes/no and the card status, nothing else."""

import pytest

from tests.applications.conftest import luhn_account
from yikatong.core.models import AuditEvent
from yikatong.registry.models import PayeeAccount
from yikatong.registry.services import payee_account_set

from .conftest import api_post, issue_key

pytestmark = pytest.mark.django_db


def acct(seq: int) -> str:
    return luhn_account(f"622000{seq:012d}")


P1 = acct(21)  # 王一's social security card account (tests/payments/conftest.py)


def verify(client, key, **payload):
    return api_post(client, "/accounts/verify", key, payload)


def test_current_account_of_the_person_matches(client, pay, bank_keys):
    for bank in ("card_bank", "paying_bank", "paying_bank2"):
        response = verify(client, bank_keys[bank], name="王一", account=P1)
        assert response.status_code == 200, response.content
        assert response.json() == {"matched": True, "card_status": "activated", "card_status_label": "已激活",
                                   "payable": True, "message": response.json()["message"]}
    spaced = " ".join([P1[:4], P1[4:8], P1[8:12], P1[12:]])
    with_id = verify(client, bank_keys["card_bank"], name="王一", account=spaced,
                     id_number=pay.people["p1"].id_number_plain)
    assert with_id.json()["matched"] is True


@pytest.mark.parametrize("payload", [
    {"name": "王二", "account": P1},                                    # another person's name
    {"name": "王一", "account": acct(99)},                              # nobody's account
    {"name": "王一", "account": P1, "id_number": "110101199003071234"},  # another ID number
])
def test_no_match_reveals_nothing(client, pay, bank_keys, payload):
    body = verify(client, bank_keys["card_bank"], **payload).json()
    assert body["matched"] is False and body["card_status"] is None and body["card_status_label"] is None
    assert body["payable"] is False and "王" not in body["message"]


def test_wrong_id_number_of_a_real_person_does_not_match(client, pay, bank_keys):
    body = verify(client, bank_keys["card_bank"], name="王一", account=P1,
                  id_number=pay.people["p2"].id_number_plain).json()
    assert body["matched"] is False


def test_superseded_account_does_not_match(client, pay, bank_keys):
    payee_account_set(actor=pay.scope("collector"), beneficiary_id=pay.people["p1"].pk, kind="ssc_card",
                      bank_name="重庆农村商业银行", account_number=acct(71), card_status="activated", reason="换卡")
    key = bank_keys["card_bank"]
    assert verify(client, key, name="王一", account=P1).json()["matched"] is False
    assert verify(client, key, name="王一", account=acct(71)).json()["matched"] is True


@pytest.mark.parametrize("status,label", [("not_activated", "未激活"), ("lost", "挂失"), ("cancelled", "注销")])
def test_card_status_is_reported(client, pay, bank_keys, status, label):
    PayeeAccount.objects.filter(beneficiary=pay.people["p1"], is_active=True).update(card_status=status)
    body = verify(client, bank_keys["card_bank"], name="王一", account=P1).json()
    assert (body["matched"], body["card_status"], body["card_status_label"], body["payable"]) == (
        True, status, label, False)
    assert label in body["message"]


def test_verification_is_audited_with_masked_values(client, pay, bank_keys):
    verify(client, bank_keys["card_bank"], name="王一", account=P1)
    verify(client, bank_keys["card_bank"], name="王二", account=P1)
    events = list(AuditEvent.objects.filter(action="bank.verify_account").order_by("seq"))
    assert [e.after["matched"] for e in events] == [True, False]
    assert {e.organization_code for e in events} == {"WZ-SSKYH"}
    assert events[0].object_type == "registry.payeeaccount" and events[0].object_id
    assert events[1].object_id == ""
    for event in events:
        assert P1 not in str(event.after) and event.after["account"].endswith(P1[-4:])
        assert "王一" not in str(event.after)


def test_bad_input(client, bank_keys):
    key = bank_keys["card_bank"]
    assert verify(client, key, name="王一", account="").status_code == 400
    assert verify(client, key, name=" ", account=P1).status_code == 400
    assert verify(client, key, account=P1).status_code == 422


def test_verification_needs_a_bank_credential(client, pay, bank_keys):
    assert verify(client, "", name="王一", account=P1).status_code == 401
    key = issue_key(pay.world, "admin", interfaces=("data_sharing",))
    assert verify(client, key, name="王一", account=P1).status_code == 403


def test_verification_is_rate_limited(client, pay, bank_keys, settings):
    settings.YIKATONG_BANK_RATE_LIMITS = {"verify": (2, 60)}
    key = bank_keys["card_bank"]
    assert [verify(client, key, name="王一", account=P1).status_code for _ in range(3)] == [200, 200, 429]
    assert verify(client, bank_keys["paying_bank"], name="王一", account=P1).status_code == 200  # per credential
    assert AuditEvent.objects.filter(action="bank.verify_account").count() == 3  # refused calls verify nothing
