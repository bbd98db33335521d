"""API of collection and approval (mounted at /api/applications/). Thin: the session user's scope, reads
through selectors, writes through services — the same ones the pages use. Personal data is masked; amounts
are decimal strings. Refusals: 400 with the Chinese message (403 for scope: wrong role or region); "not
found or not yours" is 404. A batch answers 200 with one result per item (each done whole or refused).

Routes with a fixed segment (batch, enter) are declared before /{application_id}."""

import datetime as dt
import importlib
import tempfile
from decimal import Decimal

from django.http import FileResponse, HttpRequest
from ninja import File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate

from yikatong.core import clock
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.scope import Scope

from . import rules, selectors, services, workflow
from .models import Application, Objection, PublicNotice, RosterImport, RosterRowError
from .services.entry import application_enter
from .services.online import application_documents

router = Router(tags=["一套规程：申报、公示与审核"])

MAX_LIMIT = 500
ROSTER_SERVICE = "yikatong.applications.roster.service"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _scope(request: HttpRequest) -> Scope:
    return Scope.for_user(request.user)


def _not_found(exc: DomainError) -> HttpError:
    return HttpError(404, exc.message)


# -- schemas -----------------------------------------------------------------------------------------------
class ApplicationOut(Schema):
    id: int
    number: str
    name: str
    id_masked: str
    region_code: str
    region_name: str
    policy_code: str
    policy_name: str
    period: str
    amount: Decimal
    quantity: Decimal | None
    channel: str
    status: str
    status_label: str
    sampled: bool
    deadline: dt.date | None
    deadline_status: str
    deadline_status_label: str
    days_overdue: int
    rejection_reason: str


class ApplicationPage(Schema):
    count: int
    items: list[ApplicationOut]


class EventOut(Schema):
    at: dt.datetime
    from_status: str
    to_status: str
    actor: str
    reason: str
    changes: dict


class DocumentOut(Schema):
    id: str
    name: str
    size: int
    url: str


class ApplicationDetailOut(ApplicationOut):
    tier: str
    remarks: str
    payee_account: str
    collector: str
    step_started_on: dt.date
    blocking_finding: str
    allowed_actions: list[str]
    events: list[EventOut]
    documents: list[DocumentOut]


class ApplicationFilter(Schema):
    status: str = ""
    policy: str = ""
    period: str = ""
    region: str = ""
    channel: str = ""
    sampled: bool | None = None
    overdue: bool = False
    limit: int = 50
    offset: int = 0


class ApplicationIn(Schema):
    beneficiary_id: int
    policy_code: str
    period: str
    amount: str | None = None
    quantity: str | None = None
    tier: str = ""
    remarks: str = ""
    payee_account_id: int | None = None


class EntryIn(Schema):
    id_number: str
    policy_code: str
    period: str
    name: str = ""
    region_code: str = ""
    phone: str = ""
    bank_name: str = ""
    account_number: str = ""
    amount: str | None = None
    quantity: str | None = None
    tier: str = ""
    remarks: str = ""


class NoteIn(Schema):
    note: str = ""


class ReasonIn(Schema):
    reason: str


class CorrectIn(Schema):
    reason: str
    amount: str | None = None
    quantity: str | None = None
    tier: str | None = None
    remarks: str | None = None
    payee_account_id: int | None = None


class BatchIn(Schema):
    ids: list[int | str]
    reason: str = ""
    note: str = ""


class ItemResultOut(Schema):
    application_id: int | str
    ok: bool
    message: str
    number: str
    status: str


class SampleIn(Schema):
    policy_code: str
    period: str
    region_code: str
    ratio: str
    seed: str = ""


class SampleOut(Schema):
    sampled: list[str]


