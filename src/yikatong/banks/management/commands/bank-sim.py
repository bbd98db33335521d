"""`yikatong bank-sim`: the BANK SIMULATOR (banks/simulator.py), a stand-in paying bank for demos and tests.

API mode — acts as the bank whose credential is given, over HTTP:
  yikatong bank-sim --url http://127.0.0.1:8000 --key KEY [--fail-share 0.05] [--seed 7] [--once]
  yikatong bank-sim --url http://127.0.0.1:8000 --key KEY --loop --interval 30
  yikatong bank-sim --url http://127.0.0.1:8000 --key KEY --batch PB2026031000001 --fail-seqs 3,7
The key may also come from the environment variable YIKATONG_BANK_KEY (keeps it out of the process list).

File mode — reads a payment file (CSV/XLSX, SPEC §5.3), writes a result file (回盘文件):
  yikatong bank-sim --file PAYMENT.csv --out RESULT.csv [--fail-share 0.05] [--seed 7] [--start 2026-03-10]
"""

import datetime as dt
import os

from django.core.management.base import BaseCommand, CommandError

from yikatong.banks import simulator


def _seqs(text: str) -> set[int] | None:
    if not text:
        return None
    try:
        return {int(part) for part in text.replace("，", ",").split(",") if part.strip()}
    except ValueError:
        raise CommandError(f"--fail-seqs “{text}” 无效：应为逗号分隔的序号，如 3,7,12。") from None


def _day(text: str, option: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} “{text}” 无效：格式应为 YYYY-MM-DD。") from None


class Command(BaseCommand):
    help = "银行模拟器（演示与测试用，非真实银行接口）：下载代发批次，模拟支付并回传结果；或读付款文件写回盘文件。"

    def add_arguments(self, parser):
        parser.add_argument("--url", default="", help="平台地址，如 http://127.0.0.1:8000")
        parser.add_argument("--key", default="", help="银行接口凭证（也可用环境变量 YIKATONG_BANK_KEY）")
        parser.add_argument("--batch", default="", help="只处理这个批次号")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="处理一轮后退出（默认）")
        mode.add_argument("--loop", action="store_true", help="持续轮询")
        parser.add_argument("--interval", type=float, default=30.0, help="轮询间隔秒数（--loop）")
        parser.add_argument("--file", default="", help="付款文件（CSV/XLSX）")
        parser.add_argument("--out", default="", help="回盘文件（.csv 或 .xlsx）")
        parser.add_argument("--fail-share", type=float, default=0.05, help="失败比例 0~1，默认 0.05")
        parser.add_argument("--fail-seqs", default="", help="指定失败的序号（逗号分隔），代替随机失败")
        parser.add_argument("--seed", type=int, default=None, help="随机种子：相同种子结果相同")
        parser.add_argument("--start", default="", help="文件模式：银行收到文件的日期（默认今天）")
        parser.add_argument("--page-size", type=int, default=simulator.PAGE_SIZE, help="每页下载笔数（≤10000）")

    def handle(self, *args, **options):
        if not 0 <= options["fail_share"] <= 1:
            raise CommandError("--fail-share 须在 0 到 1 之间。")
        common = {"fail_share": options["fail_share"], "seed": options["seed"],
                  "fail_seqs": _seqs(options["fail_seqs"])}
        try:
            if options["file"]:
                self._file_mode(options, common)
            else:
                self._api_mode(options, common)
        except simulator.SimulatorError as exc:
            raise CommandError(str(exc)) from None

    def _file_mode(self, options, common):
        if not options["out"]:
            raise CommandError("文件模式需要 --out（回盘文件路径）。")
        if not os.path.exists(options["file"]):
            raise CommandError(f"付款文件 {options['file']} 不存在。")
        run = simulator.simulate_file(options["file"], options["out"], start=_day(options["start"], "--start"),
                                      **common)
        self.stdout.write(self.style.SUCCESS(
            f"已写回盘文件 {options['out']}：批次 {'、'.join(run.batches)}，共 {run.lines} 笔，"
            f"成功 {run.paid} 笔，失败 {run.failed} 笔。"))

    def _api_mode(self, options, common):
        key = options["key"] or os.environ.get("YIKATONG_BANK_KEY", "")
        if not options["url"] or not key:
            raise CommandError("接口模式需要 --url 和 --key（或环境变量 YIKATONG_BANK_KEY）；文件模式用 --file/--out。")
        api = simulator.BankApi(simulator.HttpTransport(options["url"], key))
        log = self.stdout.write
        extra = {**common, "batch": options["batch"], "page_size": options["page_size"]}
        if options["loop"]:
            log(f"银行模拟器开始轮询 {options['url']}（每 {options['interval']:g} 秒，Ctrl+C 停止）。")
            try:
                simulator.run_loop(api, interval=options["interval"], log=log, **extra)
            except KeyboardInterrupt:
                log("已停止。")
            return
        runs = simulator.run_once(api, log=log, **extra)
        self.stdout.write(self.style.SUCCESS(f"处理批次 {len(runs)} 个。"))
