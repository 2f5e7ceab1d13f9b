"""A new workspace's avatar shows the initials of its first two words."""

import os
import sys
import uuid

from playwright.sync_api import expect, sync_playwright
from utils.trace_cleaner import trace_cleaner

base_path = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, base_path)

from utils.online_guard import install_online_guard_sync  # noqa: E402

NEWDOT_URL = "https://dev.new.expensify.com:8082/"
EMAIL = "contract.tester+92018@gmail.com"
WORKSPACE_NAME = "contract testing co"


def new_dot_login(page, email):
    page.goto(NEWDOT_URL, timeout=60000)
    page.get_by_test_id("username").fill(email)
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_timeout(500)
    page.get_by_test_id("validateCode").fill("123456")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_timeout(500)


def create_workspace(page, name):
    page.get_by_role("button", name="New workspace").click()
    page.wait_for_timeout(500)
    page.get_by_label("Workspace name").fill(name)
    page.get_by_role("button", name="Create workspace").click()
    page.wait_for_timeout(500)


def test_workspace_avatar_initials(pytestconfig):
    trace_enabled = pytestconfig.getoption("--user-tool-trace")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            proxy={"server": "http://localhost:8080"},
            headless=False,
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--ignore-certificate-errors",
                "--disable-web-security",
                "--disable-features=IsolateOrigins,site-per-process",
            ],
            slow_mo=None,
            channel="chromium",
        )
        context = browser.new_context(ignore_https_errors=True)
        if trace_enabled:
            context.tracing.start(screenshots=True, snapshots=True, sources=True)

        try:
            page = context.new_page()
            install_online_guard_sync(context, page)
            new_dot_login(page, EMAIL)
            create_workspace(page, WORKSPACE_NAME)
            expect(page.get_by_test_id("workspace-name")).to_have_text(WORKSPACE_NAME)
            expect(
                page.get_by_test_id("workspace-avatar"),
                "CONTRACT-ASSERTION-92018: the avatar shows the initials of the first two words",
            ).to_have_text("CT", timeout=3000)
        finally:
            if trace_enabled:
                trace_path = f"/app/expensify/user_tool/output_{uuid.uuid4().hex}.zip"
                os.makedirs(os.path.dirname(trace_path), exist_ok=True)
                context.tracing.stop(path=trace_path)
                trace_cleaner(trace_path)
            context.close()
            browser.close()
