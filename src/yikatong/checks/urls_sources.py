from django.urls import path

from . import views_sources as views

app_name = "sources"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("credit/", views.credit_list, name="credit-list"),
    path("credit/add/", views.credit_add, name="credit-add"),
    path("credit/import/", views.credit_import, name="credit-import"),
    path("credit/template.csv", views.credit_template, name="credit-template"),
    path("credit/<int:pk>/lift/", views.credit_lift, name="credit-lift"),
    path("imports/<uuid:import_id>/", views.import_detail, name="import-detail"),
    path("imports/<uuid:import_id>/errors.csv", views.import_errors_csv, name="import-errors-csv"),
    path("<str:source>/", views.source_detail, name="source-detail"),
    path("<str:source>/upload/", views.source_upload, name="source-upload"),
    path("<str:source>/template.csv", views.source_template, name="source-template"),
]
