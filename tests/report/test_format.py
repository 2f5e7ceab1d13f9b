"""`swelancer.format`: how every report, progress line, prompt and `doctor` writes numbers."""

from __future__ import annotations

import pytest

from swelancer.format import api_money, count, duration, money, percent, ratio, short_money, size


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (20700, "$20,700"),
        (20700.0, "$20,700"),
        (12.5, "$12.50"),
        (0.004, "$0"),
        (1250.999, "$1,251"),
        (-5, "-$5"),
        (None, "unknown"),
    ],
)
def test_money(value, shown):
    assert money(value) == shown


def test_money_with_cents_and_api_money():
    assert money(3, cents=True) == "$3.00" and money(0.5, cents=True) == "$0.50"
    assert api_money(0.0123) == "$0.0123" and api_money(12.345) == "$12.35"
    assert api_money(None) == "unknown"
    assert [short_money(v) for v in (0, 250, 1000, 2500, 2_500_000)] == [
        "$0",
        "$250",
        "$1k",
        "$2.5k",
        "$2.5M",
    ]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (7.4, "7s"), (59.6, "1m00s"), (63, "1m03s"), (3599, "59m59s"), (7440, "2h04m")],
)
def test_duration(seconds, shown):
    assert duration(seconds) == shown


def test_duration_in_tenths_under_a_minute():
    assert duration(1.5, tenths=True) == "1.5s" and duration(0.04, tenths=True) == "0.0s"
    assert duration(75, tenths=True) == "1m15s"


@pytest.mark.parametrize(
    ("n_bytes", "shown"),
    [
        (1_234_000_000, "1.2 GB"),
        (14_000_000_000, "14.0 GB"),
        (350_400_000, "350 MB"),
        (2_500_000_000_000, "2.5 TB"),
        (512, "512 B"),
        (None, "—"),
    ],
)
def test_size(n_bytes, shown):
    assert size(n_bytes) == shown


def test_size_in_a_fixed_unit():
    assert size(400_000_000, unit="GB") == "0.4 GB"
    assert size(1_234_500_000_000, unit="GB") == "1,234.5 GB"


def test_percent_ratio_and_count():
    assert percent(0.4123) == "41.2%" and percent(0.5, digits=0) == "50%" and percent(None) == "—"
    assert ratio(1234.567) == "1,234.57" and ratio(None) == "n/a"
    assert [count(n) for n in (812, 45_100, 1_230_000)] == ["812", "45.1k", "1.23M"]
