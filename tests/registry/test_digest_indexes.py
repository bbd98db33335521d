"""The digest indexes of the registry (core.indexes.DigestIndex): hash indexes on PostgreSQL, B-trees on
SQLite; the phone index holds only persons with a phone; lookups by digest use them."""

import pytest
from django.db import connection

from yikatong.core import crypto
from yikatong.registry.models import Beneficiary, PayeeAccount
from yikatong.registry.services import beneficiary_register_person, payee_account_set

from .conftest import GST_VILLAGE, make_card, make_id

INDEXES = {
    "beneficiary_phone_digest": ("registry_beneficiary", "phone_digest"),
    "payeeaccount_account_digest": ("registry_payeeaccount", "account_digest"),
}


def _definition(name: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [name])
        row = cursor.fetchone()
    assert row is not None, f"index {name} is missing"
    return row[0]


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(INDEXES))
def test_digest_index_kind_per_database(name):
    table, column = INDEXES[name]
    definition = _definition(name)
    assert table in definition and column in definition
    if connection.vendor == "postgresql":
        assert "USING hash" in definition
    else:
        assert "hash" not in definition.lower()


@pytest.mark.django_db
def test_phone_index_leaves_out_persons_without_phone():
    definition = _definition("beneficiary_phone_digest")
    for noise in ('"', "(", ")", "::text"):
        definition = definition.replace(noise, "")
    assert definition.endswith("WHERE phone_digest > ''")


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(" ".join(str(v) for v in row) for row in cursor.fetchall())


@pytest.mark.django_db
def test_lookups_by_digest_find_the_rows_through_the_indexes(scopes):
    phone, card = "13800138000", make_card("621700000055555555")
    with_phone = beneficiary_register_person(actor=scopes["collector"], name="张三丰", id_number=make_id(seq="123"),
                                             region_code=GST_VILLAGE, phone=phone)
    without = beneficiary_register_person(actor=scopes["collector"], name="李四光", id_number=make_id(seq="124"),
                                          region_code=GST_VILLAGE)
    payee_account_set(actor=scopes["collector"], beneficiary_id=with_phone.pk, account_number=card,
                      bank_name="中国银行")

    phone_digest, card_digest = crypto.digest("phone", phone), crypto.digest("account", card)
    assert list(Beneficiary.objects.filter(phone_digest=phone_digest)) == [with_phone]
    assert list(Beneficiary.objects.filter(phone_digest="")) == [without]
    assert [a.beneficiary_id for a in PayeeAccount.objects.filter(account_digest=card_digest, is_active=True)] \
        == [with_phone.pk]

    # the phone index is partial: a query uses it when it states the index's condition (as the checks do)
    plan = _plan("SELECT id FROM registry_beneficiary WHERE phone_digest = %s AND phone_digest > ''",
                 [phone_digest])
    assert "beneficiary_phone_digest" in plan
    plan = _plan("SELECT id FROM registry_payeeaccount WHERE account_digest = %s", [card_digest])
    assert "payeeaccount_account_digest" in plan
    # nobody searches for "no phone": that lookup cannot use the partial index
    assert "beneficiary_phone_digest" not in _plan("SELECT id FROM registry_beneficiary WHERE phone_digest = %s", [""])
