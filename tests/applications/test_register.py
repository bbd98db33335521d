"""The township subsidy register (乡镇补贴底册): approved applications per township, policy and period."""

import datetime as dt
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook

from tests.applications.helpers import submitted
from yikatong.applications import selectors
from yikatong.applications.register_xlsx import HEADERS
from yikatong.applications.services import application_approve, application_reject, register_export_xlsx
from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent

from .conftest import TOWNSHIP, TOWNSHIP2, VILLAGE


def read(path):
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


@pytest.fixture
def approved(flow):
    people = [flow.person(k, name=n, seq=s) for k, n, s in [("a", "张三丰", 51), ("b", "李四", 52), ("c", "王五", 53)]]
    apps = submitted(flow, *people, policy_code="WZ-AG", period="2026", quantity="2.5")
    agri = flow.scope("agri")
    flow.set_today("2026-03-10")
    application_approve(actor=agri, application_id=apps[0].pk)
    application_approve(actor=agri, application_id=apps[1].pk)
    application_reject(actor=agri, application_id=apps[2].pk, reason="承包地已流转")
    return apps, people


def test_register_xlsx_round_trip_with_totals(flow, approved, tmp_path):
    apps, people = approved
    path = tmp_path / "register.xlsx"
    result = register_export_xlsx(flow.scope("collector"), TOWNSHIP, "WZ-AG", "2026", path)
    assert (result.rows, result.total_amount, result.total_quantity) == (2, Decimal("602.50"), Decimal("5.00"))
    rows = read(path)
    assert rows[0] == HEADERS
    assert len(rows) == 4                                              # header, 2 approved, total
    first = rows[1]
    assert first[0] == 1 and first[1] == "张三丰" and first[2] == people[0].id_masked and "*" in first[2]
    assert first[3] == "高笋塘社区" and Decimal(str(first[4])) == Decimal("2.5")
    assert Decimal(str(first[5])) == Decimal("301.25")
    assert first[6] == "重庆农村商业银行" and first[7].endswith(people[0].accounts.get().account_masked[-4:])
    assert "*" in first[7]
    assert first[8] in (dt.date(2026, 3, 10), dt.datetime(2026, 3, 10))
    total = rows[-1]
    assert total[0] == "合计" and total[1] == "2 人"
    assert Decimal(str(total[5])) == sum(Decimal(str(r[5])) for r in rows[1:-1]) == Decimal("602.50")
    text = repr(rows)
    assert people[0].id_number_plain not in text and "王五" not in text   # rejected one is not in the register
    assert AuditEvent.objects.filter(action="register.export").count() == 1


def test_register_scope_and_input(flow, approved, tmp_path):
    path = tmp_path / "r.xlsx"
    for key in ("agri", "finance", "supervisor"):
        assert register_export_xlsx(flow.scope(key), TOWNSHIP, "WZ-AG", "2026", path).rows == 2
    assert register_export_xlsx(flow.scope("civil"), TOWNSHIP, "WZ-AG", "2026", path).rows == 0   # other line
    with pytest.raises(ScopeError):
        register_export_xlsx(flow.scope("collector"), TOWNSHIP2, "WZ-AG", "2026", path)
    with pytest.raises(ScopeError):
        register_export_xlsx(flow.scope("collector2"), TOWNSHIP, "WZ-AG", "2026", path)
    with pytest.raises(ScopeError, match="没有该权限"):
        register_export_xlsx(flow.scope("paying_bank"), TOWNSHIP, "WZ-AG", "2026", path)
    with pytest.raises(DomainError, match="不是乡镇（街道）级区划"):
        register_export_xlsx(flow.scope("collector"), VILLAGE, "WZ-AG", "2026", path)
    empty = register_export_xlsx(flow.scope("collector"), TOWNSHIP, "WZ-AG", "2025", path)
    assert empty.rows == 0 and read(path)[-1][0] == "合计"


def test_register_selector_lists_only_approved(flow, approved):
    apps, _ = approved
    rows = list(selectors.register_queryset(flow.scope("agri"), township_code=TOWNSHIP, policy_code="WZ-AG",
                                            period="2026"))
    assert [a.pk for a in rows] == [apps[0].pk, apps[1].pk]
