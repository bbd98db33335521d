"""`yikatong verify-audit`: recompute the whole audit chain and print its head hash for anchoring.

Exit status: 0 intact, 1 broken (the first problem is printed), 2 bad input. See docs/audit.md.
"""

from django.core.management.base import BaseCommand, CommandError

from yikatong.core.audit import check_chain, parse_anchor


class Command(BaseCommand):
    help = "校验审计链完整性：逐条重算哈希，报告第一个被篡改、缺失、插入或调换的事件，并输出链头哈希供外部锚定。"

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="不输出进度，只输出结果")
        parser.add_argument(
            "--expect-head", metavar="[序号:]哈希", default="",
            help="核对此前锚定的链头（如日结单上记录的“序号:哈希”）：链中该序号处必须仍是这个哈希",
        )
        parser.add_argument("--chunk-size", type=int, default=5000, help="每次从数据库读取的事件数（默认 5000）")
        parser.add_argument(
            "--progress-every", type=int, default=50000, metavar="N", help="每校验 N 条事件输出一次进度（默认 50000）"
        )

    def handle(self, *args, quiet=False, expect_head="", chunk_size=5000, progress_every=50000, **options):
        if chunk_size < 1 or progress_every < 1:
            raise CommandError("--chunk-size 和 --progress-every 必须是正整数。", returncode=2)
        anchor = None
        if expect_head:
            try:
                anchor = parse_anchor(expect_head)
            except ValueError as exc:
                raise CommandError(str(exc), returncode=2) from exc

        def progress(count: int) -> None:
            self.stderr.write(f"已校验 {count} 条事件…")

        report = check_chain(
            chunk_size=chunk_size,
            progress=None if quiet else progress,
            progress_every=progress_every,
            expect_head=anchor,
        )
        if not report.ok:
            problem = report.problem
            raise CommandError(
                f"审计链校验失败：{problem.detail}。"
                f"（此前 {report.count} 条事件完好，最后一条完好事件为第 {report.head_seq} 号，哈希 {report.head_hash}）",
                returncode=1,
            )
        self.stdout.write(f"审计链完整：共 {report.count} 条事件，链头哈希 {report.head_hash}（第 {report.head_seq} 号）")
        if anchor is not None:
            where = f"第 {anchor[0]} 号事件" if anchor[0] else "链"
            self.stdout.write(f"锚定核对通过：{where}仍包含锚定哈希 {anchor[1]}")
        self.stdout.write(f"锚定值（请记入日结单）：{report.anchor}")
