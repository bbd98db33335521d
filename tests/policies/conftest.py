"""Fixtures of the one list: the `world` plus province-level finance and departments, the prefecture-level
finance bureau (acting for the prefecture government in change requests) and a 涪陵区 department."""

from dataclasses import dataclass

import pytest

from tests.world import make_org, make_user
from yikatong.core.models import BusinessLine, OrgKind, Role
from yikatong.core.scope import Scope
from yikatong.policies.services import (
    list_file,
    list_item_add,
    list_items_submit,
    list_publish,
    policy_create,
)

PROVINCE = "500000000000"
PREFECTURE = "500100000000"
WANZHOU = "500101000000"
FULING = "500102000000"
LIST_YEAR = 2027

# key: (code, name, kind, region, line, role)
EXTRA_ORGS = {
    "p_finance": ("CQ-CZJ", "重庆市财政局", OrgKind.FINANCE, PROVINCE, "", Role.FINANCE),
    "p_civil": ("CQ-MZJ", "重庆市民政局", OrgKind.DEPARTMENT, PROVINCE, BusinessLine.CIVIL_AFFAIRS, Role.DEPARTMENT),
    "p_agri": ("CQ-NYNCW", "重庆市农业农村委员会", OrgKind.DEPARTMENT, PROVINCE, BusinessLine.AGRICULTURE,
               Role.DEPARTMENT),
    "p_water": ("CQ-SLJ", "重庆市水利局", OrgKind.DEPARTMENT, PROVINCE, BusinessLine.WATER, Role.DEPARTMENT),
    "p_forestry": ("CQ-LYJ", "重庆市林业局", OrgKind.DEPARTMENT, PROVINCE, BusinessLine.FORESTRY, Role.DEPARTMENT),
    "p_health": ("CQ-WJW", "重庆市卫生健康委员会", OrgKind.DEPARTMENT, PROVINCE, BusinessLine.HEALTH, Role.DEPARTMENT),
    "p_emergency": ("CQ-YJJ", "重庆市应急管理局", OrgKind.DEPARTMENT, PROVINCE, BusinessLine.EMERGENCY,
                    Role.DEPARTMENT),
    "p_housing": ("CQ-ZJW", "重庆市住房和城乡建设委员会", OrgKind.DEPARTMENT, PROVINCE, BusinessLine.HOUSING,
                  Role.DEPARTMENT),
    "m_finance": ("CQ-SXQ-CZ", "市辖区财政局", OrgKind.FINANCE, PREFECTURE, "", Role.FINANCE),
    "m_civil": ("CQ-SXQ-MZ", "市辖区民政局", OrgKind.DEPARTMENT, PREFECTURE, BusinessLine.CIVIL_AFFAIRS,
                Role.DEPARTMENT),
    "fl_civil": ("FL-MZJ", "涪陵区民政局", OrgKind.DEPARTMENT, FULING, BusinessLine.CIVIL_AFFAIRS, Role.DEPARTMENT),
}


@dataclass
class OneList:
    world: object
    orgs: dict
    users: dict

    def scope(self, key: str) -> Scope:
        user = self.users.get(key) or self.world.users[key]
        return Scope.for_user(user)

    def org(self, key: str):
        return self.orgs.get(key) or self.world.orgs[key]


@pytest.fixture
def one_list(world):
    orgs, users = {}, {}
    for key, (code, name, kind, region, line, role) in EXTRA_ORGS.items():
        orgs[key] = make_org(code, name, kind, region, line)
        users[key] = make_user(f"t_{key}", orgs[key], role)
    return OneList(world=world, orgs=orgs, users=users)


@pytest.fixture
def today(settings):
    """Set the platform's "today": today("2026-11-25")."""

    def set_today(value: str):
        settings.YIKATONG_TODAY = value

    set_today("2026-11-25")
    return set_today


@pytest.fixture
def published(one_list, today):
    """CQ-X (province, 民政), WZ-001 (万州, valid to 2027-03-31) and FL-1 (涪陵) on the published 2027 list."""
    ol = one_list
    policy_create(actor=ol.scope("p_civil"),
                  fields=policy_fields(code="CQ-X", department="CQ-MZJ", level_set="provincial",
                                       funding_sources=[{"level": "provincial", "share": "100"}]))
    policy_create(actor=ol.scope("civil"), fields=policy_fields(valid_to="2027-03-31"))
    policy_create(actor=ol.scope("fl_civil"), fields=policy_fields(code="FL-1", department="FL-MZJ"))
    for key, region, code in [("p_civil", PROVINCE, "CQ-X"), ("civil", WANZHOU, "WZ-001"),
                              ("fl_civil", FULING, "FL-1")]:
        list_item_add(actor=ol.scope(key), region_code=region, year=LIST_YEAR, policy_code=code)
        list_items_submit(actor=ol.scope(key), region_code=region, year=LIST_YEAR)
    list_file(actor=ol.scope("m_finance"), region_code=PREFECTURE, year=LIST_YEAR)
    list_publish(actor=ol.scope("p_finance"), province_code=PROVINCE, year=LIST_YEAR)
    return ol


def policy_fields(**overrides) -> dict:
    """A valid county civil-affairs policy of 万州区 (department 万州区民政局)."""
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
    }
    fields.update(overrides)
    return fields
