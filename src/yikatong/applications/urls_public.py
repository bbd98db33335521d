"""Public (no login) pages of the applications app, mounted at /notices/ by yikatong.urls."""

from django.urls import path

from . import views_public

app_name = "notices"

urlpatterns = [
    path("<str:number>/", views_public.notice_public, name="public"),
]
