"""Chongqing's prescribed list: 17 policies under the municipal departments, idempotent, via CLI too."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yikatong.core.errors import DomainError
from yikatong.core.models import Organization
from yikatong.core.scope import Scope
from yikatong.policies import rules
from yikatong.policies.models import Policy
from yikatong.policies.services.seed import region_department_resolver, seed_chongqing_prescribed_list


def test_seed_loads_17_policies_with_their_departments(one_list):
    result = seed_chongqing_prescribed_list(actor=Scope.system(),
                                            department_resolver=region_department_resolver("500000000000"))
    assert len(result.created) == 17 and result.existing == []
    assert Policy.objects.count() == 17
    assert list(Policy.objects.values_list("code", flat=True)) == [f"CQ-{i:03d}" for i in range(1, 18)]
    farmland = Policy.objects.get(code="CQ-001")
    assert farmland.name == "耕地地力保护补贴资金" and farmland.department.code == "CQ-NYNCW"
    assert farmland.standard_type == "per_unit" and farmland.unit_name == "亩" and not farmland.means_tested
    assert rules.max_amount(farmland, quantity="2.5") == Decimal("250.00")
    assert Policy.objects.get(code="CQ-003").standard_amount == Decimal("600.00")
    assert Policy.objects.get(code="CQ-002").standard_type == "tiered"
    assert Policy.objects.get(code="CQ-012").min_age == 80
    assert Policy.objects.get(code="CQ-007").min_age == 60
    dibao = Policy.objects.get(code="CQ-009")
    assert dibao.means_tested and dibao.cycle == "monthly"
    assert list(dibao.exclusive_with.values_list("code", flat=True)) == ["CQ-010"]
    assert Policy.objects.get(code="CQ-016").department.code == "CQ-YJJ"
    assert Policy.objects.get(code="CQ-017").department.code == "CQ-ZJW"
    assert all(p.status == "active" and p.region_id == "500000000000" for p in Policy.objects.all())
    again = seed_chongqing_prescribed_list(actor=Scope.system())
    assert again.created == [] and len(again.existing) == 17


def test_seed_with_a_custom_resolver_and_missing_department(world):
    with pytest.raises(DomainError, match="没有“农业农村”条线的主管部门（重庆市农业农村委员会）"):
        seed_chongqing_prescribed_list(actor=Scope.system())
    assert not Policy.objects.exists()
    # a resolver of the demo loader may map every line to organizations it created
    orgs = {}

    def resolver(line):
        if line not in orgs:
            orgs[line] = Organization.objects.create(code=f"CQ-{line}", name=f"市{line}", kind="department",
                                                     region_id="500000000000", business_line=line)
        return orgs[line]

    result = seed_chongqing_prescribed_list(actor=Scope.system(), department_resolver=resolver)
    assert len(result.created) == 17 and len(orgs) == 7


def test_load_policy_seed_command(one_list):
    out = StringIO()
    call_command("load-policy-seed", stdout=out)
    assert "已新建补贴项目 17 个" in out.getvalue()
    out = StringIO()
    call_command("load-policy-seed", stdout=out)
    assert "已新建补贴项目 0 个，已存在 17 个" in out.getvalue()
    with pytest.raises(CommandError, match="不是省级区划"):
        call_command("load-policy-seed", "--province", "500101000000")
    with pytest.raises(CommandError, match="不存在"):
        call_command("load-policy-seed", "--province", "510000000000")
