"""Registration of the payments app: permissions, time limits (already core defaults), navigation, demo."""

from yikatong.core.models import Role

PERMISSIONS = {
    "payment.view": {Role.DEPARTMENT, Role.FINANCE, Role.SUPERVISOR, Role.ADMIN, Role.REGULATOR, Role.COLLECTOR,
                     Role.PAYING_BANK},
    "payment.plan": {Role.DEPARTMENT},
    "payment.review": {Role.FINANCE},
    "payment.correct": {Role.DEPARTMENT, Role.COLLECTOR},
    "payment.result": {Role.DEPARTMENT, Role.FINANCE, Role.PAYING_BANK},
    "payment.close": {Role.FINANCE},
    "payment.publish": {Role.DEPARTMENT},
    "bank.exchange": {Role.PAYING_BANK},
    "bank.verify_account": {Role.PAYING_BANK, Role.CARD_BANK},
    "sms.view": {Role.DEPARTMENT, Role.ADMIN, Role.SUPERVISOR},
}

def register_all() -> None:
    from yikatong.core.roles import register_permissions

    register_permissions(PERMISSIONS)
    import importlib

    for module in ("nav", "demo"):
        try:
            mod = importlib.import_module(f"yikatong.payments.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"yikatong.payments.{module}":
                raise
            continue
        getattr(mod, "register", lambda: None)()
