"""The category filter works for categories with an ampersand in their name."""

from utils.demo_browser import expect, open_app


def test_filter_by_meals_and_entertainment(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app("--demo-data", trace=trace) as browser:
        browser.goto("/expenses")
        page = browser.click("Meals & Entertainment")
        assert page.status == 200
        for merchant in ("The Optimist", "Lou Malnati's", "Pret A Manger", "Blue Bottle Coffee"):
            expect(page).to_contain_text(merchant)
        expect(page).not_to_contain_text("United Airlines")
        expect(page).to_contain_text("(4 expenses)")

        page = browser.click("Travel")
        expect(page).to_contain_text("United Airlines")
        expect(page).not_to_contain_text("The Optimist")
