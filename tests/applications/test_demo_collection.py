"""yikatong load-demo with the collection demo (applications/demo.py): about sixty beneficiaries with valid IDs
and card accounts, applications in every state (some overdue), a published notice with its PDF and an open
objection, a roster import with rejected rows, an online application, a township register; the demo users
can carry the story on; a second run creates nothing."""

import datetime as dt
import io
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from stdnum import luhn

from yikatong.applications import demo, selectors
from yikatong.applications.models import (
    Application,
    ApplicationEvent,
    Channel,
    NoticeEntry,
    Objection,
    PublicNotice,
    RosterImport,
    RosterRowError,
    Status,
)
from yikatong.applications.services import application_approve, application_verify, register_export_xlsx
from yikatong.applications.services.online import online_status_query
from yikatong.core import crypto
from yikatong.core import demo as core_demo
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.identity import validate_resident_id
from yikatong.core.models import AuditEvent, StoredFile, User
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_abspath
from yikatong.registry.models import AccountKind, Beneficiary, CardStatus, Household, PayeeAccount

TODAY = "2026-11-24"  # a Tuesday
MONTH = "2026-11"
MODELS = (Beneficiary, PayeeAccount, Household, Application, ApplicationEvent, PublicNotice, NoticeEntry, Objection,
          RosterImport, RosterRowError, StoredFile, AuditEvent)


def run(*args) -> str:
    out = StringIO()
    call_command("load-demo", *args, stdout=out)
    return out.getvalue()


def scope_of(username: str) -> Scope:
    return Scope.for_user(User.objects.select_related("organization").get(username=username))


def counts() -> dict:
    found = {model.__name__: model.objects.count() for model in MODELS}
    # the core demo records its (unchanged) region import on every run; everything else must stay as it was
    found["AuditEvent"] = AuditEvent.objects.exclude(action="region.import").count()
    return found


def app_of(key: str, policy: str) -> Application:
    number = demo.id_number(demo.PERSON[key])
    return Application.objects.get(beneficiary__id_digest=crypto.digest("id", number), policy__code=policy)


@pytest.fixture
def loaded(db, settings):
    settings.YIKATONG_TODAY = TODAY
    return run()


# -- the hook --------------------------------------------------------------------------------------------
def test_the_collection_demo_runs_after_the_policies_demo():
    names = [ext.name for ext in core_demo.extensions()]
    assert "collection" in names and "policies" in names
    assert names.index("policies") < names.index("collection")
    # registering again (e.g. a second ready()) keeps the order
    demo.register()
    names = [ext.name for ext in core_demo.extensions()]
    assert names.index("policies") < names.index("collection")


def test_without_the_library_nothing_is_written(world, settings):
    settings.YIKATONG_TODAY = TODAY
    with pytest.raises(DomainError, match="补贴项目库中的 CQ-001"):
        demo.load_collection_demo()
    assert not Beneficiary.objects.exists() and not Application.objects.exists()
    assert settings.YIKATONG_TODAY == TODAY


# -- the people ------------------------------------------------------------------------------------------
def test_generated_identifiers_are_valid():
    people = [*demo.PEOPLE, *(p for p, _ in demo.ROSTER_PEOPLE), demo.ROSTER_OVER_STANDARD,
              demo.ROSTER_OTHER_COUNTY, demo.CITIZEN]
    numbers = set()
    for person in people:
        number = demo.id_number(person)
        resident = validate_resident_id(number, on=dt.date(2026, 11, 24))
        assert resident.birth_date.strftime("%Y%m%d") == person.born
        assert resident.gender == ("男" if person.sex == "m" else "女")
        assert luhn.is_valid(demo.card_number(person)) and demo.card_number(person).startswith("62")
        numbers.add(number)
    assert len(numbers) == len(people)
    assert len({demo.card_number(p) for p in people}) == len(people)
    # the refused roster row really carries a wrong check digit
    with pytest.raises(DomainError, match="校验位"):
        validate_resident_id(demo.id_number(demo.ROSTER_BAD_CHECKSUM)[:-1]
                             + ("0" if demo.id_number(demo.ROSTER_BAD_CHECKSUM)[-1] != "0" else "1"))


