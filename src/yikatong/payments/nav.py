"""Navigation of the payments app: every nav_<concern>.py module with a `register_nav()` (or `register()`)."""

import importlib

PARTS = ("nav_plans", "nav_batches", "nav_results", "nav_ledgers", "nav_notices")


def register() -> None:
    for part in PARTS:
        try:
            module = importlib.import_module(f"yikatong.payments.{part}")
        except ModuleNotFoundError as exc:
            if exc.name != f"yikatong.payments.{part}":
                raise
            continue
        (getattr(module, "register_nav", None) or module.register)()
