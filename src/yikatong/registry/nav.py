"""Navigation entries of the one card (called from RegistryConfig.ready())."""

from yikatong.core.navigation import NavEntry, register

SECTION = "一张卡片"


def register_nav() -> None:
    register(
        NavEntry(SECTION, "补贴对象", "registry:beneficiary-list", "beneficiary.view", order=200),
        NavEntry(SECTION, "登记个人", "registry:person-register", "beneficiary.manage", order=201),
        NavEntry(SECTION, "登记单位", "registry:org-register", "beneficiary.manage", order=202),
    )
