from .applications import Application, ApplicationEvent, Channel, Status
from .notices import NoticeEntry, Objection, PublicNotice
from .rosters import RosterImport, RosterRowError

__all__ = [
    "Application",
    "ApplicationEvent",
    "Channel",
    "NoticeEntry",
    "Objection",
    "PublicNotice",
    "RosterImport",
    "RosterRowError",
    "Status",
]
