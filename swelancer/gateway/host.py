"""A host-driven agent's model calls through the run's model gateway.

`upstream_of(model)` is where the gateway sends an SDK chat model's calls: the model's base URL
(`--base-url`, OpenRouter's, the family's URL variable), else its family's provider, with the
model's real key. `through_gateway` opens one attempt's gate with a host socket and gives the
turn loop a `GatedModel`: the same chat model, its SDK client on that socket with the
placeholder key, so the gateway checks the caps, puts the real key in, forwards, meters, costs
and records each call in the attempt's `gateway.jsonl`, as for an installed agent.

Counted once: the gateway's ledger is the one place that adds a call's dollars, to the attempt
(`AttemptLedger`) and to the run (`RunLedger`, which is the run's `RunBudget`). A `GatedModel`'s
reply carries the usage and dollars of the gateway's record of that call (for the transcript and
the attempt's outcome); the loop adds nothing more. A call the gateway refuses because a cap is
spent raises `CapRefused`, which the loop ends the attempt on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from swelancer.errors import ModelError
from swelancer.gateway.ledger import CallRecord
from swelancer.gateway.upstream import DEFAULT_URLS, PLACEHOLDER_KEY, Upstream, provider_url
from swelancer.models.base import ChatResponse, LazySdkClient, Message, ToolSpec, Usage
from swelancer.models.retry import server_message

if TYPE_CHECKING:
    from swelancer.gateway.server import AttemptGate, Gateway

GATEWAY_URLS = {"openai": "http://gateway/v1", "anthropic": "http://gateway"}
"""The base URL a rerouted SDK is given: any host name does (the socket is the way), the path
is the one each family's SDK expects."""
CAPS = {"cost_cap": "max_cost", "run_cost_cap": "max_run_cost"}
"""A cap refusal of the gateway (`CallRecord.refused`) → the loop's stop reason."""
_NO_KEY = "no-key-needed"  # as `models.resolve` sends to a server that may need none


def carried(model: object) -> TypeGuard[LazySdkClient]:
    """Whether the model's calls are HTTP calls of an SDK, which the gateway carries (the
    scripted and mock models make none)."""
    return isinstance(model, LazySdkClient)


def upstream_of(model: LazySdkClient, env: Mapping[str, str] | None = None) -> Upstream:
    """Where the gateway sends the calls of `model`: its base URL as its SDK would take it
    (given, else the family's URL variable, else the provider's), and its real key."""
    env = os.environ if env is None else env
    family = model.SDK_MODULE
    if family not in DEFAULT_URLS:
        raise ValueError(f"the model gateway speaks no {family} protocol")
    return Upstream(
        family=family,
        base_url=provider_url(family, model.base_url, env),
        api_key=model._api_key or _NO_KEY,
        sdk_base=True,
    )


class CapRefused(ModelError):
    """The gateway refused a call because the attempt's or the run's cost cap is spent."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    @property
    def stop_reason(self) -> str:
        """The loop's stop reason: `max_cost` (the attempt's cap), `max_run_cost` (the run's)."""
        return CAPS[self.kind]


class GatedModel:
    """A chat model whose every call goes through one attempt's gate; each reply's usage and
    dollars are those the gateway recorded for it."""

    def __init__(self, model: LazySdkClient, gate: AttemptGate) -> None:
        if gate.host_socket is None:
            raise ValueError("the gate serves no host socket: open it with host=True")
        self.gate = gate
        family = model.SDK_MODULE
        self.inner: Any = model.over_socket(
            gate.host_socket, base_url=GATEWAY_URLS[family], api_key=PLACEHOLDER_KEY
        )
        self.name: str = model.name  # type: ignore[attr-defined]
        self.context_window: int = model.context_window  # type: ignore[attr-defined]
        self._answered: list[CallRecord] = []
        gate.on_reply = self._answered.append

    def complete(
        self, messages: list[Message], tools: list[ToolSpec] | None = None
    ) -> ChatResponse:
        """One call (with the model's own retries), its figures the gateway's; `CapRefused`
        when the gateway refused it for a cap."""
        ledger = self.gate.ledger
        refused_before = len(ledger.refusals)
        self._answered.clear()
        try:
            response: ChatResponse = self.inner.complete(messages, tools)
        except ModelError as exc:
            caps = [r for r in ledger.refusals[refused_before:] if r in CAPS]
            if caps:  # in the gateway's own words, not the advice for a provider's 403
                said = server_message(exc.__cause__) if exc.__cause__ else str(exc)
                raise CapRefused(caps[-1], said) from exc
            raise
        calls = list(self._answered)
        usage = sum((c.usage for c in calls), Usage())
        costs = [c.cost_usd for c in calls]
        cost = None if None in costs else sum(c for c in costs if c is not None)
        return response.model_copy(update={"usage": usage, "cost_usd": cost})

    def close(self) -> None:
        self.gate.on_reply = None
        self.inner.close()


@contextmanager
def through_gateway(
    gateway: Gateway, model: LazySdkClient, folder: Path, cap_usd: float | None
) -> Iterator[GatedModel]:
    """One attempt of `model` through `gateway`, recorded into `folder`, capped at `cap_usd`
    (and the run's cap); the gate and its sockets are gone when the block ends."""
    with gateway.open(folder, cap_usd, host=True) as gate:
        gated = GatedModel(model, gate)
        try:
            yield gated
        finally:
            gated.close()