class NoticeOut(Schema):
    id: int
    number: str
    region_code: str
    region_name: str
    policy_code: str
    period: str
    round: int
    previous: str | None
    status: str
    starts_on: dt.date
    ends_on: dt.date
    entry_count: int
    total_amount: Decimal
    digest: str
    is_public: bool
    pdf_url: str | None
    public_url: str | None

    @staticmethod
    def resolve_region_code(obj: PublicNotice) -> str:
        return obj.region_id

    @staticmethod
    def resolve_region_name(obj: PublicNotice) -> str:
        return obj.region.name

    @staticmethod
    def resolve_policy_code(obj: PublicNotice) -> str:
        return obj.policy.code

    @staticmethod
    def resolve_previous(obj: PublicNotice) -> str | None:
        return obj.previous.number if obj.previous_id else None

    @staticmethod
    def resolve_pdf_url(obj: PublicNotice) -> str | None:
        from django.urls import reverse

        return reverse("core:file-download", args=[obj.pdf_id]) if obj.pdf_id else None

    @staticmethod
    def resolve_public_url(obj: PublicNotice) -> str | None:
        return obj.public_url if obj.is_public else None


class EntryOut(Schema):
    seq: int
    application_id: int
    name_masked: str
    id_masked: str
    quantity: Decimal | None
    amount: Decimal


class NoticeDetailOut(NoticeOut):
    entries: list[EntryOut]


class NoticeFilter(Schema):
    status: str = ""
    policy: str = ""
    period: str = ""
    region: str = ""


class PublishIn(Schema):
    region_code: str
    policy_code: str
    period: str
    starts_on: dt.date | None = None


class RepublishIn(Schema):
    starts_on: dt.date | None = None


class ObjectionIn(Schema):
    application_id: int | None = None
    filed_by: str = ""
    contact: str = ""
    content: str


class ResolveIn(Schema):
    upheld: bool
    finding: str
    reject: bool = False


class ObjectionOut(Schema):
    id: int
    notice: str
    application: str | None
    filed_by: str
    contact: str
    content: str
    status: str
    finding: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None

    @staticmethod
    def resolve_notice(obj: Objection) -> str:
        return obj.notice.number

    @staticmethod
    def resolve_application(obj: Objection) -> str | None:
        return obj.application.number if obj.application_id else None


class RosterOut(Schema):
    id: str
    policy_code: str
    period: str
    status: str
    total_rows: int
    accepted: int
    rejected: int
    duplicates: int
    message: str
    percent: int
    file_url: str
    rejected_file_url: str | None
    created_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None


class RowErrorOut(Schema):
    row_number: int
    column: str
    value: str
    reason: str


# -- applications ------------------------------------------------------------------------------------------
def _rows(apps) -> list:
    return selectors.application_rows(apps)


def _get(scope: Scope, application_id) -> Application:
    try:
        return selectors.application_get(scope, application_id)
    except DomainError as exc:
        raise _not_found(exc) from exc


def _detail(scope: Scope, app: Application) -> dict:
    from django.urls import reverse

    row = _rows([app])[0]
    actions = [a for a in workflow.allowed_actions(app.status)
               if (t := workflow.find_transition(a, app.status)) is not None and scope.can(t.permission)
               and not scope.read_only]
    return {
        **row.__dict__,
        "tier": app.tier,
        "remarks": app.remarks,
        "payee_account": (f"{app.payee_account.bank_name} {app.payee_account.account_masked}"
                          if app.payee_account_id else ""),
        "collector": app.collector.name if app.collector_id else "",
        "step_started_on": app.step_started_on,
        "blocking_finding": services.findings_gate([app.pk]).get(app.pk, ""),
        "allowed_actions": actions,
        "events": list(selectors.application_history(scope, app.pk)),
        "documents": [{"id": str(d.pk), "name": d.original_name, "size": d.size,
                       "url": reverse("core:file-download", args=[d.pk])} for d in application_documents(app)],
    }


@router.get("/applications", response=ApplicationPage, summary="申报列表（脱敏，含办理期限和超期标记）")
def list_applications(request: HttpRequest, filters: Query[ApplicationFilter]):
    scope = _scope(request)
    qs = selectors.applications_list(scope, status=filters.status or None, policy_code=filters.policy,
                                     period=filters.period, region_code=filters.region, channel=filters.channel,
                                     sampled=filters.sampled)
    if filters.overdue:
        qs = qs.filter(status__in=workflow.DEADLINE_STATES, step_deadline__lt=clock.today())
    limit = max(1, min(filters.limit, MAX_LIMIT))
    offset = max(0, filters.offset)
    return {"count": qs.count(), "items": _rows(qs[offset:offset + limit])}


