"""Fixtures of collection and approval: the `world`, the 2026 project library of 万州区 built through the
policy services (list → file → publish → library), and persons with their social security card accounts
registered through the registry services.

Policies in the library (all 万州区, year 2026):
  WZ-001  民政 monthly, fixed 300.00, online applications allowed, notices public
  WZ-PRIV 民政 monthly, fixed 500.00, notices NOT public (board only), no online applications
  WZ-TIER 民政 quarterly, tiered T1 600.00 / T2 900.00
  WZ-AG   农业 yearly, per mu 120.50
Not in the library: WZ-OUT (民政 monthly, fixed 100.00).
"""

import datetime as dt
from dataclasses import dataclass, field

import pytest

from tests.world import make_org, make_user
from yikatong.core.models import BusinessLine, OrgKind, Role
from yikatong.core.scope import Scope
from yikatong.policies.services import (
    library_build_from_list,
    list_file,
    list_item_add,
    list_items_submit,
    list_publish,
    policy_create,
)
from yikatong.registry.services import beneficiary_register_person, payee_account_set

PROVINCE = "500000000000"
PREFECTURE = "500100000000"
WANZHOU = "500101000000"
FULING = "500102000000"
TOWNSHIP = "500101001000"      # 高笋塘街道 (world collector)
VILLAGE = "500101001001"       # 高笋塘社区
TOWNSHIP2 = "500101002000"     # 太白街道 (world collector2)
VILLAGE2 = "500101002001"      # 太白社区
FL_VILLAGE = "500102001001"    # 敦仁社区 (涪陵区)
YEAR = 2026

EXTRA_ORGS = {
    "p_finance": ("CQ-CZJ", "重庆市财政局", OrgKind.FINANCE, PROVINCE, "", Role.FINANCE),
    "m_finance": ("CQ-SXQ-CZ", "市辖区财政局", OrgKind.FINANCE, PREFECTURE, "", Role.FINANCE),
    "fl_civil": ("FL-MZJ", "涪陵区民政局", OrgKind.DEPARTMENT, FULING, BusinessLine.CIVIL_AFFAIRS, Role.DEPARTMENT),
}


def resident_id(prefix: str, birth: str, seq: int) -> str:
    """A valid 18-digit resident ID (GB 11643 check digit) for region `prefix` (6 digits), birth YYYYMMDD."""
    body = f"{prefix}{birth}{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def luhn_account(stem: str) -> str:
    """`stem` + its Luhn check digit."""
    digits = [int(d) for d in stem]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return stem + str((10 - total % 10) % 10)


def policy_fields(**overrides) -> dict:
    fields = {
        "code": "WZ-001",
        "name": "万州区困难群众临时生活补助",
        "department": "WZ-MZJ",
        "level_set": "county",
        "funding_sources": [{"level": "county", "share": "100"}],
        "legal_basis": "万州府发〔2025〕1号",
        "target_group": "万州区困难群众",
        "standard_type": "fixed",
        "standard_amount": "300.00",
        "cycle": "monthly",
        "means_tested": True,
        "valid_from": "2026-01-01",
        "online_application": True,
    }
    fields.update(overrides)
    return fields


@dataclass
class Flow:
    world: object
    orgs: dict
    users: dict
    settings: object
    people: dict = field(default_factory=dict)

    def scope(self, key: str) -> Scope:
        return Scope.for_user(self.users.get(key) or self.world.users[key])

    def set_today(self, value: str) -> None:
        self.settings.YIKATONG_TODAY = value

    def person(self, key: str, *, name: str, village: str = VILLAGE, seq: int = 1, birth: str = "19600101",
               account: bool = True, collector: str = "collector"):
        """Register a person of `village` with a social security card account (through the services)."""
        actor = self.scope(collector)
        number = resident_id(village[:6], birth, seq)
        person = beneficiary_register_person(actor=actor, name=name, id_number=number, region_code=village,
                                             phone="13800138000", reason="测试登记")
        if account:
            payee_account_set(actor=actor, beneficiary_id=person.pk, kind="ssc_card", bank_name="重庆农村商业银行",
                              account_number=luhn_account(f"622000{seq:012d}"), card_status="activated",
                              reason="社保卡账户")
        person.id_number_plain = number
        self.people[key] = person
        return person


@pytest.fixture
def flow(world, settings):
    orgs, users = {}, {}
    for key, (code, name, kind, region, line, role) in EXTRA_ORGS.items():
        orgs[key] = make_org(code, name, kind, region, line)
        users[key] = make_user(f"t_{key}", orgs[key], role)
    f = Flow(world=world, orgs=orgs, users=users, settings=settings)
    f.set_today("2025-11-20")
    civil, agri = f.scope("civil"), f.scope("agri")
    policy_create(actor=civil, fields=policy_fields())
    policy_create(actor=civil, fields=policy_fields(code="WZ-PRIV", name="万州区特殊困难补助",
                                                    standard_amount="500.00", notice_public=False,
                                                    online_application=False))
    policy_create(actor=civil, fields=policy_fields(
        code="WZ-TIER", name="万州区残疾人两项补贴", standard_type="tiered", standard_amount="0",
        tiers=[{"code": "T1", "label": "一级", "amount": "600.00"}, {"code": "T2", "label": "二级", "amount": "900.00"}],
        cycle="quarterly"))
    policy_create(actor=agri, fields=policy_fields(
        code="WZ-AG", name="万州区耕地地力保护补贴", department="WZ-NYNCW", standard_type="per_unit",
        standard_amount="120.50", unit_name="亩", cycle="yearly", means_tested=False))
    policy_create(actor=civil, fields=policy_fields(code="WZ-OUT", name="万州区未入库补助", standard_amount="100.00"))
    for code in ("WZ-001", "WZ-PRIV", "WZ-TIER"):
        list_item_add(actor=civil, region_code=WANZHOU, year=YEAR, policy_code=code)
    list_item_add(actor=agri, region_code=WANZHOU, year=YEAR, policy_code="WZ-AG")
    list_items_submit(actor=civil, region_code=WANZHOU, year=YEAR)
    list_items_submit(actor=agri, region_code=WANZHOU, year=YEAR)
    list_file(actor=f.scope("m_finance"), region_code=PREFECTURE, year=YEAR)
    list_publish(actor=f.scope("p_finance"), province_code=PROVINCE, year=YEAR)
    library_build_from_list(actor=f.scope("p_finance"), province_code=PROVINCE, year=YEAR)
    f.set_today("2026-03-02")  # a Monday
    return f


@pytest.fixture
def zhang(flow):
    return flow.person("zhang", name="张三丰", seq=11)


@pytest.fixture
def li(flow):
    return flow.person("li", name="李四", seq=12)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
