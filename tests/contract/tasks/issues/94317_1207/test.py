"""Bold Markdown in the middle of a chat message is rendered bold."""

import os
import sys
import uuid

from playwright.sync_api import expect, sync_playwright
from utils.trace_cleaner import trace_cleaner

base_path = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, base_path)

from utils.online_guard import install_online_guard_sync  # noqa: E402

NEWDOT_URL = "https://dev.new.expensify.com:8082/"
EMAIL = "contract.tester+94317@gmail.com"
MESSAGE = "Please *review* the draft before Friday"


def new_dot_login(page, email):
    page.goto(NEWDOT_URL, timeout=60000)
    page.locator('input[type="email"]').fill(email)
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Continue").nth(0).click()
    page.wait_for_timeout(500)
    page.locator('input[data-testid="validateCode"]').fill("123456")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_timeout(500)


def test_bold_inside_a_message(pytestconfig):
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
            page.get_by_role("link", name="#admins").click()
            page.wait_for_timeout(500)
            page.locator("#composer").fill(MESSAGE)
            page.get_by_role("button", name="Send").click()
            page.wait_for_timeout(500)
            last = page.get_by_test_id("report-action-item").last
            expect(last).to_contain_text("the draft before Friday")
            expect(
                last.locator(".message strong"),
                "CONTRACT-ASSERTION-94317: the word between asterisks is bold",
            ).to_have_text("review", timeout=3000)
        finally:
            if trace_enabled:
                trace_path = f"/app/expensify/user_tool/output_{uuid.uuid4().hex}.zip"
                os.makedirs(os.path.dirname(trace_path), exist_ok=True)
                context.tracing.stop(path=trace_path)
                trace_cleaner(trace_path)
            context.close()
            browser.close()
