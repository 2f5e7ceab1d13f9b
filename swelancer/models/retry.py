"""Run a model call again on transient faults, within a time budget; turn fatal ones into
`ModelError`.

Transient: rate limits (429), server errors (5xx, incl. Anthropic's 529 "overloaded"), 408/409,
timeouts and dropped connections. Each wait is the server's `retry-after-ms` / `retry-after`
(capped) when it sends one, else exponential backoff with full jitter. The whole budget defaults
to 20 minutes, as upstream; an endpoint that does not answer at all (connection refused, reset or
timed out) is given up on sooner, after `unreachable_s` in a row (`--max-unreachable-seconds`).
Waits end at once when the run stops (`stop_waiting`), raising `RetryStopped`.
Everything else the SDK raises about the HTTP exchange (401, 403,
404, 400, 422, …) is fatal and becomes a `ModelError` that says which provider, which model,
what the server said and what to do.

Errors are recognised by the SDKs' class names (both SDKs share them: `APIStatusError`,
`APIConnectionError`, `APITimeoutError`, …), so this module imports neither SDK.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from swelancer.errors import ModelError

T = TypeVar("T")

log = logging.getLogger(__name__)

_SDK_MODULES = ("openai", "anthropic")
_TRANSIENT_STATUS = frozenset({408, 409, 429})
_CONTEXT_RE = re.compile(
    r"context length|context window|context_length|prompt is too long|too many tokens"
    r"|exceed(s|ed)? (the )?context limit|maximum context",
    re.IGNORECASE,
)


class ModelUnavailableError(ModelError):
    """Transient faults (429, 5xx, timeouts) went on for longer than the retry budget.

    A `ModelError`, so it stops the run by default; a caller that prefers to treat a long
    provider outage differently can catch this class alone.
    """


class RetryStopped(ModelError):
    """The run is stopping: a wait between retries was cut short."""


_STOPPING = threading.Event()


def stop_waiting() -> None:
    """End every wait between retries in this process now, and any later one at once (the run
    is stopping: Ctrl-C or SIGTERM)."""
    _STOPPING.set()


def resume_waiting() -> None:
    """Let waits between retries run their course again (a new run in this process)."""
    _STOPPING.clear()


def wait_or_stop(delay_s: float) -> None:
    """Sleep `delay_s`, unless the run stops meanwhile: then raise `RetryStopped`."""
    if _STOPPING.wait(delay_s):
        raise RetryStopped("the run is stopping; the model call was not retried.")


class ContextWindowExceededError(ModelError):
    """The request is longer than the model's context window (HTTP 400/413 saying so).

    Unlike other `ModelError`s this concerns one conversation, not the whole run: an agent
    loop can catch it to trim the conversation or end the attempt.
    """


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry. Defaults follow upstream (20 minutes in all)."""

    budget_s: float = 1200.0
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_retry_after_s: float = 120.0
    unreachable_s: float = 120.0
    """How long an endpoint may not answer at all (refused, reset, timed out), in a row."""

    def backoff(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(max, base * 2**retry)]."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** min(retry, 30))
        return rng() * ceiling


@dataclass(frozen=True)
class Endpoint:
    """Who is being called, for messages: provider label, model name, the key's env var."""

    provider: str
    model: str
    key_env: str | None = None


def classify(exc: BaseException) -> Literal["transient", "fatal", "other"]:
    """Sort an exception raised by an SDK call: retry it, report it as fatal, or leave it be."""
    if type(exc).__module__.split(".")[0] not in _SDK_MODULES:
        return "other"
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "APIConnectionError" in names:  # includes APITimeoutError and dropped connections
        return "transient"
    status = getattr(exc, "status_code", None)
    if "APIStatusError" in names and isinstance(status, int):
        return "transient" if status in _TRANSIENT_STATUS or status >= 500 else "fatal"
    if "APIResponseValidationError" in names:
        return "fatal"
    return "other"


def unanswered(exc: BaseException) -> bool:
    """Whether an SDK error means no answer came at all (refused, reset, timed out)."""
    return "APIConnectionError" in {cls.__name__ for cls in type(exc).__mro__}


def retry_after_s(exc: BaseException, cap_s: float) -> float | None:
    """The wait the server asked for (`retry-after-ms`, then `retry-after` in seconds or as an
    HTTP date), capped at `cap_s`; None when it asked for nothing usable."""
    response = getattr(exc, "response", None)
    headers: Mapping[str, str] | None = getattr(response, "headers", None)
    if not headers:
        return None
    wait: float | None = None
    raw_ms = headers.get("retry-after-ms")
    raw = headers.get("retry-after")
    try:
        if raw_ms is not None:
            wait = float(raw_ms) / 1000.0
    except ValueError:
        wait = None
    if wait is None and raw is not None:
        try:
            wait = float(raw)
        except ValueError:
            parsed = email.utils.parsedate_tz(raw)
            if parsed is not None:
                wait = float(email.utils.mktime_tz(parsed) - time.time())
    if wait is None or wait < 0:
        return None
    return min(wait, cap_s)


