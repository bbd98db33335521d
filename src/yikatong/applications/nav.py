"""Navigation entries of collection and approval (called from ApplicationsConfig.ready())."""

from yikatong.core.navigation import NavEntry, register

SECTION = "一套规程"


def register_nav() -> None:
    register(
        NavEntry(SECTION, "补贴申报", "applications:list", "application.view", order=300),
        NavEntry(SECTION, "录入申报", "applications:create", "application.collect", order=301),
        NavEntry(SECTION, "花名册导入", "applications:rosters", "application.collect", order=302),
        NavEntry(SECTION, "公示", "applications:notices", "application.view", order=303),
        NavEntry(SECTION, "审核", "applications:approval", "application.approve", order=304),
        NavEntry(SECTION, "补贴底册", "applications:register", "register.export", order=305),
    )
