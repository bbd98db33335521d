"""Navigation entries of the one list (called from PoliciesConfig.ready())."""

from yikatong.core.navigation import NavEntry, register

SECTION = "一张清单"


def register_nav() -> None:
    register(
        NavEntry(SECTION, "补贴政策", "policies:policy-list", "policy.view", order=100),
        NavEntry(SECTION, "年度政策清单", "policies:lists", "policy.view", order=101),
        NavEntry(SECTION, "补贴项目库", "policies:library", "policy.view", order=102),
        NavEntry(SECTION, "调整变更申请", "policies:changes", "policy.view", order=103),
        NavEntry(SECTION, "待我审批", "policies:change-inbox", "change.review", order=104),
    )
