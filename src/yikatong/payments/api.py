"""The payments API: every api_<concern>.py module's `router`, mounted under /api/payments/."""

import importlib

from ninja import Router

PARTS = ("api_plans", "api_batches", "api_results", "api_ledgers", "api_notices")

router = Router(tags=["资金发放"])
for _part in PARTS:
    try:
        _module = importlib.import_module(f"yikatong.payments.{_part}")
    except ModuleNotFoundError as exc:
        if exc.name != f"yikatong.payments.{_part}":
            raise
        continue
    router.add_router("", _module.router)
