from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "yikatong.policies"
    label = "policies"
    verbose_name = "补贴政策与项目库"

    def ready(self):
        from yikatong.core.models import Role
        from yikatong.core.roles import register_permissions

        register_permissions({
            "policy.view": set(Role.values),
            "policy.manage": {Role.DEPARTMENT, Role.FINANCE},
            "list.submit": {Role.DEPARTMENT},
            # Which finance bureau may file or publish is decided by its level (see services.lists).
            "list.file": {Role.FINANCE},
            "list.publish": {Role.FINANCE},
            "library.manage": {Role.FINANCE},
            "change.request": {Role.DEPARTMENT},
            # Which step a reviewer may act on is decided by organization kind, level and business line
            # (see rules.CHANGE_CHAIN).
            "change.review": {Role.DEPARTMENT, Role.FINANCE},
            # Budget indicators and performance targets (see docs/indicators.md).
            "indicator.view": {Role.FINANCE, Role.DEPARTMENT, Role.SUPERVISOR, Role.REGULATOR, Role.ADMIN},
            "indicator.manage": {Role.FINANCE},
            "indicator.propose": {Role.DEPARTMENT},
            "indicator.mount": {Role.FINANCE, Role.DEPARTMENT},
            "target.view": {Role.FINANCE, Role.DEPARTMENT, Role.SUPERVISOR, Role.REGULATOR, Role.ADMIN},
            "target.manage": {Role.FINANCE, Role.DEPARTMENT},
        })

        from yikatong.policies.nav import register_nav

        register_nav()
        from yikatong.policies import nav_indicators

        nav_indicators.register_nav()

        from yikatong.policies import demo  # the one-list demo data of `yikatong load-demo`

        demo.register()
