"""API for organizations and users (mounted at /api/orgs/). Thin: scope from the session user, reads
through selectors, writes through services. Plus a demo endpoint for bank API credentials."""

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import LimitOffsetPagination, paginate

from yikatong.core.apikey_auth import ApiKeyAuth
from yikatong.core.models import Organization, User
from yikatong.core.scope import Scope
from yikatong.core.selectors import orgs as org_selectors
from yikatong.core.selectors import users as user_selectors
from yikatong.core.services import orgs as org_services

router = Router(tags=["机构与用户"])


class OrgOut(Schema):
    code: str
    name: str
    kind: str
    kind_label: str
    business_line: str
    region_code: str
    region_name: str
    credit_code: str
    bank_code: str
    active: bool

    @staticmethod
    def resolve_kind_label(obj: Organization) -> str:
        return obj.get_kind_display()

    @staticmethod
    def resolve_region_code(obj: Organization) -> str:
        return obj.region_id

    @staticmethod
    def resolve_region_name(obj: Organization) -> str:
        return obj.region.name


class OrgIn(Schema):
    code: str
    name: str
    kind: str
    region_code: str
    business_line: str = ""
    credit_code: str = ""
    bank_code: str = ""


class OrgFilter(Schema):
    kind: str = ""
    region: str = ""
    line: str = ""
    q: str = ""


class UserOut(Schema):
    username: str
    full_name: str
    organization_code: str
    organization_name: str
    region_code: str
    role: str
    role_label: str
    phone: str
    is_active: bool

    @staticmethod
    def resolve_organization_code(obj: User) -> str:
        return obj.organization.code

    @staticmethod
    def resolve_organization_name(obj: User) -> str:
        return obj.organization.name

    @staticmethod
    def resolve_region_code(obj: User) -> str:
        return obj.organization.region_id

    @staticmethod
    def resolve_role_label(obj: User) -> str:
        return obj.get_role_display()


class UserFilter(Schema):
    organization: str = ""
    role: str = ""
    q: str = ""


class KeyWhoAmIOut(Schema):
    credential: str
    interfaces: list[str]
    organization: OrgOut


@router.get("/whoami-key", auth=ApiKeyAuth("bank"), response=KeyWhoAmIOut,
            summary="接口凭证自检（银行接口凭证）")
def whoami_key(request: HttpRequest):
    cred = request.api_credential
    return {"credential": f"{cred.name}（{cred.key_prefix}…）", "interfaces": cred.interfaces,
            "organization": cred.organization}


@router.get("/users/", response=list[UserOut], summary="用户列表（管辖范围内）")
@paginate(LimitOffsetPagination)
def list_users(request: HttpRequest, filters: Query[UserFilter]):
    scope = Scope.for_user(request.user)
    users = user_selectors.user_list(scope, organization_code=filters.organization, role=filters.role,
                                     q=filters.q)
    return users


@router.get("/", response=list[OrgOut], summary="机构列表（管辖范围内）")
@paginate(LimitOffsetPagination)
def list_orgs(request: HttpRequest, filters: Query[OrgFilter]):
    scope = Scope.for_user(request.user)
    orgs = org_selectors.organization_list(scope, kind=filters.kind, region_code=filters.region,
                                           business_line=filters.line, q=filters.q)
    return orgs


@router.post("/", response={201: OrgOut}, summary="新建机构（系统管理员）")
def create_org(request: HttpRequest, payload: OrgIn):
    scope = Scope.for_user(request.user)
    org = org_services.organization_create(actor=scope, **payload.dict())
    return Status(201, org)


@router.get("/{code}", response=OrgOut, summary="机构详情")
def get_org(request: HttpRequest, code: str):
    scope = Scope.for_user(request.user)
    try:
        return org_selectors.organization_get(scope, code)
    except Organization.DoesNotExist as exc:
        raise HttpError(404, f"机构 {code} 不存在或不在您的管辖范围内。") from exc
