"""`yikatong import-source SOURCE FILE [--data-date YYYY-MM-DD]`: import a shared-data file (SPEC §5.2).

The same service as the upload page and the API: the original file is kept, every row is imported or
refused with its reason, and the import replaces the source as a whole only when it succeeds. Progress
goes to stderr; exits 1 when the import fails (the import in force then stays).
"""

import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from yikatong.checks.models import SourceImport
from yikatong.checks.sources import SPECS, source_import_run, source_import_start
from yikatong.core.errors import DomainError
from yikatong.core.jobs import cli_progress
from yikatong.core.scope import Scope

SHOWN_ERRORS = 20


def _sources_help() -> str:
    return "；".join(f"{s.code}（{s.label}）：{', '.join(s.columns)}" for s in SPECS.values())


class Command(BaseCommand):
    help = "导入共享数据文件（UTF-8 CSV 或 XLSX），整体替换该数据源当前生效的数据。数据源及表头：" + _sources_help()

    def add_arguments(self, parser):
        parser.add_argument("source", help="数据源代码：" + "、".join(SPECS))
        parser.add_argument("file", help="数据文件路径（.csv 或 .xlsx）")
        parser.add_argument("--data-date", default="", help="数据日期（YYYY-MM-DD，默认今天）：晚于该日期的死亡、登记日期被拒绝")

    def handle(self, *args, **options):
        source, path = options["source"].strip(), Path(options["file"])
        if source not in SPECS:
            raise CommandError(f"数据源“{source}”不存在：可选 {'、'.join(SPECS)}。")
        if not path.is_file():
            raise CommandError(f"文件不存在：{path}")
        actor = Scope.system(reason=f"cli:{_os_user()}")
        try:
            with open(path, "rb") as fh:
                imp = source_import_start(actor=actor, source=source, fileobj=fh, original_name=path.name,
                                          data_date=options["data_date"] or None, channel="cli")
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"正在导入 {SPECS[source].label} 数据 {path}（导入编号 {imp.pk}）…")
        with cli_progress(self.stderr, label=f"导入{SPECS[source].label}") as progress:
            imp = source_import_run(source_import_id=imp.pk, progress=progress)
        self._errors(imp)
        if imp.status != SourceImport.Status.ACTIVE:
            raise CommandError(f"导入失败，当前生效的数据未改变：{imp.message}")
        self.stdout.write(self.style.SUCCESS(f"已生效。{imp.message}"))

    def _errors(self, imp: SourceImport) -> None:
        errors = list(imp.row_errors.order_by("row_number", "id")[:SHOWN_ERRORS])
        for err in errors:
            value = f"“{err.value}”" if err.value else ""
            self.stderr.write(f"第 {err.row_number} 行 {err.column}{value}：{err.reason}")
        more = imp.row_errors.count() - len(errors)
        if more > 0:
            self.stderr.write(f"……另有 {more} 处错误未列出（完整清单见“共享数据源”页面或 /api/sources/imports/{imp.pk}/errors）。")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "operator"
