"""Pages of disbursement plans and their payment documents (joined into /payments/ by payments.urls,
namespace `payments`)."""

from django.urls import path

from . import views_plans as views

urlpatterns = [
    path("plans/", views.plan_list, name="plan-list"),
    path("plans/new/", views.plan_build_view, name="plan-build"),
    path("plans/<int:pk>/", views.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/act/<str:action>/", views.plan_act, name="plan-act"),
    path("plans/<int:pk>/documents/<int:doc_id>/", views.plan_document_download, name="plan-document"),
]
