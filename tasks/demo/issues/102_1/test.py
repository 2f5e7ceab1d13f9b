"""Yen amounts are shown in whole yen, with thousands separators."""

from utils.demo_browser import expect, open_app


def test_yen_amounts_are_shown_in_whole_yen(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app(trace=trace) as browser:
        browser.goto("/expenses/new")
        page = browser.submit(
            "Save expense",
            {
                "date": "2024-01-24",
                "merchant": "Ichiran Ramen",
                "amount": "1500",
                "currency": "JPY",
                "category": "Meals & Entertainment",
            },
        )
        assert page.status == 200
        expect(page).to_contain_text("¥1,500")
        expect(page).not_to_contain_text("¥15.00")

        browser.click("Add expense")
        browser.submit(
            "Save expense",
            {"date": "2024-01-25", "merchant": "Bic Camera", "amount": "12,800", "currency": "JPY"},
        )
        browser.click("Add expense")
        browser.submit(
            "Save expense",
            {"date": "2024-01-26", "merchant": "Starbucks", "amount": "12.50", "currency": "USD"},
        )

        page = browser.click("Expenses")
        expect(page).to_contain_text("¥1,500")
        expect(page).to_contain_text("¥12,800")
        expect(page).to_contain_text("$12.50")
