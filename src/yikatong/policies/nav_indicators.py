"""Navigation entries of budget indicators and performance targets (called from PoliciesConfig.ready())."""

from yikatong.core.navigation import NavEntry, register

SECTION = "预算指标与绩效"


def register_nav() -> None:
    register(
        NavEntry(SECTION, "预算指标", "indicators:list", "indicator.view", order=200),
        NavEntry(SECTION, "指标预警", "indicators:warnings", "indicator.view", order=201),
        NavEntry(SECTION, "预算执行进度", "indicators:progress", "indicator.view", order=202),
        NavEntry(SECTION, "绩效目标", "indicators:targets", "target.view", order=203),
        NavEntry(SECTION, "双监控", "indicators:monitoring", "target.view", order=204),
    )
