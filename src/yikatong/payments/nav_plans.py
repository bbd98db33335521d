"""Navigation entries of disbursement plans (registered by payments.nav)."""

from yikatong.core.navigation import NavEntry, register

SECTION = "一个平台"


def register_nav() -> None:
    register(
        NavEntry(SECTION, "发放方案", "payments:plan-list", "payment.view", order=500),
        NavEntry(SECTION, "编制发放方案", "payments:plan-build", "payment.plan", order=501),
    )
