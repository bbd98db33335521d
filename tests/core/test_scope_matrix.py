"""The scope matrix: for every role, data outside its scope is invisible — in lists, detail pages, CSV
exports, the API and file downloads — and writes outside its scope are refused.

Expectations are written out per role (not recomputed with the code under test). The world has two
counties of 重庆 (万州 500101, 涪陵 500102); the fixture adds 四川 (51…) so that even the municipal
administrator has something out of scope.
"""

import csv
import io
import re

import pytest
from django.urls import reverse

from tests.world import make_org, make_region, make_user
from yikatong.core.errors import ScopeError
from yikatong.core.models import Organization, OrgKind, Role, User
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_store

ROLES = [
    "admin", "finance", "civil", "agri", "collector", "collector2", "hr", "paying_bank", "paying_bank2",
    "card_bank", "regulator", "supervisor", "finance_other", "collector_other",
]

WANZHOU_ORGS = {"WZ-CZJ", "WZ-MZJ", "WZ-NYNCW", "WZ-GST", "WZ-TB", "WZ-RSJ", "WZ-NSH", "WZ-ICBC", "WZ-SSKYH",
                "WZ-JRJG", "WZ-SJJ"}
FULING_ORGS = {"FL-CZJ", "FL-DR"}
CHONGQING_ORGS = WANZHOU_ORGS | FULING_ORGS | {"PLAT-ADMIN"}
SICHUAN_ORGS = {"SC-CZT"}
ALL_ORGS = CHONGQING_ORGS | SICHUAN_ORGS

WANZHOU_USERS = {"t_finance", "t_civil", "t_agri", "t_collector", "t_collector2", "t_hr", "t_paying_bank",
                 "t_paying_bank2", "t_card_bank", "t_regulator", "t_supervisor"}
FULING_USERS = {"t_finance_other", "t_collector_other"}
CHONGQING_USERS = WANZHOU_USERS | FULING_USERS | {"t_admin"}
ALL_USERS = CHONGQING_USERS | {"t_sc_finance"}

# None = the role may not look at all (403)
ORGS_VISIBLE = {
    "admin": CHONGQING_ORGS, "finance": WANZHOU_ORGS, "civil": WANZHOU_ORGS, "agri": WANZHOU_ORGS,
    "regulator": WANZHOU_ORGS, "supervisor": WANZHOU_ORGS, "finance_other": FULING_ORGS,
}
USERS_VISIBLE = {
    "admin": CHONGQING_USERS, "finance": WANZHOU_USERS, "supervisor": WANZHOU_USERS,
    "finance_other": FULING_USERS,
}
EXPORTERS = {"admin", "finance", "civil", "agri", "supervisor", "finance_other"}  # "export.data"

# files: name -> (region, owning organization key or None)
FILES = {
    "gst": ("500101001000", "collector"),        # 高笋塘街道 (collector's township)
    "gst_village": ("500101001001", None),       # 高笋塘社区, no owning organization
    "tb": ("500101002000", "collector2"),        # 太白街道
    "county": ("500101000000", "finance"),       # 万州区
    "bank1": ("500101000000", "paying_bank"),
    "bank2": ("500101000000", "paying_bank2"),
    "fl": ("500102001000", "collector_other"),   # 涪陵 敦仁街道
    "sc": ("510000000000", None),                # 四川
}
WANZHOU_FILES = {"gst", "gst_village", "tb", "county", "bank1", "bank2"}
FILES_VISIBLE = {
    "admin": WANZHOU_FILES | {"fl"},
    "finance": WANZHOU_FILES, "civil": WANZHOU_FILES, "agri": WANZHOU_FILES, "hr": WANZHOU_FILES,
    "regulator": WANZHOU_FILES, "supervisor": WANZHOU_FILES,
    "collector": {"gst", "gst_village"}, "collector2": {"tb"},
    "paying_bank": {"bank1"}, "paying_bank2": {"bank2"}, "card_bank": set(),
    "finance_other": {"fl"}, "collector_other": {"fl"},
}

# A region and an organization outside each role's scope, for write attempts.
OUTSIDE_REGION = {key: "500102000000" for key in ROLES} | {
    "admin": "510000000000", "finance_other": "500101000000", "collector_other": "500101000000",
}
OUTSIDE_ORG = {key: "FL-CZJ" for key in ROLES} | {
    "admin": "SC-CZT", "finance_other": "WZ-CZJ", "collector_other": "WZ-CZJ",
}
OUTSIDE_USER = {key: "t_finance_other" for key in ROLES} | {
    "admin": "t_sc_finance", "finance_other": "t_finance", "collector_other": "t_finance",
}
READ_ONLY = {"regulator", "supervisor"}
GOOD_PASSWORD = "Qingshan#River2026"


