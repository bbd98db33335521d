"""Request context for services, and errors a person can act on instead of stack traces."""

import logging

from django.http import HttpResponse
from django.shortcuts import render

from yikatong.core import context
from yikatong.core.errors import DomainError, ScopeError

log = logging.getLogger("yikatong.errors")


def client_ip(request) -> str:
    # Behind a reverse proxy, configure it to set X-Real-IP; we never trust a client-supplied chain.
    return request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR", "")


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user_id = request.user.pk if getattr(request, "user", None) and request.user.is_authenticated else None
        token = context.set_current(context.RequestInfo(client_ip=client_ip(request), user_id=user_id))
        try:
            return self.get_response(request)
        finally:
            context.reset(token)


class FriendlyErrorMiddleware:
    """Turns a DomainError that escaped a view into a readable page (403 for scope, 400 otherwise)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if request.path.startswith("/api/"):
            return None  # the API renders its own JSON errors
        if isinstance(exception, ScopeError):
            return render(request, "core/error.html", {"title": "无权访问", "message": exception.message}, status=403)
        if isinstance(exception, DomainError):
            if request.htmx:
                return HttpResponse(exception.message, status=400)
            return render(request, "core/error.html", {"title": "操作未完成", "message": exception.message}, status=400)
        return None
