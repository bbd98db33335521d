"""Reads of stored files. A file is visible when its region lies in the reader's region range; bank
roles see only their own organization's files. Files without a region are visible to no person.

Files that hold full personal identifiers (rosters, source imports, bank files, payment details …) are
visible only to roles allowed to see personal data in full (`pii.view_full`) — and to a bank for its own
organization's files, which the exchange with it requires. Every download is audited by the view."""

import uuid

from django.db.models import QuerySet

from yikatong.core.models import StoredFile
from yikatong.core.scope import Scope

# Purposes (StoredFile.purpose) of files with full identifiers. Apps add theirs with
# register_personal_data_purposes() when they introduce a new kind of file.
PERSONAL_DATA_PURPOSES: set[str] = {
    "roster", "roster-rejected", "application_doc", "source-import", "credit-import",
    "payment_document", "bank-files", "bank-results",
}


def register_personal_data_purposes(*purposes: str) -> None:
    PERSONAL_DATA_PURPOSES.update(purposes)


def files_visible(scope: Scope) -> QuerySet[StoredFile]:
    scope.require("file.download")
    files = scope.filter(StoredFile.objects.all(), region_field="region_id", organization_field="organization_id")
    if not scope.is_system and not scope.own_org_only and not scope.can("pii.view_full"):
        files = files.exclude(purpose__in=sorted(PERSONAL_DATA_PURPOSES))
    return files


def file_get_for_download(scope: Scope, file_id: uuid.UUID | str) -> StoredFile:
    """The file if this scope may download it; raises StoredFile.DoesNotExist when it does not exist or
    is out of scope (an outsider cannot tell the two apart)."""
    try:
        file_id = uuid.UUID(str(file_id))
    except ValueError as exc:
        raise StoredFile.DoesNotExist(f"no file {file_id!r}") from exc
    return files_visible(scope).get(pk=file_id)
