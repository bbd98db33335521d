"""The 工作台 (home page): who you are, where you work, your navigation as cards, and widgets that
other modules add with `register_widget`."""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from yikatong.core.navigation import NavEntry, register
from yikatong.core.roles import has_permission


@dataclass(frozen=True)
class HomeWidget:
    """A box on the home page. `template` is rendered with the page context plus whatever
    `context(request)` returns; it shows only to roles holding `permission`."""

    name: str
    title: str
    template: str
    permission: str
    order: int = 100
    context: Callable | None = field(default=None, compare=False)


_WIDGETS: dict[str, HomeWidget] = {}


def register_widget(widget: HomeWidget) -> None:
    _WIDGETS[widget.name] = widget


def widgets_for(request) -> list[dict]:
    role = request.user.role
    shown = []
    for widget in sorted(_WIDGETS.values(), key=lambda w: (w.order, w.name)):
        if not role or not has_permission(role, widget.permission):
            continue
        extra = widget.context(request) if widget.context else {}
        shown.append({"name": widget.name, "title": widget.title, "template": widget.template, "context": extra})
    return shown


def register_core_navigation() -> None:
    """Called from CoreConfig.ready()."""
    register(
        NavEntry("工作台", "工作台首页", "core:home", "region.view", order=0),
        NavEntry("系统管理", "后台数据维护", "admin:index", "user.manage", order=990),
        NavEntry("个人设置", "修改密码", "core:password_change", "region.view", order=999),
    )


def _region_path(region) -> list:
    """The region and its ancestors, top first (province → … → own region)."""
    chain = []
    while region is not None:
        chain.append(region)
        region = region.parent
    return list(reversed(chain))


@login_required
def home(request):
    user = request.user
    org = user.organization
    region = org.region if org else None
    context = {
        "title": "工作台",
        "org": org,
        "region": region,
        "region_path": _region_path(region) if region else [],
        "widgets": widgets_for(request),
    }
    return render(request, "core/home.html", context)
