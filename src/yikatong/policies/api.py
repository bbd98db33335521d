"""API of the one list (mounted at /api/policies/). Thin: the session user's scope, reads through selectors,
writes through services. Amounts are decimal strings. Refusals: 400 (403 for scope) with the Chinese message
from the services; "not found or not yours" is 404.

Routes with a fixed first segment (lists/, library/, changes/, export.xlsx) are declared before /{code}."""

import datetime as dt
from decimal import Decimal

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from ninja import File, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate

from yikatong.core import clock
from yikatong.core.errors import DomainError
from yikatong.core.scope import Scope
from yikatong.core.tabular import attachment_header

from . import selectors, xlsx
from .models import AnnualListItem, ChangeRequest, LibraryEntry, Policy
from .services import (
    change_request_approve,
    change_request_create,
    change_request_return,
    change_request_submit,
    change_request_withdraw,
    library_build_from_list,
    library_expire,
    library_is_locked,
    library_lock,
    list_file,
    list_item_add,
    list_item_remove,
    list_items_submit,
    list_publish,
    list_return,
    policy_activate,
    policy_create,
    policy_retire,
    policy_update,
)
from .views.changes import current_step_label, step_deadline
from .views.library import run_check
from .views.lists import visible_region

router = Router(tags=["一张清单：补贴政策、年度清单、项目库、调整变更"])


def _scope(request: HttpRequest) -> Scope:
    return Scope.for_user(request.user)


def _found(call, *args, **kwargs):
    """Run a selector; its "not found or not in your scope" refusal becomes a 404."""
    try:
        return call(*args, **kwargs)
    except DomainError as exc:
        if exc.code == "not_found":
            raise HttpError(404, exc.message) from exc
        raise


def _money(value) -> str:
    return format(Decimal(value), "f") if value is not None else ""


# -- schemas ------------------------------------------------------------------------------------------
class FundingShare(Schema):
    level: str
    share: str


class Tier(Schema):
    code: str
    label: str
    amount: str


class PolicyOut(Schema):
    code: str
    name: str
    business_line: str
    department: str
    department_name: str
    region: str
    level_set: str
    funding_sources: list[FundingShare]
    legal_basis: str
    target_group: str
    standard_type: str
    standard_amount: str
    unit_name: str
    tiers: list[Tier]
    cycle: str
    means_tested: bool
    direct_funds: bool
    valid_from: dt.date
    valid_to: dt.date | None
    is_public: bool
    online_application: bool
    notice_public: bool
    min_age: int | None
    max_age: int | None
    exclusive_with: list[str]
    status: str
    version: int

    @staticmethod
    def resolve_department(obj: Policy) -> str:
        return obj.department.code

    @staticmethod
    def resolve_department_name(obj: Policy) -> str:
        return obj.department.name

    @staticmethod
    def resolve_region(obj: Policy) -> str:
        return obj.region_id

    @staticmethod
    def resolve_standard_amount(obj: Policy) -> str:
        return _money(obj.standard_amount)

    @staticmethod
    def resolve_exclusive_with(obj: Policy) -> list[str]:
        return sorted(obj.exclusive_with.values_list("code", flat=True))


class PolicyFilter(Schema):
    line: str = ""
    level: str = ""
    status: str = ""
    cycle: str = ""
    means_tested: bool | None = None
    q: str = ""


class PolicyIn(Schema):
    code: str
    name: str
    department: str
    level_set: str
    funding_sources: list[FundingShare]
    standard_type: str
    standard_amount: str | None = None
    unit_name: str = ""
    tiers: list[Tier] = []
    cycle: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    legal_basis: str = ""
    target_group: str = ""
    means_tested: bool = False
    direct_funds: bool = False
    is_public: bool = True
    online_application: bool = False
    notice_public: bool = True
    min_age: int | None = None
    max_age: int | None = None
    exclusive_with: list[str] = []
    status: str = "active"


class PolicyPatch(Schema):
    """Only the attributes sent are changed; `reason` is required (it goes into the version history)."""

    reason: str
    name: str | None = None
    department: str | None = None
    level_set: str | None = None
    funding_sources: list[FundingShare] | None = None
    standard_type: str | None = None
    standard_amount: str | None = None
    unit_name: str | None = None
    tiers: list[Tier] | None = None
    cycle: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    legal_basis: str | None = None
    target_group: str | None = None
    means_tested: bool | None = None
    direct_funds: bool | None = None
    is_public: bool | None = None
    online_application: bool | None = None
    notice_public: bool | None = None
    min_age: int | None = None
    max_age: int | None = None
    exclusive_with: list[str] | None = None


