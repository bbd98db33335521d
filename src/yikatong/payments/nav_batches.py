"""Navigation entry of payment batches (registered by payments.nav)."""

from yikatong.core.navigation import NavEntry, register

SECTION = "一个平台"


def register_nav() -> None:
    register(NavEntry(SECTION, "代发批次", "payments:batch-list", "payment.view", order=510))
