"""`yikatong import-credit-list FILE --region CODE [--source TEXT]`: add persons to the credit list (信用名单).

Headers: 身份证号, 姓名, 列入原因, 限制类型 (提示复核/限制申领), 有效期起, 有效期止 (may be empty). Good rows are
added, the others are listed with their reasons; a person already listed in the region is not added
twice. Exits 1 when no row was added.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from yikatong.checks.credit import credit_import
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope

SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = "导入信用名单（UTF-8 CSV 或 XLSX，表头：身份证号, 姓名, 列入原因, 限制类型, 有效期起, 有效期止）。"

    def add_arguments(self, parser):
        parser.add_argument("file", help="文件路径（.csv 或 .xlsx）")
        parser.add_argument("--region", required=True, help="名单所属行政区划代码（12 位）")
        parser.add_argument("--source", default="import", help="来源说明（默认 import）")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"文件不存在：{path}")
        try:
            with open(path, "rb") as fh:
                result = credit_import(actor=Scope.system(reason="cli:import-credit-list"), fileobj=fh,
                                       original_name=path.name, region_code=options["region"],
                                       source=options["source"])
        except DomainError as exc:
            raise CommandError(exc.message) from None
        for row, column, value, reason in result.errors[:SHOWN_ERRORS]:
            shown = f"“{value}”" if value else ""
            self.stderr.write(f"第 {row} 行 {column}{shown}：{reason}")
        if len(result.errors) > SHOWN_ERRORS:
            self.stderr.write(f"……另有 {len(result.errors) - SHOWN_ERRORS} 处错误未列出。")
        if result.added == 0:
            raise CommandError(f"没有列入任何人员。{result.summary()}")
        self.stdout.write(self.style.SUCCESS(result.summary()))
