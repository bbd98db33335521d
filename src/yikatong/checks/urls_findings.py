"""Pages of the cross-check findings, check runs and rule settings, mounted at /findings/ by yikatong.urls."""

from django.urls import path

from . import views_checkruns as runs
from . import views_findings as views

app_name = "findings"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("export.csv", views.export_csv, name="export"),
    path("bulk/", views.bulk_decide, name="bulk"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/decide/", views.decide, name="decide"),
    path("runs/", runs.run_list, name="runs"),
    path("runs/start/", runs.run_start, name="run-start"),
    path("runs/job/<uuid:job_id>/", runs.run_job, name="run-job"),
    path("runs/job/<uuid:job_id>/run/", runs.run_job_result, name="run-job-result"),
    path("runs/<int:pk>/", runs.run_detail, name="run-detail"),
    path("rules/", runs.rules, name="rules"),
    path("rules/<str:policy>/<str:rule>/", runs.rule_set, name="rule-set"),
]
