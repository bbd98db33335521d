"""Reads of stored files. A file is visible when its region lies in the reader's region range; bank
roles see only their own organization's files. Files without a region are visible to no person."""

import uuid

from django.db.models import QuerySet

from yikatong.core.models import StoredFile
from yikatong.core.scope import Scope


def files_visible(scope: Scope) -> QuerySet[StoredFile]:
    scope.require("file.download")
    return scope.filter(StoredFile.objects.all(), region_field="region_id", organization_field="organization_id")


def file_get_for_download(scope: Scope, file_id: uuid.UUID | str) -> StoredFile:
    """The file if this scope may download it; raises StoredFile.DoesNotExist when it does not exist or
    is out of scope (an outsider cannot tell the two apart)."""
    try:
        file_id = uuid.UUID(str(file_id))
    except ValueError as exc:
        raise StoredFile.DoesNotExist(f"no file {file_id!r}") from exc
    return files_visible(scope).get(pk=file_id)
