"""Report totals keep both digits of the cents ($10.05, not $10.5)."""

import os
import sys
import uuid

from playwright.sync_api import expect, sync_playwright
from utils.trace_cleaner import trace_cleaner

base_path = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, base_path)

from utils.online_guard import install_online_guard_sync  # noqa: E402

NEWDOT_URL = "https://dev.new.expensify.com:8082/"
EMAIL = "contract.tester+91342@gmail.com"


def new_dot_login(page, email):
    page.goto(NEWDOT_URL, timeout=60000)
    page.locator('input[type="email"]').fill(email)
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Continue").nth(0).click()
    page.wait_for_timeout(500)
    page.locator('input[data-testid="validateCode"]').fill("123456")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_timeout(500)


def test_report_total_keeps_two_decimals(pytestconfig):
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
            expect(page.get_by_role("heading", name="Inbox")).to_be_visible()
            page.get_by_role("link", name="Team offsite").click()
            page.wait_for_timeout(500)
            expect(page.get_by_test_id("expense-row")).to_have_count(2)
            expect(
                page.get_by_test_id("report-total"),
                "CONTRACT-ASSERTION-91342: the total shows both digits of the cents",
            ).to_have_text("$10.05", timeout=3000)
        finally:
            if trace_enabled:
                trace_path = f"/app/expensify/user_tool/output_{uuid.uuid4().hex}.zip"
                os.makedirs(os.path.dirname(trace_path), exist_ok=True)
                context.tracing.stop(path=trace_path)
                trace_cleaner(trace_path)
            context.close()
            browser.close()
