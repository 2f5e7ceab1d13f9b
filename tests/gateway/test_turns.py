"""A recorded call read back as a transcript turn, in each protocol, JSON and streamed: the
reply's text, its tool calls with their arguments, its finish reason, its tokens and cost."""

from __future__ import annotations

from pathlib import Path

import anthropic
import openai
import pytest

from swelancer.gateway.ledger import read_records
from swelancer.gateway.server import PLACEHOLDER_KEY, Gateway, Upstream
from swelancer.gateway.turns import turn_event
from swelancer.models.base import ToolCall
from swelancer.models.prices import Prices
from tests.fakes.script import Reply
from tests.gateway.host_forwarder import loopback
from tests.gateway.streaming import (
    FakeResponsesServer,
    StreamingAnthropicServer,
    StreamingOpenAIServer,
)

REAL = "sk-real-turns"
CALL = ToolCall(id="c1", name="bash", arguments={"command": "ls -la"})
MSGS = [{"role": "user", "content": "go"}]


def ask(kind: str, url: str, stream: bool) -> None:
    if kind == "anthropic":
        client = anthropic.Anthropic(api_key=PLACEHOLDER_KEY, base_url=url, max_retries=0)
        if stream:
            with client.messages.stream(model="claude-sonnet-4-5", max_tokens=9,
                                        messages=MSGS) as s:  # type: ignore[arg-type]  # fmt: skip
                s.get_final_message()
        else:
            client.messages.create(model="claude-sonnet-4-5", max_tokens=9, messages=MSGS)  # type: ignore[arg-type]
        return
    client_o = openai.OpenAI(api_key=PLACEHOLDER_KEY, base_url=f"{url}/v1", max_retries=0)
    if kind == "chat" and stream:
        list(client_o.chat.completions.create(model="gpt-4o", messages=MSGS, stream=True))  # type: ignore[call-overload]
    elif kind == "chat":
        client_o.chat.completions.create(model="gpt-4o", messages=MSGS)  # type: ignore[call-overload]
    elif stream:
        list(client_o.responses.create(model="gpt-4o", input="go", stream=True))
    else:
        client_o.responses.create(model="gpt-4o", input="go")


@pytest.mark.parametrize("kind", ["anthropic", "chat", "responses"])
def test_each_protocols_reply_is_read_as_a_turn(kind: str, tmp_path: Path) -> None:
    server = {"anthropic": StreamingAnthropicServer, "chat": StreamingOpenAIServer,
              "responses": FakeResponsesServer}[kind]  # fmt: skip
    with server(expected_key=REAL) as fake:
        fake.push(*[Reply(text="Looking.", tool_calls=[CALL], input_tokens=900,
                          output_tokens=30) for _ in range(2)])  # fmt: skip
        family = "anthropic" if kind == "anthropic" else "openai"
        base = fake.url + ("" if family == "anthropic" else "/v1")
        upstream = Upstream(family=family, base_url=base, api_key=REAL)
        with (
            Gateway([upstream], Prices()) as gw,
            gw.open(tmp_path) as gate,
            loopback(gate.socket) as url,
        ):
            ask(kind, url, stream=False)
            ask(kind, url, stream=True)
    for n, record in enumerate(read_records(tmp_path), 1):
        turn = turn_event(record, n)
        assert turn["turn"] == n and turn["content"] == "Looking.", (record.stream, turn)
        assert turn["tool_calls"] == [{"name": "bash", "arguments": {"command": "ls -la"}}]
        assert turn["finish_reason"] in ("tool_use", "tool_calls", "completed")
        assert turn["usage"]["input_tokens"] == 900 and turn["usage"]["output_tokens"] == 30
        assert turn["cost_usd"] == record.cost_usd and record.cost_usd
