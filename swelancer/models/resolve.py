"""Turn a model string (`gpt-4o`, `claude-sonnet-4-20250514`, `openrouter/…`) into a ChatModel.

Accepted forms:

* `gpt-*`, `chatgpt-*`, `o1*`, `o3*`, `o4*`, `openai/<name>`: OpenAI, key in `OPENAI_API_KEY`.
* `claude-*`, `anthropic/<name>`: Anthropic, key in `ANTHROPIC_API_KEY`.
* `openrouter/<vendor>/<name>`: OpenRouter through the OpenAI SDK, key in `OPENROUTER_API_KEY`.
* any name together with `base_url`: an OpenAI-compatible server at that URL (vLLM, a local
  proxy, …), the name sent as given (a leading `openai/` removed). `OPENAI_API_KEY` is sent
  when set, else a placeholder key, which servers without authentication ignore. Only an
  explicit `anthropic/<name>` keeps the Anthropic protocol, at that URL.

`OPENAI_BASE_URL` and `ANTHROPIC_BASE_URL` are honoured as the SDKs do (an `anthropic_base_url`
argument does the same for Anthropic); with a base URL set, a missing key is replaced by the
placeholder too, since such a server may not need one.

Importing this module imports no SDK; the chat model classes import theirs on first use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from swelancer.errors import ConfigError

if TYPE_CHECKING:
    from swelancer.models.base import ChatModel
    from swelancer.models.prices import Prices

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
PLACEHOLDER_KEY = "no-key-needed"

_OPENAI_NAME = re.compile(r"^(gpt-|chatgpt-|o\d)", re.IGNORECASE)
_ACCEPTED = (
    "gpt-* / chatgpt-* / o1* / o3* / o4* / openai/<name> (OpenAI, OPENAI_API_KEY); "
    "claude-* / anthropic/<name> (Anthropic, ANTHROPIC_API_KEY); "
    "openrouter/<vendor>/<name> (OpenRouter, OPENROUTER_API_KEY); "
    "or any name with a base URL (--base-url) for an OpenAI-compatible server"
)


@dataclass(frozen=True)
class Route:
    """Where a model string goes: which SDK, which model name, which URL, which key variable."""

    sdk: Literal["openai", "anthropic"]
    provider: str
    model: str
    base_url: str | None
    key_env: str
    key_optional: bool


def route(
    spec: str,
    *,
    base_url: str | None = None,
    anthropic_base_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Route:
    """Decide how `spec` is served; raise `ConfigError` for a name no rule accepts."""
    env = os.environ if env is None else env
    spec = spec.strip()
    lower = spec.lower()
    if lower.startswith("anthropic/") or (lower.startswith("claude-") and not base_url):
        name = spec.split("/", 1)[1] if lower.startswith("anthropic/") else spec
        url = anthropic_base_url or (base_url if lower.startswith("anthropic/") else None)
        url = url or env.get("ANTHROPIC_BASE_URL") or None
        return Route("anthropic", "Anthropic", name, url, "ANTHROPIC_API_KEY", bool(url))
    if base_url:
        name = spec.split("/", 1)[1] if lower.startswith("openai/") else spec
        provider = f"the OpenAI-compatible server at {base_url}"
        return Route("openai", provider, name, base_url, "OPENAI_API_KEY", True)
    if lower.startswith("openrouter/"):
        name = spec.split("/", 1)[1]
        if not name:
            raise ConfigError(f"Model '{spec}' names no model: write openrouter/<vendor>/<name>.")
        return Route("openai", "OpenRouter", name, OPENROUTER_BASE_URL, "OPENROUTER_API_KEY", False)
    if lower.startswith("openai/") or _OPENAI_NAME.match(lower):
        name = spec.split("/", 1)[1] if lower.startswith("openai/") else spec
        url = env.get("OPENAI_BASE_URL") or None
        return Route("openai", "OpenAI", name, url, "OPENAI_API_KEY", bool(url))
    raise ConfigError(f"Unknown model '{spec}'. Accepted forms: {_ACCEPTED}.")


def required_key(
    spec: str, base_url: str | None = None, *, env: Mapping[str, str] | None = None
) -> str | None:
    """The env var that must hold an API key for `spec`, or None when none is required."""
    r = route(spec, base_url=base_url, env=env)
    return None if r.key_optional else r.key_env


def resolve_model(
    spec: str,
    *,
    base_url: str | None = None,
    anthropic_base_url: str | None = None,
    temperature: float | None = None,
    reasoning_effort: str | None = None,
    max_output_tokens: int | None = None,
    prices: Prices | None = None,
    env: Mapping[str, str] | None = None,
    **options: object,
) -> ChatModel:
    """Build the ChatModel for `spec`; `ConfigError` when the name or the key is missing.

    `prices` is the table the model costs its calls with (the built-in one when None). Extra
    keyword `options` (e.g. `timeout_s`, `retry_budget_s`, `retry_policy`) go to the chat
    model's constructor.
    """
    env = os.environ if env is None else env
    r = route(spec, base_url=base_url, anthropic_base_url=anthropic_base_url, env=env)
    key = env.get(r.key_env) or None
    if key is None:
        if not r.key_optional:
            raise ConfigError(
                f"Model '{spec}' needs an API key in the environment variable {r.key_env}, "
                f"which is not set. Set it in the shell that runs swelancer (export "
                f"{r.key_env}=...) or in the CI's secrets; a key can be made in the "
                f"{r.provider} console. For an OpenAI-compatible server of your own, give "
                "its URL with --base-url instead."
            )
        key = PLACEHOLDER_KEY
    common: dict[str, object] = {
        "api_key": key,
        "base_url": r.base_url,
        "temperature": temperature,
        "reasoning_effort": reasoning_effort,
        "max_output_tokens": max_output_tokens,
        "prices": prices,
        "name": spec,
        "provider": r.provider,
        "key_env": r.key_env,
        **options,
    }
    if r.sdk == "anthropic":
        from swelancer.models.anthropic import AnthropicChatModel

        return AnthropicChatModel(r.model, **common)  # type: ignore[arg-type]
    from swelancer.models.openai import OpenAIChatModel

    return OpenAIChatModel(r.model, **common)  # type: ignore[arg-type]
