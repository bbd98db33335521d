"""The audit chain: record(), verification against direct tampering in the database, the
`verify-audit` command, anchoring, transactions, concurrency and the JSON round trip."""

import datetime as dt
import io
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import F

from yikatong.core import audit
from yikatong.core.audit import GENESIS, canonical_json, check_chain, event_hash, record, verify_chain
from yikatong.core.models import AuditEvent, AuditHead
from yikatong.core.scope import Scope

TABLE = AuditEvent._meta.db_table
WANZHOU_VILLAGE = "500101001001"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _sql(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("{t}", _q(TABLE)), params)
        return cursor.rowcount


def _append(n: int, *, start: int = 1) -> list[AuditEvent]:
    actor = Scope.system(reason="测试")
    return [
        record(
            actor=actor, action=f"thing.step{i % 3}", object_type="test.thing", object_id=str(i),
            region_code=WANZHOU_VILLAGE, before={"state": "draft", "n": i}, after={"state": "done", "n": i},
            reason=f"第{i}次",
        )
        for i in range(start, start + n)
    ]


def _hash(seq: int) -> str:
    return AuditEvent.objects.get(seq=seq).hash


def _forge(*, seq: int, prev_hash: str, action: str = "payment.pay") -> AuditEvent:
    """A fake event inserted directly, with a correct hash over its own content."""
    event = AuditEvent(
        seq=seq, occurred_at=dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC), actor_id=None,
        actor_username="attacker", organization_code="", action=action, object_type="test.thing",
        object_id="999", region_code=WANZHOU_VILLAGE, before=None, after={"amount": "5000.00"},
        reason="", client_ip="", prev_hash=prev_hash,
    )
    event.hash = event_hash(audit._hashed_fields(event), prev_hash)
    AuditEvent.objects.bulk_create([event])
    return event


def _shift_from(seq: int, by: int) -> None:
    """Renumber events seq.. by `by` (two steps so the unique index never sees a duplicate)."""
    AuditEvent.objects.filter(seq__gte=seq).update(seq=F("seq") + 1_000_000)
    AuditEvent.objects.filter(seq__gte=1_000_000 + seq).update(seq=F("seq") - 1_000_000 + by)


def _problem() -> tuple[int | None, str]:
    problem = verify_chain(chunk_size=3)  # small chunks: problems across chunk borders are found too
    assert problem is not None, "tampering was not detected"
    return problem.seq, problem.kind


# -- intact chains ------------------------------------------------------------------------------
def test_empty_chain_is_intact(db):
    report = check_chain()
    assert report.ok and report.count == 0 and report.head_hash == GENESIS


def test_intact_chain_verifies_with_contiguous_seqs(db):
    events = _append(10)
    assert [e.seq for e in events] == list(range(1, 11))
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    report = check_chain(chunk_size=3)
    assert report.ok and report.count == 10
    assert report.head_seq == 10 and report.head_hash == events[-1].hash
    head = AuditHead.objects.get(id=1)
    assert (head.seq, head.hash) == (10, events[-1].hash)


def test_record_takes_actor_object_and_region_from_its_arguments(world):
    org = world.orgs["finance"]
    user = world.users["finance"]
    event = record(actor=user, action="org.update", obj=org, before={"name": "旧"}, after={"name": "新"})
    assert (event.actor_id, event.actor_username, event.organization_code) == (user.pk, "t_finance", "WZ-CZJ")
    assert (event.object_type, event.object_id, event.region_code) == ("core.organization", str(org.pk), "500101000000")
    scope_event = record(actor=Scope.for_user(world.users["supervisor"]), action="x.y")
    assert (scope_event.actor_username, scope_event.organization_code) == ("t_supervisor", "WZ-SJJ")
    system_event = record(actor=None, action="x.z")
    assert (system_event.actor_id, system_event.actor_username) == (None, "system")
    assert verify_chain() is None


