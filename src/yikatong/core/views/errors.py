"""Error pages in Chinese (wired in yikatong.urls as handler400/403/404/500)."""

import logging

from django.http import HttpResponse
from django.shortcuts import render

log = logging.getLogger("yikatong.errors")

# Used when even the normal error page cannot be drawn (e.g. the database is down during a 500).
_BARE_500 = """<!DOCTYPE html><html lang="zh-hans"><head><meta charset="utf-8"><title>系统内部错误</title></head>
<body style="font-family: 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif; margin: 3rem;">
<h1>系统内部错误</h1><p>系统处理时发生错误，已记录日志。请稍后重试，或联系系统管理员。</p>
<p><a href="/">回到首页</a></p></body></html>"""


def _page(request, status: int, title: str, message: str) -> HttpResponse:
    return render(request, "core/error.html", {"title": title, "message": message, "status": status}, status=status)


def bad_request(request, exception=None):
    return _page(request, 400, "请求无效", "提交的请求不完整或格式不正确，请返回上一页检查后重试。")


def forbidden(request, exception=None):
    # PermissionDenied("…") raised by a view carries a message meant for the person; show it.
    text = str(exception) if exception is not None else ""
    message = text if text and text != "None" else "您没有访问该页面的权限。如需开通，请联系本单位系统管理员。"
    return _page(request, 403, "无权访问", message)


def not_found(request, exception=None):
    # Http404("…") raised by our own views carries a Chinese explanation meant for the person; Django's
    # own 404s (no route, "No X matches the given query") are English and technical, so they are not shown.
    text = _message_of(exception)
    message = text if _is_chinese(text) else "您访问的页面不存在或已被移除，请检查地址，或从左侧导航进入。"
    return _page(request, 404, "页面不存在", message)


def _message_of(exception) -> str:
    if exception is None:
        return ""
    args = getattr(exception, "args", ())
    first = args[0] if args else ""
    return first if isinstance(first, str) else ""


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def server_error(request):
    try:
        return _page(request, 500, "系统内部错误", "系统处理时发生错误，已记录日志。请稍后重试，或联系系统管理员。")
    except Exception:  # the error page must never fail itself
        log.exception("rendering the 500 page failed")
        return HttpResponse(_BARE_500, status=500)


def csrf_failure(request, reason=""):
    """Set settings.CSRF_FAILURE_VIEW to this: an expired or missing form token, explained."""
    return _page(
        request, 403, "页面已过期",
        "页面已过期或表单校验失败（可能因长时间未操作）。请刷新页面后重新提交；如仍失败，请重新登录。",
    )