@pytest.fixture
def matrix(world):
    make_region("510000000000", "四川省")
    sc_org = make_org("SC-CZT", "四川省财政厅", OrgKind.FINANCE, "510000000000")
    make_user("t_sc_finance", sc_org, Role.FINANCE)
    system = Scope.system()
    files = {}
    for name, (region, owner) in FILES.items():
        files[name] = file_store(
            actor=system, fileobj=io.BytesIO(f"file {name}".encode()), original_name=f"{name}.csv",
            purpose="matrix", region_code=region, organization_id=world.orgs[owner].pk if owner else None,
        )
    world.files = files
    return world


@pytest.fixture(params=ROLES)
def role(request):
    return request.param


def login(client, world, role):
    client.force_login(world.users[role])
    return client


def rows_of(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))[1:]


def attr_values(response, attr: str) -> set[str]:
    return set(re.findall(rf'{attr}="([^"]+)"', response.content.decode()))


# -- organizations -------------------------------------------------------------------------------------
def test_org_list_page(matrix, client, role):
    response = login(client, matrix, role).get(reverse("core:orgs"))
    expected = ORGS_VISIBLE.get(role)
    if expected is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert attr_values(response, "data-org") == expected
    body = response.content.decode()
    for code in ALL_ORGS - expected:
        assert code not in body


def test_org_detail_page(matrix, client, role):
    login(client, matrix, role)
    expected = ORGS_VISIBLE.get(role)
    for code in sorted(ALL_ORGS):
        status = client.get(reverse("core:org-detail", args=[code])).status_code
        if expected is None:
            assert status == 403, code
        else:
            assert status == (200 if code in expected else 404), code


def test_org_export(matrix, client, role):
    response = login(client, matrix, role).get(reverse("core:org-export"))
    if role not in EXPORTERS:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert {row[0] for row in rows_of(response)} == ORGS_VISIBLE[role]


def test_org_api(matrix, client, role):
    login(client, matrix, role)
    response = client.get("/api/orgs/", {"limit": 1000})
    expected = ORGS_VISIBLE.get(role)
    if expected is None:
        assert response.status_code == 403
        for code in ("WZ-CZJ", "FL-CZJ"):
            assert client.get(f"/api/orgs/{code}").status_code == 403
        return
    assert response.status_code == 200
    assert {item["code"] for item in response.json()["items"]} == expected
    assert response.json()["count"] == len(expected)
    for code in sorted(ALL_ORGS):
        assert client.get(f"/api/orgs/{code}").status_code == (200 if code in expected else 404), code


def test_org_filters_cannot_widen_scope(matrix, client, role):
    """Asking for another region through the filter gives nothing, not the other region's rows."""
    expected = ORGS_VISIBLE.get(role)
    if expected is None:
        return
    login(client, matrix, role)
    other = OUTSIDE_REGION[role]
    response = client.get(reverse("core:orgs"), {"region": other})
    assert attr_values(response, "data-org") == set()
    response = client.get("/api/orgs/", {"region": other, "limit": 1000})
    assert response.json()["items"] == []


# -- users ---------------------------------------------------------------------------------------------
def test_user_list_page(matrix, client, role):
    response = login(client, matrix, role).get(reverse("core:users"))
    expected = USERS_VISIBLE.get(role)
    if expected is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert attr_values(response, "data-user") == expected
    body = response.content.decode()
    for username in ALL_USERS - expected:
        assert f">{username}<" not in body


def test_user_detail_page(matrix, client, role):
    login(client, matrix, role)
    expected = USERS_VISIBLE.get(role)
    for username in sorted(ALL_USERS):
        status = client.get(reverse("core:user-detail", args=[username])).status_code
        if expected is None:
            assert status == 403, username
        else:
            assert status == (200 if username in expected else 404), username


def test_user_export(matrix, client, role):
    response = login(client, matrix, role).get(reverse("core:user-export"))
    expected = USERS_VISIBLE.get(role)
    if expected is None or role not in EXPORTERS:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert {row[0] for row in rows_of(response)} == expected


def test_user_api(matrix, client, role):
    response = login(client, matrix, role).get("/api/orgs/users/", {"limit": 1000})
    expected = USERS_VISIBLE.get(role)
    if expected is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert {item["username"] for item in response.json()["items"]} == expected


def test_org_page_lists_users_only_to_user_viewers(matrix, client, role):
    """The organization page shows its users only to roles that may see users."""
    if ORGS_VISIBLE.get(role) is None:
        return
    own = matrix.users[role].organization.code
    response = login(client, matrix, role).get(reverse("core:org-detail", args=[own]))
    shown = attr_values(response, "data-user")
    if role in USERS_VISIBLE:
        assert shown == {matrix.users[role].username}
    else:
        assert shown == set()


