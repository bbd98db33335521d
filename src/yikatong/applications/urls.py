"""Staff pages of collection and approval, mounted at /applications/ by yikatong.urls."""

from django.urls import path

from .views import applications, approval, notices, register, rosters

app_name = "applications"

urlpatterns = [
    path("", applications.application_list, name="list"),
    path("batch/", applications.application_batch, name="batch"),
    path("new/", applications.application_create, name="create"),
    path("new/lookup/", applications.entry_lookup, name="entry-lookup"),
    path("new/standard/", applications.entry_standard, name="entry-standard"),
    path("<int:pk>/", applications.application_detail, name="detail"),
    path("<int:pk>/act/<str:action>/", applications.application_act, name="act"),
    path("notices/", notices.notice_list, name="notices"),
    path("notices/new/", notices.notice_publish, name="notice-publish"),
    path("notices/<int:pk>/", notices.notice_detail, name="notice-detail"),
    path("notices/<int:pk>/close/", notices.notice_close, name="notice-close"),
    path("notices/<int:pk>/submit/", notices.notice_submit, name="notice-submit"),
    path("notices/<int:pk>/republish/", notices.notice_republish, name="notice-republish"),
    path("notices/<int:pk>/objections/", notices.objection_record, name="objection-record"),
    path("notices/<int:pk>/objections/<int:objection_id>/resolve/", notices.objection_resolve,
         name="objection-resolve"),
    path("rosters/", rosters.roster_upload, name="rosters"),
    path("rosters/<uuid:pk>/", rosters.roster_detail, name="roster-detail"),
    path("rosters/<uuid:pk>/progress/", rosters.roster_progress, name="roster-progress"),
    path("approval/", approval.approval_inbox, name="approval"),
    path("approval/sample/", approval.approval_sample, name="approval-sample"),
    path("register/", register.register_export, name="register"),
]
