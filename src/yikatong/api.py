"""The platform's HTTP API (django-ninja). Each app contributes a router; OpenAPI docs at /api/docs."""

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.security import SessionAuth

from yikatong.core.errors import DomainError, ScopeError

api = NinjaAPI(
    title="惠民惠农财政补贴资金“一卡通”平台 API",
    version="1",
    description="工作人员使用登录会话；银行与数据共享交换使用各自的接口凭证（X-API-Key）。",
    auth=SessionAuth(),
    urls_namespace="api",
)


@api.exception_handler(ScopeError)
def _scope_error(request: HttpRequest, exc: ScopeError):
    return api.create_response(request, {"detail": exc.message, "code": exc.code}, status=403)


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError):
    return api.create_response(
        request, {"detail": exc.message, "code": exc.code, "field": exc.field}, status=400
    )


def _add_routers() -> None:
    from yikatong.core.api import router as core_router

    api.add_router("/core/", core_router)
    from yikatong.core.api_orgs import router as orgs_router

    api.add_router("/orgs/", orgs_router)
    from yikatong.core.api_audit import router as audit_router

    api.add_router("/audit/", audit_router)
    from yikatong.policies.api import router as policies_router

    api.add_router("/policies/", policies_router)
    from yikatong.policies.api_indicators import router as indicators_router

    api.add_router("/indicators/", indicators_router)

    from yikatong.core.api_regions import router as regions_router

    api.add_router("/regions/", regions_router)
    from yikatong.registry.api import router as registry_router

    api.add_router("/registry/", registry_router)
    from yikatong.applications.api import router as applications_router

    api.add_router("/applications/", applications_router)
    from yikatong.checks.api_sources import router as sources_router

    api.add_router("/sources/", sources_router)
    from yikatong.checks.api_findings import router as findings_router

    api.add_router("/findings/", findings_router)
    from yikatong.banks.api import router as bank_router

    api.add_router("/bank/", bank_router)

    from yikatong.payments.api import router as payments_router

    api.add_router("/payments/", payments_router)


_add_routers()