def server_message(exc: BaseException) -> str:
    """The server's own words about the error, as short as the SDK allows."""
    api_message = getattr(exc, "api_message", None)  # anthropic
    if isinstance(api_message, str) and api_message:
        return api_message
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return inner["message"]
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return str(exc) or type(exc).__name__


def _describe_transient(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}: {server_message(exc)}"
    return f"{type(exc).__name__}: {exc}"


def fatal_error(exc: BaseException, endpoint: Endpoint) -> ModelError:
    """A one-paragraph `ModelError` for a fault that retrying cannot fix."""
    status = getattr(exc, "status_code", None)
    said = server_message(exc).strip().rstrip(".")
    code = getattr(exc, "code", None)
    head = f"{endpoint.provider} rejected the request for model '{endpoint.model}'"
    head += f" (HTTP {status})" if isinstance(status, int) else ""
    head += f": {said}"
    key = endpoint.key_env
    if status in (400, 413) and (code == "context_length_exceeded" or _CONTEXT_RE.search(said)):
        return ContextWindowExceededError(
            f"{head}. The conversation is longer than the model's context window; trim it "
            "or use a model with a larger window."
        )
    if status == 401:
        what = (
            f"check the API key in {key} (export {key}=...; it may be mistyped, revoked or "
            "belong to another provider)"
            if key
            else "check the API key the server expects"
        )
        advice = f"The key was not accepted: {what}."
    elif status == 403:
        where = f"the key in {key}" if key else "the key"
        advice = (
            f"The request was refused: {where} has no access to this model or endpoint "
            "(check its project, organisation or region), or choose another model."
        )
    elif status == 404:
        advice = (
            f"The model or endpoint was not found: check the model name '{endpoint.model}' "
            "(spelling, and that your account can use it) and the base URL."
        )
    elif status in (400, 422):
        advice = (
            "The server found the request invalid, often an option the model does not "
            "support (temperature, reasoning effort, max output tokens): check the model "
            "options."
        )
    elif status is None:
        advice = "The server's reply could not be understood: check the base URL."
    else:
        advice = "Retrying will not help: check the model name, key and options."
    return ModelError(f"{head}. {advice}")


def call_with_retry(
    fn: Callable[[], T],
    *,
    endpoint: Endpoint,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = wait_or_stop,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
) -> tuple[T, int]:
    """Call `fn` until it succeeds; return its value and the number of retries.

    Raises `ModelError` (or `ContextWindowExceededError`) at once on a fatal fault, and
    `ModelUnavailableError` when the next wait would end beyond the budget (or, while the
    endpoint does not answer at all, beyond `policy.unreachable_s`). Exceptions that are not
    about the HTTP exchange pass through unchanged.
    """
    policy = policy or RetryPolicy()
    start = clock()
    retries = 0
    silent_since: float | None = None  # when the endpoint last stopped answering at all
    while True:
        try:
            return fn(), retries
        except Exception as exc:
            kind = classify(exc)
            if kind == "other":
                raise
            if kind == "fatal":
                raise fatal_error(exc, endpoint) from exc
            asked = retry_after_s(exc, policy.max_retry_after_s)
            delay = asked if asked is not None else policy.backoff(retries, rng)
            now = clock()
            elapsed = now - start
            if unanswered(exc):
                silent_since = now if silent_since is None else silent_since
                if now - silent_since + delay > policy.unreachable_s:
                    raise ModelUnavailableError(
                        f"{endpoint.provider} did not answer for model '{endpoint.model}' for "
                        f"{now - silent_since:.0f} s ({retries} retries; last: "
                        f"{_describe_transient(exc)}). Gave up at the bound of "
                        f"{policy.unreachable_s:.0f} s for an endpoint that does not answer "
                        "(--max-unreachable-seconds): check the base URL, the network and "
                        "that the server is up, then run the same command again to resume."
                    ) from exc
            else:
                silent_since = None
            if elapsed + delay > policy.budget_s:
                raise ModelUnavailableError(
                    f"{endpoint.provider} kept failing for model '{endpoint.model}' for "
                    f"{elapsed:.0f} s ({retries} retries; last: {_describe_transient(exc)}). "
                    f"Gave up at the retry budget of {policy.budget_s:.0f} s: check the "
                    "provider's status page and your rate limits, then resume the run."
                ) from exc
            log.warning(
                "%s %s: %s; retry %d in %.1f s",
                endpoint.provider,
                endpoint.model,
                _describe_transient(exc),
                retries + 1,
                delay,
            )
            sleep(delay)
            retries += 1
