from django.urls import path

from yikatong.core.views import audit as audit_views
from yikatong.core.views import auth, home
from yikatong.core.views import calendar as calendar_views
from yikatong.core.views import files as file_views
from yikatong.core.views import jobs as job_views
from yikatong.core.views import orgs as org_views
from yikatong.core.views import regions as region_views
from yikatong.core.views import users as user_views

app_name = "core"

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password/", auth.PasswordChangeView.as_view(), name="password_change"),
    path("calendar/", calendar_views.calendar_page, name="calendar"),
    path("time-limits/", calendar_views.time_limits_page, name="time-limits"),
    path("orgs/", org_views.org_list, name="orgs"),
    path("orgs/new/", org_views.org_create, name="org-create"),
    path("orgs/export.csv", org_views.org_export, name="org-export"),
    path("orgs/<str:code>/", org_views.org_detail, name="org-detail"),
    path("orgs/<str:code>/deactivate/", org_views.org_deactivate, name="org-deactivate"),
    path("orgs/<str:code>/activate/", org_views.org_activate, name="org-activate"),
    path("orgs/<str:code>/apikeys/", org_views.apikey_create, name="apikey-create"),
    path("apikeys/<int:key_id>/revoke/", org_views.apikey_revoke, name="apikey-revoke"),
    path("regions/", region_views.region_browse, name="regions"),
    path("regions/import/", region_views.region_import, name="regions-import"),
    path("users/", user_views.user_list, name="users"),
    path("users/new/", user_views.user_create, name="user-create"),
    path("users/export.csv", user_views.user_export, name="user-export"),
    path("users/<str:username>/", user_views.user_detail, name="user-detail"),
    path("users/<str:username>/deactivate/", user_views.user_deactivate, name="user-deactivate"),
    path("users/<str:username>/activate/", user_views.user_activate, name="user-activate"),
    path("users/<str:username>/unlock/", user_views.user_unlock, name="user-unlock"),
    path("users/<str:username>/password/", user_views.user_set_password, name="user-password"),
    path("files/<uuid:file_id>/", file_views.file_download, name="file-download"),
    path("jobs/", job_views.job_list, name="job-list"),
    path("jobs/<uuid:job_id>/", job_views.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/progress/", job_views.job_progress, name="job-progress"),
    path("audit/", audit_views.audit_list, name="audit"),
    path("audit/export.csv", audit_views.audit_export, name="audit-export"),
    path("audit/<int:seq>/", audit_views.audit_detail, name="audit-detail"),
]
