"""API of the shared-data sources (mounted at /api/sources/).

For the data-sharing exchange (header X-API-Key, a credential allowed the "data_sharing" interface;
it acts with the role of its organization's kind — an administrator organization imports every source,
an HR organization the social security card source only):

  POST /api/sources/{source}/import   multipart: file (CSV/XLSX, SPEC §5.2), data_date (YYYY-MM-DD, optional)
  POST /api/sources/{source}/rows     JSON: {"data_date": "2026-03-01", "rows": [{"身份证号": "…", "姓名": "…", …}]}
                                      (the complete data set of the source, keys = the file headers)
  GET  /api/sources/imports/{id}      the import's outcome (also with a staff session)
  GET  /api/sources/imports/{id}/errors   rejected rows (masked values)

Both POSTs answer 202 with the import; it runs in the background and replaces the source only when it
succeeds. For staff (session): GET /api/sources/ — every source with the import in force.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid

from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.security import SessionAuth

from yikatong.core.apikey_auth import ApiKeyAuth
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.core.tabular import write_csv

from .models import SourceImport
from .sources import importable_sources, selectors, source_import_start, spec_for
from .tasks_sources import source_import_enqueue

router = Router(tags=["数据共享：共享数据源"])
data_sharing = ApiKeyAuth("data_sharing")
MAX_JSON_ROWS = 200_000


class ImportOut(Schema):
    id: uuid.UUID
    source: str
    source_label: str
    status: str
    status_label: str
    channel: str
    data_date: dt.date | None
    total_rows: int
    accepted: int
    rejected: int
    message: str
    created_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    job_id: uuid.UUID | None
    file_name: str

    @staticmethod
    def resolve_source_label(obj: SourceImport) -> str:
        return obj.get_source_display()

    @staticmethod
    def resolve_status_label(obj: SourceImport) -> str:
        return obj.get_status_display()

    @staticmethod
    def resolve_file_name(obj: SourceImport) -> str:
        return obj.file.original_name if obj.file_id else ""


class SourceOut(Schema):
    source: str
    label: str
    columns: list[str]
    current: ImportOut | None
    latest: ImportOut | None
    can_import: bool


class ErrorOut(Schema):
    row_number: int
    column: str
    value: str
    reason: str


class ErrorPage(Schema):
    count: int
    items: list[ErrorOut]


class RowsIn(Schema):
    data_date: dt.date | None = None
    rows: list[dict[str, str | int | float | None]]


def _session_scope(request: HttpRequest) -> Scope:
    scope = Scope.for_user(request.user)
    scope.require("source.view")
    return scope


def _caller_scope(request: HttpRequest) -> Scope:
    """The credential's scope (data-sharing exchange) or the staff user's."""
    api_scope = getattr(request, "api_scope", None)
    if api_scope is not None:
        api_scope.require("source.import")
        return api_scope
    return _session_scope(request)


def _get_import(request: HttpRequest, import_id: uuid.UUID) -> SourceImport:
    scope = _caller_scope(request)
    imp = SourceImport.objects.select_related("file").filter(pk=import_id).first()
    if imp is None or (getattr(request, "api_scope", None) is not None and imp.source not in importable_sources(scope)):
        raise HttpError(404, "导入记录不存在。")
    return imp


def _start(request: HttpRequest, source: str, fileobj, original_name: str, data_date, channel: str):
    scope = request.api_scope
    imp = source_import_start(actor=scope, source=source, fileobj=fileobj, original_name=original_name,
                              data_date=data_date, channel=channel)
    source_import_enqueue(actor=scope, source_import=imp)
    imp.refresh_from_db()
    return Status(202, imp)


@router.get("/", response=list[SourceOut], summary="各数据源及当前生效的导入（工作人员）")
def sources_status(request: HttpRequest):
    scope = _session_scope(request)
    return [
        {"source": item["spec"].code, "label": item["spec"].label, "columns": list(item["spec"].columns),
         "current": item["current"], "latest": item["latest"], "can_import": item["can_import"]}
        for item in selectors.source_overview(scope)
    ]


@router.post("/{source}/import", auth=data_sharing, response={202: ImportOut}, summary="上传数据文件（整体替换）")
def import_file(request: HttpRequest, source: str, file: File[UploadedFile], data_date: Form[str] = ""):
    spec_for(source)
    return _start(request, source, file, file.name, data_date or None, "api")


@router.post("/{source}/rows", auth=data_sharing, response={202: ImportOut}, summary="推送数据行（整体替换）")
def import_rows(request: HttpRequest, source: str, payload: RowsIn):
    spec = spec_for(source)
    if not payload.rows:
        raise DomainError("rows 为空：请推送该数据源的全部数据行。", field="rows")
    if len(payload.rows) > MAX_JSON_ROWS:
        raise DomainError(f"一次最多推送 {MAX_JSON_ROWS} 行：更多数据请用文件接口上传。", field="rows")
    buffer = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - closed below
    try:
        rows = ({c: "" if row.get(c) is None else str(row.get(c)) for c in spec.columns} for row in payload.rows)
        write_csv(rows, list(spec.columns), buffer)
        buffer.seek(0)
        stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
        return _start(request, source, buffer, f"{source}_api_{stamp}.csv", payload.data_date, "api")
    finally:
        buffer.close()


@router.get("/imports/{import_id}", auth=[data_sharing, SessionAuth()], response=ImportOut, summary="导入结果")
def import_detail(request: HttpRequest, import_id: uuid.UUID):
    return _get_import(request, import_id)


@router.get("/imports/{import_id}/errors", auth=[data_sharing, SessionAuth()], response=ErrorPage,
            summary="被拒绝的行（证件号、账号已脱敏）")
def import_errors(request: HttpRequest, import_id: uuid.UUID, offset: int = 0, limit: int = 500):
    imp = _get_import(request, import_id)
    limit = max(1, min(limit, 5000))
    errors = imp.row_errors.order_by("row_number", "id")
    return {"count": errors.count(), "items": list(errors[max(0, offset):max(0, offset) + limit])}
