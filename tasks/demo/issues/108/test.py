"""The CSV export of a report holds every expense on the report."""

import csv
import io
from decimal import Decimal

from utils.demo_browser import expect, open_app


def test_csv_export_has_every_row(pytestconfig) -> None:
    trace = pytestconfig.getoption("--user-tool-trace")
    with open_app("--demo-data", trace=trace) as browser:
        browser.goto("/reports")
        page = browser.click("Client visits - March")
        expect(page).to_contain_text("Total: $1,844.88")

        export = browser.click("Export CSV")
        assert export.status == 200
        assert export.content_type.startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.body)))
        assert len(rows) == 12
        merchants = [row["merchant"] for row in rows]
        assert merchants[0] == "United Airlines"
        assert "Yellow Cab" in merchants
        assert "Hudson News" in merchants
        assert sum(Decimal(row["USD"]) for row in rows) == Decimal("1844.88")