class VersionOut(Schema):
    version: int
    changed_by: str
    changed_at: dt.datetime
    reason: str
    snapshot: dict


class CompareRow(Schema):
    label: str
    old: str
    new: str
    changed: bool


class ReasonIn(Schema):
    reason: str


class DeadlineOut(Schema):
    key: str
    label: str
    deadline: dt.date
    state: str
    state_label: str
    days_left: int


class ItemOut(Schema):
    policy: str
    policy_name: str
    part: str
    department: str
    status: str
    submitted_late: bool
    added_by: str
    submitted_by: str

    @staticmethod
    def resolve_policy(obj: AnnualListItem) -> str:
        return obj.policy.code

    @staticmethod
    def resolve_policy_name(obj: AnnualListItem) -> str:
        return obj.policy.name

    @staticmethod
    def resolve_department(obj: AnnualListItem) -> str:
        return obj.department.code


class ListOut(Schema):
    region: str
    region_name: str
    year: int
    status: str
    version: int
    filed_late: bool
    published_late: bool
    returned_reason: str
    deadlines: list[DeadlineOut]
    items: list[ItemOut]


class ListBrief(Schema):
    region: str
    year: int
    status: str
    version: int


class ItemAddIn(Schema):
    policy: str
    part: str | None = None


class ListDiffOut(Schema):
    added: list[dict]
    removed: list[dict]
    changed: list[list[dict]]


class RowErrorOut(Schema):
    row: int | None
    column: str
    message: str


class ImportOut(Schema):
    added: list[str]
    file: str


class ErrorOut(Schema):
    detail: str
    code: str | None = None
    errors: list[RowErrorOut] = []


class EntryOut(Schema):
    year: int
    region: str
    region_name: str
    policy: str
    policy_name: str
    status: str
    source: str
    source_change: str | None
    created_at: dt.datetime
    created_by: str
    removed_reason: str

    @staticmethod
    def resolve_region(obj: LibraryEntry) -> str:
        return obj.region_id

    @staticmethod
    def resolve_region_name(obj: LibraryEntry) -> str:
        return obj.region.name

    @staticmethod
    def resolve_policy(obj: LibraryEntry) -> str:
        return obj.policy.code

    @staticmethod
    def resolve_policy_name(obj: LibraryEntry) -> str:
        return obj.policy.name

    @staticmethod
    def resolve_source(obj: LibraryEntry) -> str:
        return "change" if obj.source_change_id else "list"

    @staticmethod
    def resolve_source_change(obj: LibraryEntry) -> str | None:
        return obj.source_change.number if obj.source_change_id else None


class LibraryOut(Schema):
    year: int
    locked: bool
    entries: list[EntryOut]


class CheckQuery(Schema):
    policy: str
    region: str
    year: int


class CheckOut(Schema):
    allowed: bool
    message: str
    policy: str
    region: str
    year: int


class StepOut(Schema):
    round: int
    step: str
    label: str
    decision: str
    actor: str
    organization: str | None
    decided_at: dt.datetime
    reason: str

    @staticmethod
    def resolve_step(obj) -> str:
        return obj.step_code

    @staticmethod
    def resolve_label(obj) -> str:
        return obj.step_label

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_username

    @staticmethod
    def resolve_organization(obj) -> str | None:
        return obj.actor_organization.code if obj.actor_organization_id else None


class ChangeOut(Schema):
    id: int
    number: str
    region: str
    year: int
    policy: str
    change_type: str
    content: str
    reason: str
    amount_impact: str
    new_standard: dict
    status: str
    current_step: int
    current_step_label: str
    step_deadline: dt.date | None
    round: int
    applicant: str
    applicant_user: str
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    returned_reason: str
    documents: list[str]
    steps: list[StepOut]

    @staticmethod
    def resolve_region(obj: ChangeRequest) -> str:
        return obj.region_id

    @staticmethod
    def resolve_policy(obj: ChangeRequest) -> str:
        return obj.policy.code

    @staticmethod
    def resolve_amount_impact(obj: ChangeRequest) -> str:
        return _money(obj.amount_impact)

    @staticmethod
    def resolve_current_step_label(obj: ChangeRequest) -> str:
        return current_step_label(obj)

    @staticmethod
    def resolve_step_deadline(obj: ChangeRequest) -> dt.date | None:
        deadline = step_deadline(obj)
        return deadline["date"] if deadline else None

    @staticmethod
    def resolve_applicant(obj: ChangeRequest) -> str:
        return obj.applicant.code

    @staticmethod
    def resolve_documents(obj: ChangeRequest) -> list[str]:
        return [str(f.pk) for f in obj.documents.all()]

    @staticmethod
    def resolve_steps(obj: ChangeRequest) -> list:
        return list(obj.steps.select_related("actor_organization").order_by("id"))


