"""Download of stored files: scope-checked by the selector, streamed, and audited."""

import logging

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404

from yikatong.core import audit
from yikatong.core.models import StoredFile
from yikatong.core.selectors.files import file_get_for_download
from yikatong.core.services.files import file_abspath
from yikatong.core.views.orgs import scope_for

log = logging.getLogger("yikatong.files")


@login_required
def file_download(request, file_id):
    scope = scope_for(request)
    try:
        stored = file_get_for_download(scope, file_id)
    except StoredFile.DoesNotExist as exc:
        raise Http404("文件不存在或不在您的管辖范围内。") from exc
    path = file_abspath(stored)
    try:
        handle = open(path, "rb")  # noqa: SIM115 — FileResponse closes it
    except FileNotFoundError as exc:
        log.error("stored file %s missing on disk at %s", stored.pk, path)
        raise Http404("文件已丢失，请联系系统管理员。") from exc
    try:
        audit.record(actor=scope, action="file.download", obj=stored,
                     after={"original_name": stored.original_name, "sha256": stored.sha256, "size": stored.size})
    except BaseException:
        handle.close()
        raise
    response = FileResponse(handle, as_attachment=True, filename=stored.original_name,
                            content_type=stored.content_type or "application/octet-stream")
    response["Cache-Control"] = "private, no-store"
    return response
