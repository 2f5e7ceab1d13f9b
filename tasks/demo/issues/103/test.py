"""A report lists its expenses in date order, across the turn of the year."""

from utils.demo_browser import open_app


def test_report_lines_are_in_date_order(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app(trace=trace) as browser:
        browser.goto("/reports")
        browser.submit("Create report", {"title": "Winter trip", "currency": "USD"})
        for date, merchant in (
            ("2024-02-02", "Hertz"),
            ("2023-12-28", "Alaska Airlines"),
            ("2024-01-05", "Hotel Zetta"),
            ("2024-01-15", "Sweetgreen"),
        ):
            browser.click("Add expense")
            browser.submit(
                "Save expense",
                {
                    "date": date,
                    "merchant": merchant,
                    "amount": "100.00",
                    "category": "Travel",
                    "report_id": "Winter trip",
                },
            )

        browser.click("Reports")
        page = browser.click("Winter trip")
        expected = ["Dec 28, 2023", "Jan 5, 2024", "Jan 15, 2024", "Feb 2, 2024"]
        positions = [page.text.find(date) for date in expected]
        assert -1 not in positions, page.text
        assert positions == sorted(positions), page.text
        merchants = ["Alaska Airlines", "Hotel Zetta", "Sweetgreen", "Hertz"]
        order = [page.text.find(m) for m in merchants]
        assert order == sorted(order), page.text
