from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "yikatong.applications"
    label = "applications"
    verbose_name = "申报与审核"
