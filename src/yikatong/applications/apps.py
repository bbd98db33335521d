from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "yikatong.applications"
    label = "applications"
    verbose_name = "申报与审核"

    def ready(self):
        from yikatong.core.models import Role
        from yikatong.core.roles import register_permissions

        # Workflow permissions (who may do which step: see applications/workflow.py).
        register_permissions({
            "application.view": {Role.COLLECTOR, Role.DEPARTMENT, Role.FINANCE, Role.SUPERVISOR, Role.ADMIN},
            "application.collect": {Role.COLLECTOR},
            "application.approve": {Role.DEPARTMENT},
            "notice.manage": {Role.COLLECTOR},
            "objection.record": {Role.COLLECTOR, Role.DEPARTMENT},
            "register.export": {Role.COLLECTOR, Role.DEPARTMENT, Role.FINANCE, Role.SUPERVISOR},
        })

        from yikatong.applications.nav import register_nav

        register_nav()

        # Collection demo data of `yikatong load-demo`; register() puts it after the policies demo it needs.
        from yikatong.applications import demo

        demo.register()
