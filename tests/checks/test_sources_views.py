"""Pages of the shared-data sources: overview, history, upload with progress, rejected rows, role refusals."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from yikatong.checks.models import SourceImport
from yikatong.checks.sources import source_current
from yikatong.core.models import JobProgress

from . import test_sources_support as support
from .test_sources_support import HEADERS, bad_check_digit, csv_bytes, ids, run_import

pytestmark = pytest.mark.django_db
fixed_today = support.fixed_today
scopes = support.scopes


def login(client, world, who):
    client.force_login(world.users[who])
    return client


def upload(client, source, data, name="data.csv", **extra):
    return client.post(reverse("sources:source-upload", args=[source]),
                       {"file": SimpleUploadedFile(name, data, content_type="text/csv"), **extra})


def test_overview_shows_each_source_with_the_import_in_force(client, world, scopes):
    run_import(scopes["admin"], "death", csv_bytes(HEADERS["death"], [f"{p},某,2026-01-01" for p in ids(3)]),
               data_date="2026-02-01")
    run_import(scopes["admin"], "death", csv_bytes("身份证号", ["x"]))  # failed: shown as the latest import
    response = login(client, world, "finance").get(reverse("sources:overview"))
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("户籍", "死亡/殡葬", "社保卡", "财政供养人员", "车辆", "工商登记", "不动产", "村干部及近亲属"):
        assert label in html
    assert 'data-source="death"' in html and "2026-02-01" in html and "失败" in html and "尚未导入" in html
    assert 'data-testid="import-death"' not in html  # finance does not import
    html = login(client, world, "hr").get(reverse("sources:overview")).content.decode()
    assert 'data-testid="import-ssc_card"' in html and 'data-testid="import-death"' not in html
    assert 'data-nav="sources:overview"' in html


@pytest.mark.parametrize("who", ["collector", "paying_bank", "card_bank", "regulator"])
def test_roles_without_source_view_are_refused(client, world, who):
    login(client, world, who)
    assert client.get(reverse("sources:overview")).status_code == 403
    assert client.get(reverse("sources:source-detail", args=["death"])).status_code == 403
    assert 'data-nav="sources:overview"' not in client.get(reverse("core:home")).content.decode()


def test_admin_uploads_and_sees_progress_outcome_and_rejected_rows(client, world):
    a, b = ids(2)
    login(client, world, "admin")
    page = client.get(reverse("sources:source-detail", args=["death"]))
    assert page.status_code == 200 and 'data-testid="upload-form"' in page.content.decode()
    bad = bad_check_digit(b)
    response = upload(client, "death", csv_bytes(HEADERS["death"], [f"{a},甲,2026-01-01", f"{bad},乙,2026-01-01"]),
                      data_date="2026-03-01")
    imp = SourceImport.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("sources:import-detail", args=[imp.pk])
    assert imp.status == SourceImport.Status.ACTIVE and imp.job.status == JobProgress.Status.SUCCEEDED
    html = client.get(response["Location"]).content.decode()
    assert 'data-testid="job-progress"' in html and 'data-status="succeeded"' in html
    assert 'data-testid="accepted">1<' in html and 'data-testid="rejected">1<' in html
    assert 'data-row="3"' in html and "校验位" in html
    assert bad not in html and bad[:6] + "********" + bad[-4:] in html
    csv = client.get(reverse("sources:import-errors-csv", args=[imp.pk]))
    body = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert csv.status_code == 200 and "行号,列,值,原因" in body and "校验位" in body and bad not in body
    history = client.get(reverse("sources:source-detail", args=["death"])).content.decode()
    assert f'data-import="{imp.pk}"' in history and "data.csv" in history


def test_a_refused_file_is_reported_on_its_import_page(client, world):
    login(client, world, "admin")
    response = upload(client, "household", csv_bytes("身份证号,姓名", ["x,y"]))
    imp = SourceImport.objects.get()
    html = client.get(response["Location"]).content.decode()
    assert imp.status == SourceImport.Status.FAILED
    assert "户号" in html and "行政区划代码" in html and 'data-status="failed"' in html
    assert source_current("household") is None


def test_upload_form_errors(client, world):
    login(client, world, "admin")
    response = client.post(reverse("sources:source-upload", args=["death"]), {})
    assert response.status_code == 400 and "这个字段是必填项" in response.content.decode()
    response = upload(client, "death", b"x", data_date="2099-01-01")
    assert response.status_code == 400 and "晚于今天" in response.content.decode()
    assert SourceImport.objects.count() == 0
    assert client.get(reverse("sources:source-detail", args=["nope"])).status_code == 404


@pytest.mark.parametrize("who,source,status", [
    ("hr", "death", 403), ("finance", "death", 403), ("supervisor", "ssc_card", 403), ("civil", "household", 403),
    ("collector", "household", 403),
])
def test_upload_role_refusals(client, world, who, source, status):
    login(client, world, who)
    response = upload(client, source, csv_bytes(HEADERS[source], []))
    assert response.status_code == status
    assert SourceImport.objects.count() == 0


def test_hr_uploads_the_card_source(client, world):
    login(client, world, "hr")
    html = client.get(reverse("sources:source-detail", args=["ssc_card"])).content.decode()
    assert 'data-testid="upload-form"' in html
    assert 'data-testid="upload-form"' not in client.get(reverse("sources:source-detail", args=["death"])).content.decode()


def test_template_download(client, world):
    login(client, world, "civil")
    response = client.get(reverse("sources:source-template", args=["vehicle"]))
    assert b"".join(response.streaming_content).decode("utf-8-sig").strip() == HEADERS["vehicle"]
