"""Deleting an expense from the list deletes that expense and no other."""

from utils.demo_browser import expect, open_app


def test_delete_from_the_list_removes_the_right_expense(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app(trace=trace) as browser:
        browser.goto("/expenses")
        for date, merchant in (
            ("2024-01-03", "Office Depot"),
            ("2024-01-10", "Hotel Zetta"),
            ("2024-01-20", "Yellow Cab"),
        ):
            browser.click("Add expense")
            browser.submit("Save expense", {"date": date, "merchant": merchant, "amount": "20"})

        page = browser.click("Expenses")
        expect(page).to_contain_text("(3 expenses)")

        page = browser.submit("Delete", row="Office Depot")
        expect(page).to_contain_text("Expense deleted.")
        expect(page).not_to_contain_text("Office Depot")
        expect(page).to_contain_text("Hotel Zetta")
        expect(page).to_contain_text("Yellow Cab")
        expect(page).to_contain_text("(2 expenses)")


def test_delete_from_a_filtered_list_removes_the_right_expense(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app("--demo-data", trace=trace) as browser:
        browser.goto("/expenses")
        page = browser.click("Travel")
        expect(page).to_contain_text("Uber")

        browser.submit("Delete", row="Uber")
        page = browser.click("Travel")
        expect(page).not_to_contain_text("Uber")
        for merchant in ("Lyft", "Delta", "Yellow Cab", "United Airlines"):
            expect(page).to_contain_text(merchant)

        page = browser.click("All")
        expect(page).to_contain_text("(22 expenses)")
        page = browser.click("Lodging")
        assert page.text.count("Hyatt Regency") == 2
