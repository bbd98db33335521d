"""All pages of the payments app under /payments/, one namespace `payments`; each concern keeps its own
urls_<concern>.py with a plain `urlpatterns` list (no app_name) joined here."""

import importlib

app_name = "payments"

PARTS = ("urls_plans", "urls_batches", "urls_results", "urls_ledgers", "urls_notices")

urlpatterns = []
for _part in PARTS:
    try:
        _module = importlib.import_module(f"yikatong.payments.{_part}")
    except ModuleNotFoundError as exc:
        if exc.name != f"yikatong.payments.{_part}":
            raise
        continue
    urlpatterns += _module.urlpatterns