# -- files ---------------------------------------------------------------------------------------------
def test_file_download(matrix, client, role):
    login(client, matrix, role)
    for name, stored in matrix.files.items():
        response = client.get(reverse("core:file-download", args=[stored.pk]))
        if name in FILES_VISIBLE[role]:
            assert response.status_code == 200, name
            assert b"".join(response.streaming_content) == f"file {name}".encode()
        else:
            assert response.status_code == 404, name


# -- writes --------------------------------------------------------------------------------------------
def _refused(response, role):
    assert response.status_code in (403, 404), response.status_code
    if role in READ_ONLY and response.status_code == 403:
        text = response.json()["detail"] if response["Content-Type"].startswith("application/json") \
            else response.content.decode()
        assert "监督、监管角色只能查看" in text


def test_org_create_outside_scope_is_refused(matrix, client, role):
    login(client, matrix, role)
    payload = {"code": "OUT-1", "name": "越权机构", "kind": "finance", "region_code": OUTSIDE_REGION[role]}
    _refused(client.post(reverse("core:org-create"), payload), role)
    _refused(client.post("/api/orgs/", payload, content_type="application/json"), role)
    assert not Organization.objects.filter(code="OUT-1").exists()


def test_org_create_inside_scope_only_for_admins(matrix, client, role):
    login(client, matrix, role)
    own_region = matrix.users[role].organization.region_id
    payload = {"code": "IN-1", "name": "新机构", "kind": "collector", "region_code": own_region}
    response = client.post("/api/orgs/", payload, content_type="application/json")
    if role == "admin":
        assert response.status_code == 201
    else:
        assert response.status_code == 403
        _refused(response, role)
        assert not Organization.objects.filter(code="IN-1").exists()


def test_org_change_outside_scope_is_refused(matrix, client, role):
    login(client, matrix, role)
    code = OUTSIDE_ORG[role]
    before = Organization.objects.get(code=code)
    _refused(client.post(reverse("core:org-detail", args=[code]),
                         {"name": "改名", "kind": before.kind, "region_code": before.region_id}), role)
    _refused(client.post(reverse("core:org-deactivate", args=[code]), {"reason": "越权"}), role)
    after = Organization.objects.get(code=code)
    assert (after.name, after.active) == (before.name, True)


def test_user_create_outside_scope_is_refused(matrix, client, role):
    login(client, matrix, role)
    payload = {"username": "out_user", "organization_code": OUTSIDE_ORG[role], "role": "finance",
               "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    _refused(client.post(reverse("core:user-create"), payload), role)
    assert not User.objects.filter(username="out_user").exists()


def test_user_change_outside_scope_is_refused(matrix, client, role):
    login(client, matrix, role)
    username = OUTSIDE_USER[role]
    password_hash = User.objects.get(username=username).password
    _refused(client.post(reverse("core:user-deactivate", args=[username]), {"reason": "越权"}), role)
    _refused(client.post(reverse("core:user-password", args=[username]),
                         {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}), role)
    _refused(client.post(reverse("core:user-unlock", args=[username])), role)
    target = User.objects.get(username=username)
    assert target.is_active and target.password == password_hash


def test_file_store_outside_scope_is_refused(matrix, role):
    actor = Scope.for_user(matrix.users[role])
    with pytest.raises(ScopeError) as exc:
        file_store(actor=actor, fileobj=io.BytesIO(b"x"), original_name="x.csv", purpose="matrix",
                   region_code=OUTSIDE_REGION[role])
    if role in READ_ONLY:
        assert "监督、监管角色只能查看" in exc.value.message


def test_read_only_roles_cannot_store_even_inside_their_region(matrix, role):
    if role not in READ_ONLY:
        return
    actor = Scope.for_user(matrix.users[role])
    with pytest.raises(ScopeError, match="监督、监管角色只能查看"):
        file_store(actor=actor, fileobj=io.BytesIO(b"x"), original_name="x.csv", purpose="matrix",
                   region_code=actor.region_code)


def test_fuling_finance_sees_nothing_of_wanzhou(matrix, client):
    login(client, matrix, "finance_other")
    for url in (reverse("core:orgs"), reverse("core:users")):
        assert "万州" not in client.get(url).content.decode()
    assert "万州" not in b"".join(client.get(reverse("core:org-export")).streaming_content).decode()
    assert "万州" not in b"".join(client.get(reverse("core:user-export")).streaming_content).decode()
    assert "万州" not in client.get("/api/orgs/", {"limit": 1000}).content.decode()
    assert "WZ-" not in client.get("/api/orgs/users/", {"limit": 1000}).content.decode()
