from django.contrib import admin
from django.urls import include, path

from yikatong.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("policies/", include("yikatong.policies.urls")),
    path("registry/", include("yikatong.registry.urls")),
    path("notices/", include("yikatong.applications.urls_public")),
    path("applications/", include("yikatong.applications.urls")),
    path("apply/", include("yikatong.applications.urls_online")),
    path("indicators/", include("yikatong.policies.urls_indicators")),
    path("sources/", include("yikatong.checks.urls_sources")),
    path("findings/", include("yikatong.checks.urls_findings")),
    path("payments/", include("yikatong.payments.urls")),
    path("", include("yikatong.core.urls")),
]

handler400 = "yikatong.core.views.errors.bad_request"
handler403 = "yikatong.core.views.errors.forbidden"
handler404 = "yikatong.core.views.errors.not_found"
handler500 = "yikatong.core.views.errors.server_error"