# -- tampering directly in the database ------------------------------------------------------------
@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda: AuditEvent.objects.filter(seq=5).update(action="thing.approve"), id="action"),
        pytest.param(lambda: AuditEvent.objects.filter(seq=5).update(reason="改过的事由"), id="reason"),
        pytest.param(lambda: AuditEvent.objects.filter(seq=5).update(actor_username="someone_else"), id="actor"),
        pytest.param(lambda: AuditEvent.objects.filter(seq=5).update(actor_id=42), id="actor_id"),
        pytest.param(lambda: AuditEvent.objects.filter(seq=5).update(region_code="500102001001"), id="region"),
        pytest.param(lambda: AuditEvent.objects.filter(seq=5).update(occurred_at=F("occurred_at") + dt.timedelta(seconds=1)),
                     id="time"),
        pytest.param(lambda: AuditEvent.objects.filter(seq=5).update(after={"state": "done", "n": 6}), id="after-orm"),
        pytest.param(lambda: _sql('UPDATE {t} SET ' + _q("before") + ' = %s WHERE seq = 5', ['{"state": "approved", "n": 5}']),
                     id="before-sql"),
        pytest.param(lambda: _sql('UPDATE {t} SET ' + _q("after") + ' = NULL WHERE seq = 5'), id="after-null-sql"),
        pytest.param(lambda: _sql("UPDATE {t} SET " + _q("hash") + " = %s WHERE seq = 5", ["f" * 64]), id="hash"),
    ],
)
def test_altered_field_is_found_at_its_seq(db, tamper):
    _append(10)
    assert tamper() == 1
    assert _problem() == (5, "altered")


def test_altered_event_with_recomputed_hash_is_found(db):
    _append(10)
    event = AuditEvent.objects.get(seq=5)
    event.after = {"state": "done", "n": 5, "amount": "99999.00"}
    new_hash = event_hash(audit._hashed_fields(event), event.prev_hash)
    AuditEvent.objects.filter(seq=5).update(after=event.after, hash=new_hash)
    problem = verify_chain()
    assert (problem.seq, problem.kind) == (5, "altered")
    assert "重新计算" in problem.detail


def test_removed_middle_event(db):
    _append(10)
    assert _sql("DELETE FROM {t} WHERE seq = 5") == 1
    assert _problem() == (5, "removed")
    assert "第 5 号事件缺失" in verify_chain().detail


def test_removed_first_event(db):
    _append(10)
    AuditEvent.objects.filter(seq=1).delete()
    assert _problem() == (1, "removed")


def test_removed_last_event_shows_as_head_mismatch(db):
    _append(10)
    _sql("DELETE FROM {t} WHERE seq = 10")
    assert _problem() == (10, "removed")
    assert "链头记录共有 10 条事件" in verify_chain().detail


def test_removed_event_with_later_events_renumbered(db):
    _append(10)
    _sql("DELETE FROM {t} WHERE seq = 5")
    _shift_from(6, -1)
    assert _problem() == (5, "removed")
    assert "重新编号" in verify_chain().detail


def test_inserted_forged_event_with_wrong_chaining(db):
    _append(10)
    _shift_from(5, +1)
    _forge(seq=5, prev_hash=_hash(2))  # its own hash is right, but it does not follow event 4
    assert _problem() == (5, "inserted")


def test_inserted_forged_event_with_garbage_prev_hash(db):
    _append(10)
    _shift_from(5, +1)
    _forge(seq=5, prev_hash="ab" * 32)
    assert _problem() == (5, "inserted")


def test_inserted_forged_event_chained_onto_its_predecessor(db):
    _append(10)
    _shift_from(5, +1)
    _forge(seq=5, prev_hash=_hash(4))  # fits after 4, but the old event 5 (now 6) still points at 4
    assert _problem() == (5, "inserted")


def test_two_forged_events_chained_in_with_the_originals_renumbered(db):
    _append(10)
    _shift_from(5, +2)
    first = _forge(seq=5, prev_hash=_hash(4))
    _forge(seq=6, prev_hash=first.hash)
    assert _problem() == (5, "inserted")


def test_forged_event_appended_after_the_head(db):
    _append(10)
    _forge(seq=11, prev_hash=_hash(10))
    assert _problem() == (11, "inserted")


