"""A small but complete world for tests: two counties, townships, villages, one organization and one user
per role. Tests ask for `world` and pick what they need; nothing here is random."""

from dataclasses import dataclass, field

from yikatong.core.models import BusinessLine, Organization, OrgKind, Region, Role, User
from yikatong.core.regions import level_of, parent_code_of

PASSWORD = "Yikatong#2026test"

REGIONS = [
    ("500000000000", "重庆市"),
    ("500100000000", "市辖区"),
    ("500101000000", "万州区"),
    ("500101001000", "高笋塘街道"),
    ("500101001001", "高笋塘社区"),
    ("500101002000", "太白街道"),
    ("500101002001", "太白社区"),
    ("500102000000", "涪陵区"),
    ("500102001000", "敦仁街道"),
    ("500102001001", "敦仁社区"),
]


@dataclass
class World:
    regions: dict[str, Region] = field(default_factory=dict)
    orgs: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)


def make_region(code: str, name: str) -> Region:
    parent = parent_code_of(code)
    return Region.objects.create(code=code, name=name, level=level_of(code), parent_id=parent, full_name=name)


def make_org(code, name, kind, region_code, business_line="") -> Organization:
    return Organization.objects.create(
        code=code, name=name, kind=kind, region_id=region_code, business_line=business_line
    )


def make_user(username, org: Organization, role: str, **extra) -> User:
    user = User(username=username, organization=org, role=role, full_name=extra.pop("full_name", username), **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


# key: (org code, org name, kind, region, business line, role)
ORGS = {
    "admin": ("PLAT-ADMIN", "平台运营中心", OrgKind.ADMIN, "500000000000", "", Role.ADMIN),
    "finance": ("WZ-CZJ", "万州区财政局", OrgKind.FINANCE, "500101000000", "", Role.FINANCE),
    "civil": ("WZ-MZJ", "万州区民政局", OrgKind.DEPARTMENT, "500101000000", BusinessLine.CIVIL_AFFAIRS, Role.DEPARTMENT),
    "agri": ("WZ-NYNCW", "万州区农业农村委", OrgKind.DEPARTMENT, "500101000000", BusinessLine.AGRICULTURE, Role.DEPARTMENT),
    "collector": ("WZ-GST", "高笋塘街道办事处", OrgKind.COLLECTOR, "500101001000", "", Role.COLLECTOR),
    "collector2": ("WZ-TB", "太白街道办事处", OrgKind.COLLECTOR, "500101002000", "", Role.COLLECTOR),
    "hr": ("WZ-RSJ", "万州区人力社保局", OrgKind.HR, "500101000000", "", Role.HR),
    "paying_bank": ("WZ-NSH", "重庆农商行万州分行", OrgKind.PAYING_BANK, "500101000000", "", Role.PAYING_BANK),
    "paying_bank2": ("WZ-ICBC", "工商银行万州分行", OrgKind.PAYING_BANK, "500101000000", "", Role.PAYING_BANK),
    "card_bank": ("WZ-SSKYH", "社保卡合作银行万州分行", OrgKind.CARD_BANK, "500101000000", "", Role.CARD_BANK),
    "regulator": ("WZ-JRJG", "万州金融监管分局", OrgKind.REGULATOR, "500101000000", "", Role.REGULATOR),
    "supervisor": ("WZ-SJJ", "万州区审计局", OrgKind.SUPERVISOR, "500101000000", "", Role.SUPERVISOR),
    "finance_other": ("FL-CZJ", "涪陵区财政局", OrgKind.FINANCE, "500102000000", "", Role.FINANCE),
    "collector_other": ("FL-DR", "敦仁街道办事处", OrgKind.COLLECTOR, "500102001000", "", Role.COLLECTOR),
}


def build_world() -> World:
    world = World()
    for code, name in REGIONS:
        world.regions[code] = make_region(code, name)
    for key, (code, name, kind, region, line, role) in ORGS.items():
        org = make_org(code, name, kind, region, line)
        world.orgs[key] = org
        world.users[key] = make_user(f"t_{key}", org, role, is_staff=(role == Role.ADMIN))
    return world
