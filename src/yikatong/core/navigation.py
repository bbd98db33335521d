"""The navigation each role sees. Apps register entries in AppConfig.ready(); an entry shows when the
user's role has its permission and its URL name resolves."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from yikatong.core.roles import has_permission


@dataclass(frozen=True)
class NavEntry:
    section: str
    label: str
    url_name: str
    permission: str
    order: int = 100


_ENTRIES: list[NavEntry] = []


def register(*entries: NavEntry) -> None:
    for entry in entries:
        if entry not in _ENTRIES:
            _ENTRIES.append(entry)


def entries_for(role: str) -> list[dict]:
    """Sections with their links for a role, in display order."""
    sections: dict[str, list[dict]] = {}
    for entry in sorted(_ENTRIES, key=lambda e: (e.order, e.label)):
        if not role or not has_permission(role, entry.permission):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        sections.setdefault(entry.section, []).append({"label": entry.label, "url": url, "name": entry.url_name})
    return [{"section": name, "links": links} for name, links in sections.items()]
