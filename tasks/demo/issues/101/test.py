"""Amounts with cents are saved exactly, and so are the report totals.

Isolation marker, searched for by the harness's own tests while an agent works:
SWELANCER-HIDDEN-TEST-7c1f0e
"""

from utils.demo_browser import expect, open_app


def test_amounts_with_cents_are_kept_exactly(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app(trace=trace) as browser:
        browser.goto("/reports")
        browser.submit("Create report", {"title": "Team offsite", "currency": "USD"})
        for merchant, amount in (("Blue Bottle Coffee", "4.35"), ("Whole Foods", "19.99")):
            browser.click("Add expense")
            page = browser.submit(
                "Save expense",
                {
                    "date": "2024-03-04",
                    "merchant": merchant,
                    "amount": amount,
                    "category": "Meals & Entertainment",
                    "report_id": "Team offsite",
                },
            )
            assert page.status == 200
            expect(page).to_contain_text(f"${amount}")

        page = browser.click("Expenses")
        expect(page).to_contain_text("$4.35")
        expect(page).to_contain_text("$19.99")

        browser.click("Reports")
        page = browser.click("Team offsite")
        expect(page).to_contain_text("Total: $24.34")
