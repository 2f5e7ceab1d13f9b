"""A cheap look at a model endpoint before the first attempt: one listing of its models through
the real SDK, at the configured base URL, with no retry. An endpoint that does not answer, or
that rejects the key, ends the run there in one paragraph instead of holding each attempt in
retries; anything else (no such listing, a busy server) is left to the run."""

from __future__ import annotations

from typing import Any

from swelancer.errors import ModelError
from swelancer.models.retry import Endpoint, classify, fatal_error, unanswered

PREFLIGHT_TIMEOUT_S = 15.0


def preflight(chat: Any) -> None:
    """Check the endpoint of an SDK chat model (`OpenAIChatModel`, `AnthropicChatModel`);
    `ModelError` when it does not answer or refuses the key. Other models are not checked."""
    client_of = getattr(chat, "client", None)
    endpoint: Endpoint | None = getattr(chat, "endpoint", None)
    if client_of is None or endpoint is None:
        return
    timeout = min(PREFLIGHT_TIMEOUT_S, float(getattr(chat, "timeout_s", PREFLIGHT_TIMEOUT_S)))
    client = client_of().with_options(max_retries=0, timeout=timeout)
    try:
        client.models.list()
    except Exception as exc:
        if classify(exc) == "other":
            raise
        status = getattr(exc, "status_code", None)
        if unanswered(exc):
            where = getattr(chat, "base_url", None) or "the provider's default URL"
            raise ModelError(
                f"{endpoint.provider} did not answer at {where} (for model "
                f"'{endpoint.model}': {type(exc).__name__}: {exc}). Nothing was started. "
                "Check the base URL (--base-url, OPENAI_BASE_URL, ANTHROPIC_BASE_URL), that "
                "the server is up and that this machine can reach it."
            ) from None
        if status in (401, 403):
            raise fatal_error(exc, endpoint) from None
        # 404 (no model listing), 405, 429, 5xx: the endpoint answers; the run decides
