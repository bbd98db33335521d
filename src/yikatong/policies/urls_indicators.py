"""URLs of the budget indicator and performance target pages (mounted at /indicators/)."""

from django.urls import path

from . import views_indicators as views

app_name = "indicators"

urlpatterns = [
    path("", views.indicator_list, name="list"),
    path("new/", views.indicator_receive_view, name="receive"),
    path("warnings/", views.indicator_warnings_view, name="warnings"),
    path("progress/", views.progress_view, name="progress"),
    path("monitoring/", views.monitoring_view, name="monitoring"),
    path("targets/", views.targets_view, name="targets"),
    path("targets/new/", views.target_set_view, name="target-set"),
    path("targets/<int:pk>/actual/", views.target_actual_view, name="target-actual"),
    path("<int:pk>/", views.indicator_detail, name="detail"),
    path("<int:pk>/allocate/", views.indicator_allocate_view, name="allocate"),
    path("<int:pk>/complete/", views.indicator_complete_view, name="complete"),
    path("<int:pk>/close/", views.indicator_close_view, name="close"),
    path("<int:pk>/proposal/", views.indicator_proposal_view, name="proposal"),
]
