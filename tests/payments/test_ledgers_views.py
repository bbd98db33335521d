"""Pages and API of corrections, ledgers, reconciliation and daily close, per role."""

import pytest

from tests.applications.conftest import luhn_account
from tests.payments.factory import build_batch, build_plan
from tests.payments.money_helpers import apply_result, item_of
from yikatong.payments.models import DailyClose, DisbursementEntry, EntryKind, ItemStatus, PaymentDocument

pytestmark = pytest.mark.django_db


def _login(client, pay, key):
    client.force_login(pay.flow.users.get(key) or pay.world.users[key])
    return client


@pytest.fixture
def failed(pay):
    plan = build_plan(pay)
    batch = build_batch(pay, plan)
    att = {a.item.beneficiary_id: a for a in batch.attempts.select_related("item")}
    apply_result(pay, att[pay.people["p1"].pk], ok=False, reason="户名不符")
    apply_result(pay, att[pay.people["p2"].pk], ok=True)
    return plan, batch


def test_ledger_pages_render_for_department_finance_and_bank(pay, client, failed):
    plan, batch = failed
    for who in ("civil", "finance", "supervisor"):
        c = _login(client, pay, who)
        for url in ("/payments/ledgers/", "/payments/ledgers/detail/", "/payments/ledgers/finance/",
                    f"/payments/ledgers/plans/{plan.pk}/indicator/", "/payments/ledgers/close/",
                    f"/payments/ledgers/reconcile/?plan_id={plan.pk}"):
            r = c.get(url)
            assert r.status_code == 200, (who, url, r.status_code)
    c = _login(client, pay, "finance")
    r = c.get(f"/payments/ledgers/reconcile/?plan_id={plan.pk}")
    assert 'data-testid="balanced"' in r.content.decode()
    r = c.get("/payments/ledgers/detail/?status=failed")
    assert r.content.decode().count('data-status="failed"') == 1
    r = c.get("/payments/ledgers/detail/?export=csv")
    assert r.status_code == 200 and "王*" in b"".join(r.streaming_content).decode()
    assert _login(client, pay, "fl_civil").get(f"/payments/ledgers/plans/{plan.pk}/indicator/").status_code == 404


def test_reconcile_page_highlights_differences(pay, client, failed):
    plan, batch = failed
    DisbursementEntry.objects.filter(attempt_id=batch.attempts.get(seq=3).pk, kind=EntryKind.SENT).delete()
    r = _login(client, pay, "finance").get(f"/payments/ledgers/reconcile/?plan_id={plan.pk}")
    html = r.content.decode()
    assert 'data-testid="unbalanced"' in html and 'data-difference="batch:sent"' in html
    assert 'data-difference="attempt:sent"' in html


def test_daily_close_page_once(pay, client, failed):
    c = _login(client, pay, "finance")
    r = c.post("/payments/ledgers/close/", {"region_code": "500101000000", "day": "2026-03-10"})
    assert r.status_code == 302 and DailyClose.objects.count() == 1
    r = c.post("/payments/ledgers/close/", {"region_code": "500101000000", "day": "2026-03-10"})
    assert r.status_code == 400 and "不能重复日结" in r.content.decode()
    r = _login(client, pay, "civil").post("/payments/ledgers/close/", {"region_code": "500101000000",
                                                                        "day": "2026-03-09"})
    assert r.status_code == 403 and DailyClose.objects.count() == 1


def test_correction_work_list_form_and_bulk(pay, client, failed):
    item = item_of(pay, "p1")
    c = _login(client, pay, "collector")
    r = c.get("/payments/corrections/")
    html = r.content.decode()
    assert r.status_code == 200 and f'data-item="{item.pk}"' in html and "户名不符" in html
    assert 'data-deadline-state="ok"' in html
    assert f'data-item="{item.pk}"' not in _login(client, pay, "collector2").get("/payments/corrections/").content.decode()
    c = _login(client, pay, "collector")
    r = c.post(f"/payments/corrections/{item.pk}/", {"reason": "更换账户", "account_number": "123",
                                                     "bank_name": "农行"})
    assert r.status_code == 400
    item.refresh_from_db()
    assert item.status == ItemStatus.FAILED
    r = c.post(f"/payments/corrections/{item.pk}/", {"reason": "更换账户",
                                                     "account_number": luhn_account("622848000000000777"),
                                                     "bank_name": "中国农业银行"})
    assert r.status_code == 302
    item.refresh_from_db()
    assert item.status == ItemStatus.CORRECTED and item.account_masked.endswith(
        luhn_account("622848000000000777")[-4:])
    c = _login(client, pay, "civil")
    r = c.post("/payments/corrections/bulk/", {"action": "remove", "ids": [item.pk, item_of(pay, "p3").pk],
                                               "reason": "放弃领取"})
    assert r.status_code == 302
    r = c.get("/payments/corrections/?status=corrected")
    assert 'data-testid="bulk-done">1<' in r.content.decode()
    assert 'data-testid="bulk-refused">1<' in r.content.decode()


def test_api(pay, client, failed):
    plan, batch = failed
    c = _login(client, pay, "civil")
    r = c.get(f"/api/payments/reconcile?plan_id={plan.pk}")
    assert r.status_code == 200 and r.json()["balanced"] is True
    assert r.json()["plans"][0]["figures"]["paid"] == "300.00"
    r = c.get("/api/payments/ledgers/general")
    assert r.json()["by_day"][0]["sent"] == "1500.00"
    assert c.get("/api/payments/ledgers/detail?status=paid").json()["count"] == 1
    assert c.get(f"/api/payments/ledgers/plans/{plan.pk}/indicator").json()["net_paid"] == "1200.00"
    rows = c.get("/api/payments/corrections").json()
    item = item_of(pay, "p1")
    assert [r["id"] for r in rows] == [item.pk]
    r = c.post(f"/api/payments/items/{item.pk}/correct", {"reason": "卡已激活"}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "corrected"
    r = c.post("/api/payments/items/bulk", {"action": "hold", "ids": [item.pk], "reason": "核实"},
               content_type="application/json")
    assert r.json()["done"] == 1
    r = c.post(f"/api/payments/batches/{batch.pk}/clearing")
    assert r.status_code == 201 and r.json()["paid"] == "300.00"
    assert PaymentDocument.objects.filter(kind="clearing").count() == 1
    f = _login(client, pay, "finance")
    r = f.post("/api/payments/ledgers/close", {"region_code": "500101000000", "day": "2026-03-10"},
               content_type="application/json")
    assert r.status_code == 201 and r.json()["balanced"] is True
    assert f.post("/api/payments/ledgers/close", {"region_code": "500101000000", "day": "2026-03-10"},
                  content_type="application/json").status_code == 400
    bank = _login(client, pay, "paying_bank")
    assert bank.get(f"/api/payments/reconcile?plan_id={plan.pk}").status_code == 403
    assert bank.post(f"/api/payments/items/{item.pk}/correct", {"reason": "x"},
                     content_type="application/json").status_code == 403
