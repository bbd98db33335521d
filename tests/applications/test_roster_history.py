"""Roster import: the creation event of an imported application is implied, not stored.

The application row itself says who imported it, when, and from which import and row; every reader of the
history (selectors.application_history for the pages and the API, the citizen's status query) shows the
same first entry as a stored event would (docs/roster-import.md, "What an accepted row creates")."""

from django.urls import reverse

from yikatong.applications import selectors
from yikatong.applications.models import Application, ApplicationEvent
from yikatong.applications.roster.service import EVENT_REASON
from yikatong.applications.services import application_return, application_verify
from yikatong.applications.services.online import online_status_query

from .roster_fixtures import csv_bytes, person_row, run_import


def _imported(flow, count=2):
    ri = run_import(flow, csv_bytes([person_row(i) for i in range(count)]))
    assert ri.accepted == count, ri.message
    return ri, list(Application.objects.filter(roster_import=ri).order_by("roster_row"))


def test_the_creation_event_is_implied_and_shown_first(flow):
    ri, apps = _imported(flow)
    assert not ApplicationEvent.objects.exists()
    scope = flow.scope("collector")
    for app in apps:
        [event] = selectors.application_history(scope, app.pk)
        assert event.pk is None and event.application_id == app.pk
        assert (event.from_status, event.to_status, event.reason, event.changes) == ("", "collected", EVENT_REASON, {})
        assert event.actor == ri.created_by == app.created_by and event.at == app.created_at
    app = apps[0]
    application_verify(actor=scope, application_id=app.pk)
    application_return(actor=scope, application_id=app.pk, reason="请补充低保证明材料")
    history = selectors.application_history(scope, app.pk)
    assert [(e.from_status, e.to_status) for e in history] == [
        ("", "collected"), ("collected", "verified"), ("verified", "returned")]
    assert history[0].pk is None and all(e.pk for e in history[1:])
    assert ApplicationEvent.objects.filter(application=app).count() == 2


def test_a_stored_creation_event_is_not_shown_twice(flow):
    """Imports made before the rule stored the creation event: it is shown once."""
    _ri, apps = _imported(flow, 1)
    app = apps[0]
    ApplicationEvent.objects.create(application=app, from_status="", to_status="collected", actor=app.created_by,
                                    reason=EVENT_REASON)
    history = selectors.application_events(app)
    assert len(history) == 1 and history[0].pk is not None


def test_the_citizen_status_query_lists_the_creation_step(flow):

    _ri, apps = _imported(flow, 1)
    app = apps[0]
    status = online_status_query(number=app.number, id_number=person_row(0)["身份证号"])
    assert status is not None and [s.label for s in status.steps][:1] == ["已采集待核实"]
    application_return(actor=flow.scope("collector"), application_id=app.pk, reason="请补充低保证明材料")
    status = online_status_query(number=app.number, id_number=person_row(0)["身份证号"])
    assert status.reason == "请补充低保证明材料" and len(status.steps) == 2


def test_the_detail_page_and_the_api_show_the_creation_event(client, flow):
    _ri, apps = _imported(flow, 1)
    app = apps[0]
    client.force_login(flow.users.get("collector") or flow.world.users["collector"])
    page = client.get(reverse("applications:detail", args=[app.pk])).content.decode()
    assert EVENT_REASON in page and 'data-event="collected"' in page
    events = client.get(f"/api/applications/applications/{app.pk}/events").json()
    assert [(e["from_status"], e["to_status"], e["reason"]) for e in events] == [("", "collected", EVENT_REASON)]


# -- version 1 of a person registered by a roster import -------------------------------------------------
def test_the_first_change_writes_out_the_implied_version_one(flow):
    from yikatong.registry.models import Beneficiary, BeneficiaryVersion
    from yikatong.registry.rules import state_of
    from yikatong.registry.selectors import beneficiary_versions
    from yikatong.registry.services import beneficiary_update

    _ri, apps = _imported(flow, 1)
    person = Beneficiary.objects.select_related("household").get(pk=apps[0].beneficiary_id)
    registered = state_of(person)
    assert BeneficiaryVersion.objects.get(beneficiary=person).snapshot == {}
    scope = flow.scope("collector")
    beneficiary_update(actor=scope, beneficiary_id=person.pk, address="万州区高笋塘街道1号", reason="补充地址")
    first, second = BeneficiaryVersion.objects.filter(beneficiary=person).order_by("version")
    assert first.snapshot == registered and first.reason == "花名册导入登记"
    assert second.snapshot["address"] == "万州区高笋塘街道1号" and second.snapshot["name"] == registered["name"]
    shown = beneficiary_versions(scope, person.pk)
    assert [v.version for v in shown] == [2, 1] and shown[1].snapshot == registered


def test_a_later_roster_filling_in_the_phone_writes_out_version_one(flow):
    from yikatong.registry.models import BeneficiaryVersion

    ri = run_import(flow, csv_bytes([person_row(0, 手机号码="")]))
    assert ri.accepted == 1, ri.message
    app = Application.objects.get(roster_import=ri)
    ri2 = run_import(flow, csv_bytes([person_row(0, 手机号码="13912345678", 补贴期间="")]), period="2026-04")
    assert (ri2.accepted, ri2.rejected) == (1, 0), ri2.message
    first, second = BeneficiaryVersion.objects.filter(beneficiary=app.beneficiary_id).order_by("version")
    assert first.snapshot["phone_masked"] == "" and first.snapshot["name"] == person_row(0)["姓名"]
    assert second.snapshot["phone_masked"] == "139****5678"


def test_the_registry_page_shows_version_one(client, flow):
    _ri, apps = _imported(flow, 1)
    client.force_login(flow.users.get("collector") or flow.world.users["collector"])
    page = client.get(reverse("registry:beneficiary-detail", args=[apps[0].beneficiary_id])).content.decode()
    assert 'data-version="1"' in page and "花名册导入登记" in page
    row = page[page.index('data-version="1"'):]
    assert person_row(0)["姓名"] in row[:row.index("</tr>")]


def test_the_admin_shows_the_implied_version_one(client, flow):
    """The read-only Django admin shows version 1 of an imported person as the beneficiary page does."""
    from yikatong.registry.models import Beneficiary, BeneficiaryVersion
    from yikatong.registry.services import beneficiary_update

    _ri, apps = _imported(flow, 1)
    person = Beneficiary.objects.get(pk=apps[0].beneficiary_id)
    version = BeneficiaryVersion.objects.get(beneficiary=person)
    client.force_login(flow.world.users["admin"])
    page = client.get(f"/admin/registry/beneficiaryversion/{version.pk}/change/").content.decode()
    assert person.id_masked in page and "此后尚无变更" in page
    assert person_row(0)["身份证号"] not in page  # masked values and digests only
    beneficiary_update(actor=flow.scope("collector"), beneficiary_id=person.pk, address="万州区高笋塘街道1号",
                       reason="补充地址")
    page = client.get(f"/admin/registry/beneficiaryversion/{version.pk}/change/").content.decode()
    assert person.id_masked in page and "此后尚无变更" not in page and "万州区高笋塘街道1号" not in page
