"""The one-list pages through Django's test client: each page and action, the happy path, the wrong role
(403), another region (invisible / 403 / 404) and bad input shown in Chinese next to the field."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.policies.conftest import policy_fields
from yikatong.core.models import AuditEvent
from yikatong.policies.models import (
    AnnualListItem,
    AnnualPolicyList,
    ChangeRequest,
    LibraryEntry,
    LibraryLock,
    Policy,
    PolicyVersion,
)
from yikatong.policies.services import (
    change_request_create,
    change_request_submit,
    library_build_from_list,
    list_item_add,
    list_items_submit,
    policy_create,
    policy_update,
)
from yikatong.policies.views import _common

YEAR = 2027
P, M, WZ, FL = "500000000000", "500100000000", "500101000000", "500102000000"
CHAIN = ["civil", "m_finance", "p_civil", "p_finance"]


def login(client, ol, key):
    user = ol.users.get(key) or ol.world.users[key]
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def field_error(response, field: str) -> str:
    match = re.search(rf'data-field-error="{field}">([^<]*)<', text(response))
    return match.group(1) if match else ""


@pytest.fixture
def policies(one_list, today):
    ol = one_list
    policy_create(actor=ol.scope("p_civil"),
                  fields=policy_fields(code="CQ-X", department="CQ-MZJ", level_set="provincial",
                                       funding_sources=[{"level": "provincial", "share": "100"}]))
    policy_create(actor=ol.scope("civil"), fields=policy_fields())
    policy_create(actor=ol.scope("fl_civil"), fields=policy_fields(code="FL-1", department="FL-MZJ"))
    policy_create(actor=ol.scope("agri"),
                  fields=policy_fields(code="WZ-A1", name="万州区耕地地力保护补贴", department="WZ-NYNCW",
                                       standard_type="per_unit", unit_name="亩", standard_amount="105.50",
                                       cycle="yearly", means_tested=False))
    return ol


def form_data(**overrides) -> dict:
    data = {
        "code": "WZ-002", "name": "万州区高龄津贴", "department": "WZ-MZJ", "level_set": "county",
        "funding_sources_0": "", "funding_sources_1": "", "funding_sources_2": "", "funding_sources_3": "100",
        "legal_basis": "万州府发〔2026〕3号", "target_group": "80岁以上老人", "standard_type": "fixed",
        "standard_amount": "100.00", "unit_name": "", "tiers": "", "cycle": "monthly", "means_tested": "",
        "valid_from": "2026-01-01", "valid_to": "", "is_public": "on", "notice_public": "on", "min_age": "80",
        "max_age": "", "exclusive_with": "", "document_title": "", "status": "active",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# -- policy pages ---------------------------------------------------------------------------------------
def test_policy_list_shows_the_readers_policies_only(client, policies):
    login(client, policies, "civil")
    response = client.get(reverse("policies:policy-list"))
    assert response.status_code == 200
    codes = [p.code for p in response.context["page"].object_list]
    assert codes == ["CQ-X", "WZ-001"]  # own line; the province's policy; not 涪陵, not 农业
    login(client, policies, "finance")
    codes = [p.code for p in client.get(reverse("policies:policy-list")).context["page"].object_list]
    assert codes == ["CQ-X", "WZ-001", "WZ-A1"]
    assert "FL-1" not in text(client.get(reverse("policies:policy-list")))


@pytest.mark.parametrize("query, expected", [
    ({"level": "provincial"}, ["CQ-X"]),
    ({"cycle": "yearly"}, ["WZ-A1"]),
    ({"means_tested": "0"}, ["WZ-A1"]),
    ({"means_tested": "1"}, ["CQ-X", "WZ-001"]),
    ({"line": "agriculture"}, ["WZ-A1"]),
    ({"q": "耕地"}, ["WZ-A1"]),
    ({"q": "wz-0"}, ["WZ-001"]),
    ({"status": "retired"}, []),
])
def test_policy_list_filters(client, policies, query, expected):
    login(client, policies, "finance")
    response = client.get(reverse("policies:policy-list"), query)
    assert [p.code for p in response.context["page"].object_list] == expected
    if not expected:
        assert "没有符合条件的补贴政策" in text(response)


def test_policy_list_pages_and_htmx_partial(client, policies, monkeypatch):
    monkeypatch.setattr(_common, "PAGE_SIZE", 2)
    login(client, policies, "finance")
    first = client.get(reverse("policies:policy-list"))
    assert [p.code for p in first.context["page"].object_list] == ["CQ-X", "WZ-001"]
    assert "第 1 / 2 页" in text(first)
    second = client.get(reverse("policies:policy-list"), {"page": 2})
    assert [p.code for p in second.context["page"].object_list] == ["WZ-A1"]
    partial = client.get(reverse("policies:policy-list"), {"q": "耕地"}, HTTP_HX_REQUEST="true",
                         HTTP_HX_TARGET="policy-results")
    assert "<html" not in text(partial) and "WZ-A1" in text(partial) and "WZ-001" not in text(partial)


def test_policy_detail_and_other_region_invisible(client, policies):
    login(client, policies, "civil")
    response = client.get(reverse("policies:policy-detail", args=["WZ-001"]))
    assert response.status_code == 200
    body = text(response)
    for shown in ["万州区困难群众临时生活补助", "万州区民政局", "县级 100%", "300.00 元", "按月", "万州府发〔2025〕1号"]:
        assert shown in body
    assert 'data-version="1"' in body and 'data-testid="retire-form"' in body
    # another county's policy and another line's policy are not shown at all
    assert client.get(reverse("policies:policy-detail", args=["FL-1"])).status_code == 404
    missing = client.get(reverse("policies:policy-detail", args=["WZ-A1"]))
    # the same neutral answer whether the policy is missing or belongs to another line: existence never leaks
    assert missing.status_code == 404 and "不存在或不在您的查看范围内" in text(missing)
    assert "万州区耕地地力保护补贴" not in text(missing)
    # a reader (supervisor) sees it without the edit buttons
    login(client, policies, "supervisor")
    body = text(client.get(reverse("policies:policy-detail", args=["WZ-001"])))
    assert "WZ-001" in body and 'data-testid="retire-form"' not in body and 'data-testid="policy-edit"' not in body


def test_create_policy_with_a_document(client, policies, settings):
    login(client, policies, "civil")
    assert client.get(reverse("policies:policy-create")).status_code == 200
    upload = SimpleUploadedFile("高龄津贴办法.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = client.post(reverse("policies:policy-create"),
                           form_data(document_file=upload, document_title="万州区高龄津贴发放办法"))
    assert response.status_code == 302, field_error(response, "funding_sources") or text(response)[:2000]
    policy = Policy.objects.get(code="WZ-002")
    assert policy.version == 1 and policy.status == "active" and policy.min_age == 80
    assert policy.funding_sources == [{"level": "county", "share": "100"}]
    document = policy.policy_documents.get()
    assert document.title == "万州区高龄津贴发放办法" and document.file.original_name == "高龄津贴办法.pdf"
    detail = client.get(response["Location"])
    assert reverse("core:file-download", args=[document.file_id]) in text(detail)
    assert "已登记补贴项目 WZ-002" in " ".join(messages_of(detail))
    download = client.get(reverse("core:file-download", args=[document.file_id]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 test"


@pytest.mark.parametrize("overrides, field, message", [
    ({"funding_sources_3": "90"}, "funding_sources", "资金来源比例合计应为100%，当前为90%。"),
    ({"funding_sources_3": "abc"}, "funding_sources", "县级承担比例“abc”不是数字。"),
    ({"code": "WZ-001"}, "code", "补贴项目编码 WZ-001 已存在，请使用其他编码。"),
    ({"code": "坏 编码"}, "code", "补贴项目编码“坏 编码”无效"),
    ({"standard_type": "per_unit", "unit_name": ""}, "unit_name", "按单位计算的补贴须填写计量单位（如 亩、人）。"),
    ({"standard_type": "tiered", "standard_amount": "", "tiers": "T1 一级"}, "tiers", "分档标准第1行应为"),
    ({"valid_to": "2025-01-01"}, "valid_to", "政策有效期截止日期（2025-01-01）不能早于起始日期（2026-01-01）。"),
    ({"valid_from": "2026-13-01"}, "valid_from", "日期格式应为 YYYY-MM-DD。"),
    ({"name": ""}, "name", "此项为必填项。"),
    ({"min_age": "90", "max_age": "80"}, "max_age", "最低年龄不能大于最高年龄。"),
    ({"exclusive_with": "NO-SUCH"}, "exclusive_with", "互斥补贴项目 NO-SUCH 不存在。"),
    ({"document_file": None, "document_title": "有标题无文件"}, None, None),
])
def test_create_policy_bad_input_shows_the_reason_next_to_the_field(client, policies, overrides, field, message):
    login(client, policies, "civil")
    response = client.post(reverse("policies:policy-create"), form_data(**overrides))
    if field is None:  # a title without a file is simply ignored
        assert response.status_code == 302
        return
    assert response.status_code == 400
    assert message in field_error(response, field), text(response)[:3000]
    assert Policy.objects.filter(code="WZ-002").count() == 0


def test_create_policy_wrong_role_and_other_line(client, policies):
    for key in ["collector", "supervisor", "paying_bank"]:
        login(client, policies, key)
        response = client.get(reverse("policies:policy-create"))
        assert response.status_code == 403, key
    # 农业农村 may not register a 民政 policy: the department list does not even offer it
    login(client, policies, "agri")
    response = client.post(reverse("policies:policy-create"), form_data())
    assert response.status_code == 400
    assert "选择一个有效的选项" in field_error(response, "department")


def test_edit_requires_a_reason_and_writes_a_new_version(client, policies):
    login(client, policies, "civil")
    url = reverse("policies:policy-edit", args=["WZ-001"])
    page = client.get(url)
    assert page.status_code == 200 and page.context["form"]["standard_amount"].value() == "300.00"
    data = form_data(name="万州区困难群众临时生活补助", standard_amount="350.00", min_age="", code=None,
                     status=None, legal_basis="万州府发〔2025〕1号", target_group="万州区困难群众",
                     means_tested="on")
    missing = client.post(url, data)
    assert missing.status_code == 400 and field_error(missing, "reason") == "请填写修改原因（将记入版本历史）。"
    assert Policy.objects.get(code="WZ-001").version == 1
    done = client.post(url, {**data, "reason": "提高标准"})
    assert done.status_code == 302
    policy = Policy.objects.get(code="WZ-001")
    assert policy.version == 2 and str(policy.standard_amount) == "350.00"
    assert PolicyVersion.objects.get(policy=policy, version=2).reason == "提高标准"
    # saving again without a change is refused with the service's message on top
    again = client.post(url, {**data, "reason": "再次保存"})
    assert again.status_code == 400 and "没有需要保存的修改" in text(again)


def test_edit_other_line_or_region_is_refused(client, policies):
    login(client, policies, "agri")
    assert client.get(reverse("policies:policy-edit", args=["WZ-001"])).status_code == 404  # invisible line
    login(client, policies, "finance_other")  # 涪陵 finance cannot see 万州
    assert client.get(reverse("policies:policy-edit", args=["WZ-001"])).status_code == 404
    login(client, policies, "finance")  # 万州 finance sees the provincial policy but does not manage it
    response = client.get(reverse("policies:policy-edit", args=["CQ-X"]))
    assert response.status_code == 403 and "无权修改该补贴项目" in text(response)


def test_compare_page_highlights_changed_fields(client, policies):
    policy_update(actor=policies.scope("civil"), code="WZ-001",
                  changes={"standard_amount": "350.00", "target_group": "全区困难群众"}, reason="提标扩面")
    login(client, policies, "civil")
    response = client.get(reverse("policies:policy-compare", args=["WZ-001"]), {"v1": 2, "v2": 1})
    assert response.status_code == 200
    changed = [r.label for r in response.context["rows"] if r.changed]
    assert changed == ["补贴对象", "补贴标准（元）"]
    body = text(response)
    assert body.count('data-changed="1"') == 2 and "提标扩面" in body
    assert "300.00" in body and "350.00" in body
    bad = client.get(reverse("policies:policy-compare", args=["WZ-001"]), {"v1": 1, "v2": 9})
    assert bad.status_code == 400 and "补贴项目 WZ-001 没有第 9 版。" in text(bad)
    assert client.get(reverse("policies:policy-compare", args=["WZ-001"]), {"v1": "x", "v2": 1}).status_code == 400


def test_retire_needs_a_reason_and_the_right_role(client, policies):
    url = reverse("policies:policy-retire", args=["WZ-001"])
    login(client, policies, "supervisor")
    assert client.post(url, {"reason": "x"}).status_code == 403
    login(client, policies, "civil")
    response = client.post(url, {"reason": ""}, follow=True)
    assert "请填写停止执行的原因。" in messages_of(response)
    assert Policy.objects.get(code="WZ-001").status == "active"
    response = client.post(url, {"reason": "政策到期不再执行"}, follow=True)
    assert Policy.objects.get(code="WZ-001").status == "retired"
    assert any("已停止执行" in m for m in messages_of(response))
    again = client.post(url, {"reason": "再次停止"}, follow=True)
    assert any("当前状态为“已停止”，不能停止执行" in m for m in messages_of(again))


def test_catalogue_export_is_scoped(client, policies):
    login(client, policies, "civil")
    response = client.get(reverse("policies:policy-export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    from tests.policies.test_xlsx import read_xlsx

    rows = read_xlsx(response.content)
    assert rows[0][:3] == ["序号", "补贴项目编码", "补贴资金名称"]
    assert [r[1] for r in rows[1:]] == ["CQ-X", "WZ-001"]


# -- annual lists -------------------------------------------------------------------------------------
def list_url(region=WZ, year=YEAR):
    return f"{reverse('policies:lists')}?region={region}&year={year}"


def test_list_page_defaults_and_deadline_badges(client, policies, today):
    login(client, policies, "collector")  # a township user looks at the county's list
    response = client.get(reverse("policies:lists"))
    assert response.status_code == 200
    assert response.context["region"].code == WZ and response.context["year"] == YEAR
    states = {d["key"]: d["state"] for d in response.context["deadlines"]}
    assert states == {"department_submit": "near", "prefecture_file": "ok", "province_publish": "ok"}
    body = text(response)
    assert 'data-state="near"' in body and "剩 5 天" in body
    today("2026-12-01")
    states = {d["key"]: d["state"] for d in client.get(list_url()).context["deadlines"]}
    assert states["department_submit"] == "overdue"
    assert "已过 1 天" in text(client.get(list_url()))


def test_department_adds_and_submits_items_through_the_page(client, policies):
    login(client, policies, "civil")
    page = client.get(list_url())
    assert page.context["can_add"] and not page.context["can_file"]
    offered = [c for c, _ in page.context["add_form"].fields["policy"].choices if c]
    assert offered == ["CQ-X", "WZ-001"]
    response = client.post(reverse("policies:list-item-add", args=[WZ, YEAR]), {"policy": "WZ-001", "part": ""})
    assert response.status_code == 302
    response = client.post(reverse("policies:list-item-add", args=[WZ, YEAR]),
                           {"policy": "CQ-X", "part": "prescribed"})
    items = {i.policy.code: i for i in AnnualListItem.objects.filter(policy_list__region_id=WZ)}
    assert items["WZ-001"].part == "self_defined" and items["CQ-X"].part == "prescribed"
    assert all(i.status == "draft" for i in items.values())
    page = client.get(list_url())
    assert page.context["can_submit"] and "提交本部门 2 个待提交项目" in text(page)
    response = client.post(reverse("policies:list-submit", args=[WZ, YEAR]), follow=True)
    assert "已提交 2 个清单项目。" in messages_of(response)
    assert set(AnnualListItem.objects.values_list("status", flat=True)) == {"submitted"}
    # submitting again: the service's refusal is shown, nothing changes
    again = client.post(reverse("policies:list-submit", args=[WZ, YEAR]), follow=True)
    assert "没有待提交的清单项目（已全部提交或尚未添加）。" in messages_of(again)


def test_add_item_bad_input_and_wrong_role(client, policies):
    login(client, policies, "civil")
    bad = client.post(reverse("policies:list-item-add", args=[WZ, YEAR]), {"policy": ""})
    assert bad.status_code == 400 and field_error(bad, "policy") == "请选择补贴项目。"
    not_offered = client.post(reverse("policies:list-item-add", args=[WZ, YEAR]), {"policy": "FL-1"})
    assert not_offered.status_code == 400 and "选择一个有效的选项" in field_error(not_offered, "policy")
    login(client, policies, "finance")  # finance does not fill in items
    assert client.post(reverse("policies:list-item-add", args=[WZ, YEAR]), {"policy": "WZ-001"}).status_code == 403
    login(client, policies, "fl_civil")  # another county's department
    response = client.post(reverse("policies:list-item-add", args=[WZ, YEAR]), {"policy": "WZ-001"})
    assert response.status_code == 403
    assert AnnualListItem.objects.count() == 0


def test_other_county_list_is_not_visible(client, policies):
    list_item_add(actor=policies.scope("fl_civil"), region_code=FL, year=YEAR, policy_code="FL-1")
    login(client, policies, "civil")
    response = client.get(list_url(FL))
    assert response.status_code == 403 and "不在您的管辖范围内" in text(response)
    assert client.get(reverse("policies:list-export", args=[FL, YEAR])).status_code == 403
    # the province's list (above) is visible
    assert client.get(list_url(P)).status_code == 200
    assert client.get(list_url("500101001000")).status_code == 404  # townships have no list


def _submitted(ol):
    for key, region, code in [("p_civil", P, "CQ-X"), ("civil", WZ, "WZ-001"), ("fl_civil", FL, "FL-1")]:
        list_item_add(actor=ol.scope(key), region_code=region, year=YEAR, policy_code=code)
        list_items_submit(actor=ol.scope(key), region_code=region, year=YEAR)


def test_prefecture_files_and_province_publishes_or_returns(client, policies):
    ol = policies
    list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    login(client, ol, "m_finance")
    page = client.get(list_url(M))
    assert page.context["can_file"] and not page.context["can_publish"]
    refused = client.post(reverse("policies:list-file", args=[M, YEAR]), follow=True)
    assert any("尚有 1 个清单项目未提交（万州区民政局的WZ-001）" in m for m in messages_of(refused))
    list_items_submit(actor=ol.scope("civil"), region_code=WZ, year=YEAR)
    filed = client.post(reverse("policies:list-file", args=[M, YEAR]), follow=True)
    assert any(m.startswith("已向省财政报备 2 份清单") for m in messages_of(filed))
    assert AnnualPolicyList.objects.get(region_id=WZ).status == "filed"
    # the county finance may neither file nor publish
    login(client, ol, "finance")
    assert client.post(reverse("policies:list-file", args=[M, YEAR])).status_code == 403
    assert client.post(reverse("policies:list-publish", args=[P, YEAR])).status_code == 403
    # the province returns the prefecture with a reason, which the county's page then shows
    login(client, ol, "p_finance")
    page = client.get(list_url(M))
    assert page.context["can_return"]
    no_reason = client.post(reverse("policies:list-return", args=[M, YEAR]), {"reason": ""}, follow=True)
    assert "退回须填写原因。" in messages_of(no_reason)
    client.post(reverse("policies:list-return", args=[M, YEAR]), {"reason": "缺少政策文件"})
    assert AnnualPolicyList.objects.get(region_id=WZ).status == "draft"
    login(client, ol, "civil")
    assert "省财政退回原因：缺少政策文件" in text(client.get(list_url(WZ)))
    # filed again and published
    login(client, ol, "m_finance")
    client.post(reverse("policies:list-file", args=[M, YEAR]))
    login(client, ol, "p_finance")
    published = client.post(reverse("policies:list-publish", args=[P, YEAR]), follow=True)
    assert any(m.startswith("已公布 3 份清单") for m in messages_of(published))
    assert AnnualPolicyList.objects.get(region_id=WZ).status == "published"
    page = client.get(list_url(WZ))
    assert page.context["policy_list"].status == "published" and not page.context["can_add"]


def test_list_versions_compare_page(client, policies):
    ol = policies
    list_item_add(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-001")
    list_items_submit(actor=ol.scope("civil"), region_code=WZ, year=YEAR)
    login(client, ol, "m_finance")
    client.post(reverse("policies:list-file", args=[M, YEAR]))
    login(client, ol, "p_finance")
    client.post(reverse("policies:list-return", args=[M, YEAR]), {"reason": "补充"})
    login(client, ol, "civil")
    client.post(reverse("policies:list-item-add", args=[WZ, YEAR]), {"policy": "CQ-X"})
    client.post(reverse("policies:list-submit", args=[WZ, YEAR]))
    login(client, ol, "m_finance")
    client.post(reverse("policies:list-file", args=[M, YEAR]))
    login(client, ol, "civil")
    page = client.get(list_url())
    assert [v.version for v in page.context["versions"]] == [3, 2, 1]
    response = client.get(reverse("policies:list-compare", args=[WZ, YEAR]), {"v1": 1, "v2": 3})
    assert response.status_code == 200
    assert [i["policy"] for i in response.context["diff"]["added"]] == ["CQ-X"]
    assert 'data-added="CQ-X"' in text(response) and "规定清单" in text(response)
    bad = client.get(reverse("policies:list-compare", args=[WZ, YEAR]), {"v1": 1, "v2": 7})
    assert bad.status_code == 400 and "2027 年度清单没有第 7 版。" in text(bad)


# -- project library -------------------------------------------------------------------------------------
def test_province_builds_locks_and_county_sees_entries(client, published):
    ol = published
    login(client, ol, "civil")
    assert client.post(reverse("policies:library-build"), {"year": YEAR}).status_code == 403
    login(client, ol, "p_finance")
    page = client.get(reverse("policies:library"), {"year": YEAR})
    assert page.context["can_build"] and not page.context["entries"]
    response = client.post(reverse("policies:library-build"), {"year": YEAR}, follow=True)
    assert "已根据公布的清单建立补贴项目库：新增 3 个条目。" in messages_of(response)
    again = client.post(reverse("policies:library-build"), {"year": YEAR}, follow=True)
    assert "补贴项目库已是最新，没有新增条目。" in messages_of(again)
    locked = client.post(reverse("policies:library-lock"), {"year": YEAR}, follow=True)
    assert LibraryLock.objects.filter(region_id=P, year=YEAR).exists()
    assert locked.context["locked"] and 'data-testid="lock-state">已锁定' in text(locked)
    login(client, ol, "finance")
    page = client.get(reverse("policies:library"), {"year": YEAR})
    assert sorted(e.policy.code for e in page.context["entries"]) == ["CQ-X", "WZ-001"]  # not 涪陵's FL-1
    assert page.context["locked"] and not page.context["can_build"] and not page.context["can_remove"]


def test_library_entry_removal_before_lock_and_expiry(client, published, today):
    ol = published
    library_build_from_list(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    login(client, ol, "finance")
    url = reverse("policies:library-remove")
    no_reason = client.post(url, {"year": YEAR, "region": WZ, "policy": "WZ-001", "reason": ""}, follow=True)
    assert "请填写移出原因。" in messages_of(no_reason)
    login(client, ol, "finance_other")  # 涪陵 finance cannot touch 万州's entry
    assert client.post(url, {"year": YEAR, "region": WZ, "policy": "WZ-001", "reason": "x"}).status_code == 403
    # after Jan 1 the library is locked: expiry still works, hand corrections do not
    today("2027-04-02")
    login(client, ol, "finance")
    refused = client.post(url, {"year": YEAR, "region": WZ, "policy": "WZ-001", "reason": "更正"}, follow=True)
    assert any("已锁定，执行中不作变更" in m for m in messages_of(refused))
    expired = client.post(reverse("policies:library-expire"), {"year": YEAR}, follow=True)
    assert "已将 1 个到期政策移出补贴项目库。" in messages_of(expired)
    entry = LibraryEntry.objects.get(policy__code="WZ-001")
    assert entry.status == "removed" and "政策已到期（有效期至 2027-03-31）" in entry.removed_reason
    page = client.get(reverse("policies:library"), {"year": YEAR, "removed": "1"})
    assert 'data-entry="500101000000:WZ-001" data-status="removed"' in text(page)


def test_library_check_form(client, published):
    library_build_from_list(actor=published.scope("p_finance"), province_code=P, year=YEAR)
    login(client, published, "collector")
    url = reverse("policies:library-check")
    allowed = client.get(url, {"policy": "CQ-X", "region": "500101001001", "year": YEAR})
    assert allowed.status_code == 200 and allowed.context["result"]["allowed"]
    assert "可以发放" in text(allowed)
    refused = client.get(url, {"policy": "FL-1", "region": "500101001000", "year": YEAR}, HTTP_HX_REQUEST="true")
    assert "<html" not in text(refused)
    assert "补贴项目 FL-1 不在 2027 年度 高笋塘街道（500101001000） 的补贴项目库中，不能发放。" in text(refused)
    # another township is out of this collector's scope; a bad code and a bad year are explained
    other = client.get(url, {"policy": "CQ-X", "region": "500101002000", "year": YEAR})
    assert other.status_code == 403 and "无权查询区划 500101002000" in text(other)
    bad = client.get(url, {"policy": "CQ-X", "region": "5001", "year": "x"})
    assert bad.status_code == 400 and "年度应为四位数字。" in text(bad)


# -- change requests ---------------------------------------------------------------------------------------
@pytest.fixture
def library(published, today):
    library_build_from_list(actor=published.scope("p_finance"), province_code=P, year=YEAR)
    today("2027-03-01")
    policy_create(actor=published.scope("civil"), fields=policy_fields(code="WZ-002", name="万州区高龄津贴",
                                                                      status="draft"))
    return published


def change_data(**overrides):
    data = {"region": WZ, "year": YEAR, "policy": "WZ-002", "change_type": "add",
            "content": "新增万州区高龄津贴", "reason": "区政府常务会议决定", "amount_impact": "120000.00"}
    data.update(overrides)
    return data


def test_change_request_through_the_pages(client, library):
    ol = library
    login(client, ol, "civil")
    form = client.get(reverse("policies:change-create"))
    assert form.status_code == 200
    assert form.context["form"].fields["region"].choices == [(WZ, "万州区（500101000000）")]
    attachment = SimpleUploadedFile("常务会议纪要.pdf", b"%PDF-1.4 minutes", content_type="application/pdf")
    response = client.post(reverse("policies:change-create"), {**change_data(), "documents": [attachment]})
    assert response.status_code == 302, text(response)[:3000]
    cr = ChangeRequest.objects.get()
    assert cr.status == "draft" and cr.documents.count() == 1
    detail = client.get(response["Location"])
    body = text(detail)
    assert "常务会议纪要.pdf" in body and reverse("core:file-download", args=[cr.documents.get().pk]) in body
    assert detail.context["can_submit"]
    client.post(reverse("policies:change-submit", args=[cr.pk]))
    for index, key in enumerate(CHAIN):
        login(client, ol, key)
        inbox = client.get(reverse("policies:change-inbox"))
        assert [c.pk for c in inbox.context["awaiting"]] == [cr.pk], key
        detail = client.get(reverse("policies:change-detail", args=[cr.pk]))
        assert detail.context["can_review"] and detail.context["deadline"]["date"].isoformat() == "2027-03-15"
        assert [s["state"] for s in detail.context["chain"]][index] == "current"
        response = client.post(reverse("policies:change-approve", args=[cr.pk]),
                               {"opinion": f"同意{index}", "back": "inbox"}, follow=True)
        assert response.redirect_chain[-1][0] == reverse("policies:change-inbox")
    cr.refresh_from_db()
    assert cr.status == "approved"
    detail = client.get(reverse("policies:change-detail", args=[cr.pk]))
    assert [s["state"] for s in detail.context["chain"]] == ["done"] * 4
    assert list(detail.context["steps"].values_list("reason", flat=True)) == ["", "同意0", "同意1", "同意2", "同意3"]
    login(client, ol, "finance")
    page = client.get(reverse("policies:library"), {"year": YEAR})
    assert "WZ-002" in [e.policy.code for e in page.context["entries"]]
    assert f"变更申请 {cr.number}" in text(page)


def test_change_request_wrong_reviewer_return_and_resubmit(client, library):
    ol = library
    cr = change_request_create(actor=ol.scope("civil"), region_code=WZ, year=YEAR, policy_code="WZ-002",
                               change_type="add", content="新增", reason="理由")
    change_request_submit(actor=ol.scope("civil"), pk=cr.pk)
    for wrong in ["m_finance", "p_civil", "agri", "supervisor"]:
        login(client, ol, wrong)
        response = client.post(reverse("policies:change-approve", args=[cr.pk]), {})
        assert response.status_code in (403, 404), wrong
        assert client.get(reverse("policies:change-inbox")).status_code in (200, 403)
    login(client, ol, "m_finance")
    assert client.get(reverse("policies:change-inbox")).context["awaiting"] == []
    login(client, ol, "civil")
    no_reason = client.post(reverse("policies:change-return", args=[cr.pk]), {"reason": ""}, follow=True)
    assert "退回须填写原因，申请部门将据此修改。" in messages_of(no_reason)
    client.post(reverse("policies:change-return", args=[cr.pk]), {"reason": "请补充测算依据"})
    cr.refresh_from_db()
    assert cr.status == "returned"
    detail = client.get(reverse("policies:change-detail", args=[cr.pk]))
    assert "退回原因：请补充测算依据" in text(detail) and detail.context["revise_form"] is not None
    bad = client.post(reverse("policies:change-revise", args=[cr.pk]),
                      {"content": "新增", "reason": "理由", "amount_impact": "1.234"}, follow=True)
    assert any("最多保留两位小数" in m for m in messages_of(bad))
    client.post(reverse("policies:change-revise", args=[cr.pk]),
                {"content": "新增（附测算）", "reason": "理由", "amount_impact": "5000.00"})
    response = client.post(reverse("policies:change-submit", args=[cr.pk]), follow=True)
    cr.refresh_from_db()
    assert cr.status == "in_review" and cr.round == 2 and cr.content == "新增（附测算）"
    assert any("等待“县级主管部门审核”" in m for m in messages_of(response))


def test_change_request_form_bad_input_and_scope(client, library):
    ol = library
    login(client, ol, "civil")
    bad_amount = client.post(reverse("policies:change-create"), change_data(amount_impact="1.234"))
    assert bad_amount.status_code == 400 and "最多保留两位小数" in text(bad_amount)
    missing = client.post(reverse("policies:change-create"), change_data(content=""))
    assert missing.status_code == 400 and field_error(missing, "content") == "请填写变更内容。"
    already = client.post(reverse("policies:change-create"), change_data(policy="WZ-001"))
    assert already.status_code == 400 and "已在 2027 年度补贴项目库中，无需申请新增" in text(already)
    modify = client.post(reverse("policies:change-create"),
                         change_data(policy="WZ-001", change_type="modify", new_standard_type="per_unit",
                                     new_standard_amount="50.00"))
    assert modify.status_code == 400
    assert field_error(modify, "new_unit_name") == "按单位计算的补贴须填写计量单位（如 亩、人）。"
    ok = client.post(reverse("policies:change-create"),
                     change_data(policy="WZ-001", change_type="modify", new_standard_amount="320.00",
                                 new_means_tested="0"))
    assert ok.status_code == 302
    cr = ChangeRequest.objects.get(change_type="modify")
    assert cr.new_standard == {"standard_amount": "320.00", "means_tested": False}
    detail = text(client.get(ok["Location"]))
    assert "300.00" in detail and "320.00" in detail
    # the wrong role and another county
    login(client, ol, "finance")
    assert client.get(reverse("policies:change-create")).status_code == 403
    login(client, ol, "finance_other")
    assert client.get(reverse("policies:change-detail", args=[cr.pk])).status_code == 404
    assert list(client.get(reverse("policies:changes")).context["page"].object_list) == []
    login(client, ol, "supervisor")
    listing = client.get(reverse("policies:changes"))
    assert [c.pk for c in listing.context["page"].object_list] == [cr.pk]
    assert not listing.context["can_create"]


def test_navigation_entries_per_role(client, one_list):
    login(client, one_list, "civil")
    body = text(client.get(reverse("core:home")))
    for name in ["policies:policy-list", "policies:lists", "policies:library", "policies:changes",
                 "policies:change-inbox"]:
        assert f'data-nav="{name}"' in body
    login(client, one_list, "collector")
    body = text(client.get(reverse("core:home")))
    assert 'data-nav="policies:lists"' in body and 'data-nav="policies:change-inbox"' not in body
    assert client.get(reverse("policies:change-inbox")).status_code == 403


def test_pages_require_login(client, one_list):
    for name in ["policies:policy-list", "policies:lists", "policies:library", "policies:changes"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_actions_are_audited(client, policies):
    login(client, policies, "civil")
    client.post(reverse("policies:list-item-add", args=[WZ, YEAR]), {"policy": "WZ-001"})
    assert AuditEvent.objects.filter(action="list.item_add", actor_username="t_civil").count() == 1
