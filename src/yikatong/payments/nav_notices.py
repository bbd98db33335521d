"""Navigation entries of notices and openness (registered by payments.nav)."""

from yikatong.core.navigation import NavEntry, register

SECTION = "一个平台"


def register_nav() -> None:
    register(
        NavEntry(SECTION, "到账短信", "payments:sms", "sms.view", order=570),
        NavEntry(SECTION, "明白条", "payments:slips", "payment.view", order=571),
        NavEntry(SECTION, "结果公开", "payments:publications", "payment.view", order=572),
        NavEntry(SECTION, "直达资金监控", "payments:direct-funds", "payment.view", order=573),
    )
