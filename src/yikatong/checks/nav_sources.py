"""Permissions and navigation of the shared-data sources and the credit list (called from
ChecksConfig.ready()).

Who imports which source: the administrator imports every source (for the data-sharing exchange,
which may also push through the API with a "data_sharing" credential); HR imports the social security
card source (see sources.service.IMPORTABLE_BY_ROLE).
"""

from yikatong.core.models import Role
from yikatong.core.navigation import NavEntry, register
from yikatong.core.roles import register_permissions

SECTION = "数据共享"

PERMISSIONS = {
    "source.import": {Role.ADMIN, Role.HR},
    "source.view": {Role.ADMIN, Role.FINANCE, Role.DEPARTMENT, Role.SUPERVISOR, Role.HR},
    "credit.manage": {Role.ADMIN, Role.FINANCE},
    "credit.view": {Role.ADMIN, Role.FINANCE, Role.SUPERVISOR, Role.DEPARTMENT},
}


def register_sources() -> None:
    register_permissions(PERMISSIONS)
    register(
        NavEntry(SECTION, "共享数据源", "sources:overview", "source.view", order=400),
        NavEntry(SECTION, "信用名单", "sources:credit-list", "credit.view", order=410),
    )