@router.post("/applications", response={201: ApplicationDetailOut}, summary="新建申报（已登记的补贴对象）")
def create_application(request: HttpRequest, payload: ApplicationIn):
    scope = _scope(request)
    app = services.application_create(actor=scope, channel="typed", **payload.dict())
    return Status(201, _detail(scope, _get(scope, app.pk)))


@router.post("/applications/enter", response={201: ApplicationDetailOut},
             summary="录入申报（按身份证号；未登记的补贴对象一并登记）")
def enter_application(request: HttpRequest, payload: EntryIn):
    scope = _scope(request)
    app = application_enter(actor=scope, **payload.dict())
    return Status(201, _detail(scope, _get(scope, app.pk)))


BATCHES = {
    "verify": (services.application_verify_batch, "note"),
    "return": (services.application_return_batch, "reason"),
    "withdraw": (services.application_withdraw_batch, "reason"),
    "approve": (services.application_approve_batch, "note"),
    "reject": (services.application_reject_batch, "reason"),
}


@router.post("/applications/batch/{action}", response=list[ItemResultOut],
             summary="批量办理（verify/return/withdraw/approve/reject），逐件给出结果")
def batch(request: HttpRequest, action: str, payload: BatchIn):
    scope = _scope(request)
    if action not in BATCHES:
        raise HttpError(404, f"没有批量操作“{action}”，可用：{'、'.join(BATCHES)}。")
    if not any(scope.can(t.permission) for t in workflow.transitions_for(action)) or scope.read_only:
        raise ScopeError("无权执行此操作：您的角色没有该权限。", code="forbidden")
    service, text_field = BATCHES[action]
    results = service(actor=scope, application_ids=payload.ids, **{text_field: getattr(payload, text_field)})
    return [r.as_dict() for r in results]


@router.get("/applications/{application_id}", response=ApplicationDetailOut, summary="申报详情（含办理记录）")
def get_application(request: HttpRequest, application_id: int):
    scope = _scope(request)
    return _detail(scope, _get(scope, application_id))


@router.get("/applications/{application_id}/events", response=list[EventOut], summary="申报办理记录")
def application_events(request: HttpRequest, application_id: int):
    scope = _scope(request)
    return list(selectors.application_history(scope, _get(scope, application_id).pk))


def _act(request, application_id: int, service, **kwargs):
    scope = _scope(request)
    app = _get(scope, application_id)
    service(actor=scope, application_id=app.pk, **kwargs)
    return _detail(scope, _get(scope, app.pk))


@router.post("/applications/{application_id}/verify", response=ApplicationDetailOut, summary="入户核实通过")
def verify(request: HttpRequest, application_id: int, payload: NoteIn):
    return _act(request, application_id, services.application_verify, note=payload.note)


@router.post("/applications/{application_id}/return", response=ApplicationDetailOut, summary="退回修改")
def return_(request: HttpRequest, application_id: int, payload: ReasonIn):
    return _act(request, application_id, services.application_return, reason=payload.reason)


@router.post("/applications/{application_id}/correct", response=ApplicationDetailOut,
             summary="更正（只改给出的字段）")
def correct(request: HttpRequest, application_id: int, payload: CorrectIn):
    return _act(request, application_id, services.application_correct, **payload.dict(exclude_unset=True))


@router.post("/applications/{application_id}/withdraw", response=ApplicationDetailOut, summary="撤回")
def withdraw(request: HttpRequest, application_id: int, payload: ReasonIn):
    return _act(request, application_id, services.application_withdraw, reason=payload.reason)


@router.post("/applications/{application_id}/approve", response=ApplicationDetailOut, summary="审核通过")
def approve(request: HttpRequest, application_id: int, payload: NoteIn):
    return _act(request, application_id, services.application_approve, note=payload.note)


@router.post("/applications/{application_id}/reject", response=ApplicationDetailOut,
             summary="审核不通过（原因告知申请人）")
def reject(request: HttpRequest, application_id: int, payload: ReasonIn):
    return _act(request, application_id, services.application_reject, reason=payload.reason)


# -- approval ----------------------------------------------------------------------------------------------
@router.post("/approval/sample", response=SampleOut, summary="抽取实地抽查对象")
def sample(request: HttpRequest, payload: SampleIn):
    apps = services.approval_sample(actor=_scope(request), **payload.dict())
    return {"sampled": [app.number for app in apps]}


