"""The one scope mechanism: what a user may see and change.

Every selector passes its queryset through `Scope.filter`; every service calls `Scope.require_*` before
it writes. A scope is derived from the user's organization: its region (and everything below), its
business line for competent departments, the organization itself for banks.
"""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from yikatong.core import regions as region_rules
from yikatong.core.errors import ScopeError
from yikatong.core.models import Organization, User
from yikatong.core.roles import (
    ALL_LINES_ROLES,
    OWN_ORG_ROLES,
    READ_ONLY_ROLES,
    ROLES_FOR_KIND,
    has_permission,
)


@dataclass(frozen=True)
class Scope:
    user_id: int | None
    username: str
    role: str
    organization_id: int | None
    organization_code: str
    business_line: str
    region_code: str
    region_lo: str
    region_hi: str
    is_system: bool = False

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def for_user(cls, user: User) -> "Scope":
        if user is None or not user.is_authenticated:
            raise ScopeError("请先登录。", code="not_authenticated")
        if not user.is_active:
            raise ScopeError("该账号已停用。", code="inactive")
        org: Organization | None = user.organization
        if org is None or not user.role:
            raise ScopeError("该账号未绑定机构或角色，请联系系统管理员。", code="no_org")
        if not org.active:
            raise ScopeError("该账号所属机构已停用，请联系系统管理员。", code="inactive")
        lo, hi = region_rules.subtree_range(org.region_id)
        return cls(
            user_id=user.pk,
            username=user.get_username(),
            role=user.role,
            organization_id=org.pk,
            organization_code=org.code,
            business_line=org.business_line,
            region_code=org.region_id,
            region_lo=lo,
            region_hi=hi,
        )

    @classmethod
    def for_organization(cls, org: Organization, *, username: str = "") -> "Scope":
        """Scope of an organization acting without a person (an API credential): the organization's
        region, business line and, for banks, the organization itself; the role is the one role its
        kind allows (see roles.ROLES_FOR_KIND)."""
        if not org.active:
            raise ScopeError("该机构已停用。", code="inactive")
        roles = sorted(ROLES_FOR_KIND.get(org.kind, ()))
        if len(roles) != 1:
            raise ScopeError("该机构类型没有唯一对应的角色，不能代表机构操作。", code="no_org")
        lo, hi = region_rules.subtree_range(org.region_id)
        return cls(
            user_id=None,
            username=username or f"org:{org.code}",
            role=str(roles[0]),
            organization_id=org.pk,
            organization_code=org.code,
            business_line=org.business_line,
            region_code=org.region_id,
            region_lo=lo,
            region_hi=hi,
        )

    @classmethod
    def system(cls, region_code: str = "", reason: str = "system") -> "Scope":
        """Scope for the platform itself (CLI batch jobs run by operators, tasks): sees everything
        below `region_code` (everything when empty). Never handed to a web request."""
        if region_code:
            lo, hi = region_rules.subtree_range(region_code)
        else:
            lo, hi = "000000000000", "999999999999"
        return cls(None, reason, "admin", None, "", "", region_code, lo, hi, is_system=True)

    # -- questions -----------------------------------------------------------------------------
    def can(self, permission: str) -> bool:
        return self.is_system or has_permission(self.role, permission)

    def covers_region(self, region_code: str | None) -> bool:
        return bool(region_code) and self.region_lo <= region_code <= self.region_hi

    @property
    def read_only(self) -> bool:
        return self.role in READ_ONLY_ROLES and not self.is_system

    @property
    def sees_all_lines(self) -> bool:
        return self.is_system or self.role in ALL_LINES_ROLES

    @property
    def own_org_only(self) -> bool:
        return not self.is_system and self.role in OWN_ORG_ROLES

    # -- enforcement ---------------------------------------------------------------------------
    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise ScopeError("无权执行此操作：您的角色没有该权限。", code="forbidden")

    def require_write(self, permission: str) -> None:
        if self.read_only:
            raise ScopeError("监督、监管角色只能查看，不能修改数据。", code="read_only")
        self.require(permission)

    def require_region(self, region_code: str | None) -> None:
        if not self.covers_region(region_code):
            raise ScopeError(f"无权操作区划 {region_code or '（空）'}：不在您的管辖范围内。")

    def require_business_line(self, business_line: str) -> None:
        if not self.sees_all_lines and self.business_line != business_line:
            raise ScopeError("无权操作：该业务不属于您的部门。")

    def require_organization(self, organization_id: int | None) -> None:
        if self.own_org_only and organization_id != self.organization_id:
            raise ScopeError("无权操作：该数据属于其他机构。")

    def require_object(self, *, region_code: str | None, business_line: str = "",
                       organization_id: int | None = None) -> None:
        """One call for a single object: region, then business line, then organization."""
        self.require_region(region_code)
        if business_line:
            self.require_business_line(business_line)
        if organization_id is not None or self.own_org_only:
            self.require_organization(organization_id)

    # -- filtering -----------------------------------------------------------------------------
    def region_q(self, field: str = "region_id") -> Q:
        return Q(**{f"{field}__gte": self.region_lo, f"{field}__lte": self.region_hi})

    def filter(
        self,
        queryset: QuerySet,
        *,
        region_field: str | None = "region_id",
        business_line_field: str | None = None,
        organization_field: str | None = None,
    ) -> QuerySet:
        """Narrow a queryset to this scope. Name the fields that carry region, business line and the
        owning organization for this model; a field left None is not a scope dimension of the model."""
        if self.is_system and self.region_lo == "000000000000":
            return queryset
        if region_field:
            queryset = queryset.filter(self.region_q(region_field))
        if business_line_field and not self.sees_all_lines:
            queryset = queryset.filter(**{business_line_field: self.business_line})
        if self.own_org_only:
            if not organization_field:
                return queryset.none()
            queryset = queryset.filter(**{organization_field: self.organization_id})
        return queryset
