"""Navigation entry of bank results (registered by payments.nav)."""

from yikatong.core.navigation import NavEntry, register

SECTION = "一个平台"


def register_nav() -> None:
    register(NavEntry(SECTION, "回盘导入", "payments:results", "payment.result", order=520))
