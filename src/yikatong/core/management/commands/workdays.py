"""`yikatong workdays …`: ask the working-day calendar from the command line.

  yikatong workdays add 2026-09-30 5          the 5th working day after 2026-09-30
  yikatong workdays between 2026-09-30 2026-10-12
  yikatong workdays check 2026-10-01          working day or not, and why
  yikatong workdays deadline finance_review 2026-09-30
  yikatong workdays month 2026-10             every day of a month
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from yikatong.core import time_limits, workdays


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"日期无效：{value}（格式应为 YYYY-MM-DD，例如 2026-09-30）") from None


def _describe(info: workdays.DayInfo) -> str:
    state = "工作日" if info.is_working_day else "休息日"
    return f"{info.day.isoformat()} 周{info.weekday_label} {state}（{info.reason}）"


class Command(BaseCommand):
    help = "工作日计算：加工作日、两日之间的工作日数、某日是否工作日、环节到期日、月历。"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, title="操作")
        add = sub.add_parser("add", help="起始日之后第 N 个工作日（N=0：起始日本身或其后第一个工作日）")
        add.add_argument("start")
        add.add_argument("n")
        between = sub.add_parser("between", help="起始日之后（不含）到结束日（含）的工作日数")
        between.add_argument("start")
        between.add_argument("end")
        check = sub.add_parser("check", help="某日是否工作日及原因")
        check.add_argument("day")
        deadline = sub.add_parser("deadline", help="某环节从起始日起算的到期日")
        deadline.add_argument("step")
        deadline.add_argument("start")
        month = sub.add_parser("month", help="列出某月每天（YYYY-MM）")
        month.add_argument("month")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "add":
            self._add(options["start"], options["n"])
        elif action == "between":
            start, end = _date(options["start"]), _date(options["end"])
            self.stdout.write(f"{start.isoformat()} 之后至 {end.isoformat()}（含）共 "
                              f"{workdays.working_days_between(start, end)} 个工作日")
        elif action == "check":
            self.stdout.write(_describe(workdays.describe_day(_date(options["day"]))))
        elif action == "deadline":
            self._deadline(options["step"], _date(options["start"]))
        elif action == "month":
            self._month(options["month"])

    def _add(self, start_text: str, n_text: str) -> None:
        start = _date(start_text)
        try:
            n = int(n_text)
        except ValueError:
            raise CommandError(f"工作日数无效：{n_text}（应为不小于 0 的整数）") from None
        if n < 0:
            raise CommandError(f"工作日数无效：{n}（应为不小于 0 的整数）")
        result = workdays.add_working_days(start, n)
        self.stdout.write(result.isoformat())
        self.stderr.write(f"{start.isoformat()} 之后第 {n} 个工作日：{_describe(workdays.describe_day(result))}")

    def _deadline(self, step: str, start: dt.date) -> None:
        try:
            days, unit = time_limits.limit_for(step)
        except KeyError:
            known = "、".join(time_limits.DEFAULTS)
            raise CommandError(f"未知的办理环节：{step}。可用环节：{known}") from None
        due = workdays.deadline_for(step, start)
        self.stdout.write(due.isoformat())
        self.stderr.write(f"{step}：时限 {days} 个{time_limits.UNIT_LABELS[unit]}，"
                          f"{start.isoformat()} 起算，到期日 {due.isoformat()}")

    def _month(self, text: str) -> None:
        try:
            year, month = (int(part) for part in text.split("-"))
            dt.date(year, month, 1)
        except ValueError:
            raise CommandError(f"月份无效：{text}（格式应为 YYYY-MM，例如 2026-10）") from None
        for info in workdays.calendar().month(year, month):
            self.stdout.write(_describe(info))
