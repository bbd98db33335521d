from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("", views.beneficiary_list, name="beneficiary-list"),
    path("register/person/", views.person_register, name="person-register"),
    path("register/organization/", views.org_register, name="org-register"),
    path("<int:pk>/", views.beneficiary_detail, name="beneficiary-detail"),
    path("<int:pk>/edit/", views.beneficiary_edit, name="beneficiary-edit"),
    path("<int:pk>/account/", views.account_change, name="account-change"),
    path("<int:pk>/reveal/", views.beneficiary_reveal, name="beneficiary-reveal"),
    path("<int:pk>/card-status/", views.card_status_change, name="card-status"),
]
