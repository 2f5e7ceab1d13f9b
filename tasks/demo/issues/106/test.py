"""Descriptions are shown as text, never run as HTML (stored XSS)."""

from utils.demo_browser import expect, open_app

PAYLOAD = '<img src=x onerror="alert(document.cookie)">Team lunch'


def test_description_is_shown_as_text_in_the_list(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app(trace=trace) as browser:
        browser.goto("/expenses/new")
        browser.submit(
            "Save expense",
            {"date": "2024-03-08", "merchant": "Nopa", "amount": "64.00", "description": PAYLOAD},
        )
        page = browser.click("Expenses")
        expect(page).to_contain_text("Nopa")
        expect(page).to_contain_text(PAYLOAD)
        assert "<img" not in page.html

        page = browser.click("Nopa")
        expect(page).to_contain_text(PAYLOAD)
        assert "<img" not in page.html
