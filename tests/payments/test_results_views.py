"""Pages of bank results: upload (small: at once; large: background job), list, detail, review, scope."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.payments.factory import build_batch, build_plan
from tests.payments.test_results import csv_bytes, import_csv, result_lines_for
from yikatong.payments import views_results
from yikatong.payments.models import ResultImport, ResultLine


@pytest.fixture
def released(pay):
    plan = build_plan(pay)
    return plan, build_batch(pay, plan)


def _client(client, pay, key):
    client.force_login(pay.world.users[key])
    return client


def _upload(client, data, **extra):
    return client.post(reverse("payments:results"),
                       {"file": SimpleUploadedFile("回盘.csv", data, content_type="text/csv"), **extra})


def test_bank_uploads_and_sees_counts_and_rejected_lines(client, pay, released):
    plan, batch = released
    lines = result_lines_for(batch, fail=(1,))
    lines[4][3] = "1.00"
    c = _client(client, pay, "paying_bank")
    page = c.get(reverse("payments:results"))
    assert page.status_code == 200 and "bank_code" not in page.content.decode()
    response = _upload(c, csv_bytes(lines))
    ri = ResultImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("payments:result-detail", args=[ri.pk])
    detail = c.get(response["Location"]).content.decode()
    assert 'data-disposition="amount"' in detail and "金额不符" in detail and "1.00" in detail
    assert reverse("core:file-download", args=[ri.file_id]) in detail
    assert c.get(reverse("core:file-download", args=[ri.file_id])).status_code == 200
    listing = c.get(reverse("payments:results")).content.decode()
    assert "回盘.csv" in listing


def test_refused_file_shows_the_reason(client, pay, released):
    c = _client(client, pay, "civil")
    response = _upload(c, "批次号,序号\n1,2\n".encode())
    detail = c.get(response["Location"]).content.decode()
    assert 'data-testid="result-failed"' in detail and "收款账号" in detail


def test_review_a_line_and_scope_of_other_users(client, pay, released):
    plan, batch = released
    lines = result_lines_for(batch, seqs={1})
    lines[0][3] = "9.99"
    ri = import_csv(pay.scope("paying_bank"), lines)
    line = ResultLine.objects.get(result_import=ri)
    c = _client(client, pay, "civil")
    url = reverse("payments:result-line-review", args=[line.pk])
    c.post(url, {"note": ""})
    line.refresh_from_db()
    assert line.review == "open"
    response = c.post(url, {"note": "已与银行核实，金额录入错误"})
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.review == "closed" and "核实" in line.review_note
    c.logout()
    other = _client(client, pay, "paying_bank2")
    assert other.get(reverse("payments:result-detail", args=[ri.pk])).status_code == 404
    assert other.post(url, {"note": "x"}).status_code == 404
    other.logout()
    collector = _client(client, pay, "collector")
    assert collector.get(reverse("payments:result-detail", args=[ri.pk])).status_code == 404
    page = collector.get(reverse("payments:results")).content.decode()
    assert 'data-testid="result-upload"' not in page
    assert collector.post(reverse("payments:results"), {}).status_code == 403


def test_large_file_runs_as_a_background_job(client, pay, released, monkeypatch):
    plan, batch = released
    monkeypatch.setattr(views_results, "SYNC_LIMIT", 10)
    c = _client(client, pay, "finance")
    response = _upload(c, csv_bytes(result_lines_for(batch)), bank_code="WZ-NSH")
    assert response.status_code == 302 and "/jobs/" in response["Location"]
    ri = ResultImport.objects.get()
    assert ri.status == "done" and ri.applied_count == 5 and ri.bank.code == "WZ-NSH"
    job_page = c.get(response["Location"]).content.decode()
    assert reverse("payments:result-detail", args=[ri.pk]) in job_page
