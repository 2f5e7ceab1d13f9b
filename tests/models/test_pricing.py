"""Dollars per token: table look-up, dated variants, unknown models, overrides, one table per
model."""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path

import pytest

from swelancer.errors import ConfigError
from swelancer.models.base import ChatModel, Message, Usage
from swelancer.models.prices import (
    PRICES,
    ModelPrice,
    Prices,
    UnknownModelPriceWarning,
    read_price_file,
)
from swelancer.models.resolve import resolve_model
from swelancer.models.retry import RetryPolicy
from tests.fakes import FakeAnthropicServer, FakeOpenAIServer, Reply

BUILTIN = Prices()


def test_known_model_cost_is_exact() -> None:
    usage = Usage(
        input_tokens=1_000_000, cached_input_tokens=200_000, output_tokens=100_000,
        reasoning_tokens=60_000,
    )  # fmt: skip
    # gpt-4o: 800k x $2.50 + 200k cached x $1.25 + 100k out x $10 (reasoning inside output)
    assert BUILTIN.cost_usd("gpt-4o", usage) == pytest.approx(2.0 + 0.25 + 1.0)
    usage = Usage(input_tokens=2_000_000, output_tokens=1_000_000)
    assert BUILTIN.cost_usd("gpt-4o-mini", usage) == pytest.approx(0.30 + 0.60)


def test_anthropic_cache_reads_and_writes() -> None:
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=500_000, output_tokens=10_000)
    # claude-opus-4-1: 300k plain x 15 + 500k read x 1.50 + 200k written x 18.75 + 10k x 75
    expected = 4.5 + 0.75 + 3.75 + 0.75
    assert BUILTIN.cost_usd("claude-opus-4-1-20250805", usage, cache_write_tokens=200_000) == (
        pytest.approx(expected)
    )


def test_cached_rate_defaults_to_input_rate() -> None:
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=1_000_000)
    assert BUILTIN.cost_usd("o1-pro", usage) == pytest.approx(150.0)


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
    assert BUILTIN.price_for(model) == (PRICES[listed] if listed else None)


@pytest.mark.parametrize(
    "model", ["gpt-5.6-sol", "gpt-5.3", "gpt-4o-search-preview", "claude-opus-4-99", "x"]
)
def test_neighbours_are_not_guessed(model: str) -> None:
    assert BUILTIN.price_for(model) is None


def test_unknown_model_costs_none_and_warns_once() -> None:
    name = f"mystery-model-{uuid.uuid4().hex[:8]}"
    usage = Usage(input_tokens=10, output_tokens=10)
    prices = Prices()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert prices.cost_usd(name, usage) is None
        assert prices.cost_usd(name, usage) is None
        assert prices.cost_usd(name, Usage()) is None
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
    prices = Prices.from_file(path)
    assert prices.overrides["my-model"] == ModelPrice(input=1.0, output=4.0, cached_input=0.5)
    assert read_price_file(path) == dict(prices.overrides)
    usage = Usage(input_tokens=1_000_000, cached_input_tokens=400_000, output_tokens=500_000)
    assert prices.cost_usd("my-model", usage) == pytest.approx(0.6 + 0.2 + 2.0)
    assert prices.cost_usd("my-model-2025-01-01", usage) == pytest.approx(2.8)
    # an override replaces the table entry, and its dated variants follow
    assert prices.price_for("gpt-4o-2024-08-06") == ModelPrice(input=100, output=200)
    # ...in that table only: the built-in one is untouched
    assert Prices().price_for("gpt-4o") == PRICES["gpt-4o"]
    assert Prices().price_for("my-model") is None


def test_programmatic_overrides() -> None:
    prices = Prices({"Local-Llama": ModelPrice(input=0.0, output=0.0)})
    assert prices.cost_usd("local-llama", Usage(input_tokens=5, output_tokens=5)) == 0.0
    more = prices.with_overrides({"local-llama": ModelPrice(input=1.0, output=1.0)})
    assert more.cost_usd("local-llama", Usage(input_tokens=1_000_000)) == pytest.approx(1.0)
    assert prices.cost_usd("local-llama", Usage(input_tokens=1_000_000)) == 0.0


def test_tables_do_not_affect_each_other() -> None:
    cheap = Prices({"gpt-4o": ModelPrice(input=1.0, output=1.0)})
    dear = Prices({"gpt-4o": ModelPrice(input=100.0, output=100.0)})
    usage = Usage(input_tokens=1_000_000)
    assert cheap.cost_usd("gpt-4o", usage) == pytest.approx(1.0)
    assert dear.cost_usd("gpt-4o", usage) == pytest.approx(100.0)
    assert BUILTIN.cost_usd("gpt-4o", usage) == pytest.approx(2.5)
    with pytest.raises(TypeError):
        PRICES["gpt-4o"] = ModelPrice(input=0.0, output=0.0)  # type: ignore[index]
    with pytest.raises(TypeError):
        cheap.overrides["gpt-4o"] = ModelPrice(input=0.0, output=0.0)  # type: ignore[index]


def test_unknown_model_warnings_are_per_table() -> None:
    name = f"mystery-model-{uuid.uuid4().hex[:8]}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            assert Prices().cost_usd(name, Usage()) is None
    assert sum(issubclass(w.category, UnknownModelPriceWarning) for w in caught) == 2


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
        Prices.from_file(path)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        Prices.from_file(tmp_path / "nope.toml")


def test_two_chat_models_in_one_process_use_their_own_tables() -> None:
    """Each model costs its calls with the table it was given; neither touches the other."""
    cheap = Prices({"gpt-4o": ModelPrice(input=1.0, output=2.0)})
    dear = Prices({"gpt-4o": ModelPrice(input=10.0, output=20.0)})
    haiku = Prices({"claude-haiku-4-5": ModelPrice(input=3.0, output=4.0)})
    reply = Reply(text="ok", input_tokens=1000, output_tokens=100)
    fast = RetryPolicy(budget_s=5, base_delay_s=0.01, max_delay_s=0.05)
    with FakeOpenAIServer([reply] * 3) as oa, FakeAnthropicServer([reply]) as an:

        def model(spec: str, url: str, prices: Prices | None) -> ChatModel:
            return resolve_model(spec, base_url=url, prices=prices, env={}, retry_policy=fast)

        models = [
            model("gpt-4o", oa.base_url, cheap),
            model("gpt-4o", oa.base_url, dear),
            model("gpt-4o", oa.base_url, None),
            model("anthropic/claude-haiku-4-5", an.base_url, haiku),
        ]
        costs = [m.complete([Message(role="user", content="hi")]).cost_usd for m in models]
    assert costs == pytest.approx(
        [
            (1000 * 1.0 + 100 * 2.0) / 1e6,
            (1000 * 10.0 + 100 * 20.0) / 1e6,
            (1000 * 2.5 + 100 * 10.0) / 1e6,  # the built-in gpt-4o price
            (1000 * 3.0 + 100 * 4.0) / 1e6,
        ]
    )


def test_resolve_model_hands_the_table_to_every_provider() -> None:
    prices = Prices({"my-model": ModelPrice(input=1.0, output=1.0)})
    env = {"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k", "OPENROUTER_API_KEY": "k"}
    for spec in ("gpt-4o", "claude-sonnet-4", "openrouter/openai/gpt-4o"):
        assert resolve_model(spec, prices=prices, env=env).prices is prices
    assert resolve_model("gpt-4o", env=env).prices.overrides == {}
