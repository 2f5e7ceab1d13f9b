"""A rejected report can be fixed and submitted again."""

from utils.demo_browser import expect, open_app


def test_rejected_report_can_be_resubmitted(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app(trace=trace) as browser:
        browser.goto("/reports")
        browser.submit("Create report", {"title": "Sales kickoff", "currency": "USD"})
        browser.click("Add expense")
        browser.submit(
            "Save expense",
            {
                "date": "2024-03-05",
                "merchant": "Southwest",
                "amount": "249.00",
                "category": "Travel",
                "report_id": "Sales kickoff",
            },
        )
        browser.click("Reports")
        browser.click("Sales kickoff")
        page = browser.submit("Submit for approval")
        expect(page).to_contain_text("Status: Submitted")
        page = browser.submit("Reject")
        expect(page).to_contain_text("Status: Rejected")

        browser.click("Add expense")
        browser.submit(
            "Save expense",
            {
                "date": "2024-03-06",
                "merchant": "Hilton",
                "amount": "189.00",
                "category": "Lodging",
                "report_id": "Sales kickoff",
            },
        )
        browser.click("Reports")
        page = browser.click("Sales kickoff")
        expect(page).to_contain_text("Total: $438.00")
        page = browser.submit("Submit for approval")
        assert page.status == 200
        expect(page).to_contain_text("Status: Submitted")
