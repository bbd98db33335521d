"""Roster import: the foreign keys of the bulk inserts are proved set-based (loading.check_references)
instead of once per inserted row; version 1 of a new person is stored with an implied snapshot."""

import pytest
from django.db import connection

from yikatong.applications.models import Application, ApplicationEvent, RosterImport
from yikatong.applications.roster import loading, service
from yikatong.core.models import AuditEvent
from yikatong.registry.models import Beneficiary, BeneficiaryVersion, PayeeAccount

from .roster_fixtures import csv_bytes, person_row, run_import


def _spy_check(monkeypatch) -> list:
    calls = []
    real = loading.Loader.check_references

    def spy(self, **kwargs):
        calls.append(kwargs["inserted"])
        return real(self, **kwargs)

    monkeypatch.setattr(loading.Loader, "check_references", spy)
    return calls


def test_version_one_is_stored_with_an_implied_snapshot(flow):
    """The import stores version 1 with an empty snapshot; the registry's reader shows the state the
    registry itself would have written (test_roster_history covers the first change)."""
    from yikatong.registry.selectors import beneficiary_versions

    rows = [person_row(0), person_row(1, 手机号码=""), person_row(2, 姓名="阿依古丽·买买提")]
    ri = run_import(flow, csv_bytes(rows))
    assert ri.accepted == 3, ri.message
    for person in Beneficiary.objects.select_related("household"):
        version = BeneficiaryVersion.objects.get(beneficiary=person, version=1)
        assert version.snapshot == {} and version.reason == service.VERSION_REASON
        [shown] = beneficiary_versions(flow.scope("collector"), person.pk)
        assert shown.snapshot == service._beneficiary_state(person) and shown.snapshot["name"] == person.name


@pytest.mark.django_db(transaction=True)
def test_outside_a_test_transaction_the_per_row_checks_are_replaced(flow, monkeypatch):
    """SQLite: PRAGMA foreign_keys is switched off around the import's transaction only (and back on);
    PostgreSQL: session_replication_role = replica inside it. Either way the set-based check runs."""
    calls = _spy_check(monkeypatch)
    ri = run_import(flow, csv_bytes([person_row(i) for i in range(5)]))
    assert ri.status == RosterImport.Status.DONE and ri.accepted == 5, ri.message
    assert calls == [{"beneficiaries": 5, "versions": 5, "accounts": 5, "applications": 5}]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            assert cursor.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        else:
            cursor.execute("SHOW session_replication_role")
            assert cursor.fetchone()[0] == "origin"
    assert ApplicationEvent.objects.count() == 0  # the creation events are implied (test_roster_history)


def _nothing_imported(ri) -> None:
    ri.refresh_from_db()
    assert ri.status == RosterImport.Status.FAILED
    assert not Application.objects.exists() and not Beneficiary.objects.exists()
    assert not PayeeAccount.objects.exists() and not BeneficiaryVersion.objects.exists()
    assert not AuditEvent.objects.filter(action="roster.import").exists()


@pytest.mark.parametrize("broken", ["count", "collector"])
def test_a_failed_reference_check_imports_nothing(flow, monkeypatch, broken):
    from yikatong.applications.roster.load_postgres import PostgresLoader
    from yikatong.applications.roster.load_sqlite import SqliteLoader

    for cls in (SqliteLoader, PostgresLoader):  # force the set-based check (per-row checks stay on too)
        monkeypatch.setattr(cls, "references_unchecked", lambda self: True)
    if broken == "count":
        real = loading.Loader.insert_versions
        monkeypatch.setattr(loading.Loader, "insert_versions", lambda self, **kw: real(self, **kw) - 1)
        message = "1 versions inserted, 2 expected"
    else:
        real = loading.Loader.check_references
        monkeypatch.setattr(loading.Loader, "check_references",
                            lambda self, **kw: real(self, **{**kw, "collector_id": -1}))
        message = "collector missing"
    content = csv_bytes([person_row(0), person_row(1)])
    with pytest.raises(RuntimeError, match=message):
        run_import(flow, content)
    _nothing_imported(RosterImport.objects.get())


def test_postgres_without_the_right_to_skip_triggers_keeps_them(flow, monkeypatch):
    """A role that may not set session_replication_role: the SET fails inside a savepoint, the
    import goes on with the foreign-key triggers (no set-based check needed)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from yikatong.applications.roster.load_postgres import PostgresLoader

    real = PostgresLoader.execute

    def refusing(self, sql, params=()):
        if "session_replication_role = replica" in sql:
            sql = "SET LOCAL session_replication_role = not_allowed"  # a real error, as for a plain role
        return real(self, sql, params)

    monkeypatch.setattr(PostgresLoader, "execute", refusing)
    calls = _spy_check(monkeypatch)
    ri = run_import(flow, csv_bytes([person_row(0), person_row(1)]))
    assert ri.status == RosterImport.Status.DONE and ri.accepted == 2, ri.message
    assert calls == []


@pytest.mark.django_db(transaction=True)
def test_sqlite_workers_hand_blocks_over_as_files(flow, settings, monkeypatch):
    """Outside a test transaction, SQLite workers write each block's staging rows to a small SQLite file
    that the main process copies with one statement; same result, and no file stays behind."""
    import glob
    import tempfile

    from django.db.models import Sum

    settings.YIKATONG_ROSTER_BLOCK_BYTES = 1500  # many blocks, spread over two forked workers
    settings.YIKATONG_ROSTER_POOL_MIN_BYTES = 0
    settings.YIKATONG_ROSTER_WORKERS = 2
    from yikatong.applications.roster.load_sqlite import SqliteLoader

    files = []
    real = SqliteLoader._load_file
    monkeypatch.setattr(SqliteLoader, "_load_file", lambda self, result: files.append(str(result.stage))
                        or real(self, result))
    before = set(glob.glob(f"{tempfile.gettempdir()}/roster-stage-*"))
    rows = [person_row(i) for i in range(60)]
    rows[10] = person_row(10, 补贴金额="1000")
    rows[50] = person_row(50, 身份证号=rows[3]["身份证号"])
    ri = run_import(flow, csv_bytes(rows))
    assert ri.status == RosterImport.Status.DONE, ri.message
    assert (ri.total_rows, ri.accepted, ri.rejected) == (60, 58, 2)
    assert Application.objects.filter(roster_import=ri).aggregate(s=Sum("amount"))["s"] == 300 * 58
    assert sorted(ri.row_errors.values_list("row_number", flat=True)) == [12, 52]
    if connection.vendor == "sqlite":
        assert len(files) > 2
    assert set(glob.glob(f"{tempfile.gettempdir()}/roster-stage-*")) == before
