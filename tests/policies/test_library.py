"""The project library: built from the published list, the payment rule, lock, expiry and the CLI."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent
from yikatong.policies import selectors
from yikatong.policies.models import LibraryEntry
from yikatong.policies.services import (
    library_allows,
    library_build_from_list,
    library_entry_remove,
    library_expire,
    library_is_locked,
    library_lock,
    library_require,
    policy_retire,
)

YEAR = 2027
P, M, WZ, FL = "500000000000", "500100000000", "500101000000", "500102000000"
VILLAGE = "500101001001"


def test_build_is_refused_before_publication(one_list, today):
    with pytest.raises(DomainError, match="尚未公布"):
        library_build_from_list(actor=one_list.scope("p_finance"), province_code=P, year=YEAR)


def test_build_from_published_list_by_province_finance_only(published):
    ol = published
    with pytest.raises(ScopeError):
        library_build_from_list(actor=ol.scope("m_finance"), province_code=P, year=YEAR)
    with pytest.raises(ScopeError):
        library_build_from_list(actor=ol.scope("p_civil"), province_code=P, year=YEAR)
    with pytest.raises(DomainError, match="省级区划"):
        library_build_from_list(actor=ol.scope("p_finance"), province_code=WZ, year=YEAR)
    created = library_build_from_list(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    assert sorted((e.region_id, e.policy.code) for e in created) == [(P, "CQ-X"), (WZ, "WZ-001"), (FL, "FL-1")]
    assert all(e.source_item_id for e in created)
    assert library_build_from_list(actor=ol.scope("p_finance"), province_code=P, year=YEAR) == []  # idempotent
    assert AuditEvent.objects.filter(action="library.build").count() == 2


def test_library_allows_covers_regions_below_the_entry(published, django_assert_num_queries):
    library_build_from_list(actor=published.scope("p_finance"), province_code=P, year=YEAR)
    with django_assert_num_queries(1):
        assert library_allows(policy="CQ-X", region_code=WZ, year=YEAR)      # provincial entry covers a county
    assert library_allows(policy="CQ-X", region_code=VILLAGE, year=YEAR)     # … and its villages
    assert library_allows(policy="WZ-001", region_code=VILLAGE, year=YEAR)
    assert not library_allows(policy="WZ-001", region_code=FL, year=YEAR)     # other county
    assert not library_allows(policy="WZ-001", region_code=P, year=YEAR)      # a county entry does not cover above
    assert not library_allows(policy="CQ-X", region_code=WZ, year=YEAR + 1)   # other year
    assert not library_allows(policy="NOPE", region_code=WZ, year=YEAR)       # other policy
    assert not library_allows(policy="CQ-X", region_code="bad", year=YEAR)
    with pytest.raises(DomainError, match=r"补贴项目 WZ-001 不在 2027 年度 涪陵区（500102000000） 的补贴项目库中，不能发放。"):
        library_require(policy="WZ-001", region_code=FL, year=YEAR)
    library_require(policy="CQ-X", region_code=FL, year=YEAR)
    policy_retire(actor=published.scope("p_civil"), code="CQ-X", reason="停止")
    assert not library_allows(policy="CQ-X", region_code=WZ, year=YEAR)      # a retired policy is not paid


def test_lock_explicit_and_from_january_first(published, today):
    ol = published
    library_build_from_list(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    assert not library_is_locked(region_code=WZ, year=YEAR)  # today 2026-11-25
    library_entry_remove(actor=ol.scope("finance"), region_code=WZ, year=YEAR, policy_code="WZ-001",
                         reason="清单录入错误")
    assert not library_allows(policy="WZ-001", region_code=WZ, year=YEAR)
    removed = LibraryEntry.objects.get(policy__code="WZ-001")
    assert removed.status == "removed" and removed.removed_reason == "清单录入错误"  # kept, not deleted
    with pytest.raises(ScopeError):
        library_lock(actor=ol.scope("finance"), region_code=P, year=YEAR)
    library_lock(actor=ol.scope("p_finance"), region_code=P, year=YEAR)
    assert library_is_locked(region_code=FL, year=YEAR)
    with pytest.raises(DomainError, match="已锁定，无需重复锁定"):
        library_lock(actor=ol.scope("p_finance"), region_code=P, year=YEAR)
    with pytest.raises(DomainError, match="已锁定，执行中不作变更"):
        library_entry_remove(actor=ol.scope("finance_other"), region_code=FL, year=YEAR, policy_code="FL-1",
                             reason="x")
    assert not library_is_locked(region_code=WZ, year=YEAR + 1)


def test_lock_by_date_once_built(published, today):
    library_build_from_list(actor=published.scope("p_finance"), province_code=P, year=YEAR)
    today("2026-12-31")
    assert not library_is_locked(region_code=FL, year=YEAR)
    today("2027-01-01")
    assert library_is_locked(region_code=FL, year=YEAR)
    with pytest.raises(DomainError, match="已锁定"):
        library_entry_remove(actor=published.scope("finance_other"), region_code=FL, year=YEAR,
                             policy_code="FL-1", reason="x")


def test_expired_policies_leave_the_library(published, today):
    ol = published
    library_build_from_list(actor=ol.scope("p_finance"), province_code=P, year=YEAR)
    today("2027-03-31")
    assert library_expire(actor=ol.scope("p_finance"), year=YEAR) == []  # still valid on its last day
    today("2027-04-01")
    assert library_expire(actor=ol.scope("finance_other"), year=YEAR) == []  # 涪陵 cannot touch 万州
    removed = library_expire(actor=ol.scope("finance"), year=YEAR)
    assert [e.policy.code for e in removed] == ["WZ-001"]
    entry = LibraryEntry.objects.get(policy__code="WZ-001")
    assert entry.status == "removed" and "政策已到期（有效期至 2027-03-31）" in entry.removed_reason
    assert not library_allows(policy="WZ-001", region_code=WZ, year=YEAR)
    assert library_allows(policy="CQ-X", region_code=WZ, year=YEAR)
    assert AuditEvent.objects.filter(action="library.remove").count() == 1
    with pytest.raises(ScopeError):
        library_expire(actor=ol.scope("civil"), year=YEAR)
    # the selector shows what applies to a county, removed entries on request
    codes = lambda **kw: [e.policy.code for e in selectors.library_entries(ol.scope("finance"), YEAR, **kw)]  # noqa: E731
    assert codes() == ["CQ-X"] and codes(include_removed=True) == ["CQ-X", "WZ-001"]
    assert [p.code for p in selectors.library_payable_policies(VILLAGE, YEAR)] == ["CQ-X"]


def test_library_check_command(published):
    library_build_from_list(actor=published.scope("p_finance"), province_code=P, year=YEAR)
    out = StringIO()
    call_command("library-check", "--policy", "CQ-X", "--region", "500101", "--year", str(YEAR), stdout=out)
    assert "可发放" in out.getvalue()
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("library-check", "--policy", "WZ-001", "--region", FL, "--year", str(YEAR), stderr=err)
    assert exit_info.value.code == 1
    assert "不可发放：补贴项目 WZ-001 不在 2027 年度" in err.getvalue()
    with pytest.raises(CommandError, match="行政区划代码"):
        call_command("library-check", "--policy", "CQ-X", "--region", "12", "--year", str(YEAR))
