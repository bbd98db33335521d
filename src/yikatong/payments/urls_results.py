from django.urls import path

from . import views_results as views

urlpatterns = [
    path("results/", views.result_list, name="results"),
    path("results/<uuid:pk>/", views.result_detail, name="result-detail"),
    path("results/lines/<int:line_id>/review/", views.result_line_close, name="result-line-review"),
]
