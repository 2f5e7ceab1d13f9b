"""Dollars per token: table look-up, dated variants, unknown models, overrides."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from swelancer.agents.base import Usage
from swelancer.errors import ConfigError
from swelancer.models.prices import (
    PRICES,
    ModelPrice,
    UnknownModelPriceWarning,
    clear_price_overrides,
    cost_usd,
    load_price_overrides,
    price_for,
    set_prices,
)


@pytest.fixture(autouse=True)
def _no_overrides() -> Iterator[None]:
    clear_price_overrides()
    yield
    clear_price_overrides()


def test_known_model_cost_is_exact() -> None:
    usage = Usage(
        input_tokens=1_000_000, cached_input_tokens=200_000, output_tokens=100_000,
        reasoning_tokens=60_000,
    )  # fmt: skip
    # gpt-4o: 800k x $2.50 + 200k cached x $1.25 + 100k out x $10 (reasoning inside output)
    assert cost_usd("gpt-4o", usage) == pytest.approx(2.0 + 0.25 + 1.0)
    assert cost_usd("gpt-4o-mini", Usage(input_tokens=2_000_000, output_tokens=1_000_000)) == (
        pytest.approx(0.30 + 0.60)
    )


def test_anthropic_cache_reads_and_writes() -> None:
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=500_000, output_tokens=10_000)
    # claude-opus-4-1: 300k plain x 15 + 500k read x 1.50 + 200k written x 18.75 + 10k x 75
    expected = 4.5 + 0.75 + 3.75 + 0.75
    assert cost_usd("claude-opus-4-1-20250805", usage, cache_write_tokens=200_000) == (
        pytest.approx(expected)
    )


def test_cached_rate_defaults_to_input_rate() -> None:
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=1_000_000)
    assert cost_usd("o1-pro", usage) == pytest.approx(150.0)


@pytest.mark.parametrize(
    ("model", "listed"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # its own, older price
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-4-0613", "gpt-4"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-5-20251101", "claude-opus-4-5"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-3-7-sonnet@20250219", "claude-3-7-sonnet"),
        ("openai/gpt-4o", "gpt-4o"),
        ("anthropic/claude-sonnet-4", "claude-sonnet-4"),
        ("GPT-4o", "gpt-4o"),
        ("gpt-5.2-2025-12-11", "gpt-5.2"),
        ("gpt-5.4-mini-2026-03-17", "gpt-5.4-mini"),
        ("gpt-5.5-2026-04-23", "gpt-5.5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
    ],
)
def test_dated_variants_match_by_longest_prefix(model: str, listed: str | None) -> None:
    assert price_for(model) == (PRICES[listed] if listed else None)


@pytest.mark.parametrize(
    "model", ["gpt-5.6-sol", "gpt-5.3", "gpt-4o-search-preview", "claude-opus-4-99", "x"]
)
def test_neighbours_are_not_guessed(model: str) -> None:
    assert price_for(model) is None


def test_unknown_model_costs_none_and_warns_once() -> None:
    name = f"mystery-model-{uuid.uuid4().hex[:8]}"
    usage = Usage(input_tokens=10, output_tokens=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cost_usd(name, usage) is None
        assert cost_usd(name, usage) is None
        assert cost_usd(name, Usage()) is None
    ours = [w for w in caught if issubclass(w.category, UnknownModelPriceWarning)]
    assert len(ours) == 1
    assert name in str(ours[0].message)


def test_toml_overrides(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        '[models."my-model"]\ninput = 1.0\ncached_input = 0.5\noutput = 4.0\n\n'
        '[models."gpt-4o"]\ninput = 100\noutput = 200\n',
        encoding="utf-8",
    )
    loaded = load_price_overrides(path)
    assert loaded["my-model"] == ModelPrice(input=1.0, output=4.0, cached_input=0.5)
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=400_000, output_tokens=500_000)
    assert cost_usd("my-model", usage) == pytest.approx(0.6 + 0.2 + 2.0)
    assert cost_usd("my-model-2025-01-01", usage) == pytest.approx(2.8)
    # an override replaces the table entry, and its dated variants follow
    assert price_for("gpt-4o-2024-08-06") == ModelPrice(input=100, output=200)
    clear_price_overrides()
    assert price_for("gpt-4o") == PRICES["gpt-4o"]


def test_programmatic_overrides() -> None:
    set_prices({"Local-Llama": ModelPrice(input=0.0, output=0.0)})
    assert cost_usd("local-llama", Usage(input_tokens=5, output_tokens=5)) == 0.0


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[models."m"]\ninput = 1.0\n', "needs 'output'"),
        ('[models."m"]\ninput = 1.0\noutput = "cheap"\n', "not a price"),
        ('[models."m"]\ninput = 1.0\noutput = 2\nextra = 3\n', "unknown keys"),
        ("models = 3\n", "must be a table"),
        ("[models\n", "not valid TOML"),
    ],
)
def test_bad_override_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_price_overrides(path)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        load_price_overrides(tmp_path / "nope.toml")
