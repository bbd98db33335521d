"""Navigation of the findings inbox, the check runs and the rule settings (called from ChecksConfig.ready()).
The permissions themselves are the engine's (engine/setup.py): finding.view for every page; deciding,
starting runs and configuring rules are offered only to the roles the services allow."""

from yikatong.core.navigation import NavEntry, register

SECTION = "数据共享"


def register_findings_nav() -> None:
    register(
        NavEntry(SECTION, "比对疑点", "findings:inbox", "finding.view", order=420),
        NavEntry(SECTION, "核查批次", "findings:runs", "finding.view", order=421),
        NavEntry(SECTION, "核查规则", "findings:rules", "finding.view", order=422),
    )
