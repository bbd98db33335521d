"""Browser tests: Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

- Every test under tests/e2e/ is marked `e2e` (deselect with -m "not e2e").
- Chromium: /usr/bin/chromium, or the path in YIKATONG_CHROMIUM; missing → the tests are skipped with
  the reason (scripts/run-tests.sh turns that into a failure when YIKATONG_REQUIRE_BROWSER=1).
- One browser per session; each test gets a fresh context (cookies, storage) and page.
- A failing test leaves a screenshot in test-output/e2e/<test name>.png.
"""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an asyncio loop in this thread; Django refuses ORM calls from a thread
# with a running loop unless told it is safe (it is: the loop only drives the browser).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
SCREENSHOT_DIR = REPO_ROOT / "test-output" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
TIMEOUT_MS = 15_000


def chromium_path() -> str:
    return os.environ.get("YIKATONG_CHROMIUM", "/usr/bin/chromium")


def _missing_browser_reason() -> str | None:
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return f"Chromium not found at {path} (apt-get install chromium, or set YIKATONG_CHROMIUM)"
    return None


def pytest_collection_modifyitems(config, items):
    missing = _missing_browser_reason()
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            if missing:
                item.add_marker(pytest.mark.skip(reason=missing))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if page is None:
        return
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", item.name).strip("_")
    target = SCREENSHOT_DIR / f"{name}.png"
    try:
        page.screenshot(path=str(target), full_page=True)
        report.sections.append(("e2e screenshot", str(target)))
    except Exception as exc:  # a closed page must not hide the real failure
        report.sections.append(("e2e screenshot", f"not saved: {exc}"))


@pytest.fixture(scope="session")
def _playwright():
    reason = _missing_browser_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(_playwright):
    browser = _playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser, live_server, transactional_db):
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai",
        viewport={"width": 1366, "height": 800},
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def demo(transactional_db):
    """The demo data (regions, organizations, one login per role) loaded by the same loader as
    `yikatong load-demo`; returns demo_accounts()."""
    from yikatong.core.demo import demo_accounts, load_demo

    load_demo()
    return demo_accounts()


@pytest.fixture
def login(page):
    """login(username, password) fills the login form and submits it; returns the page."""

    def _login(username: str, password: str):
        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        with page.expect_navigation():
            page.click("[data-testid=login-submit]")
        return page

    return _login
