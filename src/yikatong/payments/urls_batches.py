"""Pages of payment batches (joined into /payments/ by payments.urls, namespace `payments`)."""

from django.urls import path

from . import views_batches as views

urlpatterns = [
    path("batches/", views.batch_list, name="batch-list"),
    path("batches/new/", views.batch_new, name="batch-new"),
    path("batches/<int:pk>/", views.batch_detail, name="batch-detail"),
    path("batches/<int:pk>/act/<str:action>/", views.batch_act, name="batch-act"),
    path("batches/<int:pk>/files/<str:fmt>/", views.batch_file, name="batch-file"),
]
