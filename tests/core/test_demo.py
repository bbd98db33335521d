"""yikatong load-demo: every role gets a login, repeated runs change nothing, scope is demonstrable."""

from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.core.management.base import CommandError

from yikatong.core import demo
from yikatong.core.models import AuditEvent, BusinessLine, Organization, OrgKind, Region, Role, User
from yikatong.core.regions import TOWNSHIP
from yikatong.core.roles import ROLES_FOR_KIND
from yikatong.core.scope import Scope


def run(*args) -> str:
    out = StringIO()
    call_command("load-demo", *args, stdout=out)
    return out.getvalue()


def counts() -> tuple[int, int, int, int]:
    return (Region.objects.count(), Organization.objects.count(), User.objects.count(), AuditEvent.objects.count())


@pytest.fixture
def loaded(db):
    output = run()
    return output


def test_every_role_has_a_demo_account_with_a_unique_name():
    accounts = demo.demo_accounts()
    assert {a.role for a in accounts} == set(Role.values)
    names = [a.username for a in accounts]
    assert len(names) == len(set(names))
    for expected in ("admin", "finance", "agri", "civil", "forestry", "water", "health", "emergency", "housing",
                     "collector", "collector2", "bank", "cardbank", "hr", "regulator", "supervisor"):
        assert expected in names


def test_demo_password_passes_the_password_validators():
    for account in demo.demo_accounts():
        validate_password(demo.PASSWORD, user=User(username=account.username))


def test_load_demo_creates_every_account_in_its_organization(loaded):
    for account in demo.demo_accounts():
        user = User.objects.select_related("organization").get(username=account.username)
        assert user.role == account.role
        assert user.organization.code == account.org_code
        assert user.role in ROLES_FOR_KIND[user.organization.kind]
        assert user.full_name == account.full_name
        assert user.is_active
        assert user.check_password(demo.PASSWORD)
        assert user.is_staff == (account.role == Role.ADMIN)
    # created through the services, hence audited
    assert AuditEvent.objects.filter(action="user.create").count() == len(demo.demo_accounts())
    assert AuditEvent.objects.filter(action="org.create").count() == Organization.objects.count()
    assert AuditEvent.objects.filter(action="region.import").count() == 1


def test_command_prints_the_accounts_and_the_password(loaded):
    for account in demo.demo_accounts():
        assert account.username in loaded
    assert f"密码：{demo.PASSWORD}" in loaded
    assert "高笋塘街道办事处" in loaded
    assert "万州区财政局" in loaded
    assert f"账号：新增 {len(demo.demo_accounts())}" in loaded


def test_organizations_follow_the_chongqing_list(loaded):
    wanzhou = Organization.objects.filter(region_id=demo.WANZHOU)
    lines = set(wanzhou.filter(kind=OrgKind.DEPARTMENT).values_list("business_line", flat=True))
    assert lines == {BusinessLine.AGRICULTURE, BusinessLine.WATER, BusinessLine.FORESTRY, BusinessLine.HEALTH,
                     BusinessLine.CIVIL_AFFAIRS, BusinessLine.EMERGENCY, BusinessLine.HOUSING}
    for kind in (OrgKind.FINANCE, OrgKind.HR, OrgKind.PAYING_BANK, OrgKind.CARD_BANK, OrgKind.REGULATOR,
                 OrgKind.SUPERVISOR):
        assert wanzhou.filter(kind=kind).count() == 1, kind
    assert Organization.objects.get(kind=OrgKind.PAYING_BANK).bank_code == "CRCB"
    assert Organization.objects.get(kind=OrgKind.CARD_BANK).bank_code == "ABC"
    admin_org = Organization.objects.get(kind=OrgKind.ADMIN)
    assert admin_org.region_id == demo.PLATFORM
    assert Organization.objects.get(region_id=demo.FULING, kind=OrgKind.FINANCE).name == "涪陵区财政局"


def test_every_wanzhou_township_has_a_collector(loaded):
    townships = Region.objects.filter(level=TOWNSHIP, code__startswith="500101")
    assert townships.count() >= 2
    for town in townships:
        org = Organization.objects.get(code=demo.collector_org_code(town.code))
        assert org.kind == OrgKind.COLLECTOR
        assert org.region_id == town.code
        assert org.name.startswith(town.name)
    assert Organization.objects.get(code=demo.collector_org_code(demo.GAOSUNTANG)).name == "高笋塘街道办事处"
    village = Organization.objects.get(code=demo.VILLAGE_ORG)
    assert village.name.endswith("村民委员会") or village.name.endswith("居民委员会")
    assert village.region.level == 5
    welfare = Organization.objects.get(code=demo.WELFARE_ORG)
    assert welfare.name == "万州区社会福利院" and welfare.kind == OrgKind.COLLECTOR


