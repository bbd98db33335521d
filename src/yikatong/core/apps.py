from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "yikatong.core"
    label = "core"
    verbose_name = "基础平台"

    def ready(self):
        from yikatong.core.views.home import register_core_navigation

        register_core_navigation()

        from yikatong.core.views import calendar as calendar_views

        calendar_views.register_nav()

        from yikatong.core.views import orgs as org_views

        org_views.register_nav()

        from yikatong.core.views import audit as audit_views

        audit_views.register_nav()

        from yikatong.core.views import jobs as job_views

        job_views.register_nav()

        from yikatong.core.views import regions as region_views

        region_views.register_nav()
