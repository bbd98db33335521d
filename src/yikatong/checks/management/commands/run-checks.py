"""yikatong run-checks --policy CODE --period PERIOD [--region CODE] [--out FILE.csv] [--bom]

Runs every enabled cross-check rule on the applications of a policy and period (in a region and below),
prints the counts per rule and, with --out, writes every OPEN finding of that policy and period as CSV
(规则编码,姓名,身份证号,补贴项目编码,补贴期间,严重程度,证据 — ID numbers in full; the export is audited)."""

from django.core.management.base import BaseCommand, CommandError

from yikatong.checks.selectors_findings import check_run_rows
from yikatong.checks.services.findings import findings_export_csv
from yikatong.checks.services.runs import check_run_applications
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.jobs import cli_progress
from yikatong.core.scope import Scope


class Command(BaseCommand):
    help = "交叉比对核查：按补贴项目和期间核查申报，打印各规则命中数，可导出待处理疑点（CSV）"

    def add_arguments(self, parser):
        parser.add_argument("--policy", required=True, help="补贴项目编码，如 WZ-001")
        parser.add_argument("--period", required=True, help="补贴期间：2026、2026Q1 或 2026-03")
        parser.add_argument("--region", default="", help="只核查该区划及其下级（12位，或6/9位）；默认补贴项目所属区划")
        parser.add_argument("--out", default="", help="把全部待处理疑点写入该 CSV 文件（含完整身份证号）")
        parser.add_argument("--bom", action="store_true", help="CSV 文件带 UTF-8 BOM（便于 Excel 直接打开）")

    def handle(self, *args, policy, period, region, out, bom, **options):
        if region:
            try:
                region = region_rules.normalize_code(region)
            except region_rules.RegionCodeError as exc:
                raise CommandError(str(exc)) from exc
        actor = Scope.system(region, reason="cli:run-checks")
        try:
            with cli_progress(self.stderr, label="交叉比对", unit="步") as progress:
                run = check_run_applications(actor=actor, policy_code=policy, period=period,
                                             region_code=region or None, progress=progress)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        seconds = run.seconds or 0
        self.stdout.write(f"核查批次 {run.pk}：{run.policy.code} {run.period}，区划 {run.region_id}，"
                          f"核查对象 {run.subjects} 条，用时 {seconds:.1f} 秒")
        self.stdout.write("规则\t名称\t命中\t阻断待处理\t复核待处理\t新增\t重新打开\t自动关闭")
        open_total = 0
        for row in check_run_rows(run):
            if row["skipped"]:
                self.stdout.write(f"{row['rule']}\t{row['label']}\t未核查：{row['skipped']}")
                continue
            open_total += row["open_block"] + row["open_review"]
            self.stdout.write(f"{row['rule']}\t{row['label']}\t{row['hits']}\t{row['open_block']}\t"
                              f"{row['open_review']}\t{row['new']}\t{row['reopened']}\t{row['closed']}")
        self.stdout.write(f"本次核查命中的待处理疑点共 {open_total} 条。")
        if out:
            try:
                with open(out, "w", encoding="utf-8", newline="") as fh:
                    count = findings_export_csv(actor=actor, fileobj=fh, policy_code=run.policy.code,
                                                period=run.period, region_code=region or None, bom=bom)
            except OSError as exc:
                raise CommandError(f"无法写入文件 {out}：{exc.strerror or exc}") from exc
            self.stdout.write(f"已导出 {count} 条待处理疑点到 {out}（含完整身份证号，已记入审计日志）。")
