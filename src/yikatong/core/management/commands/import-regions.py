"""`yikatong import-regions FILE`: import the region list from a UTF-8 CSV (all or nothing)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from yikatong.core.scope import Scope
from yikatong.core.services.regions import region_import_csv, store_import_file

PHASES = {"check": "已校验", "write": "已写入"}


class Command(BaseCommand):
    help = (
        "导入行政区划 CSV（UTF-8，表头 code,name,parent_code 或 区划代码,名称,上级代码；上级代码可留空）。"
        "文件中有任何错误行时整体不导入，并列出全部错误行。"
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV 文件路径")
        parser.add_argument("--source-name", default="", help="数据来源说明（记入审计日志），默认为文件名")

    def handle(self, *args, **options):
        source = Path(options["file"])
        if not source.is_file():
            raise CommandError(f"文件不存在：{source}")
        kept = store_import_file(source)  # the original input is kept, whatever the outcome
        self.stdout.write(f"正在导入 {source}（原始文件已保存为 {kept}）…")

        def progress(phase: str, rows: int) -> None:
            self.stdout.write(f"  {PHASES.get(phase, phase)} {rows} 行")

        result = region_import_csv(
            actor=Scope.system(reason="cli"),
            path_or_file=kept,
            source_name=options["source_name"] or source.name,
            progress=progress,
        )
        if result.ok:
            self.stdout.write(self.style.SUCCESS(result.summary()))
            return
        for err in result.errors:
            value = f"“{err.value}”" if err.value else "（空）"
            self.stderr.write(f"第 {err.row} 行，列“{err.column}”，值 {value}：{err.reason}")
        if result.errors_truncated:
            self.stderr.write(f"……另有 {result.error_count - len(result.errors)} 处错误未列出。")
        raise CommandError(result.summary())
