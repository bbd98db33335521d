"""Navigation entries of corrections, ledgers, reconciliation and daily close (registered by payments.nav)."""

from yikatong.core.navigation import NavEntry, register

SECTION = "一个平台"


def register_nav() -> None:
    register(
        NavEntry(SECTION, "发放失败更正", "payments:correction-list", "payment.correct", order=530),
        NavEntry(SECTION, "发放总账", "payments:ledger-general", "payment.view", order=540),
        NavEntry(SECTION, "发放明细账", "payments:ledger-detail", "payment.view", order=541),
        NavEntry(SECTION, "资金拨付台账", "payments:ledger-finance", "payment.close", order=542),
        NavEntry(SECTION, "清算对账", "payments:ledger-reconcile", "payment.view", order=543),
        NavEntry(SECTION, "日清", "payments:ledger-close", "payment.close", order=544),
    )
