"""Stored files: originals kept as received (uploads, imports, bank files) and generated files.

A file is streamed to MEDIA_ROOT/<purpose>/<yyyy>/<mm>/<uuid>_<safe name> while its SHA-256 and size are
computed in the same pass (memory does not grow with the file). A path is never reused, nothing is
overwritten or deleted. Downloads go through selectors.files.file_get_for_download, which checks scope.
"""

import hashlib
import mimetypes
import os
import re
import unicodedata
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from yikatong.core import audit
from yikatong.core.errors import DomainError
from yikatong.core.models import Organization, Region, StoredFile
from yikatong.core.regions import RegionCodeError, normalize_code
from yikatong.core.scope import Scope

CHUNK_SIZE = 1024 * 1024
PURPOSE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
_UNSAFE_CHARS = re.compile(r"[^\w.\-()（）]+", re.UNICODE)
MAX_NAME_LENGTH = 120


def safe_name(original_name: str) -> str:
    """A file-system-safe version of an uploaded file's name: no directories, no leading dots, no
    control or separator characters; Chinese letters are kept so people recognise their file."""
    name = unicodedata.normalize("NFC", original_name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_CHARS.sub("_", name).strip("._ ")
    if not name:
        return "file"
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: MAX_NAME_LENGTH - len(ext) - 1] + (f".{ext}" if ext else "")
    return name


def clean_original_name(original_name: str) -> str:
    """The name as the user gave it, for display and downloads, minus control characters (NUL cannot be
    stored in PostgreSQL text, and line breaks would break headers)."""
    name = "".join(ch for ch in (original_name or "") if not unicodedata.category(ch).startswith("C"))
    return name.strip()[:255] or "file"


def file_abspath(stored: StoredFile) -> Path:
    """Absolute path of a stored file, refusing anything that would leave MEDIA_ROOT."""
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / stored.path).resolve()
    if not path.is_relative_to(root):
        raise DomainError("文件路径无效。", code="bad_path")
    return path


def _read_chunks(fileobj):
    if hasattr(fileobj, "chunks"):  # Django UploadedFile / File
        yield from fileobj.chunks(CHUNK_SIZE)
        return
    while True:
        chunk = fileobj.read(CHUNK_SIZE)
        if not chunk:
            return
        if isinstance(chunk, str):
            raise DomainError("文件必须以二进制方式读取。")
        yield chunk


def _write_new(fileobj, target: Path) -> tuple[str, int]:
    """Stream into a file that must not exist yet; return (sha256, size)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with open(target, "xb") as out:  # "x": never overwrite
        for chunk in _read_chunks(fileobj):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def file_store(
    *,
    actor: Scope,
    fileobj,
    original_name: str,
    purpose: str,
    region_code: str,
    organization_id: int | None = None,
    content_type: str = "",
) -> StoredFile:
    """Keep a file for a region (and, optionally, an organization). Bank users always store files for
    their own organization."""
    actor.require_write("file.upload")
    if not PURPOSE_RE.match(purpose or ""):
        raise DomainError(f"文件用途“{purpose}”无效：只能是小写字母、数字、短横线和下划线。", field="purpose")
    try:
        region_code = normalize_code(region_code)
    except RegionCodeError as exc:
        raise DomainError(str(exc), field="region_code") from exc
    if not Region.objects.filter(code=region_code).exists():
        raise DomainError(f"行政区划 {region_code} 不存在。", field="region_code")
    actor.require_region(region_code)
    if organization_id is None and actor.own_org_only:
        organization_id = actor.organization_id
    if organization_id is not None:
        actor.require_organization(organization_id)
        if not Organization.objects.filter(pk=organization_id).exists():
            raise DomainError(f"机构 {organization_id} 不存在。", field="organization_id")
    original_name = clean_original_name(original_name)
    content_type = (content_type or mimetypes.guess_type(original_name)[0] or "application/octet-stream")[:100]

    file_id = uuid.uuid4()
    today = timezone.localdate()
    relative = Path(purpose, f"{today:%Y}", f"{today:%m}", f"{file_id.hex}_{safe_name(original_name)}")
    target = Path(settings.MEDIA_ROOT).resolve() / relative
    sha256, size = _write_new(fileobj, target)
    try:
        with transaction.atomic():
            stored = StoredFile.objects.create(
                id=file_id, purpose=purpose, original_name=original_name, content_type=content_type,
                size=size, sha256=sha256, path=relative.as_posix(), uploaded_by_id=actor.user_id,
                organization_id=organization_id, region_id=region_code,
            )
            audit.record(
                actor=actor, action="file.store", obj=stored,
                after={"purpose": purpose, "original_name": original_name, "size": size, "sha256": sha256,
                       "organization_id": organization_id, "path": stored.path},
            )
    except BaseException:
        # the row was not written: do not leave an orphan file behind
        target.unlink(missing_ok=True)
        raise
    return stored
