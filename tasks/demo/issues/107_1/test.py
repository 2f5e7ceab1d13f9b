"""Every expense can be reached through the pager, including the last partial page."""

from utils.demo_browser import expect, open_app


def test_the_last_page_is_reachable(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app("--demo-data", trace=trace) as browser:
        page = browser.goto("/expenses")
        expect(page).to_contain_text("Page 1 of 3 (23 expenses)")
        seen = page.text
        for _ in range(5):
            if not any(link.text == "Next" for link in page.links):
                break
            page = browser.click("Next")
            seen += page.text
        expect(page).to_contain_text("Page 3 of 3")
        for merchant in ("Figma", "Blue Bottle Coffee", "Amazon"):
            assert merchant in seen
