"""Authentication of outside systems (banks, the data-sharing exchange) by API credential.

    @router.get("/batches", auth=ApiKeyAuth("bank"))
    def batches(request):
        scope = request.api_scope          # Scope of the credential's organization
        cred = request.api_credential      # the ApiCredential

The client sends its key in the `X-API-Key` header. The key is looked up by its SHA-256 digest; it must
be active, not expired, belong to an active organization and allow the router's interface. A missing or
unknown key answers 401; a valid key that is revoked, expired or not allowed here answers 403 with a
reason the bank's operator can act on.
"""

import datetime as dt
import hmac

from django.utils import timezone
from ninja.security import APIKeyHeader

from yikatong.core.errors import ScopeError
from yikatong.core.models import ApiCredential
from yikatong.core.roles import API_INTERFACES
from yikatong.core.scope import Scope
from yikatong.core.services.apikeys import KEY_PREFIX, key_digest

# last_used_at is written at most this often per credential, so a busy bank does not write on every call
TOUCH_INTERVAL = dt.timedelta(minutes=1)


class ApiKeyAuth(APIKeyHeader):
    param_name = "X-API-Key"

    def __init__(self, interface: str):
        if interface not in API_INTERFACES:
            raise ValueError(f"unknown API interface {interface!r}; add it to roles.API_INTERFACES")
        self.interface = interface
        super().__init__()

    def authenticate(self, request, key: str | None) -> ApiCredential | None:
        key = (key or "").strip()
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = key_digest(key)
        cred = ApiCredential.objects.select_related("organization").filter(key_digest=digest).first()
        if cred is None or not hmac.compare_digest(cred.key_digest, digest):
            return None
        now = timezone.now()
        if not cred.active:
            raise ScopeError("接口凭证已吊销，请联系平台管理员重新发放。", code="key_revoked")
        if cred.expires_at and cred.expires_at <= now:
            raise ScopeError("接口凭证已过期，请联系平台管理员重新发放。", code="key_expired")
        if not cred.organization.active:
            raise ScopeError("接口凭证所属机构已停用。", code="inactive")
        if self.interface not in (cred.interfaces or []):
            raise ScopeError(
                f"该接口凭证无权调用“{API_INTERFACES[self.interface]}”。", code="interface_not_allowed"
            )
        if cred.last_used_at is None or now - cred.last_used_at >= TOUCH_INTERVAL:
            ApiCredential.objects.filter(pk=cred.pk).update(last_used_at=now)
            cred.last_used_at = now
        request.api_credential = cred
        request.api_scope = Scope.for_organization(cred.organization, username=f"apikey:{cred.key_prefix}")
        return cred
