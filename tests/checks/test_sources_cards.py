"""ssc_card imports refresh the card status of payee accounts; concurrent imports serialize (PostgreSQL)."""

import threading

import pytest
from django.db import connection

from yikatong.checks.models import SourceImport, SourceState
from yikatong.checks.sources import source_current, source_import_run, source_import_start, source_rows
from yikatong.core.models import AuditEvent
from yikatong.registry.models import PayeeAccount
from yikatong.registry.services import beneficiary_register_person, payee_account_set

from . import test_sources_support as support
from .test_sources_support import HEADERS, csv_bytes, ids, make_card, run_import, upload

fixed_today = support.fixed_today
scopes = support.scopes

GST_VILLAGE = "500101001001"
FL_VILLAGE = "500102001001"


def _person(actor, number, name, card, region=GST_VILLAGE):
    b = beneficiary_register_person(actor=actor, name=name, id_number=number, region_code=region)
    return payee_account_set(actor=actor, beneficiary_id=b.pk, bank_name="重庆农商行", account_number=card)


@pytest.mark.django_db
def test_ssc_card_import_refreshes_matching_payee_accounts(scopes):
    a, b, c, d = ids(4)
    card_a, card_b, card_c = make_card("621700000011111111"), make_card("621700000022222222"), make_card("621700000033333333")
    acc_a = _person(scopes["collector"], a, "张甲", card_a)
    acc_b = _person(scopes["collector"], b, "张乙", card_b)
    acc_fl = _person(scopes["collector_other"], d, "张丁", make_card("621700000044444444"), region=FL_VILLAGE)
    assert acc_a.card_status == "unknown"
    rows = [
        f"{a},甲,{card_a},重庆农商行,挂失",
        f"{b},乙,{make_card('621700000099999999')},重庆农商行,注销",  # another card than the payee account
        f"{c},丙,{card_c},重庆农商行,已激活",  # not registered at all
        f"{d},丁,{make_card('621700000044444444')},重庆农商行,未激活",  # registered in 涪陵
    ]
    imp = run_import(scopes["hr"], "ssc_card", csv_bytes(HEADERS["ssc_card"], rows))
    assert imp.status == SourceImport.Status.ACTIVE, imp.message
    acc_a.refresh_from_db()
    acc_b.refresh_from_db()
    acc_fl.refresh_from_db()
    assert acc_a.card_status == "lost" and acc_a.card_status_checked_at is not None
    assert acc_b.card_status == "unknown"  # its own card is not in the file
    assert acc_fl.card_status == "unknown"  # HR of 万州 refreshes 万州 only
    assert "匹配 1 个账户" in imp.message and "状态变化 1 个" in imp.message and "3 行未找到" in imp.message
    refresh = AuditEvent.objects.get(action="card_status.refresh")
    assert refresh.reason == f"ssc_card:{imp.pk}" and refresh.after["updated"] == 1
    assert refresh.actor_username == "t_hr"
    # the administrator imports for the whole platform: 涪陵 is refreshed too
    imp2 = run_import(scopes["admin"], "ssc_card", csv_bytes(HEADERS["ssc_card"], rows))
    acc_fl.refresh_from_db()
    assert acc_fl.card_status == "not_activated"
    assert "匹配 2 个账户" in imp2.message and "状态变化 1 个" in imp2.message


@pytest.mark.django_db
def test_a_failed_ssc_card_import_changes_no_card_status(scopes):
    a = ids(1)[0]
    card = make_card("621700000011111111")
    acc = _person(scopes["collector"], a, "张甲", card)
    imp = run_import(scopes["hr"], "ssc_card", csv_bytes("身份证号,姓名,社保卡银行账号,开户银行", [f"{a},甲,{card},农商行"]))
    assert imp.status == SourceImport.Status.FAILED
    acc.refresh_from_db()
    assert acc.card_status == "unknown"
    assert not AuditEvent.objects.filter(action="card_status.refresh").exists()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_imports_of_one_source_serialize_and_the_later_switch_wins(world, scopes):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL concurrency")
    first = ids(3, birth="19700101")
    second = ids(2, birth="19710101")
    imports = [
        source_import_start(actor=scopes["admin"], source="death", original_name=f"d{i}.csv",
                            fileobj=upload(csv_bytes(HEADERS["death"], [f"{p},某,2026-01-01" for p in people])))
        for i, people in enumerate((first, second))
    ]
    barrier, outcomes = threading.Barrier(2), []

    def racer(imp):
        try:
            barrier.wait(timeout=30)
            done = source_import_run(source_import_id=imp.pk)
            outcomes.append((done.pk, done.status, done.finished_at))
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcomes.append(("error", repr(exc), None))
        finally:
            connection.close()

    threads = [threading.Thread(target=racer, args=(imp,)) for imp in imports]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outcomes) == 2 and all(o[0] != "error" for o in outcomes), outcomes
    states = {imp.pk: SourceImport.objects.get(pk=imp.pk) for imp in imports}
    statuses = sorted(s.status for s in states.values())
    assert statuses == [SourceImport.Status.ACTIVE, SourceImport.Status.SUPERSEDED]
    winner = next(s for s in states.values() if s.status == SourceImport.Status.ACTIVE)
    loser = next(s for s in states.values() if s.status == SourceImport.Status.SUPERSEDED)
    assert winner.finished_at > loser.finished_at  # the later switch wins
    assert SourceState.objects.get(source="death").current_import_id == winner.pk
    assert source_current("death") == winner
    assert source_rows("death").count() == winner.accepted
    assert {winner.accepted, loser.accepted} == {3, 2}
    assert AuditEvent.objects.filter(action="source.import").count() == 2


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_reader_pinned_to_an_import_sees_it_whole_during_a_switch(world, scopes):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    old = run_import(scopes["admin"], "household", csv_bytes(HEADERS["household"], [
        f"{p},某,H,500101001001" for p in ids(4)]))
    pinned = source_current("household").pk
    new = run_import(scopes["admin"], "household", csv_bytes(HEADERS["household"], [f"{ids(1)[0]},某,H,500101001001"]))
    assert new.status == SourceImport.Status.ACTIVE
    assert source_rows("household", import_id=pinned).count() == 4  # kept for readers that started on it
    assert source_rows("household").count() == 1
    assert PayeeAccount.objects.count() == 0 and old.pk == pinned
