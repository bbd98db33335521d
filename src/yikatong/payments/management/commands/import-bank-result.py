"""`yikatong import-bank-result FILE [--bank CODE] [--as USER]`: import a bank result file (回盘文件).

Same service as the UI upload and the bank API (payments.services.results.result_import): the original file
is kept, lines that match a sent payment exactly are applied, lines already applied are counted as duplicates,
everything else is stored for review with its reason. Importing the same file twice changes nothing.
Exits non-zero when the file is refused as a whole, or when nothing was applied and nothing was a duplicate.
"""

import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from yikatong.core.errors import DomainError
from yikatong.core.jobs import cli_progress
from yikatong.core.models import Organization, OrgKind, User
from yikatong.core.scope import Scope
from yikatong.payments.models import ResultImport, ResultLine
from yikatong.payments.selectors.results import result_import_summary
from yikatong.payments.services.results import result_import

SHOWN_LINES = 20


class Command(BaseCommand):
    help = ("导入代发银行回盘文件（UTF-8 CSV 或 XLSX，表头：批次号, 序号, 收款账号, 金额, 处理结果, 失败原因, 处理日期；"
            "处理结果为“成功”或“失败”）。与已入账结果相同的行计为重复，不再变更；无法匹配的行存档待复核。")

    def add_arguments(self, parser):
        parser.add_argument("file", help="回盘文件路径（.csv 或 .xlsx）")
        parser.add_argument("--bank", help="发来回盘的代发银行（机构编码）；指定后其他银行批次的行不入账")
        parser.add_argument("--as", dest="as_user", help="以该用户身份导入（默认：平台操作员，不限区划）")

    def handle(self, *args, **options):
        source = Path(options["file"])
        if not source.is_file():
            raise CommandError(f"文件不存在：{source}")
        actor = self._actor(options)
        try:
            with open(source, "rb") as fh, cli_progress(self.stderr, label="导入回盘") as progress:
                ri = result_import(actor=actor, fileobj=fh, original_name=source.name,
                                   bank_code=options.get("bank") or None, progress=progress)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if ri.status != ResultImport.Status.DONE:
            raise CommandError(f"回盘文件未导入（导入编号 {ri.pk}）：{ri.message}")
        self._report(ri)
        if ri.applied_count == 0 and ri.duplicate_count == 0:
            raise CommandError("没有任何一行入账：请按拒收原因与银行核对后重新导入。")

    def _actor(self, options) -> Scope:
        username = options.get("as_user")
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"用户 {username} 不存在。")
            try:
                return Scope.for_user(user)
            except DomainError as exc:
                raise CommandError(exc.message) from None
        code = options.get("bank")
        if code:
            bank = Organization.objects.filter(code=code, kind=OrgKind.PAYING_BANK).first()
            if bank is None:
                raise CommandError(f"代发银行编码 {code} 不存在：请用机构列表中的编码。")
        return Scope.system(reason=f"cli:{_os_user()}")

    def _report(self, ri: ResultImport) -> None:
        summary = result_import_summary(ri)
        self.stdout.write(f"导入编号 {ri.pk}，内容摘要 {ri.content_digest[:16]}…")
        line = (f"共 {ri.line_count} 行：入账成功 {summary['paid_count']} 笔（{summary['paid_amount']} 元），"
                f"入账失败 {summary['failed_count']} 笔（{summary['failed_amount']} 元），"
                f"重复（此前已入账，未变更）{ri.duplicate_count} 行，拒收待复核 {ri.rejected_count} 行。")
        self.stdout.write(self.style.SUCCESS(line) if ri.applied_count else line)
        for _value, label, count in summary["rejected"]:
            self.stdout.write(f"  {label}：{count} 行")
        lines = list(ResultLine.objects.filter(result_import=ri).order_by("line_no")[:SHOWN_LINES])
        for rl in lines:
            self.stderr.write(f"第 {rl.line_no} 行（批次 {rl.batch_number} 序号 {rl.seq}）{rl.get_disposition_display()}："
                              f"{rl.message}")
        more = ri.rejected_count - len(lines)
        if more > 0:
            self.stderr.write(f"……另有 {more} 行未列出，请在“回盘导入”页面查看。")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "operator"