def test_if_empty_second_run_is_a_no_op(db):
    run("--if-empty")
    before = counts()
    output = run("--if-empty")
    assert counts() == before
    assert "没有任何改动" in output
    assert demo.PASSWORD not in output  # nothing was loaded, nothing to announce


def test_if_empty_does_nothing_when_any_user_exists(world):
    before = counts()
    output = run("--if-empty")
    assert counts() == before
    assert not User.objects.filter(username="finance").exists()
    assert "未载入演示数据" in output


def test_plain_second_run_creates_nothing_new(loaded):
    regions, orgs, users, _ = counts()
    output = run()
    assert counts()[:3] == (regions, orgs, users)
    assert "演示数据已是最新，本次没有任何改动" in output
    assert "机构：新增 0" in output and "账号：新增 0" in output


def test_reset_passwords_restores_the_demo_password_and_unlocks(loaded):
    user = User.objects.get(username="finance")
    user.set_password("Changed#Password2026")
    user.save()
    AccessAttempt.objects.create(username="hr", ip_address="127.0.0.1", user_agent="test", failures_since_start=5,
                                 get_data="", post_data="", http_accept="", path_info="/login/")
    output = run("--if-empty", "--reset-passwords")
    assert User.objects.get(username="finance").check_password(demo.PASSWORD)
    assert not AccessAttempt.objects.filter(username="hr").exists()
    assert f"已重置 {len(demo.demo_accounts())} 个演示账号的密码" in output
    assert AuditEvent.objects.filter(action="user.set_password").count() == len(demo.demo_accounts())


def test_missing_region_fails_clearly_and_writes_nothing(db, tmp_path):
    lines = demo.REGIONS_CSV.read_text(encoding="utf-8").splitlines()
    without_fuling = [line for line in lines if not line.startswith("500102")]
    csv_path = tmp_path / "regions.csv"
    csv_path.write_text("\n".join(without_fuling) + "\n", encoding="utf-8")
    with pytest.raises(CommandError) as excinfo:
        run("--regions", str(csv_path))
    assert "演示数据载入失败" in str(excinfo.value)
    assert "500102001000" in str(excinfo.value)
    assert Organization.objects.count() == 0
    assert User.objects.count() == 0


def test_broken_region_file_is_reported(db, tmp_path):
    csv_path = tmp_path / "regions.csv"
    csv_path.write_text("code,name\n123,坏代码\n", encoding="utf-8")
    with pytest.raises(CommandError) as excinfo:
        run("--regions", str(csv_path))
    assert "第2行" in str(excinfo.value)
    assert Region.objects.count() == 0


# -- scope is demonstrable with the demo logins ------------------------------------------------------
def scope_of(username: str) -> Scope:
    return Scope.for_user(User.objects.select_related("organization").get(username=username))


def test_township_collector_sees_only_its_township(loaded):
    scope = scope_of("collector")
    assert scope.region_code == demo.GAOSUNTANG
    assert scope.covers_region("500101001001")        # 高笋塘社区
    assert not scope.covers_region("500101002001")    # 太白社区
    assert not scope.covers_region(demo.WANZHOU)
    other = scope_of("collector2")
    assert other.covers_region("500101002001") and not other.covers_region("500101001001")
    towns = scope.filter(Region.objects.filter(level=TOWNSHIP), region_field="code")
    assert list(towns.values_list("code", flat=True)) == [demo.GAOSUNTANG]


def test_village_committee_sees_only_its_village(loaded):
    scope = scope_of("village")
    village = Organization.objects.get(code=demo.VILLAGE_ORG).region
    assert scope.filter(Region.objects.all(), region_field="code").count() == 1
    assert scope.covers_region(village.code)
    assert not scope.covers_region(village.parent_id)


def test_counties_do_not_see_each_other(loaded):
    wanzhou, fuling = scope_of("finance"), scope_of("fl_finance")
    assert wanzhou.covers_region("500101001001") and not wanzhou.covers_region("500102001001")
    assert fuling.covers_region("500102001001") and not fuling.covers_region("500101001001")
    assert not scope_of("fl_collector").covers_region("500102002000")  # 崇义街道, next door
    assert scope_of("admin").covers_region("500102001001")


def test_department_scope_carries_its_business_line(loaded):
    assert scope_of("civil").business_line == BusinessLine.CIVIL_AFFAIRS
    assert not scope_of("civil").sees_all_lines
    assert scope_of("agri").business_line == BusinessLine.AGRICULTURE
    assert scope_of("bank").own_org_only
    assert scope_of("supervisor").read_only
