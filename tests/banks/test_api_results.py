"""Bank API: posting results. The API hands the lines (as result-file rows) to the one result import of the
payments app (payments.services.results.result_import); the integration tests below run once it exists."""

import importlib.util

import pytest

from tests.payments.factory import build_batch, build_plan
from yikatong.payments.models import AttemptStatus, BatchStatus, ResultImport

from .conftest import RESULTS_MODULE, api_get, api_post

pytestmark = pytest.mark.django_db
has_result_import = importlib.util.find_spec(RESULTS_MODULE) is not None


@pytest.fixture
def batch(pay):
    return build_batch(pay, build_plan(pay, applications=pay.applications[:3]))


def lines_for(batch, *, failed=(), day="2026-03-10"):
    from yikatong.core import crypto

    out = []
    for attempt in batch.attempts.order_by("seq"):
        ok = attempt.seq not in failed
        out.append({"seq": attempt.seq, "account": crypto.decrypt_text(attempt.account_enc),
                    "amount": f"{attempt.amount:.2f}", "outcome": "成功" if ok else "失败",
                    "reason": "" if ok else "户名不符", "processed_on": day})
    return out


def test_results_are_handed_to_the_result_import_as_file_rows(client, batch, bank_keys, fake_import):
    lines = lines_for(batch, failed={2})
    lines[2]["amount"] = 301  # a number in JSON: passed on as text, checked by the import
    response = api_post(client, "/results", bank_keys["paying_bank"], {"batch": batch.number, "results": lines})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["line_count"], body["applied_count"], body["duplicate_count"], body["rejected_count"]) == (3, 1, 1, 1)
    assert body["rejected"] == [{"line_no": 3, "seq": "3", "disposition": "amount", "disposition_label": "金额不符",
                                 "message": "金额不符：平台 300.00，回盘 301.00"}]
    (call,) = fake_import
    assert call["channel"] == "api" and call["bank_code"] == "WZ-NSH"
    assert call["actor"].organization_code == "WZ-NSH" and call["actor"].role == "paying_bank"
    assert call["rows"][1] == {"批次号": batch.number, "序号": "2", "收款账号": lines[1]["account"], "金额": "300.00",
                               "处理结果": "失败", "失败原因": "户名不符", "处理日期": "2026-03-10"}
    assert call["rows"][2]["金额"] == "301"


def test_malformed_values_reach_the_import_instead_of_a_422(client, batch, bank_keys, fake_import):
    bad = [{"seq": "x1", "account": "", "amount": "abc", "outcome": "好", "processed_on": "昨天"}] * 3
    response = api_post(client, "/results", bank_keys["paying_bank"], {"batch": batch.number, "results": bad})
    assert response.status_code == 200
    assert fake_import[0]["rows"][0] == {"批次号": batch.number, "序号": "x1", "收款账号": "", "金额": "abc",
                                         "处理结果": "好", "失败原因": "", "处理日期": "昨天"}


def test_other_banks_cannot_post_to_my_batch(client, batch, bank_keys, fake_import):
    payload = {"batch": batch.number, "results": lines_for(batch)}
    response = api_post(client, "/results", bank_keys["paying_bank2"], payload)
    assert response.status_code == 404 and "不属于本行" in response.json()["detail"]
    assert api_post(client, "/results", bank_keys["card_bank"], payload).status_code == 403
    assert api_post(client, "/results", "", payload).status_code == 401
    assert fake_import == []


def test_empty_or_unknown(client, batch, bank_keys, fake_import):
    key = bank_keys["paying_bank"]
    assert api_post(client, "/results", key, {"batch": batch.number, "results": []}).status_code == 400
    assert api_post(client, "/results", key, {"batch": "PB-NOPE", "results": lines_for(batch)}).status_code == 404
    assert api_post(client, "/results", key, {"results": lines_for(batch)}).status_code == 422
    assert fake_import == []


# -- with the real result import -----------------------------------------------------------------------------
needs_import = pytest.mark.skipif(not has_result_import, reason="payments.services.results not written yet")


@needs_import
def test_posting_applies_results_and_reposting_changes_nothing(client, batch, bank_keys):
    key = bank_keys["paying_bank"]
    payload = {"batch": batch.number, "results": lines_for(batch, failed={2})}
    first = api_post(client, "/results", key, payload).json()
    assert (first["applied_count"], first["duplicate_count"], first["rejected_count"]) == (3, 0, 0)
    statuses = dict(batch.attempts.values_list("seq", "status"))
    assert statuses == {1: AttemptStatus.PAID, 2: AttemptStatus.FAILED, 3: AttemptStatus.PAID}
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED and batch.paid_count == 2 and batch.failed_count == 1
    again = api_post(client, "/results", key, payload).json()
    assert (again["applied_count"], again["duplicate_count"], again["rejected_count"]) == (0, 3, 0)
    assert again["id"] != first["id"]
    assert dict(batch.attempts.values_list("seq", "status")) == statuses
    assert ResultImport.objects.get(pk=first["id"]).channel == "api"
    items = api_get(client, f"/batches/{batch.number}/items", key).json()["items"]
    assert [(i["status"], i["result_on"], i["failure_reason"]) for i in items] == [
        ("paid", "2026-03-10", ""), ("failed", "2026-03-10", "户名不符"), ("paid", "2026-03-10", "")]


@needs_import
def test_conflicting_lines_are_stored_for_review(client, batch, bank_keys):
    key = bank_keys["paying_bank"]
    lines = lines_for(batch)
    lines[0]["amount"] = "299.00"
    body = api_post(client, "/results", key, {"batch": batch.number, "results": lines}).json()
    assert body["applied_count"] == 2 and body["rejected_count"] == 1
    assert body["rejected"][0]["disposition"] == "amount"
    assert batch.attempts.get(seq=1).status == AttemptStatus.SENT
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PARTIAL
