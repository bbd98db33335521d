"""Reads of the registry: scope per role, search by name / full ID number (digest) / household, and the
logged full view of one identifier."""

import pytest

from yikatong.core.errors import DomainError, ScopeError
from yikatong.core.models import AuditEvent
from yikatong.registry import selectors
from yikatong.registry.services import beneficiary_register_person, payee_account_set

from .conftest import FL_VILLAGE, GST_VILLAGE, TB_VILLAGE, make_card, make_id

ZHANG, LI, WANG, ZHAO = make_id(seq="111"), make_id(seq="222"), make_id(seq="333"), make_id(seq="444")
CARD = make_card("621700000012345678")


@pytest.fixture
def people(scopes):
    c = scopes["collector"]
    zhang = beneficiary_register_person(actor=c, name="张三丰", id_number=ZHANG, region_code=GST_VILLAGE,
                                        household_number="H1", phone="13812345678")
    li = beneficiary_register_person(actor=c, name="李四", id_number=LI, region_code=GST_VILLAGE, household_number="H1")
    wang = beneficiary_register_person(actor=scopes["collector2"], name="王张氏", id_number=WANG, region_code=TB_VILLAGE)
    zhao = beneficiary_register_person(actor=scopes["collector_other"], name="赵六", id_number=ZHAO,
                                       region_code=FL_VILLAGE)
    payee_account_set(actor=c, beneficiary_id=zhang.pk, bank_name="农商行", account_number=CARD, reason="")
    return {"zhang": zhang, "li": li, "wang": wang, "zhao": zhao}


def names(qs):
    return sorted(b.name for b in qs)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("collector", ["张三丰", "李四"]),
        ("collector2", ["王张氏"]),
        ("collector_other", ["赵六"]),
        ("civil", ["张三丰", "李四", "王张氏"]),
        ("finance", ["张三丰", "李四", "王张氏"]),
        ("supervisor", ["张三丰", "李四", "王张氏"]),
        ("hr", ["张三丰", "李四", "王张氏"]),
        ("finance_other", ["赵六"]),
        ("admin", ["张三丰", "李四", "王张氏", "赵六"]),
    ],
)
def test_list_is_scoped_by_region(scopes, people, role, expected):
    assert names(selectors.beneficiary_list(scopes[role])) == expected


@pytest.mark.parametrize("role", ["card_bank", "paying_bank", "regulator"])
def test_roles_without_view_see_nothing(scopes, people, role):
    with pytest.raises(ScopeError):
        selectors.beneficiary_list(scopes[role])
    with pytest.raises(ScopeError):
        selectors.beneficiary_get(scopes[role], people["zhang"].pk)


def test_search_by_name_id_number_and_household(scopes, people):
    civil = scopes["civil"]
    assert names(selectors.beneficiary_list(civil, q="张")) == ["张三丰", "王张氏"]
    assert names(selectors.beneficiary_list(civil, q=ZHANG)) == ["张三丰"]
    assert names(selectors.beneficiary_list(civil, q=ZHANG[:6] + " " + ZHANG[6:].lower())) == ["张三丰"]
    assert names(selectors.beneficiary_list(civil, id_number=LI)) == ["李四"]
    assert names(selectors.beneficiary_list(civil, q=ZHANG[:10])) == []  # partial numbers are not searched
    assert names(selectors.beneficiary_list(civil, household="h1")) == ["张三丰", "李四"]
    assert names(selectors.beneficiary_list(civil, region_code=TB_VILLAGE)) == ["王张氏"]
    # finance of 涪陵 finds nothing of 万州, even with the full number
    assert names(selectors.beneficiary_list(scopes["finance_other"], id_number=ZHANG)) == []
    with pytest.raises(DomainError, match="行政区划代码“12”无效"):
        selectors.beneficiary_list(civil, region_code="12")


def test_detail_out_of_scope_is_not_found(scopes, people):
    assert selectors.beneficiary_get(scopes["collector"], people["zhang"].pk).name == "张三丰"
    for role in ("collector2", "collector_other", "finance_other"):
        with pytest.raises(DomainError, match="^补贴对象不存在或不在您的管辖范围内") as info:
            selectors.beneficiary_get(scopes[role], people["zhang"].pk)
        assert info.value.code == "not_found"
    history = list(selectors.account_history(scopes["finance"], people["zhang"].pk))
    assert [(a.version, a.account_masked) for a in history] == [(1, "*" * 15 + CARD[-4:])]


def test_full_view_is_logged_with_the_reason(scopes, people):
    zhang = people["zhang"]
    value = selectors.beneficiary_full_view(scopes["civil"], zhang.pk, "id_number", "核对发放失败原因")
    assert value == ZHANG
    event = AuditEvent.objects.get(action="pii.view")
    assert (event.actor_username, event.reason, event.after, event.object_id, event.region_code) == (
        "t_civil", "核对发放失败原因", {"field": "id_number"}, str(zhang.pk), GST_VILLAGE)
    assert selectors.beneficiary_full_view(scopes["supervisor"], zhang.pk, "phone", "监督检查") == "13812345678"
    assert selectors.beneficiary_full_view(scopes["collector"], zhang.pk, "account", "核对账户") == CARD
    fields = list(AuditEvent.objects.filter(action="pii.view").order_by("seq").values_list("after", flat=True))
    account_id = zhang.accounts.get().pk
    assert fields == [{"field": "id_number"}, {"field": "phone"}, {"field": f"account:{account_id}"}]


def test_full_view_needs_a_reason_the_permission_and_the_scope(scopes, people):
    zhang = people["zhang"]
    with pytest.raises(DomainError, match="^请填写查看完整信息的事由"):
        selectors.beneficiary_full_view(scopes["civil"], zhang.pk, "id_number", "  ")
    for role in ("card_bank", "paying_bank", "regulator"):
        with pytest.raises(ScopeError):
            selectors.beneficiary_full_view(scopes[role], zhang.pk, "id_number", "想看看")
    with pytest.raises(ScopeError):  # admin sees the list but not full identifiers
        selectors.beneficiary_full_view(scopes["admin"], zhang.pk, "id_number", "运维")
    with pytest.raises(DomainError, match="^补贴对象不存在"):
        selectors.beneficiary_full_view(scopes["collector2"], zhang.pk, "id_number", "核对")
    with pytest.raises(DomainError, match="^不能查看的字段"):
        selectors.beneficiary_full_view(scopes["civil"], zhang.pk, "name", "核对")
    with pytest.raises(DomainError, match="^该补贴对象没有此收款账户"):
        selectors.beneficiary_full_view(scopes["civil"], people["li"].pk, "account", "核对")
    assert not AuditEvent.objects.filter(action="pii.view").exists()


def test_region_choices_for_registration(scopes, people):
    assert [c for c, _ in selectors.region_choices(scopes["collector"])] == ["500101001000", GST_VILLAGE]
    assert len(selectors.region_choices(scopes["civil"])) == 4