def test_beneficiaries_households_and_card_accounts(loaded):
    assert Beneficiary.objects.count() >= 60
    wanzhou = Beneficiary.objects.filter(region_id__gte="500101000000", region_id__lte="500101999999")
    assert wanzhou.filter(region__code__startswith="500101001").exists()  # 高笋塘街道
    assert wanzhou.filter(region__code__startswith="500101002").exists()  # 太白街道
    assert Beneficiary.objects.filter(region__code__startswith="500102").count() >= 5  # 涪陵区
    shared = [h for h in Household.objects.all() if h.members.count() >= 2]
    assert len(shared) >= 3
    # elderly people: 80 and over, some with the old Sichuan region codes, most with 500101 born before 1997
    elderly = Beneficiary.objects.filter(applications__policy__code="CQ-012").distinct()
    assert elderly.count() >= 10
    cutoff = dt.date(1946, 11, 24)
    assert all(b.birth_date <= cutoff for b in elderly)
    prefixes = {demo.id_number(p)[:6] for p in demo.PEOPLE if p.village == demo.ERMALU}
    assert {"500101", "512201", "512221"} <= prefixes
    # one card, mostly activated; two not activated, one lost, one recorded transitional exception
    active = PayeeAccount.objects.filter(is_active=True)
    assert active.count() == Beneficiary.objects.count()
    assert active.filter(card_status=CardStatus.ACTIVATED).count() >= 50
    assert active.filter(card_status=CardStatus.NOT_ACTIVATED).count() == 2
    lost = active.get(card_status=CardStatus.LOST)
    assert AuditEvent.objects.filter(action="card_status.update", object_id=str(lost.pk)).exists()
    exception = active.get(kind=AccountKind.OTHER_BANK)
    assert "过渡期" in exception.exception_reason
    assert exception.beneficiary.name == "王丽萍"
    # registered through the services: a version and an audit event each
    assert AuditEvent.objects.filter(action="beneficiary.register").count() == Beneficiary.objects.count() - 6
    assert all(b.versions.exists() for b in Beneficiary.objects.all())


# -- the applications ----------------------------------------------------------------------------------
def test_applications_in_every_state_and_channel(loaded):
    by_status = {s: Application.objects.filter(status=s).count() for s in Status.values}
    assert all(n > 0 for n in by_status.values()), by_status
    assert {c: Application.objects.filter(channel=c).count() > 0 for c in Channel.values} == {
        "typed": True, "roster": True, "online": True}
    today = dt.date(2026, 11, 24)
    overdue = selectors.applications_overdue(Scope.system(), today=today)
    assert overdue.filter(status=Status.COLLECTED).count() >= 3
    assert overdue.filter(status=Status.SUBMITTED).count() == 2
    assert Application.objects.filter(status=Status.SUBMITTED, step_deadline__gte=today).exists()
    assert Application.objects.filter(status=Status.COLLECTED, step_deadline__gte=today).exists()
    # the periods are the current year's: per mu yearly, monthly this month
    farmland = Application.objects.filter(policy__code="CQ-001")
    assert set(farmland.values_list("period", flat=True)) == {"2026"}
    assert not farmland.filter(quantity=None).exists()
    for app in farmland.exclude(channel=Channel.ROSTER)[:5]:
        assert app.amount == app.quantity * Decimal("100.00")
    monthly = Application.objects.filter(policy__code__in=demo.POLICIES).exclude(policy__code="CQ-001")
    assert set(monthly.values_list("period", flat=True)) == {MONTH}
    # reasons: rejected and returned ones say why
    for app in Application.objects.filter(status=Status.REJECTED):
        assert len(app.rejection_reason) > 10
    for app in Application.objects.filter(status__in=[Status.RETURNED, Status.WITHDRAWN]):
        assert len(app.events.order_by("-at", "-pk").first().reason) > 10
    # nothing is dated after today
    assert not Application.objects.filter(step_started_on__gt=today).exists()
    # every typed or online application was created through the service (audited)
    created = AuditEvent.objects.filter(action="application.create").count()
    assert created == Application.objects.exclude(channel=Channel.ROSTER).count()
    assert AuditEvent.objects.filter(action="application.approve").count() == by_status[Status.APPROVED]


