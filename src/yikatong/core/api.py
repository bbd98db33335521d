"""Core API: who am I, regions, organizations (scoped)."""

from ninja import Router, Schema

from yikatong.core.scope import Scope

router = Router(tags=["基础"])


class MeOut(Schema):
    username: str
    full_name: str
    role: str
    organization_code: str
    region_code: str


@router.get("/me", response=MeOut, summary="当前用户")
def me(request):
    scope = Scope.for_user(request.user)
    return MeOut(
        username=scope.username,
        full_name=request.user.full_name,
        role=scope.role,
        organization_code=scope.organization_code,
        region_code=scope.region_code,
    )
