"""Fixtures of the bank API and the bank simulator: the `pay` world of tests/payments (five WZ-001 items of
300.00 for 2026-03, today 2026-03-10) plus bank credentials issued through the credential service."""

import pytest

from tests.payments.conftest import flow, li, pay, zhang  # noqa: F401  (fixtures re-exported)
from yikatong.core.scope import Scope
from yikatong.core.services.apikeys import apikey_create


def issue_key(world, key: str, interfaces=("bank",)) -> str:
    admin = Scope.for_user(world.users["admin"])
    return apikey_create(actor=admin, organization_code=world.orgs[key].code, name=f"{key} 接口",
                         interfaces=list(interfaces))[1]


@pytest.fixture
def bank_keys(pay):  # noqa: F811 - the re-exported fixture
    """Plain keys: the paying bank, another paying bank, the card bank (all limited to the "bank" interface)."""
    return {key: issue_key(pay.world, key) for key in ("paying_bank", "paying_bank2", "card_bank")}


def api_get(client, path, key, **params):
    headers = {"X-API-Key": key} if key else {}
    return client.get(f"/api/bank{path}", params, headers=headers)


def api_post(client, path, key, payload):
    import json

    headers = {"X-API-Key": key} if key else {}
    return client.post(f"/api/bank{path}", json.dumps(payload, ensure_ascii=False),
                       content_type="application/json", headers=headers)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """The verify rate limit counts per credential id in the cache; ids repeat between tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


RESULTS_MODULE = "yikatong.payments.services.results"


@pytest.fixture
def fake_import(monkeypatch):
    """A stand-in result_import that records its calls and answers like the real one (an import row; the third
    line of a call stored for review), to test the API's and the simulator's side of the contract on their own."""
    import importlib
    import sys
    import types

    from yikatong.core import clock
    from yikatong.payments.models import ResultImport, ResultLine

    calls = []

    def result_import(*, actor, rows, channel, bank_code, **extra):
        rows = list(rows)
        calls.append({"actor": actor, "rows": rows, "channel": channel, "bank_code": bank_code, **extra})
        imp = ResultImport.objects.create(channel=channel, content_digest="x" * 64, status="done",
                                          line_count=len(rows), applied_count=max(0, len(rows) - 2),
                                          duplicate_count=min(1, len(rows)), rejected_count=min(1, len(rows) - 1),
                                          received_by=actor.username, received_at=clock.now(), message="测试")
        if len(rows) >= 3:
            ResultLine.objects.create(result_import=imp, line_no=3, batch_number=rows[2]["批次号"], seq="3",
                                      disposition="amount", message="金额不符：平台 300.00，回盘 301.00")
        return imp

    try:  # patch the real module's function (other modules import the rest of it) …
        module = importlib.import_module(RESULTS_MODULE)
    except ModuleNotFoundError:  # … or stand in for the module until it exists
        monkeypatch.setitem(sys.modules, RESULTS_MODULE, types.SimpleNamespace(result_import=result_import))
    else:
        monkeypatch.setattr(module, "result_import", result_import)
    return calls
