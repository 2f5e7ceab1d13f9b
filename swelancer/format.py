"""Numbers as people read them: dollars, durations, sizes, percentages and counts.

Reports, progress lines, prompts and `doctor` all write them through here, so that a figure
looks the same wherever it is shown: `$20,700`, `$12.50`, `1m03s`, `1.2 GB`, `41.2%`, `45.1k`.
"""

from __future__ import annotations

UNKNOWN = "unknown"
DASH = "—"
SIZE_UNITS: tuple[tuple[str, float], ...] = (
    ("TB", 1e12),
    ("GB", 1e9),
    ("MB", 1e6),
    ("kB", 1e3),
    ("B", 1.0),
)
"""Decimal units, largest first (disk and image sizes are given in these)."""


def money(value: float | None, *, cents: bool = False) -> str:
    """Dollars: `$20,700`, `$12.50` (cents only when not whole, always with `cents`);
    `unknown` for None."""
    if value is None:
        return UNKNOWN
    sign = "-" if round(value, 2) < 0 else ""
    text = f"{sign}${abs(value):,.2f}"
    return text if cents else text.removesuffix(".00")


def api_money(value: float | None) -> str:
    """API dollars, which are often small: four decimals below a dollar (`$0.0123`)."""
    if value is None:
        return UNKNOWN
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"


def short_money(value: float) -> str:
    """Dollars short enough for a chart's axis: `$250`, `$1k`, `$2.5M`."""
    if value >= 1_000_000:
        return f"${value / 1_000_000:g}M"
    if value >= 1_000:
        return f"${value / 1_000:g}k"
    return f"${value:g}"


def duration(seconds: float, *, tenths: bool = False) -> str:
    """`7s`, `1m03s`, `2h04m`; with `tenths`, `1.5s` under a minute."""
    if tenths and seconds < 59.95:
        return f"{max(0.0, seconds):.1f}s"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def size(n_bytes: float | None, *, unit: str | None = None) -> str:
    """Bytes in decimal units: `1.2 GB`, `350 MB` (tenths from GB up); `unit` fixes the unit
    (`size(n, unit="GB")`: `0.4 GB`); a dash for None."""
    if n_bytes is None:
        return DASH
    scales = dict(SIZE_UNITS)
    if unit is None:
        unit = next((name for name, scale in SIZE_UNITS if abs(n_bytes) >= scale), "B")
    digits = 1 if scales[unit] >= 1e9 else 0
    return f"{n_bytes / scales[unit]:,.{digits}f} {unit}"


def percent(share: float | None, *, digits: int = 1) -> str:
    """A share (0.412) as a percentage (`41.2%`); a dash for None."""
    return DASH if share is None else f"{share:.{digits}%}"


def ratio(value: float | None) -> str:
    """A ratio such as dollars earned per API dollar: `1,234.57`; `n/a` for None."""
    return "n/a" if value is None else f"{value:,.2f}"


def number(n: int) -> str:
    """A whole number with thousands separators: `1,200`."""
    return f"{n:,}"


def count(n: int) -> str:
    """A large count (tokens) in few characters: `812`, `45.1k`, `1.23M`."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"
