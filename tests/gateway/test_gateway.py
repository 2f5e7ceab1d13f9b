"""The model gateway with the real `openai` and `anthropic` SDKs in front of it (through the
forwarder's listening end, as in a container) and fake providers behind it: streaming and not,
metering, caps, provider-side tools refused, the real key never seen by the client side."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from swelancer.gateway.ledger import read_records
from swelancer.gateway.server import PLACEHOLDER_KEY, AttemptGate, Gateway, Upstream
from swelancer.models.base import ToolCall
from swelancer.models.prices import Prices
from tests.fakes.script import Reply
from tests.gateway.host_forwarder import loopback
from tests.gateway.streaming import (
    FakeResponsesServer,
    StreamingAnthropicServer,
    StreamingOpenAIServer,
)

REAL = "sk-real-secret-0123456789abcdef"


@pytest.fixture
def anthropic_fake() -> Iterator[StreamingAnthropicServer]:
    with StreamingAnthropicServer(expected_key=REAL) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def openai_fake() -> Iterator[StreamingOpenAIServer]:
    with StreamingOpenAIServer(expected_key=REAL) as server:
        yield server  # type: ignore[misc]


def gateway_to(server_url: str, family: str, run_cap: float | None = None) -> Gateway:
    base = server_url + ("/v1" if family == "openai" else "")
    return Gateway(
        [Upstream(family=family, base_url=base, api_key=REAL)],  # type: ignore[arg-type]
        Prices(),
        run_cap_usd=run_cap,
    )


@pytest.fixture
def claude(
    tmp_path: Path, anthropic_fake: StreamingAnthropicServer
) -> Iterator[tuple[anthropic.Anthropic, AttemptGate]]:
    with (
        gateway_to(anthropic_fake.url, "anthropic") as gw,
        gw.open(tmp_path / "a1") as gate,
        loopback(gate.socket) as url,
    ):
        yield anthropic.Anthropic(api_key=PLACEHOLDER_KEY, base_url=url, max_retries=0), gate


def test_anthropic_json_and_stream_are_forwarded_metered_and_recorded(
    claude: tuple[anthropic.Anthropic, AttemptGate], anthropic_fake: StreamingAnthropicServer
) -> None:
    client, gate = claude
    anthropic_fake.push(
        Reply(text="plain", input_tokens=1000, output_tokens=100, cached_tokens=400),
        Reply(
            text="streamed",
            tool_calls=[ToolCall(id="t1", name="bash", arguments={"c": "ls"})],
            input_tokens=2000,
            output_tokens=50,
            cache_write_tokens=1000,
        ),
    )
    msg = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert msg.content[0].text == "plain"  # type: ignore[union-attr]
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[1].input == {"c": "ls"}  # type: ignore[union-attr]
    # Each call reached the provider with the real key, none with the placeholder.
    assert [r.headers.get("x-api-key") for r in anthropic_fake.requests] == [REAL, REAL]
    assert all(PLACEHOLDER_KEY not in json.dumps(r.headers) for r in anthropic_fake.requests)
    records = read_records(gate.ledger.folder)
    assert [(r.stream, r.status) for r in records] == [(False, 200), (True, 200)]
    assert records[1].usage.input_tokens == 2000 and records[1].usage.output_tokens == 50
    assert records[1].cache_write_tokens == 1000
    # claude-sonnet-4-5: $3 in, $0.30 cached, $3.75 cache write, $15 out per million
    first = (600 * 3 + 400 * 0.30 + 100 * 15) / 1e6
    second = (1000 * 3 + 1000 * 3.75 + 50 * 15) / 1e6
    assert records[0].cost_usd == pytest.approx(first)
    assert records[1].cost_usd == pytest.approx(second)
    assert gate.ledger.cost_usd == pytest.approx(first + second)
    assert gate.gateway.run.spent_usd == pytest.approx(first + second)
    assert records[1].response[-1]["type"] == "message_stop"


def test_openai_chat_and_responses_streamed_and_not(tmp_path: Path) -> None:
    with (
        StreamingOpenAIServer(expected_key=REAL) as chat_fake,
        FakeResponsesServer(expected_key=REAL) as resp_fake,
    ):
        chat_fake.push(
            Reply(text="a", input_tokens=100, output_tokens=10),
            Reply(text="b", input_tokens=200, output_tokens=20, cached_tokens=100),
        )
        resp_fake.push(
            Reply(text="c", input_tokens=300, output_tokens=30),
            Reply(text="d", input_tokens=400, output_tokens=40, reasoning_tokens=5),
        )
        for fake, call in ((chat_fake, "chat"), (resp_fake, "responses")):
            with (
                gateway_to(fake.url, "openai") as gw,
                gw.open(tmp_path / call) as gate,
                loopback(gate.socket) as url,
            ):
                client = openai.OpenAI(api_key=PLACEHOLDER_KEY, base_url=url + "/v1", max_retries=0)
                if call == "chat":
                    msgs = [{"role": "user", "content": "x"}]
                    got = client.chat.completions.create(model="gpt-4o", messages=msgs)  # type: ignore[arg-type]
                    assert got.choices[0].message.content == "a"
                    chunks = list(
                        client.chat.completions.create(model="gpt-4o", messages=msgs, stream=True)
                    )  # type: ignore[arg-type]
                    assert (
                        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                        == "b"
                    )
                    # The gateway asked for the usage chunk the client did not ask for.
                    assert fake.bodies[1]["stream_options"] == {"include_usage": True}
                else:
                    got_r = client.responses.create(model="gpt-4o", input="x")
                    assert got_r.output_text == "c"
                    events = list(client.responses.create(model="gpt-4o", input="x", stream=True))
                    assert events[-1].type == "response.completed"
                records = read_records(gate.ledger.folder)
                assert [r.stream for r in records] == [False, True]
                assert all(r.cost_usd and r.cost_usd > 0 for r in records)
                assert [r.headers["authorization"] for r in fake.requests] == [f"Bearer {REAL}"] * 2
        chat_usage = read_records(tmp_path / "chat")[1].usage
        assert (chat_usage.input_tokens, chat_usage.cached_input_tokens) == (200, 100)
        resp_usage = read_records(tmp_path / "responses")[1].usage
        assert (resp_usage.output_tokens, resp_usage.reasoning_tokens) == (40, 5)


def test_caps_refuse_the_next_call_per_attempt_and_per_run(
    tmp_path: Path, anthropic_fake: StreamingAnthropicServer
) -> None:
    anthropic_fake.answer_with(lambda body: Reply(text="ok", input_tokens=100_000, output_tokens=0))
    # each call: 100k input tokens at $3/M = $0.30
    with gateway_to(anthropic_fake.url, "anthropic", run_cap=0.8) as gw:
        with gw.open(tmp_path / "a1", cap_usd=0.5) as gate, loopback(gate.socket) as url:
            client = anthropic.Anthropic(api_key=PLACEHOLDER_KEY, base_url=url, max_retries=0)
            ask = {
                "model": "claude-sonnet-4-5",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            }
            client.messages.create(**ask)  # type: ignore[call-overload]
            client.messages.create(**ask)  # type: ignore[call-overload]  # $0.60 ≥ $0.50 now
            with pytest.raises(anthropic.PermissionDeniedError, match=r"max-cost-usd 0\.5"):
                client.messages.create(**ask)  # type: ignore[call-overload]
        with gw.open(tmp_path / "a2", cap_usd=0.5) as gate2, loopback(gate2.socket) as url:
            client = anthropic.Anthropic(api_key=PLACEHOLDER_KEY, base_url=url, max_retries=0)
            client.messages.create(**ask)  # type: ignore[call-overload]  # the run: $0.90 ≥ $0.80
            with pytest.raises(anthropic.PermissionDeniedError, match=r"max-run-cost-usd 0\.8"):
                client.messages.create(**ask)  # type: ignore[call-overload]
    assert len(anthropic_fake.bodies) == 3
    assert [r.refused for r in read_records(tmp_path / "a1")] == [None, None, "cost_cap"]
    assert [r.refused for r in read_records(tmp_path / "a2")] == [None, "run_cost_cap"]


def test_provider_side_tools_and_other_paths_are_refused(
    claude: tuple[anthropic.Anthropic, AttemptGate], anthropic_fake: StreamingAnthropicServer
) -> None:
    client, gate = claude
    with pytest.raises(anthropic.BadRequestError, match="web_search_20250305"):
        client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=5,
            messages=[{"role": "user", "content": "q"}],
            tools=[{"type": "web_search_20250305", "name": "web_search"}],  # type: ignore[list-item]
        )
    with pytest.raises(anthropic.BadRequestError, match="mcp_servers"):
        client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=5,
            messages=[{"role": "user", "content": "q"}],
            extra_body={"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]},
        )
    base = str(client.base_url).rstrip("/")
    assert httpx.post(f"{base}/v1/files", json={}).status_code == 404
    assert httpx.get(f"{base}/anything").status_code == 404
    assert anthropic_fake.requests == []  # nothing reached the provider
    assert [r.refused for r in read_records(gate.ledger.folder)] == [
        "tools",
        "tools",
        "path",
        "path",
    ]


def test_a_refused_real_key_is_not_shown_to_the_client(tmp_path: Path) -> None:
    with (
        StreamingOpenAIServer(expected_key="another-key") as fake,
        gateway_to(fake.url, "openai") as gw,
        gw.open(tmp_path / "a") as gate,
        loopback(gate.socket) as url,
    ):
        raw = httpx.post(
            f"{url}/v1/chat/completions",
            json={"model": "gpt-4o", "messages": []},
            headers={"authorization": f"Bearer {PLACEHOLDER_KEY}"},
        )
        assert raw.status_code == 401
        assert REAL not in raw.text and REAL not in json.dumps(dict(raw.headers))
        assert "refused the gateway's key" in raw.json()["error"]["message"]
        assert fake.requests[0].headers["authorization"] == f"Bearer {REAL}"
    assert REAL not in (tmp_path / "a" / "gateway.jsonl").read_text()


class CuttingProvider:
    """A provider that answers every call with headers and part of its body, then closes."""

    def __init__(self, *, stream: bool) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        kind = "text/event-stream" if stream else "application/json"
        self.head = (f"HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\n"
                     "content-length: 5000\r\n\r\n").encode()  # fmt: skip
        self.body = b'data: {"id": "x"}\n\n' if stream else b'{"id": "chatcmpl-x", "cho'
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(self.head + self.body)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_answer_the_provider_cuts_is_seen_cut_in_the_container_not_waited_on(
    tmp_path: Path, stream: bool
) -> None:
    """The CLI in a container sees the cut (a closed connection) at once: it does not wait
    for an end of the answer that will never come until its own timeout."""
    provider = CuttingProvider(stream=stream)
    with (
        gateway_to(provider.url, "openai") as gw,
        gw.open(tmp_path / "cut") as gate,
        loopback(gate.socket) as url,
        httpx.Client(timeout=60) as client,
    ):
        started = time.monotonic()
        with pytest.raises(httpx.TransportError) as cut:
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}],
                    "stream": stream}  # fmt: skip
            with client.stream("POST", f"{url}/v1/chat/completions", json=body) as answer:
                answer.read()
        assert time.monotonic() - started < 30
        assert not isinstance(cut.value, httpx.TimeoutException), cut.value
    (record,) = read_records(tmp_path / "cut")
    assert record.status == 200 and record.error, record  # the cut, said in its record
