"""yikatong load-demo [--if-empty] [--reset-passwords] — demo regions, organizations and one login per role."""

from django.core.management.base import BaseCommand, CommandError

from yikatong.core import demo


class Command(BaseCommand):
    help = "载入演示数据：行政区划、万州区各类机构、每个角色一个演示账号（密码相同）。可重复执行。"

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true",
                            help="系统中已有任何用户时什么也不做（make run 首次启动时使用）")
        parser.add_argument("--reset-passwords", action="store_true",
                            help="把演示账号的密码恢复为演示密码，并解除登录锁定")
        parser.add_argument("--regions", metavar="CSV", help="改用其他行政区划 CSV 文件（默认：内置演示区划）")

    def handle(self, *args, if_empty=False, reset_passwords=False, regions=None, **options):
        try:
            result = demo.load_demo(
                if_empty=if_empty, reset_passwords=reset_passwords, regions_csv=regions,
                progress=lambda message: self.stdout.write(message) if options["verbosity"] > 1 else None,
            )
        except demo.DemoError as exc:
            raise CommandError(f"演示数据载入失败：{exc}") from exc

        if result.skipped:
            self.stdout.write("系统中已有用户，未载入演示数据，本次没有任何改动（--if-empty）。")
        else:
            self.stdout.write(
                f"行政区划：新增 {result.regions_created}，更新 {result.regions_updated}；"
                f"机构：新增 {result.orgs_created}，已存在 {result.orgs_existing}；"
                f"账号：新增 {result.users_created}，已存在 {result.users_existing}。"
            )
            for summary in result.extensions.values():  # demo data of other apps (demo.register_extension)
                if summary.get("message"):
                    self.stdout.write(summary["message"])
        if result.passwords_reset:
            self.stdout.write(f"已重置 {result.passwords_reset} 个演示账号的密码并解除锁定。")
        if not result.skipped and not result.changed:
            self.stdout.write("演示数据已是最新，本次没有任何改动。")
        if result.skipped and not result.passwords_reset:
            return
        self._print_accounts()

    def _print_accounts(self):
        rows = [("用户名", "角色", "所属机构", "区划")] + demo.account_rows()
        widths = [max(_width(row[i]) for row in rows) for i in range(4)]
        self.stdout.write("")
        self.stdout.write("演示账号（所有账号密码相同）：")
        for n, row in enumerate(rows):
            self.stdout.write("  " + "  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
            if n == 0:
                self.stdout.write("  " + "  ".join("-" * w for w in widths))
        self.stdout.write(f"密码：{demo.PASSWORD}")
        self.stdout.write("登录：make run 的默认地址 http://127.0.0.1:8000/login/ （各角色说明见 docs/demo.md）")


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
