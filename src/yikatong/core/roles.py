"""Which role may do what. Permissions are plain strings; each app adds its own to PERMISSIONS.

A permission says what kind of action a role may take; *where* (region) and *whose* (organization,
business line) is decided by yikatong.core.scope for every query and write.
"""

from yikatong.core.models.orgs import OrgKind, Role

# Roles a user in an organization of each kind may hold.
ROLES_FOR_KIND: dict[str, set[str]] = {
    OrgKind.FINANCE: {Role.FINANCE},
    OrgKind.DEPARTMENT: {Role.DEPARTMENT},
    OrgKind.COLLECTOR: {Role.COLLECTOR},
    OrgKind.HR: {Role.HR},
    OrgKind.PAYING_BANK: {Role.PAYING_BANK},
    OrgKind.CARD_BANK: {Role.CARD_BANK},
    OrgKind.REGULATOR: {Role.REGULATOR},
    OrgKind.SUPERVISOR: {Role.SUPERVISOR},
    OrgKind.ADMIN: {Role.ADMIN},
}

# Roles that read everything in their region (all business lines); the rest are narrowed further.
ALL_LINES_ROLES = {Role.FINANCE, Role.SUPERVISOR, Role.ADMIN, Role.REGULATOR, Role.COLLECTOR, Role.HR}
# Roles that only ever see their own organization's records (a bank sees its own batches).
OWN_ORG_ROLES = {Role.PAYING_BANK, Role.CARD_BANK}
# Roles that may never write business data.
READ_ONLY_ROLES = {Role.SUPERVISOR, Role.REGULATOR}

PERMISSIONS: dict[str, set[str]] = {
    # core
    "region.view": set(Role.values),
    "region.manage": {Role.ADMIN},
    "org.view": {Role.ADMIN, Role.FINANCE, Role.SUPERVISOR, Role.DEPARTMENT, Role.REGULATOR},
    "org.manage": {Role.ADMIN},
    "user.view": {Role.ADMIN, Role.SUPERVISOR, Role.FINANCE},
    "user.manage": {Role.ADMIN},
    "audit.view": {Role.ADMIN, Role.SUPERVISOR, Role.FINANCE},
    "audit.verify": {Role.ADMIN},
    "calendar.manage": {Role.ADMIN},
    "job.view": set(Role.values),
    "file.download": set(Role.values),
    "file.upload": set(Role.values),  # read-only roles are still refused by Scope.require_write
    "pii.view_full": {Role.DEPARTMENT, Role.COLLECTOR, Role.FINANCE, Role.SUPERVISOR, Role.HR},
    "export.data": {Role.ADMIN, Role.SUPERVISOR, Role.FINANCE, Role.DEPARTMENT},
    "apikey.manage": {Role.ADMIN},
}

# Interfaces an API credential can be limited to (ApiCredential.interfaces); see core.apikey_auth.
API_INTERFACES: dict[str, str] = {
    "bank": "银行接口（批次下载、结果回传、账户核验）",
    "data_sharing": "数据共享交换接口",
}
# Interfaces whose credentials may only be issued to these organization kinds.
INTERFACE_ORG_KINDS: dict[str, set[str]] = {
    "bank": {OrgKind.PAYING_BANK, OrgKind.CARD_BANK},
}


def has_permission(role: str, permission: str) -> bool:
    try:
        return role in PERMISSIONS[permission]
    except KeyError as exc:  # a typo must fail loudly in tests, not silently deny
        raise KeyError(f"unknown permission {permission!r}") from exc


def register_permissions(extra: dict[str, set[str]]) -> None:
    """Apps call this from AppConfig.ready() to add their permissions."""
    for name, roles in extra.items():
        PERMISSIONS.setdefault(name, set()).update(roles)