def test_forged_event_appended_with_head_rewritten_but_wrong_chaining(db):
    _append(10)
    forged = _forge(seq=11, prev_hash=_hash(3))
    AuditHead.objects.filter(id=1).update(seq=11, hash=forged.hash)
    assert _problem() == (11, "inserted")


def test_swapped_adjacent_events(db):
    _append(10)
    AuditEvent.objects.filter(seq=4).update(seq=-4)
    AuditEvent.objects.filter(seq=5).update(seq=4)
    AuditEvent.objects.filter(seq=-4).update(seq=5)
    assert _problem() == (4, "reordered")
    assert "顺序被调换" in verify_chain().detail


def test_swapped_distant_events(db):
    _append(10)
    _sql("UPDATE {t} SET seq = -3 WHERE seq = 3")
    _sql("UPDATE {t} SET seq = 3 WHERE seq = 8")
    _sql("UPDATE {t} SET seq = 8 WHERE seq = -3")
    assert _problem() == (3, "reordered")


def test_head_record_tampered(db):
    _append(10)
    AuditHead.objects.filter(id=1).update(hash="0" * 63 + "1")
    assert _problem() == (10, "head")


def test_head_record_deleted(db):
    _append(3)
    AuditHead.objects.all().delete()
    assert _problem() == (None, "head")


def test_events_appended_during_verification_are_not_a_problem(db, monkeypatch):
    _append(6)
    calls = []

    def progress(n):
        if not calls:
            _append(2, start=100)  # appended while the walk is under way
        calls.append(n)

    original = audit._iter_events
    appended_after_walk = []

    def iter_then_append(after_seq, chunk_size):
        yield from original(after_seq, chunk_size)
        if not appended_after_walk:  # the walk has ended, the head is not read yet
            appended_after_walk.append(_append(2, start=200))

    monkeypatch.setattr(audit, "_iter_events", iter_then_append)
    report = check_chain(chunk_size=2, progress=progress)
    assert appended_after_walk and calls
    assert report.ok and report.count == 10, report.problem


# -- anchoring -------------------------------------------------------------------------------------
def test_truncated_tail_with_rewritten_head_needs_the_anchor(db):
    _append(10)
    anchor = check_chain().anchor
    assert anchor == f"10:{_hash(10)}"
    # Someone deletes the last three events and points the head at event 7: the chain itself is consistent.
    new_last = _hash(7)
    _sql("DELETE FROM {t} WHERE seq > 7")
    AuditHead.objects.filter(id=1).update(seq=7, hash=new_last)
    assert verify_chain() is None
    problem = verify_chain(expect_head=anchor)
    assert (problem.seq, problem.kind) == (10, "anchor")
    assert "截断" in problem.detail
    # The hash-only form of the anchor catches it too.
    assert verify_chain(expect_head=anchor.split(":")[1]).kind == "anchor"


def test_anchor_of_an_older_head_still_holds_while_the_chain_grows(db):
    _append(5)
    anchor = check_chain().anchor
    _append(5, start=6)
    assert verify_chain(expect_head=anchor) is None
    assert verify_chain(expect_head=anchor.split(":")[1]) is None


def test_rewritten_chain_after_the_anchor_point_is_found_by_the_anchor(db):
    _append(6)
    anchor = check_chain().anchor  # "6:…"
    # A database superuser rewrites event 6 and recomputes its hash and the head: only the anchor knows.
    event = AuditEvent.objects.get(seq=6)
    event.reason = "改写"
    event.hash = event_hash(audit._hashed_fields(event), event.prev_hash)
    AuditEvent.objects.filter(seq=6).update(reason=event.reason, hash=event.hash)
    AuditHead.objects.filter(id=1).update(hash=event.hash)
    assert verify_chain() is None
    problem = verify_chain(expect_head=anchor)
    assert (problem.seq, problem.kind) == (6, "anchor")


@pytest.mark.parametrize("bad", ["xyz", "12:abc", "0:" + "a" * 64, "-1:" + "a" * 64, "a" * 63])
def test_bad_anchor_text_is_refused(bad):
    with pytest.raises(ValueError, match="锚定值"):
        audit.parse_anchor(bad)