def test_a_published_notice_with_its_pdf_and_an_open_objection(loaded):
    notice = PublicNotice.objects.get(region_id=demo.GST, policy__code="CQ-009", period=MONTH)
    assert notice.status == PublicNotice.Status.OPEN and notice.is_public
    assert notice.starts_on < dt.date(2026, 11, 24) < notice.ends_on
    assert notice.entry_count == 6 and notice.entries.count() == 6
    for entry in notice.entries.select_related("application__beneficiary"):
        assert entry.name_masked != entry.application.beneficiary.name and "*" in entry.id_masked
    pdf = notice.pdf
    assert isinstance(pdf, StoredFile) and pdf.purpose == "notice_pdf"
    assert file_abspath(pdf).read_bytes().startswith(b"%PDF")
    objection = Objection.objects.get(notice=notice)
    assert objection.status == Objection.Status.OPEN
    assert objection.application.status == Status.IN_NOTICE
    assert set(notice.entries.values_list("application__status", flat=True)) == {Status.IN_NOTICE}
    # the other notices ran their course and went to the department
    from yikatong.payments import demo as payments_demo  # its own approved groups have their notices too

    theirs = [crypto.digest("id", payments_demo.id_number(p)) for p in payments_demo.ALL_PEOPLE]
    closed = (PublicNotice.objects.filter(status=PublicNotice.Status.CLOSED)
              .exclude(entries__application__beneficiary__id_digest__in=theirs))
    assert closed.count() == 4 and all(n.pdf_id for n in closed)
    # the public copy is online
    from django.test import Client

    page = Client().get(f"/notices/{notice.number}/")
    assert page.status_code == 200 and notice.number in page.content.decode()


def test_a_roster_import_with_rejected_rows(loaded):
    ri = RosterImport.objects.get()
    assert ri.status == RosterImport.Status.DONE and ri.organization.code == demo.ROSTER_ORG
    assert (ri.total_rows, ri.accepted, ri.rejected, ri.duplicates) == (9, 6, 3, 0)
    reasons = " ".join(ri.row_errors.values_list("reason", flat=True))
    assert "校验位" in reasons and "超过补贴标准" in reasons and "管辖范围" in reasons
    rejected = file_abspath(ri.rejected_file).read_bytes().decode("utf-8-sig")
    assert "错误原因" in rejected and len(rejected.strip().splitlines()) == 4
    apps = Application.objects.filter(roster_import=ri)
    assert apps.count() == 6 and set(apps.values_list("status", flat=True)) == {Status.COLLECTED}
    assert AuditEvent.objects.filter(action="roster.import").count() == 1
    # the roster page shows it to 太白街道's clerk, not to 高笋塘街道's
    from yikatong.applications.views.rosters import rosters_visible

    assert list(rosters_visible(scope_of("collector2"))) == [ri]
    assert not rosters_visible(scope_of("collector")).exists()


def test_an_online_application_the_citizen_can_follow(loaded):
    app = Application.objects.get(channel=Channel.ONLINE)
    number, id_number = demo.online_tracking()
    assert app.number == number and app.status == Status.COLLECTED
    assert app.documents.count() == 1
    assert app.collector.code == demo.ROSTER_ORG  # 太白街道办事处 verifies it
    assert number in loaded and id_number in loaded and "/apply/status/" in loaded
    status = online_status_query(number=number, id_number=id_number)
    assert status is not None and status.status == Status.COLLECTED and status.policy_name.startswith("困难群众救助补助")
    assert online_status_query(number=number, id_number=demo.id_number(demo.PERSON["by1"])) is None


