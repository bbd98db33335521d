"""yikatong indicators-report --year YEAR [--region CODE] [--verify] [--warnings]

Prints the budget indicators of a year (balances), optionally the [003 §15] allocation warnings, and with
--verify compares every balance with its ledger (exit status 1 when anything does not balance)."""

import sys

from django.core.management.base import BaseCommand, CommandError

from yikatong.core import regions as region_rules
from yikatong.core.money import format_yuan
from yikatong.core.scope import Scope
from yikatong.policies import selectors_indicators as sel
from yikatong.policies.services import indicator_verify


class Command(BaseCommand):
    help = "预算指标报表：各指标余额、分配时限预警，--verify 核对余额与台账（不平返回1）"

    def add_arguments(self, parser):
        parser.add_argument("--year", required=True, type=int, help="预算年度，如 2027")
        parser.add_argument("--region", default="", help="只看该区划及其下级（12位，或6/9位）")
        parser.add_argument("--verify", action="store_true", help="核对余额与台账")
        parser.add_argument("--warnings", action="store_true", help="列出即将到期或已超期的分配下达")

    def handle(self, *args, year, region, verify, warnings, **options):
        if region:
            try:
                region = region_rules.normalize_code(region)
            except region_rules.RegionCodeError as exc:
                raise CommandError(str(exc)) from exc
        scope = Scope.system(region, reason="cli:indicators-report")
        rows = sel.indicators_visible(scope, fiscal_year=year)
        count = 0
        for ind in rows.iterator(chunk_size=2000):
            count += 1
            self.stdout.write(
                f"{ind.pk}\t{ind.doc_no}\t{ind.policy.code}\t{ind.region_id}\t{ind.holder.name}\t"
                f"指标 {format_yuan(ind.amount)}\t下达 {format_yuan(ind.allocated_out_total)}\t"
                f"挂接 {format_yuan(ind.committed_total)}\t支付 {format_yuan(ind.paid_total)}\t"
                f"退回 {format_yuan(ind.returned_total)}\t可用 {format_yuan(ind.available)}\t{ind.get_status_display()}")
        self.stdout.write(f"{year} 年度共 {count} 个预算指标。")
        if warnings:
            found = sel.indicator_warnings(scope, fiscal_year=year)
            for w in found:
                self.stdout.write(f"预警\t{w['indicator'].doc_no}\t{w['label']}\t{w['who_label']}\t"
                                  f"期限 {w['deadline']}\t{w['state_label']}")
            self.stdout.write(f"分配下达预警 {len(found)} 条。")
        if verify:
            problems = indicator_verify(fiscal_year=year, region_code=region or None)
            for p in problems:
                self.stderr.write(f"不平：指标 {p['indicator_id']}（{p['doc_no']}）{p['detail']}")
            if problems:
                self.stderr.write(f"核对发现 {len(problems)} 处不平。")
                sys.exit(1)
            self.stdout.write("核对通过：全部指标余额与台账一致。")
