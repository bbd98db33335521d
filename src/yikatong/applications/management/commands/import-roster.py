"""`yikatong import-roster FILE --policy CODE --period PERIOD --org ORGCODE`: import a roster (花名册).

Same service as the UI upload (applications.roster): the original file is kept, every row is accepted or
reported with its reason, rejected rows come back as a file to correct and upload again. Exits non-zero
when the file is refused as a whole or when no row was accepted.
"""

import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from yikatong.applications.models import RosterImport
from yikatong.applications.roster import roster_import_create, roster_import_run
from yikatong.core.errors import DomainError
from yikatong.core.jobs import cli_progress
from yikatong.core.models import Organization
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_abspath

SHOWN_ERRORS = 20


class Command(BaseCommand):
    help = (
        "导入补贴花名册（UTF-8 CSV 或 XLSX，表头：姓名, 身份证号, 社保卡银行账号, 开户银行, 手机号码, 行政区划代码, "
        "补贴项目编码, 补贴期间, 补贴数量, 补贴金额, 备注；单位用 单位名称, 统一社会信用代码, 对公账号 代替前三列）。"
        "补贴项目编码、补贴期间为空的单元格取命令行指定的值；与之不同的行被拒绝。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="花名册文件路径（.csv 或 .xlsx）")
        parser.add_argument("--policy", required=True, help="补贴项目编码")
        parser.add_argument("--period", required=True, help="补贴期间：2026、2026Q1 或 2026-03")
        parser.add_argument("--org", required=True, help="采集主体（机构编码），花名册中的区划须在其辖区内")

    def handle(self, *args, **options):
        source = Path(options["file"])
        if not source.is_file():
            raise CommandError(f"文件不存在：{source}")
        org = Organization.objects.filter(code=options["org"].strip()).first()
        if org is None:
            raise CommandError(f"机构编码 {options['org']} 不存在：请用机构列表中的编码。")
        actor = Scope.system(org.region_id, reason=f"cli:{_os_user()}")
        try:
            with open(source, "rb") as fh:
                ri = roster_import_create(actor=actor, fileobj=fh, original_name=source.name,
                                          policy_code=options["policy"], period=options["period"], organization=org)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"正在导入 {source}（导入编号 {ri.pk}）…")
        with cli_progress(self.stderr, label="导入花名册") as progress:
            ri = roster_import_run(roster_import_id=ri.pk, progress=progress)
        if ri.status != RosterImport.Status.DONE:
            raise CommandError(f"花名册未导入：{ri.message}")
        self._report(ri)
        if ri.accepted == 0:
            raise CommandError("没有接收任何行：请按错误原因改正后重新导入。")

    def _report(self, ri: RosterImport) -> None:
        summary = (f"共 {ri.total_rows} 行：接收 {ri.accepted} 行，拒绝 {ri.rejected} 行，"
                   f"重复（此前已导入）{ri.duplicates} 行。")
        self.stdout.write(self.style.SUCCESS(summary) if ri.accepted else summary)
        errors = list(ri.row_errors.order_by("row_number", "id")[:SHOWN_ERRORS])
        for err in errors:
            value = f"“{err.value}”" if err.value else ""
            self.stderr.write(f"第 {err.row_number} 行 {err.column}{value}：{err.reason}")
        more = ri.row_errors.count() - len(errors)
        if more > 0:
            self.stderr.write(f"……另有 {more} 处错误未列出。")
        if ri.rejected_file_id:
            self.stdout.write(f"错误行文件（改正后可重新导入）：{file_abspath(ri.rejected_file)}")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "operator"