def test_anchor_text_forms():
    assert audit.parse_anchor(" 12:" + "AB" * 32) == (12, "ab" * 32)
    assert audit.parse_anchor("cd" * 32) == (None, "cd" * 32)


# -- the command ------------------------------------------------------------------------------------
def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("verify-audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_on_intact_chain_prints_count_and_head(db):
    events = _append(7)
    out, err = _run("--progress-every", "3", "--chunk-size", "2")
    assert f"审计链完整：共 7 条事件，链头哈希 {events[-1].hash}（第 7 号）" in out
    assert f"7:{events[-1].hash}" in out
    assert "已校验 3 条事件" in err and "已校验 6 条事件" in err


def test_command_quiet_prints_no_progress(db):
    _append(7)
    out, err = _run("--quiet", "--progress-every", "1")
    assert "审计链完整：共 7 条事件" in out
    assert err == ""


def test_command_on_tampered_chain_fails_with_the_first_broken_event(db):
    _append(8)
    AuditEvent.objects.filter(seq=3).update(reason="x")
    AuditEvent.objects.filter(seq=6).update(reason="y")
    with pytest.raises(CommandError) as info:
        _run()
    assert info.value.returncode == 1
    assert "第 3 号事件被篡改" in str(info.value)
    assert "此前 2 条事件完好" in str(info.value)


def test_command_with_removed_event(db):
    _append(8)
    _sql("DELETE FROM {t} WHERE seq = 4")
    with pytest.raises(CommandError, match="第 4 号事件缺失") as info:
        _run("--quiet")
    assert info.value.returncode == 1


def test_command_expect_head(db):
    _append(5)
    anchor = check_chain().anchor
    out, _ = _run("--expect-head", anchor)
    assert "锚定核对通过" in out
    _sql("DELETE FROM {t} WHERE seq = 5")
    AuditHead.objects.filter(id=1).update(seq=4, hash=_hash(4))
    with pytest.raises(CommandError, match="锚定的第 5 号事件已不存在") as info:
        _run("--expect-head", anchor)
    assert info.value.returncode == 1


@pytest.mark.parametrize("args", [["--expect-head", "nonsense"], ["--chunk-size", "0"]])
def test_command_refuses_bad_input_with_exit_code_2(db, args):
    with pytest.raises(CommandError) as info:
        _run(*args)
    assert info.value.returncode == 2


@pytest.mark.django_db(transaction=True)  # the command line closes the connection when done
def test_command_line_exit_codes(capsys):
    _append(3)
    execute_from_command_line(["yikatong", "verify-audit", "--quiet"])  # success: returns, exit status 0
    assert "审计链完整：共 3 条事件" in capsys.readouterr().out
    AuditEvent.objects.filter(seq=2).update(action="forged.action")
    with pytest.raises(SystemExit) as info:
        execute_from_command_line(["yikatong", "verify-audit", "--quiet"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "第 2 号事件被篡改" in err and "Traceback" not in err


# -- transactions and concurrency ----------------------------------------------------------------------
def test_record_in_rolled_back_transaction_leaves_nothing(db):
    _append(2)
    head_before = AuditHead.objects.values_list("seq", "hash").get(id=1)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            record(actor=None, action="thing.create", after={"x": 1})
            record(actor=None, action="thing.update", after={"x": 2})
            raise RuntimeError("the business action failed")
    assert AuditEvent.objects.count() == 2
    assert AuditHead.objects.values_list("seq", "hash").get(id=1) == head_before
    nxt = record(actor=None, action="thing.create")
    assert nxt.seq == 3 and verify_chain() is None


def test_record_of_first_event_in_rolled_back_transaction_leaves_no_head(db):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            record(actor=None, action="thing.create")
            raise RuntimeError
    assert not AuditEvent.objects.exists()
    assert AuditHead.objects.filter(seq__gt=0).count() == 0
    assert check_chain().ok


def _appender(name: str, count: int, barrier: threading.Barrier, errors: list) -> None:
    try:
        barrier.wait(timeout=30)
        for i in range(count):
            with transaction.atomic():
                record(actor=None, action=f"{name}.append", object_id=str(i), after={"i": i, "by": name})
                AuditEvent.objects.filter(seq__gt=0).exists()  # keep the transaction open a moment longer
    except Exception as exc:  # noqa: BLE001 - reported to the test thread
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_on_postgresql_get_contiguous_seqs():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    barrier = threading.Barrier(2)
    errors: list = []
    threads = [threading.Thread(target=_appender, args=(name, 50, barrier, errors)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 101))
    order = "".join(AuditEvent.objects.order_by("seq").values_list("action", flat=True)).replace(".append", "")
    assert "ab" in order and "ba" in order  # the writers really overlapped
    for name in ("a", "b"):  # each writer's events are in its own order
        mine = list(AuditEvent.objects.filter(action=f"{name}.append").order_by("seq").values_list("object_id", flat=True))
        assert mine == [str(i) for i in range(50)]
    assert AuditHead.objects.get(id=1).seq == 100
    report = check_chain(chunk_size=7)
    assert report.ok and report.count == 100, report.problem


@pytest.mark.django_db(transaction=True)
def test_interleaved_appends_in_separate_transactions_get_contiguous_seqs():
    """The sequential counterpart of the concurrency test, for SQLite (one writer at a time)."""
    for i in range(50):
        for name in ("a", "b"):
            with transaction.atomic():
                record(actor=None, action=f"{name}.append", object_id=str(i))
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 101))
    assert check_chain().count == 100


# -- what is hashed survives the database's JSON round trip --------------------------------------------
ROUND_TRIP = {
    "金额": Decimal("1234.50"),
    "日期": dt.date(2026, 3, 31),
    "时间": dt.datetime(2026, 3, 31, 9, 30, 15, 123456, tzinfo=dt.UTC),
    "姓名": "欧阳小明",
    "说明": "补贴发放 \"引号\" \\ 反斜杠 \n 换行 😀",
    "嵌套": {"z": {"b": [1, 2, {"深": "层"}], "a": None}, "a": True, "m": False},
    "浮点": {"tenth": 0.1, "big": 1e16, "bigger": 1.5e300, "tiny": 1e-7, "neg_zero": -0.0, "one": 1.0,
             "third": 1 / 3, "neg": -2.5e-5, "odd_big": 1.2345678901234567e300, "two_60": float(2**60)},
    "整数": {"small": 7, "huge": 2**70, "negative": -12},
    "列表": ["甲", 1, 2.5, None, [], {}],
}


def test_json_round_trip_keeps_the_hash(db):
    first = record(actor=None, action="thing.update", before=ROUND_TRIP, after={"列表": [ROUND_TRIP]}, reason="往返")
    record(actor=None, action="thing.update", before={"x": 1e16}, after={"y": -0.0})
    reloaded = AuditEvent.objects.get(seq=first.seq)
    assert reloaded.before["金额"] == "1234.50" and reloaded.before["日期"] == "2026-03-31"
    assert reloaded.before["时间"].startswith("2026-03-31T09:30:15.123")
    assert reloaded.before["说明"] == ROUND_TRIP["说明"]
    if connection.vendor == "postgresql":
        # jsonb really does rewrite these; the hash must not care.
        assert isinstance(reloaded.before["浮点"]["big"], int)
        assert str(reloaded.before["浮点"]["neg_zero"]) == "0.0"
    assert event_hash(audit._hashed_fields(reloaded), reloaded.prev_hash) == reloaded.hash
    report = check_chain()
    assert report.ok and report.count == 2, report.problem


def test_canonical_json_normalizes_numbers_and_keys():
    assert canonical_json({"b": 1e16, "a": -0.0}) == canonical_json({"a": 0, "b": 10000000000000000})
    assert canonical_json(1.0) == canonical_json(1) == canonical_json(Decimal("1.00"))
    assert canonical_json(0.1) != canonical_json(0.10000000000000002)
    assert canonical_json(1) != canonical_json("1")
    assert canonical_json(True) != canonical_json(1)
    assert canonical_json({"中": "文"}) == '{"中":"文"}'


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_record_refuses_nan_and_infinity(db, bad):
    with pytest.raises(ValueError, match="NaN"):
        record(actor=None, action="thing.update", after={"x": bad})
    assert not AuditEvent.objects.exists()
