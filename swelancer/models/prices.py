"""Dollars per token, per model, as a `Prices` value: the built-in table plus overrides.

A `Prices` is handed to each chat model, so two models in one process may be costed by
different tables; nothing here is process-wide.

Prices are USD per million tokens, as the providers list them for standard (non-batch,
short-context) use, as of `PRICES_AS_OF`; long-context surcharges and 1-hour cache writes are
not modelled. Models newer than the table (and any whose price is not settled) are unknown
until given a price by an override.

A model name is looked up exactly, then as a dated variant of a listed name: the longest
listed name that the model name starts with, when what follows is a date or version
suffix (`gpt-4o-2024-08-06`, `claude-sonnet-4-20250514`, `claude-3-5-sonnet-latest`,
`…@20241022`). Anything else (`gpt-5.6-sol`, `gpt-4o-search-preview`) is unknown rather than
priced as a neighbour: unknown models cost `None`, never 0, and warn once per table. A vendor
path in front of the name (`openai/gpt-4o`, `anthropic/claude-sonnet-4` as OpenRouter spells
them) is ignored.

Billing: cached input tokens at the cached rate, Anthropic cache writes at the cache-write rate,
other input at the input rate, output at the output rate. Reasoning/thinking tokens are already
part of the output tokens for both providers and are not added again.

Override file (`Prices.from_file`, `--prices FILE`)::

    [models."my-model"]
    input = 1.0          # USD per million input tokens
    cached_input = 0.5   # optional, defaults to input
    output = 4.0
    cache_write = 1.25   # optional, defaults to input
"""

from __future__ import annotations

import re
import threading
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from swelancer.errors import ConfigError
from swelancer.models.base import Usage

PRICES_AS_OF = "2026-06"


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens. `cached_input` and `cache_write` default to `input`."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage, cache_write_tokens: int = 0) -> float:
        """USD for `usage` (whose `input_tokens` include cached and cache-write tokens)."""
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        written = min(cache_write_tokens, usage.input_tokens - cached)
        plain = usage.input_tokens - cached - written
        cached_rate = self.input if self.cached_input is None else self.cached_input
        write_rate = self.input if self.cache_write is None else self.cache_write
        total = (
            plain * self.input
            + cached * cached_rate
            + written * write_rate
            + usage.output_tokens * self.output
        )
        return total / 1_000_000


def _p(inp: float, cached: float | None, out: float, write: float | None = None) -> ModelPrice:
    return ModelPrice(input=inp, output=out, cached_input=cached, cache_write=write)


# The built-in table, read-only: overrides go into a `Prices`, never into this.
PRICES: Mapping[str, ModelPrice] = MappingProxyType(
    {
        # OpenAI
        "gpt-3.5-turbo": _p(0.50, None, 1.50),
        "gpt-4": _p(30.00, None, 60.00),
        "gpt-4-turbo": _p(10.00, None, 30.00),
        "gpt-4o": _p(2.50, 1.25, 10.00),
        "gpt-4o-2024-05-13": _p(5.00, None, 15.00),
        "chatgpt-4o-latest": _p(5.00, None, 15.00),
        "gpt-4o-mini": _p(0.15, 0.075, 0.60),
        "gpt-4.1": _p(2.00, 0.50, 8.00),
        "gpt-4.1-mini": _p(0.40, 0.10, 1.60),
        "gpt-4.1-nano": _p(0.10, 0.025, 0.40),
        "o1": _p(15.00, 7.50, 60.00),
        "o1-mini": _p(1.10, 0.55, 4.40),
        "o1-pro": _p(150.00, None, 600.00),
        "o3": _p(2.00, 0.50, 8.00),
        "o3-mini": _p(1.10, 0.55, 4.40),
        "o3-pro": _p(20.00, None, 80.00),
        "o4-mini": _p(1.10, 0.275, 4.40),
        "gpt-5": _p(1.25, 0.125, 10.00),
        "gpt-5-mini": _p(0.25, 0.025, 2.00),
        "gpt-5-nano": _p(0.05, 0.005, 0.40),
        "gpt-5-chat-latest": _p(1.25, 0.125, 10.00),
        "gpt-5-codex": _p(1.25, 0.125, 10.00),
        "gpt-5-pro": _p(15.00, None, 120.00),
        "gpt-5.1": _p(1.25, 0.125, 10.00),
        "gpt-5.1-chat-latest": _p(1.25, 0.125, 10.00),
        "gpt-5.1-codex": _p(1.25, 0.125, 10.00),
        "gpt-5.1-codex-mini": _p(0.25, 0.025, 2.00),
        "gpt-5.2": _p(1.75, 0.175, 14.00),
        "gpt-5.2-pro": _p(21.00, None, 168.00),
        "gpt-5.4": _p(2.50, 0.25, 15.00),
        "gpt-5.4-mini": _p(0.75, 0.075, 4.50),
        "gpt-5.4-nano": _p(0.20, 0.02, 1.25),
        "gpt-5.4-pro": _p(30.00, None, 180.00),
        "gpt-5.5": _p(5.00, 0.50, 30.00),
        "gpt-5.5-pro": _p(30.00, None, 180.00),
        # Anthropic (cache_write: the 5-minute cache, 1.25 x input)
        "claude-3-haiku": _p(0.25, 0.03, 1.25, 0.30),
        "claude-3-opus": _p(15.00, 1.50, 75.00, 18.75),
        "claude-3-5-haiku": _p(0.80, 0.08, 4.00, 1.00),
        "claude-3-5-sonnet": _p(3.00, 0.30, 15.00, 3.75),
        "claude-3-7-sonnet": _p(3.00, 0.30, 15.00, 3.75),
        "claude-sonnet-4": _p(3.00, 0.30, 15.00, 3.75),
        "claude-sonnet-4-0": _p(3.00, 0.30, 15.00, 3.75),
        "claude-sonnet-4-5": _p(3.00, 0.30, 15.00, 3.75),
        "claude-opus-4": _p(15.00, 1.50, 75.00, 18.75),
        "claude-opus-4-0": _p(15.00, 1.50, 75.00, 18.75),
        "claude-opus-4-1": _p(15.00, 1.50, 75.00, 18.75),
        "claude-opus-4-5": _p(5.00, 0.50, 25.00, 6.25),
        "claude-haiku-4-5": _p(1.00, 0.10, 5.00, 1.25),
        "claude-sonnet-4-6": _p(3.00, 0.30, 15.00, 3.75),
        "claude-opus-4-6": _p(5.00, 0.50, 25.00, 6.25),
        "claude-opus-4-7": _p(5.00, 0.50, 25.00, 6.25),
    }
)