class ChangeIn(Schema):
    region: str
    year: int
    policy: str
    change_type: str
    content: str
    reason: str
    amount_impact: str = "0"
    new_standard: dict | None = None


class ChangeFilter(Schema):
    status: str = ""
    year: int | None = None


class OpinionIn(Schema):
    opinion: str = ""


# -- catalogue export -----------------------------------------------------------------------------------
def _filtered(scope: Scope, filters: PolicyFilter):
    qs = selectors.policies_visible(scope, status=filters.status or None, business_line=filters.line or None)
    if filters.level:
        qs = qs.filter(level_set=filters.level)
    if filters.cycle:
        qs = qs.filter(cycle=filters.cycle)
    if filters.means_tested is not None:
        qs = qs.filter(means_tested=filters.means_tested)
    if filters.q:
        qs = qs.filter(Q(code__icontains=filters.q.strip()) | Q(name__icontains=filters.q.strip()))
    return qs


def _xlsx(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=xlsx.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = attachment_header(filename)
    response["Cache-Control"] = "no-store"
    return response


@router.get("/export.xlsx", summary="导出补贴政策目录（XLSX）", openapi_extra={
    "responses": {200: {"description": "XLSX 文件", "content": {xlsx.XLSX_CONTENT_TYPE: {}}}}})
def export_catalogue(request: HttpRequest, filters: Query[PolicyFilter]):
    scope = _scope(request)
    return _xlsx(xlsx.export_catalogue(scope, _filtered(scope, filters)), f"补贴政策目录-{clock.today():%Y%m%d}.xlsx")


# -- annual lists ---------------------------------------------------------------------------------------
def _list_out(scope: Scope, region: str, year: int) -> dict:
    try:
        region_obj = visible_region(scope, region)  # ScopeError (403) when out of sight
    except Http404 as exc:
        raise HttpError(404, str(exc)) from exc
    region = region_obj.code
    policy_list = selectors.annual_lists(scope, year).filter(region_id=region).first()
    return {
        "region": region, "region_name": region_obj.name, "year": year,
        "status": policy_list.status if policy_list else "none",
        "version": policy_list.version if policy_list else 0,
        "filed_late": bool(policy_list and policy_list.filed_late),
        "published_late": bool(policy_list and policy_list.published_late),
        "returned_reason": policy_list.returned_reason if policy_list else "",
        "deadlines": selectors.list_deadline_status(year),
        "items": list(selectors.annual_list_items(scope, region, year, include_removed=True)),
    }


@router.get("/lists/{region}/{year}", response=ListOut, summary="年度补贴政策清单（区划、年度）")
def get_list(request: HttpRequest, region: str, year: int):
    return _list_out(_scope(request), region, year)


@router.post("/lists/{region}/{year}/items", response={201: ItemOut}, summary="主管部门添加清单项目")
def add_item(request: HttpRequest, region: str, year: int, payload: ItemAddIn):
    item = list_item_add(actor=_scope(request), region_code=region, year=year, policy_code=payload.policy,
                         part=payload.part or None)
    return Status(201, item)


@router.delete("/lists/{region}/{year}/items/{code}", response={204: None}, summary="移出未提交的清单项目")
def remove_item(request: HttpRequest, region: str, year: int, code: str):
    list_item_remove(actor=_scope(request), region_code=region, year=year, policy_code=code)
    return Status(204, None)


@router.post("/lists/{region}/{year}/submit", response=list[ItemOut], summary="主管部门提交本部门的清单项目")
def submit_items(request: HttpRequest, region: str, year: int):
    return list_items_submit(actor=_scope(request), region_code=region, year=year)


def _briefs(lists) -> list[dict]:
    return [{"region": pl.region_id, "year": pl.year, "status": pl.status, "version": pl.version} for pl in lists]


@router.post("/lists/{region}/{year}/file", response=list[ListBrief], summary="市（州）财政报省备案")
def file_list(request: HttpRequest, region: str, year: int):
    return _briefs(list_file(actor=_scope(request), region_code=region, year=year))


@router.post("/lists/{region}/{year}/publish", response=list[ListBrief], summary="省财政公布年度清单")
def publish_list(request: HttpRequest, region: str, year: int):
    return _briefs(list_publish(actor=_scope(request), province_code=region, year=year))


@router.post("/lists/{region}/{year}/return", response=list[ListBrief], summary="省财政退回市（州）报备")
def return_list(request: HttpRequest, region: str, year: int, payload: ReasonIn):
    return _briefs(list_return(actor=_scope(request), region_code=region, year=year, reason=payload.reason))


@router.get("/lists/{region}/{year}/compare", response=ListDiffOut, summary="清单两个版本的差异")
def compare_list(request: HttpRequest, region: str, year: int, v1: int, v2: int):
    diff = _found(selectors.list_versions_compare, _scope(request), region, year, v1, v2)
    return {"added": diff["added"], "removed": diff["removed"], "changed": [list(pair) for pair in diff["changed"]]}


@router.get("/lists/{region}/{year}/export.xlsx", summary="导出年度清单（XLSX）", openapi_extra={
    "responses": {200: {"description": "XLSX 文件", "content": {xlsx.XLSX_CONTENT_TYPE: {}}}}})
def export_list(request: HttpRequest, region: str, year: int):
    scope = _scope(request)
    _list_out(scope, region, year)  # visibility
    return _xlsx(xlsx.export_list(scope, region, year), f"{region}-{year}年度补贴政策清单.xlsx")


@router.post("/lists/{region}/{year}/import", response={201: ImportOut, 400: ErrorOut},
             summary="从 XLSX/CSV 导入清单项目（全部成功才导入）")
def import_list(request: HttpRequest, region: str, year: int, file: File[UploadedFile]):
    try:
        result = xlsx.import_list(actor=_scope(request), region_code=region, year=year, fileobj=file,
                                  original_name=file.name)
    except xlsx.ImportRefused as exc:
        return Status(400, {"detail": exc.message, "code": exc.code,
                            "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in exc.errors]})
    return Status(201, {"added": [i.policy.code for i in result.added], "file": str(result.stored.pk)})


# -- project library ----------------------------------------------------------------------------------
@router.get("/library/check", response=CheckOut, summary="项目库核验：某项目能否在某区划某年度发放")
def library_check(request: HttpRequest, query: Query[CheckQuery]):
    return run_check(_scope(request), policy=query.policy, region=query.region, year=query.year)


@router.get("/library/{year}", response=LibraryOut, summary="补贴项目库（适用于本区划的条目）")
def library_get(request: HttpRequest, year: int, include_removed: bool = False):
    scope = _scope(request)
    entries = selectors.library_entries(scope, year, include_removed=include_removed).select_related("source_change")
    locked = bool(scope.region_code) and library_is_locked(region_code=scope.region_code, year=year)
    return {"year": year, "locked": locked, "entries": list(entries)}


@router.post("/library/{year}/build", response=list[EntryOut], summary="省财政根据公布的清单建立项目库")
def library_build(request: HttpRequest, year: int):
    scope = _scope(request)
    scope.require_write("library.manage")
    return library_build_from_list(actor=scope, province_code=scope.region_code, year=year)


@router.post("/library/{year}/lock", response={201: dict}, summary="锁定本级项目库")
def library_lock_endpoint(request: HttpRequest, year: int):
    scope = _scope(request)
    scope.require_write("library.manage")
    lock = library_lock(actor=scope, region_code=scope.region_code, year=year)
    return Status(201, {"region": lock.region_id, "year": lock.year, "locked_by": lock.locked_by})


@router.post("/library/{year}/expire", response=list[EntryOut], summary="到期政策移出项目库")
def library_expire_endpoint(request: HttpRequest, year: int):
    return library_expire(actor=_scope(request), year=year)


# -- change requests ----------------------------------------------------------------------------------
def _change(scope: Scope, pk: int) -> ChangeRequest:
    return _found(selectors.change_request_detail, scope, pk)


@router.get("/changes/", response=list[ChangeOut], summary="调整变更申请列表")
@paginate(LimitOffsetPagination)
def change_list(request: HttpRequest, filters: Query[ChangeFilter]):
    return selectors.change_requests(_scope(request), status=filters.status or None, year=filters.year)


@router.post("/changes/", response={201: ChangeOut}, summary="填报调整变更申请（草稿）")
def change_create(request: HttpRequest, payload: ChangeIn):
    scope = _scope(request)
    cr = change_request_create(actor=scope, region_code=payload.region, year=payload.year,
                               policy_code=payload.policy, change_type=payload.change_type,
                               content=payload.content, reason=payload.reason, amount_impact=payload.amount_impact,
                               new_standard=payload.new_standard)
    return Status(201, _change(scope, cr.pk))


@router.get("/changes/awaiting", response=list[ChangeOut], summary="待我审批")
def change_awaiting(request: HttpRequest):
    return selectors.change_requests_awaiting(_scope(request))


@router.get("/changes/{pk}", response=ChangeOut, summary="调整变更申请详情")
def change_get(request: HttpRequest, pk: int):
    return _change(_scope(request), pk)


@router.post("/changes/{pk}/submit", response=ChangeOut, summary="提交（或退回后重新提交）")
def change_submit(request: HttpRequest, pk: int):
    scope = _scope(request)
    change_request_submit(actor=scope, pk=_change(scope, pk).pk)
    return _change(scope, pk)


@router.post("/changes/{pk}/approve", response=ChangeOut, summary="当前环节同意")
def change_approve(request: HttpRequest, pk: int, payload: OpinionIn):
    scope = _scope(request)
    change_request_approve(actor=scope, pk=_change(scope, pk).pk, opinion=payload.opinion)
    return _change(scope, pk)


@router.post("/changes/{pk}/return", response=ChangeOut, summary="当前环节退回（须填原因）")
def change_return(request: HttpRequest, pk: int, payload: ReasonIn):
    scope = _scope(request)
    change_request_return(actor=scope, pk=_change(scope, pk).pk, reason=payload.reason)
    return _change(scope, pk)


@router.post("/changes/{pk}/withdraw", response=ChangeOut, summary="申请部门撤回")
def change_withdraw(request: HttpRequest, pk: int, payload: ReasonIn):
    scope = _scope(request)
    change_request_withdraw(actor=scope, pk=_change(scope, pk).pk, reason=payload.reason)
    return _change(scope, pk)


# -- policies -------------------------------------------------------------------------------------------
def _policy_fields(data: dict) -> dict:
    for key in ("funding_sources", "tiers"):
        if data.get(key) is not None:
            data[key] = [dict(x) for x in data[key]]
    return data


@router.get("/", response=list[PolicyOut], summary="补贴政策列表（可见范围内，可筛选）")
@paginate(LimitOffsetPagination)
def policy_list(request: HttpRequest, filters: Query[PolicyFilter]):
    return _filtered(_scope(request), filters)


@router.post("/", response={201: PolicyOut}, summary="登记补贴政策（第 1 版）")
def policy_create_endpoint(request: HttpRequest, payload: PolicyIn):
    policy = policy_create(actor=_scope(request), fields=_policy_fields(payload.dict()))
    return Status(201, policy)


@router.get("/{code}", response=PolicyOut, summary="补贴政策详情")
def policy_get(request: HttpRequest, code: str):
    return _found(selectors.policy_get, _scope(request), code)


@router.patch("/{code}", response=PolicyOut, summary="修改补贴政策（新版本，须填原因）")
def policy_patch(request: HttpRequest, code: str, payload: PolicyPatch):
    scope = _scope(request)
    policy = _found(selectors.policy_get, scope, code)
    changes = _policy_fields(payload.dict(exclude_unset=True))
    reason = changes.pop("reason")
    return policy_update(actor=scope, code=policy.code, changes=changes, reason=reason)


@router.get("/{code}/versions", response=list[VersionOut], summary="补贴政策的全部版本")
def policy_versions(request: HttpRequest, code: str):
    return list(_found(selectors.policy_versions, _scope(request), code))


@router.get("/{code}/compare", response=list[CompareRow], summary="两个版本并排对比")
def policy_compare(request: HttpRequest, code: str, v1: int, v2: int):
    rows = _found(selectors.policy_versions_compare, _scope(request), code, v1, v2)
    return [row._asdict() for row in rows]


@router.post("/{code}/retire", response=PolicyOut, summary="停止执行（须填原因）")
def policy_retire_endpoint(request: HttpRequest, code: str, payload: ReasonIn):
    scope = _scope(request)
    policy = _found(selectors.policy_get, scope, code)
    return policy_retire(actor=scope, code=policy.code, reason=payload.reason)


@router.post("/{code}/activate", response=PolicyOut, summary="启用草稿政策")
def policy_activate_endpoint(request: HttpRequest, code: str):
    scope = _scope(request)
    policy = _found(selectors.policy_get, scope, code)
    return policy_activate(actor=scope, code=policy.code)
