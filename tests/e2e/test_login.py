"""Login, navigation per role, logout, lockout and session expiry — through a real browser."""

import re

import pytest
from playwright.sync_api import expect

from yikatong.core import navigation
from yikatong.core.demo import PASSWORD, demo_accounts
from yikatong.core.models import Role, User
from yikatong.core.roles import has_permission

ROLES = sorted({a.role for a in demo_accounts()})  # every role (checked in tests/core/test_demo.py)


def shown_navigation(page) -> tuple[list[str], list[str]]:
    nav = page.locator("[data-testid=nav]")
    sections = [s.strip() for s in nav.locator(".nav-section").all_inner_texts()]
    links = [a.get_attribute("data-nav") for a in nav.locator("a[data-nav]").all()]
    return sections, links


def logout(page):
    with page.expect_navigation():
        page.click("[data-testid=logout]")


@pytest.mark.parametrize("role", ROLES)
def test_each_demo_login_sees_its_own_navigation(page, login, demo, live_server, role):
    accounts = [a for a in demo if a.role == role]
    assert accounts
    for account in accounts:
        user = User.objects.select_related("organization").get(username=account.username)
        login(account.username, PASSWORD)
        assert page.url == live_server.url + "/", f"{account.username} did not reach the home page"
        who = page.locator("[data-testid=who]")
        expect(who).to_contain_text(user.organization.name)
        expect(who).to_contain_text(Role(role).label)
        expect(page.locator("h1")).to_have_text("工作台")
        expect(page.locator("[data-testid=profile-region]")).to_contain_text(user.organization.region.name)

        sections, links = shown_navigation(page)
        expected = navigation.entries_for(role)
        assert sections == [s["section"] for s in expected]
        assert links == [link["name"] for s in expected for link in s["links"]]
        not_allowed = {e.url_name for e in navigation._ENTRIES if not has_permission(role, e.permission)}
        assert not not_allowed & set(links), f"{account.username} sees entries of other roles"

        # Known facts, independent of the registry, so the test can fail when registration breaks.
        assert "core:home" in links
        assert "core:password_change" in links
        if role == Role.ADMIN:
            assert "系统管理" in sections
            assert "admin:index" in links
        else:
            assert "admin:index" not in links
        if role in (Role.COLLECTOR, Role.PAYING_BANK, Role.CARD_BANK):
            assert "系统管理" not in sections

        # The home page repeats the navigation as cards.
        cards = [c.get_attribute("data-card") for c in page.locator("a[data-card]").all()]
        assert set(cards) == set(links) - {"core:home"}
        logout(page)


def test_logout_ends_the_session(page, login, demo, live_server):
    login("finance", PASSWORD)
    assert page.url == live_server.url + "/"
    logout(page)
    assert page.url.startswith(live_server.url + "/login/")
    expect(page.locator(".messages")).to_contain_text("您已安全退出系统")
    page.goto("/")
    assert re.search(r"/login/\?next=/$", page.url), page.url
    expect(page.locator("[data-testid=nav]")).to_have_count(0)


def test_five_wrong_passwords_lock_the_account_even_for_the_right_password(page, login, demo, live_server):
    for attempt in range(1, 5):
        login("hr", "wrong-password")
        expect(page.locator("[data-testid=login-error]")).to_contain_text("用户名或密码错误")
        expect(page.locator("[data-testid=login-error]")).to_contain_text(f"再输错 {5 - attempt} 次")
    login("hr", "wrong-password")
    locked = page.locator("[data-testid=locked-out]")
    expect(locked).to_contain_text("账号已锁定")
    expect(locked).to_contain_text("30 分钟")

    login("hr", PASSWORD)  # the right password no longer helps
    expect(page.locator("[data-testid=locked-out]")).to_contain_text("账号已锁定")
    page.goto("/")
    assert "/login/" in page.url

    # The lock is on the account name, not on the office's shared address.
    login("finance", PASSWORD)
    assert page.url == live_server.url + "/"


def test_session_timeout_sends_back_to_login_with_notice(page, login, demo, live_server):
    from django.contrib.sessions.models import Session

    login("civil", PASSWORD)
    assert page.url == live_server.url + "/"
    Session.objects.all().delete()  # what 30 minutes without activity does
    page.goto("/")
    assert "/login/" in page.url
    expect(page.locator("[data-testid=session-expired]")).to_contain_text("自动退出")


def test_django_admin_only_for_administrators(page, login, demo, live_server):
    login("finance", PASSWORD)
    page.goto("/admin/")
    assert "/admin/login/" in page.url
    expect(page.locator("a[href='/admin/core/user/']")).to_have_count(0)
    expect(page.locator("body")).to_contain_text("没有这个页面的访问权限")
    page.goto("/")
    logout(page)

    login("admin", PASSWORD)
    page.goto("/admin/")
    assert page.url == live_server.url + "/admin/"
    expect(page.locator("body")).to_contain_text("一卡通平台 · 系统管理")
    expect(page.locator("#content-main a[href='/admin/core/user/']").first).to_be_visible()


def test_pages_use_only_assets_served_by_the_platform(page, login, demo, live_server):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    login("admin", PASSWORD)
    page.goto("/password/")
    page.goto("/no-such-page/")
    assert requested
    outside = [url for url in requested if not url.startswith(live_server.url)]
    assert outside == [], f"assets from outside the platform: {outside}"
    assert page.evaluate("typeof window.htmx") == "object"  # htmx comes from our static files
    topbar = page.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor")
    assert topbar == "rgb(31, 78, 140)"  # app.css is served and applied
    expect(page.locator("[data-testid=error]")).to_contain_text("页面不存在")
