"""yikatong library-check --policy CODE --region CODE --year YEAR

Answers whether a policy may be paid in a region for a year (the project-library rule of
services.library_require). Exit status 0 = allowed, 1 = refused (the reason is printed)."""

import sys

from django.core.management.base import BaseCommand, CommandError

from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.policies.services import library_require


class Command(BaseCommand):
    help = "检查补贴项目在某年度、某区划是否在补贴项目库中（可发放返回0，不可发放返回1）"

    def add_arguments(self, parser):
        parser.add_argument("--policy", required=True, help="补贴项目编码，如 CQ-001")
        parser.add_argument("--region", required=True, help="行政区划代码（12位，或6/9位）")
        parser.add_argument("--year", required=True, type=int, help="年度，如 2026")

    def handle(self, *args, policy, region, year, **options):
        try:
            region = region_rules.normalize_code(region)
        except region_rules.RegionCodeError as exc:
            raise CommandError(str(exc)) from exc
        try:
            library_require(policy=policy, region_code=region, year=year)
        except DomainError as exc:
            self.stderr.write(f"不可发放：{exc.message}")
            sys.exit(1)
        self.stdout.write(f"可发放：补贴项目 {policy} 在 {year} 年度区划 {region} 的补贴项目库中。")