def test_the_township_register_of_the_approved_set(loaded, tmp_path):
    out = io.BytesIO()
    export = register_export_xlsx(scope_of("collector"), demo.GAOSUNTANG, "CQ-001", "2026", out)
    assert export.rows == 11
    totals = demo.register_totals(2026)
    assert export.total_amount == totals["total"] == Decimal("3860.00")
    assert export.total_quantity == Decimal("38.60")
    assert out.getvalue().startswith(b"PK")
    with pytest.raises(ScopeError):
        register_export_xlsx(scope_of("collector2"), demo.GAOSUNTANG, "CQ-001", "2026", io.BytesIO())
    assert register_export_xlsx(scope_of("agri"), demo.GAOSUNTANG, "CQ-001", "2026", io.BytesIO()).rows == 11


# -- who sees what, and carrying the story on --------------------------------------------------------------
def test_each_login_sees_its_own_part(loaded):
    def regions(username):
        return set(selectors.applications_visible(scope_of(username)).values_list("region_id", flat=True))

    assert regions("collector") and all(r.startswith("500101001") for r in regions("collector"))
    assert regions("collector2") and all(r.startswith("500101002") for r in regions("collector2"))
    assert regions("village") == {demo.YONGAN}
    assert regions("fl_collector") and all(r.startswith("500102001") for r in regions("fl_collector"))
    assert not any(r.startswith("500102") for r in regions("finance"))
    civil = selectors.applications_visible(scope_of("civil"))
    assert set(civil.values_list("policy__code", flat=True)) == {"CQ-009", "CQ-012", "CQ-013"}
    waiting = selectors.applications_list(scope_of("civil"), status=Status.SUBMITTED)
    assert waiting.count() == 8
    assert set(selectors.applications_visible(scope_of("agri")).values_list("policy__code", flat=True)) == {"CQ-001"}


def test_the_demo_users_can_carry_the_story_on(loaded):
    overdue = app_of("by7", "CQ-009")
    assert overdue.status == Status.SUBMITTED
    with pytest.raises(ScopeError):
        application_approve(actor=scope_of("agri"), application_id=overdue.pk)  # not agriculture's line
    application_approve(actor=scope_of("civil"), application_id=overdue.pk, note="同意")
    assert Application.objects.get(pk=overdue.pk).status == Status.APPROVED
    waiting = app_of("em1", "CQ-012")
    with pytest.raises(ScopeError):
        application_verify(actor=scope_of("collector"), application_id=waiting.pk)  # 太白街道's
    application_verify(actor=scope_of("collector2"), application_id=waiting.pk)
    assert Application.objects.get(pk=waiting.pk).status == Status.VERIFIED


def test_pages_render_for_the_demo_logins(loaded, client):
    client.force_login(User.objects.get(username="collector"))
    page = client.get("/applications/")
    assert page.status_code == 200
    notice = PublicNotice.objects.get(region_id=demo.GST, status=PublicNotice.Status.OPEN)
    detail = client.get(f"/applications/notices/{notice.pk}/")
    assert detail.status_code == 200 and notice.number in detail.content.decode()
    client.force_login(User.objects.get(username="civil"))
    assert client.get("/applications/approval/").status_code == 200
    client.force_login(User.objects.get(username="collector2"))
    ri = RosterImport.objects.get()
    assert client.get(f"/applications/rosters/{ri.pk}/").status_code == 200


# -- the summary and idempotence ----------------------------------------------------------------------------
def test_the_summary_is_printed(loaded):
    assert "申报采集：补贴对象" in loaded
    assert "已报送待审核 8（逾期 2）" in loaded
    assert "异议待调查 1 条" in loaded
    assert "接收 6 行、拒绝 3 行" in loaded
    assert "补贴底册：高笋塘街道 耕地地力保护 2026 年度 11 人、38.60 亩、合计 3860.00 元" in loaded


def test_a_second_run_creates_nothing(loaded, settings):
    before = counts()
    output = run()
    assert counts() == before
    assert "申报采集演示数据已存在，本次没有改动" in output
    assert "演示数据已是最新，本次没有任何改动" in output
    assert demo.online_tracking()[0] in output
    # nor does a run in a later month (the monthly story is not loaded again for the new period)
    settings.YIKATONG_TODAY = "2026-12-08"
    run()
    assert counts() == before
