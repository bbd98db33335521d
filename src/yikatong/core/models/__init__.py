"""Core models, one module per concern; imported here so Django finds them."""

from .audit import AuditEvent, AuditHead
from .calendar import CalendarOverride, TimeLimit
from .files import StoredFile
from .jobs import JobProgress
from .orgs import ApiCredential, BusinessLine, Organization, OrgKind, Role, User
from .regions import Region

__all__ = [
    "ApiCredential",
    "AuditEvent",
    "AuditHead",
    "BusinessLine",
    "CalendarOverride",
    "JobProgress",
    "Organization",
    "OrgKind",
    "Region",
    "Role",
    "StoredFile",
    "TimeLimit",
    "User",
]
