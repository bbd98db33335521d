"""Demo data: the regions of the demo CSV, a complete set of organizations for 万州区 (plus a 涪陵区 finance
bureau and collector to show region scope), and one login per role, all with the same password.

`demo_accounts()` is the single list of demo logins; `make run` (via `yikatong load-demo`), docs/demo.md and
the browser tests all use it. Everything goes through the normal services (region import, organization and
user creation), so demo data obeys the same rules and lands in the audit chain like any other data.

Other apps add their own demo data through a `DemoExtension` registered from their AppConfig.ready()
(`register_extension`): its organizations and logins join the lists below, and its `load(progress=...)` runs
after the users exist, in the same transaction — so core never imports another app's internals.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from yikatong.core.errors import DomainError
from yikatong.core.models import BusinessLine, Organization, OrgKind, Region, Role, User
from yikatong.core.regions import TOWNSHIP, VILLAGE
from yikatong.core.scope import Scope

REGIONS_CSV = Path(__file__).resolve().parent / "data" / "regions_demo.csv"
PASSWORD = "Yikatong@2026"

PLATFORM = "500000000000"   # 重庆市
WANZHOU = "500101000000"    # 万州区 — the demo county
FULING = "500102000000"     # 涪陵区 — a second county, to show that scope separates them
GAOSUNTANG = "500101001000"  # 高笋塘街道
TAIBAI = "500101002000"     # 太白街道
DUNREN = "500102001000"     # 涪陵区敦仁街道


class DemoError(Exception):
    """The demo cannot be loaded (a region is missing, a service refused); the message says why."""


@dataclass(frozen=True)
class DemoOrg:
    code: str
    name: str
    kind: str
    region_code: str
    business_line: str = ""
    bank_code: str = ""
    credit_code: str = ""


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    role: str
    org_code: str
    sees: str  # one line for docs/demo.md and the printed table: what this login is for

    @property
    def password(self) -> str:
        return PASSWORD

    @property
    def role_label(self) -> str:
        return Role(self.role).label


# Fixed organizations. Township collectors (one per township/street of 万州区 in the CSV) are added by
# township_collectors(); the village committee and the welfare home by _special_collectors().
ORGS: list[DemoOrg] = [
    DemoOrg("PLAT-YYZX", "一卡通平台运营中心", OrgKind.ADMIN, PLATFORM),
    DemoOrg("WZ-CZJ", "万州区财政局", OrgKind.FINANCE, WANZHOU),
    DemoOrg("WZ-NYNCW", "万州区农业农村委员会", OrgKind.DEPARTMENT, WANZHOU, BusinessLine.AGRICULTURE),
    DemoOrg("WZ-SLJ", "万州区水利局", OrgKind.DEPARTMENT, WANZHOU, BusinessLine.WATER),
    DemoOrg("WZ-LYJ", "万州区林业局", OrgKind.DEPARTMENT, WANZHOU, BusinessLine.FORESTRY),
    DemoOrg("WZ-WJW", "万州区卫生健康委员会", OrgKind.DEPARTMENT, WANZHOU, BusinessLine.HEALTH),
    DemoOrg("WZ-MZJ", "万州区民政局", OrgKind.DEPARTMENT, WANZHOU, BusinessLine.CIVIL_AFFAIRS),
    DemoOrg("WZ-YJJ", "万州区应急管理局", OrgKind.DEPARTMENT, WANZHOU, BusinessLine.EMERGENCY),
    DemoOrg("WZ-ZJW", "万州区住房和城乡建设委员会", OrgKind.DEPARTMENT, WANZHOU, BusinessLine.HOUSING),
    DemoOrg("WZ-RSJ", "万州区人力资源和社会保障局", OrgKind.HR, WANZHOU),
    DemoOrg("WZ-CRCB", "重庆农村商业银行万州分行", OrgKind.PAYING_BANK, WANZHOU, bank_code="CRCB"),
    DemoOrg("WZ-ABC", "中国农业银行万州分行（社会保障卡合作银行）", OrgKind.CARD_BANK, WANZHOU, bank_code="ABC"),
    DemoOrg("WZ-JRJG", "国家金融监督管理总局万州监管分局", OrgKind.REGULATOR, WANZHOU),
    DemoOrg("WZ-SJJ", "万州区审计局", OrgKind.SUPERVISOR, WANZHOU),
    DemoOrg("FL-CZJ", "涪陵区财政局", OrgKind.FINANCE, FULING),
]
VILLAGE_ORG = "WZ-CWH"        # the first rural village of 万州区 in the CSV (name from the CSV)
WELFARE_ORG = "WZ-SHFLY"      # 万州区社会福利院, a special institution collecting for its residents


def collector_org_code(region_code: str) -> str:
    """Organization code of the collector (township/street office) for a township region code."""
    return "CJ" + region_code[:9]


_ACCOUNTS: list[DemoAccount] = [
    DemoAccount("admin", "周平", Role.ADMIN, "PLAT-YYZX", "系统管理：区划、机构、用户、日历、接口凭证；Django 后台"),
    DemoAccount("finance", "陈静", Role.FINANCE, "WZ-CZJ", "万州区全部条线：政策清单、预算指标、支付审核、清算对账"),
    DemoAccount("agri", "刘强", Role.DEPARTMENT, "WZ-NYNCW", "万州区农业农村条线：审核、发放方案、支付申请"),
    DemoAccount("water", "王磊", Role.DEPARTMENT, "WZ-SLJ", "万州区水利条线（水库移民后期扶持）"),
    DemoAccount("forestry", "杨林", Role.DEPARTMENT, "WZ-LYJ", "万州区林业条线（退耕还林、森林生态效益补偿）"),
    DemoAccount("health", "赵敏", Role.DEPARTMENT, "WZ-WJW", "万州区卫生健康条线（计划生育奖励扶助）"),
    DemoAccount("civil", "黄丽", Role.DEPARTMENT, "WZ-MZJ", "万州区民政条线（低保、特困、临时救助、残疾人两项补贴）"),
    DemoAccount("emergency", "吴刚", Role.DEPARTMENT, "WZ-YJJ", "万州区应急管理条线（自然灾害生活补助）"),
    DemoAccount("housing", "徐建", Role.DEPARTMENT, "WZ-ZJW", "万州区住房城乡建设条线（农村危房改造）"),
    DemoAccount("collector", "孙红", Role.COLLECTOR, collector_org_code(GAOSUNTANG), "高笋塘街道：采集申请、入户核实、公示"),
    DemoAccount("collector2", "马超", Role.COLLECTOR, collector_org_code(TAIBAI), "太白街道：同上，看不到高笋塘街道的数据"),
    DemoAccount("village", "朱芳", Role.COLLECTOR, VILLAGE_ORG, "村民委员会（万州区第一个行政村，如甘宁镇永安村）：只看本村"),
    DemoAccount("welfare", "胡军", Role.COLLECTOR, WELFARE_ORG, "万州区社会福利院（特殊机构）：为院内供养对象采集"),
    DemoAccount("bank", "郭涛", Role.PAYING_BANK, "WZ-CRCB", "代发银行：只看本行的代发批次，回盘结果"),
    DemoAccount("cardbank", "何燕", Role.CARD_BANK, "WZ-ABC", "社保卡合作银行：账户核验、入账短信"),
    DemoAccount("hr", "高峰", Role.HR, "WZ-RSJ", "人社部门：社保卡发卡、激活状态"),
    DemoAccount("regulator", "林欣", Role.REGULATOR, "WZ-JRJG", "金融监管：银行代发及时性、准确性（只读）"),
    DemoAccount("supervisor", "郑洁", Role.SUPERVISOR, "WZ-SJJ", "审计监督：万州区全部数据只读、导出"),
    DemoAccount("fl_finance", "罗斌", Role.FINANCE, "FL-CZJ", "涪陵区财政局：只看涪陵区，看不到万州区"),
    DemoAccount("fl_collector", "梁艳", Role.COLLECTOR, collector_org_code(DUNREN), "涪陵区敦仁街道：只看敦仁街道"),
]


def demo_accounts() -> list[DemoAccount]:
    """The demo logins (same password for all: PASSWORD), one per role and a few more to show scope, then
    the logins of the registered extensions."""
    return list(_ACCOUNTS) + [account for ext in extensions() for account in ext.accounts]


# -- extensions (demo data of other apps) -------------------------------------------------------------
@dataclass(frozen=True)
class DemoExtension:
    """Demo data contributed by another app. `orgs` and `accounts` are created by load_demo with the core
    ones; `load(progress=callable)` runs after them in the same transaction, must be idempotent (a second
    run creates nothing) and returns a summary dict: "changed" (bool) and "message" (one line to print)."""

    name: str
    load: Callable[..., dict]
    orgs: tuple[DemoOrg, ...] = ()
    accounts: tuple[DemoAccount, ...] = ()


_EXTENSIONS: dict[str, DemoExtension] = {}


def register_extension(extension: DemoExtension) -> None:
    """Register (or replace, by name) an extension; called from an AppConfig.ready()."""
    _EXTENSIONS[extension.name] = extension


def extensions() -> list[DemoExtension]:
    return list(_EXTENSIONS.values())


# -- loading ----------------------------------------------------------------------------------------
@dataclass
class DemoResult:
    skipped: bool = False           # --if-empty and users existed: nothing was done
    regions_created: int = 0
    regions_updated: int = 0
    orgs_created: int = 0
    orgs_existing: int = 0
    users_created: int = 0
    users_existing: int = 0
    passwords_reset: int = 0
    extensions: dict[str, dict] = field(default_factory=dict)  # name -> summary returned by its load()

    @property
    def changed(self) -> bool:
        return bool(self.regions_created or self.regions_updated or self.orgs_created or self.users_created
                    or self.passwords_reset or any(s.get("changed") for s in self.extensions.values()))


def _township_suffix(name: str) -> str:
    if name.endswith("街道"):
        return "办事处"
    return "人民政府"  # 镇、乡


def _committee_name(village: Region) -> str:
    return village.name + ("居民委员会" if village.name.endswith("社区") else "村民委员会")


def _require_region(code: str) -> Region:
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise DemoError(f"演示区划 {code} 不存在：请检查 {REGIONS_CSV.name} 是否包含该区划。")
    return region


def demo_organizations() -> list[DemoOrg]:
    """All demo organizations; needs the regions in the database (collectors follow the CSV)."""
    orgs = list(ORGS)
    for town in Region.objects.filter(level=TOWNSHIP, code__startswith=WANZHOU[:6]).order_by("code"):
        orgs.append(DemoOrg(collector_org_code(town.code), town.name + _township_suffix(town.name),
                            OrgKind.COLLECTOR, town.code))
    dunren = _require_region(DUNREN)
    orgs.append(DemoOrg(collector_org_code(DUNREN), dunren.name + _township_suffix(dunren.name),
                        OrgKind.COLLECTOR, DUNREN))
    villages = Region.objects.filter(level=VILLAGE, code__startswith=WANZHOU[:6]).order_by("code")
    village = villages.filter(name__endswith="村").first() or villages.first()
    if village is None:
        raise DemoError(f"演示区划缺少万州区（{WANZHOU}）下的村或社区：请检查 {REGIONS_CSV.name}。")
    orgs.append(DemoOrg(VILLAGE_ORG, _committee_name(village), OrgKind.COLLECTOR, village.code))
    # The welfare home sits in 太白街道; it collects for the residents registered at the home.
    orgs.append(DemoOrg(WELFARE_ORG, "万州区社会福利院", OrgKind.COLLECTOR, _require_region(TAIBAI).code))
    for ext in extensions():
        for org in ext.orgs:
            _require_region(org.region_code)
            orgs.append(org)
    return orgs


def has_users() -> bool:
    return User.objects.exists()


def load_demo(*, if_empty: bool = False, reset_passwords: bool = False, regions_csv: Path | str | None = None,
              progress=None) -> DemoResult:
    """Load the demo. Idempotent: what exists is kept (matched by region code, organization code and
    username), only what is missing is created. With `if_empty`, nothing at all is done when any user
    exists. With `reset_passwords`, the demo accounts get the demo password back and are unlocked."""
    from yikatong.core.services.orgs import organization_create
    from yikatong.core.services.regions import region_import_csv
    from yikatong.core.services.users import user_create, user_set_password, user_unlock

    result = DemoResult()
    say = progress or (lambda message: None)
    if if_empty and has_users():
        result.skipped = True
        if not reset_passwords:
            return result
    actor = Scope.system(reason="load-demo")
    try:
        with transaction.atomic():
            if not result.skipped:
                path = Path(regions_csv) if regions_csv else REGIONS_CSV
                say(f"导入行政区划：{path.name}")
                imported = region_import_csv(actor=actor, path_or_file=path)
                if not imported.ok:
                    details = "；".join(f"第{e.row}行 {e.column}：{e.reason}" for e in imported.errors[:5])
                    raise DemoError(f"{imported.summary()} {details}".strip())
                result.regions_created, result.regions_updated = imported.created, imported.updated

                say("创建演示机构")
                existing_orgs = set(Organization.objects.values_list("code", flat=True))
                for org in demo_organizations():
                    if org.code in existing_orgs:
                        result.orgs_existing += 1
                        continue
                    organization_create(
                        actor=actor, code=org.code, name=org.name, kind=org.kind, region_code=org.region_code,
                        business_line=org.business_line, credit_code=org.credit_code, bank_code=org.bank_code,
                    )
                    result.orgs_created += 1

                say("创建演示账号")
                existing_users = {u.lower() for u in User.objects.values_list("username", flat=True)}
                for account in demo_accounts():
                    if account.username.lower() in existing_users:
                        result.users_existing += 1
                        continue
                    user_create(
                        actor=actor, username=account.username, password=PASSWORD,
                        organization_code=account.org_code, role=account.role, full_name=account.full_name,
                    )
                    result.users_created += 1

                for ext in extensions():
                    result.extensions[ext.name] = ext.load(progress=say) or {}

            if reset_passwords:
                say("重置演示账号密码并解除锁定")
                for account in demo_accounts():
                    if not User.objects.filter(username=account.username).exists():
                        continue
                    user_set_password(actor=actor, username=account.username, password=PASSWORD)
                    user_unlock(actor=actor, username=account.username)
                    result.passwords_reset += 1
    except DomainError as exc:
        raise DemoError(exc.message) from exc
    return result


def account_rows() -> list[tuple[str, str, str, str]]:
    """(username, role, organization, region) of each demo account as stored now, for the printed table."""
    accounts = demo_accounts()
    users = {u.username: u for u in User.objects.select_related("organization__region")
             .filter(username__in=[a.username for a in accounts])}
    rows = []
    for account in accounts:
        user = users.get(account.username)
        if user is None:
            rows.append((account.username, account.role_label, "（未创建）", ""))
            continue
        org = user.organization
        rows.append((account.username, user.get_role_display(), org.name if org else "",
                     org.region.name if org else ""))
    return rows
