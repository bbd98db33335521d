"""The citizen's online application (no login), mounted at /apply/ by yikatong.urls."""

from django.urls import path

from .views import online

app_name = "apply"

urlpatterns = [
    path("", online.apply_index, name="index"),
    path("done/", online.apply_done, name="done"),
    path("status/", online.apply_status, name="status"),
    path("<str:code>/", online.apply_form, name="form"),
]
