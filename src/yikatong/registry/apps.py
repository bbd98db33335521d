from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "yikatong.registry"
    label = "registry"
    verbose_name = "补贴对象与账户"

    def ready(self):
        from yikatong.core.models import Role
        from yikatong.core.roles import register_permissions

        register_permissions({
            "beneficiary.view": {Role.COLLECTOR, Role.DEPARTMENT, Role.FINANCE, Role.SUPERVISOR, Role.HR, Role.ADMIN},
            "beneficiary.manage": {Role.COLLECTOR, Role.DEPARTMENT},
            "account.manage": {Role.COLLECTOR, Role.DEPARTMENT},
            "card_status.update": {Role.HR, Role.CARD_BANK},
        })

        from yikatong.registry.nav import register_nav

        register_nav()