@router.get("/approval/findings", response=dict[int, str], summary="阻断性比对疑点（申报 id → 说明）")
def findings(request: HttpRequest, ids: str = ""):
    scope = _scope(request)
    wanted = [int(i) for i in ids.split(",") if i.strip().isdigit()]
    visible = list(selectors.applications_visible(scope).filter(pk__in=wanted).values_list("pk", flat=True))
    return services.findings_gate(visible)


# -- notices -----------------------------------------------------------------------------------------------
def _notice(scope: Scope, notice_id) -> PublicNotice:
    try:
        return selectors.notice_get(scope, notice_id)
    except DomainError as exc:
        raise _not_found(exc) from exc


def _notice_detail(scope: Scope, notice_id) -> PublicNotice:
    notice = _notice(scope, notice_id)
    notice.entries_list = list(selectors.notice_entries(notice))
    return notice


class _NoticeDetail(NoticeDetailOut):
    @staticmethod
    def resolve_entries(obj: PublicNotice) -> list:
        return obj.entries_list


@router.get("/notices", response=list[NoticeOut], summary="公示列表")
@paginate(LimitOffsetPagination)
def list_notices(request: HttpRequest, filters: Query[NoticeFilter]):
    return selectors.notices_list(_scope(request), status=filters.status, policy_code=filters.policy,
                                  period=filters.period, region_code=filters.region)


@router.post("/notices", response={201: _NoticeDetail}, summary="发布公示（村、项目、期间的全部已核实申报）")
def publish(request: HttpRequest, payload: PublishIn):
    scope = _scope(request)
    notice = services.notice_publish(actor=scope, **payload.dict())
    return Status(201, _notice_detail(scope, notice.pk))


@router.get("/notices/{notice_id}", response=_NoticeDetail, summary="公示详情（名单、摘要、PDF）")
def get_notice(request: HttpRequest, notice_id: int):
    return _notice_detail(_scope(request), notice_id)


@router.get("/notices/{notice_id}/pdf", summary="下载纸质公示 PDF")
def notice_pdf(request: HttpRequest, notice_id: int):
    from yikatong.core.views.files import file_download

    notice = _notice(_scope(request), notice_id)
    if not notice.pdf_id:
        raise HttpError(404, f"公示 {notice.number} 没有 PDF。")
    return file_download(request, notice.pdf_id)


@router.post("/notices/{notice_id}/close", response=_NoticeDetail, summary="结束公示")
def close(request: HttpRequest, notice_id: int):
    scope = _scope(request)
    services.notice_close(actor=scope, notice_id=_notice(scope, notice_id).pk)
    return _notice_detail(scope, notice_id)


@router.post("/notices/{notice_id}/submit", response=list[ApplicationOut], summary="报送主管部门")
def submit(request: HttpRequest, notice_id: int):
    scope = _scope(request)
    apps = services.applications_submit(actor=scope, notice_id=_notice(scope, notice_id).pk)
    return _rows(selectors.applications_visible(scope).select_related("beneficiary", "policy", "region")
                 .filter(pk__in=[a.pk for a in apps]).order_by("pk"))


@router.post("/notices/{notice_id}/republish", response={201: _NoticeDetail}, summary="更正后重新公示")
def republish(request: HttpRequest, notice_id: int, payload: RepublishIn):
    scope = _scope(request)
    new = services.notice_republish(actor=scope, notice_id=_notice(scope, notice_id).pk, starts_on=payload.starts_on)
    return Status(201, _notice_detail(scope, new.pk))


@router.get("/notices/{notice_id}/objections", response=list[ObjectionOut], summary="公示异议")
def list_objections(request: HttpRequest, notice_id: int):
    scope = _scope(request)
    return list(selectors.notice_objections(scope, _notice(scope, notice_id).pk)
                .select_related("notice", "application"))


@router.post("/notices/{notice_id}/objections", response={201: ObjectionOut}, summary="登记异议")
def record_objection(request: HttpRequest, notice_id: int, payload: ObjectionIn):
    scope = _scope(request)
    objection = services.objection_record(actor=scope, notice_id=_notice(scope, notice_id).pk, **payload.dict())
    return Status(201, objection)