# What may follow a listed name in a dated variant: a date (2024-08-06, 20250514, 0613),
# "latest", optionally a provider version tag (-v2, -v1:0).
_VARIANT_SUFFIX = re.compile(
    r"^[-@](\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)(-v\d+(:\d+)?)?$", re.IGNORECASE
)


class UnknownModelPriceWarning(UserWarning):
    """No price is known for a model; its cost is reported as unknown (None)."""


def _normalise(model: str) -> str:
    return model.strip().lower().rsplit("/", 1)[-1]


class Prices:
    """A price table: the built-in `PRICES` with `overrides` over it. The table never changes
    once made (`with_overrides` makes a new one); it is safe to share between threads."""

    def __init__(self, overrides: Mapping[str, ModelPrice] | None = None) -> None:
        own = {_normalise(name): price for name, price in (overrides or {}).items()}
        self.overrides: Mapping[str, ModelPrice] = MappingProxyType(own)
        self._table: Mapping[str, ModelPrice] = MappingProxyType({**PRICES, **own})
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> Prices:
        """The built-in table with the overrides of a TOML price file; `ConfigError` if bad."""
        return cls(read_price_file(path))

    def with_overrides(self, overrides: Mapping[str, ModelPrice]) -> Prices:
        """A new table: this one's overrides, then `overrides` over them."""
        return Prices({**self.overrides, **overrides})

    def __repr__(self) -> str:
        return f"Prices(overrides={sorted(self.overrides)})"

    def price_for(self, model: str) -> ModelPrice | None:
        """The price of `model` (overrides first), by exact name then dated variant; else None."""
        name = _normalise(model)
        if name in self._table:
            return self._table[name]
        best: str | None = None
        for listed in self._table:
            if (
                name.startswith(listed)
                and _VARIANT_SUFFIX.match(name[len(listed) :])
                and (best is None or len(listed) > len(best))
            ):
                best = listed
        return self._table[best] if best is not None else None

    def cost_usd(self, model: str, usage: Usage, *, cache_write_tokens: int = 0) -> float | None:
        """USD for `usage` on `model`, or None (with one warning per model and table) when no
        price is known."""
        price = self.price_for(model)
        if price is None:
            with self._lock:
                first = model not in self._warned
                self._warned.add(model)
            if first:
                warnings.warn(
                    f"No price known for model '{model}': its cost is reported as unknown. "
                    'Add it with a price override file ([models."NAME"] input/cached_input/'
                    "output in USD per million tokens).",
                    UnknownModelPriceWarning,
                    stacklevel=2,
                )
            return None
        return price.cost(usage, cache_write_tokens)


def _price_from_toml(name: str, entry: Any, path: Path) -> ModelPrice:
    if not isinstance(entry, Mapping):
        raise ConfigError(f'{path}: [models."{name}"] must be a table of prices.')
    unknown = set(entry) - {"input", "cached_input", "output", "cache_write"}
    if unknown:
        raise ConfigError(
            f'{path}: [models."{name}"] has unknown keys {sorted(unknown)}; use input, '
            "cached_input, output, cache_write (USD per million tokens)."
        )
    values: dict[str, float | None] = {}
    for key in ("input", "output", "cached_input", "cache_write"):
        value = entry.get(key)
        if value is None and key in ("input", "output"):
            raise ConfigError(f"{path}: [models.\"{name}\"] needs '{key}' (USD per million).")
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise ConfigError(
                f'{path}: [models."{name}"] {key} = {value!r} is not a price (a number ≥ 0).'
            )
        values[key] = None if value is None else float(value)
    return ModelPrice(
        input=values["input"] or 0.0,
        output=values["output"] or 0.0,
        cached_input=values["cached_input"],
        cache_write=values["cache_write"],
    )


def read_price_file(path: str | Path) -> dict[str, ModelPrice]:
    """The `[models."NAME"]` price tables of a TOML file; `ConfigError` naming what is wrong."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read the price file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The price file {path} is not valid TOML: {exc}") from exc
    models = data.get("models", {})
    if not isinstance(models, Mapping):
        raise ConfigError(f"{path}: 'models' must be a table of [models.\"NAME\"] tables.")
    return {name: _price_from_toml(name, entry, path) for name, entry in models.items()}
