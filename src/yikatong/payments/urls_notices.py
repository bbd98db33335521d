from django.urls import path

from . import views_notices as views

urlpatterns = [
    path("sms/", views.sms_list, name="sms"),
    path("sms/send/", views.sms_send, name="sms-send"),
    path("slips/", views.slips, name="slips"),
    path("publications/", views.publications, name="publications"),
    path("publications/<int:batch_id>/publish/", views.publish, name="publish"),
    path("direct-funds/", views.direct_funds, name="direct-funds"),
    path("public/<str:number>/", views.public_results, name="public-results"),
]
