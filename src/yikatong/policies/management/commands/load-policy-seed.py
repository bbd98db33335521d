"""yikatong load-policy-seed [--province 500000000000]

Loads Chongqing's prescribed policy list (17 subsidies, CQ-001…CQ-017) under the competent departments
located at the province-level region. Idempotent: existing codes are left unchanged."""

from django.core.management.base import BaseCommand, CommandError

from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.models import Region
from yikatong.core.scope import Scope
from yikatong.policies.services.seed import region_department_resolver, seed_chongqing_prescribed_list


class Command(BaseCommand):
    help = "载入重庆市惠民惠农财政补贴政策清单（规定部分，17项）"

    def add_arguments(self, parser):
        parser.add_argument("--province", default="500000000000", help="省级区划代码（默认 500000000000 重庆市）")

    def handle(self, *args, province, **options):
        try:
            province = region_rules.normalize_code(province)
        except region_rules.RegionCodeError as exc:
            raise CommandError(str(exc)) from exc
        if region_rules.level_of(province) != region_rules.PROVINCE:
            raise CommandError(f"区划 {province} 不是省级区划。")
        if not Region.objects.filter(pk=province).exists():
            raise CommandError(f"区划 {province} 不存在，请先导入行政区划。")
        actor = Scope.system(reason="load-policy-seed")
        try:
            result = seed_chongqing_prescribed_list(
                actor=actor, province_code=province, department_resolver=region_department_resolver(province)
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"已新建补贴项目 {len(result.created)} 个，已存在 {len(result.existing)} 个。")
        if result.created:
            self.stdout.write("新建：" + "、".join(result.created))