@router.post("/objections/{objection_id}/resolve", response=ObjectionOut, summary="处理异议（调查结论）")
def resolve_objection(request: HttpRequest, objection_id: int, payload: ResolveIn):
    scope = _scope(request)
    objection = Objection.objects.select_related("notice").filter(pk=objection_id).first()
    if objection is None:
        raise HttpError(404, f"异议 {objection_id} 不存在或不在您的管辖范围内。")
    _notice(scope, objection.notice_id)  # visibility: the same answer for "not there" and "not yours"
    return services.objection_resolve(actor=scope, objection_id=objection.pk, **payload.dict())


# -- rosters -----------------------------------------------------------------------------------------------
def _rosters(scope: Scope):
    scope.require("application.view")
    return scope.filter(RosterImport.objects.select_related("policy", "job"), region_field="region_id",
                        business_line_field="policy__business_line")


def _roster(scope: Scope, roster_id) -> RosterImport:
    roster = _rosters(scope).filter(pk=roster_id).first()
    if roster is None:
        raise HttpError(404, "该花名册导入记录不存在或不在您的管辖范围内。")
    return roster


def _roster_out(roster: RosterImport) -> dict:
    from django.urls import reverse

    percent = 100 if roster.status == RosterImport.Status.DONE else (roster.job.percent if roster.job_id else 0)
    return {
        "id": str(roster.pk), "policy_code": roster.policy.code, "period": roster.period, "status": roster.status,
        "total_rows": roster.total_rows, "accepted": roster.accepted, "rejected": roster.rejected,
        "duplicates": roster.duplicates, "message": roster.message, "percent": percent,
        "file_url": reverse("core:file-download", args=[roster.file_id]),
        "rejected_file_url": reverse("core:file-download", args=[roster.rejected_file_id])
        if roster.rejected_file_id else None,
        "created_by": roster.created_by, "created_at": roster.created_at, "finished_at": roster.finished_at,
    }


@router.post("/rosters", response={202: RosterOut}, summary="上传花名册（后台导入，返回导入记录）")
def upload_roster(request: HttpRequest, policy_code: Form[str], period: Form[str], file: File[UploadedFile]):
    scope = _scope(request)
    scope.require_write("application.collect")
    try:
        service = importlib.import_module(ROSTER_SERVICE)
    except ImportError:
        raise HttpError(503, "花名册导入服务尚未就绪。") from None
    roster = service.roster_import_start(actor=scope, fileobj=file, original_name=file.name,
                                         policy_code=policy_code, period=period)
    return Status(202, _roster_out(_roster(scope, roster.pk)))


@router.get("/rosters", response=list[RosterOut], summary="花名册导入记录")
def list_rosters(request: HttpRequest, limit: int = 50):
    return [_roster_out(r) for r in _rosters(_scope(request)).order_by("-created_at")[:max(1, min(limit, 200))]]


@router.get("/rosters/{roster_id}", response=RosterOut, summary="花名册导入进度与结果")
def get_roster(request: HttpRequest, roster_id: str):
    return _roster_out(_roster(_scope(request), _uuid(roster_id)))


@router.get("/rosters/{roster_id}/errors", response=list[RowErrorOut], summary="未导入的行（行号、列、原因）")
@paginate(LimitOffsetPagination)
def roster_errors(request: HttpRequest, roster_id: str):
    roster = _roster(_scope(request), _uuid(roster_id))
    return RosterRowError.objects.filter(roster_import=roster).order_by("row_number", "pk")


def _uuid(value: str):
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        raise HttpError(404, "该花名册导入记录不存在或不在您的管辖范围内。") from None


# -- register ----------------------------------------------------------------------------------------------
@router.get("/register.xlsx", summary="乡镇补贴底册（XLSX）")
def register(request: HttpRequest, township: str, policy: str, period: str):
    scope = _scope(request)
    rules.parse_period(period)  # a period that cannot exist is an error, not an empty register
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    try:
        result = services.register_export_xlsx(scope, township, policy, period, out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    response = FileResponse(out, as_attachment=True, filename=f"补贴底册_{township}_{policy}_{period}.xlsx",
                            content_type=XLSX)
    response["X-Register-Rows"] = str(result.rows)
    response["X-Register-Total"] = str(result.total_amount)
    return response
