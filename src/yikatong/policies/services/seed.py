"""Loading Chongqing's prescribed list (17 subsidies) as policies, for demos, tests and a first install."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.models import BusinessLine, Organization, OrgKind
from yikatong.core.scope import Scope

from ..data.chongqing_prescribed_list import DEPARTMENT_NAMES, PRESCRIBED
from ..models import Policy
from .policies import policy_create

DepartmentResolver = Callable[[str], Organization]


@dataclass
class SeedResult:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def region_department_resolver(region_code: str) -> DepartmentResolver:
    """A resolver mapping a business line to the active competent department located exactly at `region_code`
    (e.g. 重庆市农业农村委员会 at 500000000000). Raises DomainError naming the missing department."""
    region_code = region_rules.normalize_code(region_code)
    cache: dict[str, Organization] = {}

    def resolve(business_line: str) -> Organization:
        if business_line not in cache:
            org = (Organization.objects.filter(region_id=region_code, kind=OrgKind.DEPARTMENT,
                                               business_line=business_line, active=True)
                   .order_by("code").first())
            if org is None:
                wanted = DEPARTMENT_NAMES.get(business_line) or BusinessLine(business_line).label
                raise DomainError(
                    f"区划 {region_code} 没有“{BusinessLine(business_line).label}”条线的主管部门（{wanted}），"
                    "请先在机构管理中创建该部门。"
                )
            cache[business_line] = org
        return cache[business_line]

    return resolve


@transaction.atomic
def seed_chongqing_prescribed_list(*, actor: Scope, province_code: str = "500000000000",
                                   department_resolver: DepartmentResolver | None = None) -> SeedResult:
    """Create the 17 prescribed policies (CQ-001…CQ-017, active) at `province_code`, each under the department
    `department_resolver(business_line)` returns (default: the departments located at `province_code`).
    Idempotent: codes that exist are left as they are and reported in `existing`."""
    resolver = department_resolver or region_department_resolver(province_code)
    result = SeedResult()
    for spec in PRESCRIBED:
        if Policy.objects.filter(code=spec["code"]).exists():
            result.existing.append(spec["code"])
            continue
        department = resolver(spec["business_line"])
        fields = {**spec, "department": department, "region": department.region_id, "status": "active"}
        if department.region_id != region_rules.normalize_code(province_code):
            raise DomainError(f"补贴项目 {spec['code']} 的主管部门“{department.name}”不在区划 {province_code}。")
        policy_create(actor=actor, fields=fields, reason="载入重庆市补贴政策清单（规定部分）")
        result.created.append(spec["code"])
    return result
