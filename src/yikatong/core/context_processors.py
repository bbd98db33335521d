from yikatong.core.navigation import entries_for


def navigation(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {"nav_sections": []}
    return {"nav_sections": entries_for(user.role)}
