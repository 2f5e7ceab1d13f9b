"""Attacks on the model gateway as host-driven agents use it, with the real SDKs against
providers of our own on 127.0.0.1: odd usages (malformed, huge, floats), answers cut and
retried, the real key echoed in answers (streamed or not), a short throwaway key, the sockets a
host gate serves, and calls still under way when the attempt ends. Each call is counted once,
every cap holds, the key never reaches the agent or the record, and nothing is left behind."""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from swelancer.agents.loop import RunBudget
from swelancer.gateway.host import CapRefused, through_gateway, upstream_of
from swelancer.gateway.ledger import read_records
from swelancer.gateway.server import PLACEHOLDER_KEY, Gateway, _Server
from swelancer.models.base import Message
from swelancer.models.openai import OpenAIChatModel
from swelancer.models.prices import Prices
from swelancer.models.retry import RetryPolicy
from tests.fakes import FakeOpenAIServer, Reply
from tests.gateway.providers import Provider, completion, send_json

REAL = "sk-host-real-5e0c2a9d71b4"
FAST = RetryPolicy(budget_s=10, base_delay_s=0.01, max_delay_s=0.05, unreachable_s=1.5)


def gpt_4o(input_tokens: int, output_tokens: int) -> float:
    return (input_tokens * 2.50 + output_tokens * 10) / 1e6


def hi() -> list[Message]:
    return [Message(role="user", content="hi")]


def model_at(url: str, **kw: Any) -> OpenAIChatModel:
    return OpenAIChatModel("gpt-4o", api_key=REAL, base_url=url, retry_policy=FAST, **kw)


# -- 1. absurd usages --------------------------------------------------------------------------


def test_a_usage_with_a_malformed_details_field_is_still_counted_once(tmp_path: Path) -> None:
    """A reply whose `prompt_tokens_details` is not an object: its 1000 prompt tokens should
    be counted once (or at worst as unknown), and the SDK should get the reply."""
    usage = {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010,
             "prompt_tokens_details": "n/a"}  # fmt: skip
    with FakeOpenAIServer(expected_key=REAL, lifetime_s=60) as server:
        server.answer_with(lambda body: completion(usage))
        model = model_at(server.base_url)
        with Gateway([upstream_of(model, {})], Prices(), timeout_s=5) as gw, \
                through_gateway(gw, model, tmp_path, None) as gated:  # fmt: skip
            try:
                reply = gated.complete(hi())
                error = None
            except Exception as exc:
                reply, error = None, exc
        calls = len(server.requests)
    records = read_records(tmp_path)
    summary = [(r.status, r.usage.input_tokens, r.cost_usd, r.error) for r in records]
    # expected: one provider call, recorded once with its 1000 tokens, the reply delivered
    assert error is None, (error, calls, summary)
    assert calls == 1, (calls, summary)
    assert reply is not None and reply.usage.input_tokens == 1000, summary


def test_a_usage_too_large_for_a_float_is_still_recorded(tmp_path: Path) -> None:
    """A reply whose token count overflows a float: the call must still be recorded (once)."""
    usage = {"prompt_tokens": 10**400, "completion_tokens": 1, "total_tokens": 10**400 + 1}
    with FakeOpenAIServer(expected_key=REAL, lifetime_s=60) as server:
        server.answer_with(lambda body: completion(usage))
        model = model_at(server.base_url)
        with Gateway([upstream_of(model, {})], Prices(), timeout_s=5) as gw, \
                through_gateway(gw, model, tmp_path, None) as gated:  # fmt: skip
            with contextlib.suppress(Exception):  # whatever it raises, the call is recorded
                gated.complete(hi())
            ledger = gated.gate.ledger
        calls = len(server.requests)
    records = read_records(tmp_path)
    assert len(records) == calls, (calls, [(r.status, r.error) for r in records])
    assert ledger.calls == calls


def test_negative_and_non_numeric_usages_do_not_corrupt_the_ledger(tmp_path: Path) -> None:
    usages = [
        {"prompt_tokens": -5000, "completion_tokens": "12"},
        {"prompt_tokens": 7, "completion_tokens": None},
        {"prompt_tokens": True, "completion_tokens": 3},
    ]
    with FakeOpenAIServer(expected_key=REAL, lifetime_s=60) as server:
        server.push(*[completion(u) for u in usages])
        model = model_at(server.base_url)
        with Gateway([upstream_of(model, {})], Prices(), timeout_s=5) as gw, \
                through_gateway(gw, model, tmp_path, None) as gated:  # fmt: skip
            for _ in usages:
                gated.complete(hi())
            ledger = gated.gate.ledger
    records = read_records(tmp_path)
    assert len(records) == 3 and all(r.status == 200 for r in records)
    assert ledger.spent_usd >= 0 and ledger.usage.input_tokens >= 0


def test_integral_float_token_counts_are_counted_as_the_model_counts_them(
    tmp_path: Path,
) -> None:
    """An OpenAI-compatible server that writes its counts as JSON floats (`1000.0`): the model
    itself (pydantic, lax) reads 1000 tokens; the gateway must not count them as 0 ($0, so a
    cap is never reached)."""
    usage = {"prompt_tokens": 400_000.0, "completion_tokens": 10.0, "total_tokens": 400_010.0}
    with FakeOpenAIServer(expected_key=REAL, lifetime_s=60) as server:
        server.push(completion(usage), completion(usage), completion(usage))
        model = model_at(server.base_url)
        direct = model.complete(hi())
        budget = RunBudget()
        with Gateway([upstream_of(model, {})], Prices(), budget=budget) as gw, \
                through_gateway(gw, model, tmp_path, 0.5) as gated:  # fmt: skip
            first = gated.complete(hi())
            try:
                gated.complete(hi())  # should be refused: $1 spent of a $0.5 cap
                refused = False
            except CapRefused:
                refused = True
        calls = len(server.requests)
    assert direct.usage.input_tokens == 400_000
    assert direct.cost_usd == pytest.approx(gpt_4o(400_000, 10))
    assert (first.usage.input_tokens, first.cost_usd, budget.spent_usd, refused, calls) == (
        400_000, pytest.approx(gpt_4o(400_000, 10)), pytest.approx(gpt_4o(400_000, 10)),
        True, 2)  # fmt: skip


def test_a_reply_cut_mid_body_then_retried_is_counted_once_and_priced(tmp_path: Path) -> None:
    """The provider sends half a JSON reply and closes; the SDK retries and gets a whole one.
    The turn's reply (the second) has a known price; the cut one is recorded as cut, told no
    tokens, and is neither a reply nor an unknown cost."""
    whole = json.dumps(completion({"prompt_tokens": 1000, "completion_tokens": 10})).encode()

    def answer(h: BaseHTTPRequestHandler, n: int) -> None:
        h.send_response(200)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(whole)))
        h.end_headers()
        if n == 1:
            h.wfile.write(whole[: len(whole) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
        else:
            h.wfile.write(whole)

    raw = Provider(answer)
    try:
        model = model_at(raw.base_url)
        with Gateway([upstream_of(model, {})], Prices(), timeout_s=5) as gw, \
                through_gateway(gw, model, tmp_path, None) as gated:  # fmt: skip
            reply = gated.complete(hi())
            ledger = gated.gate.ledger
    finally:
        raw.close()
    records = read_records(tmp_path)
    summary = [(r.status, r.metered, r.cost_usd, r.error) for r in records]
    assert raw.calls == 2 and reply.retries == 1
    assert (reply.cost_usd, ledger.replies, ledger.cost_usd) == (
        pytest.approx(gpt_4o(1000, 10)),
        1,
        pytest.approx(gpt_4o(1000, 10)),
    ), summary


def test_the_anthropic_sdk_on_the_socket_holds_no_real_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Anthropic SDK reads ANTHROPIC_AUTH_TOKEN from the environment by itself."""
    from swelancer.models.anthropic import AnthropicChatModel

    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "sk-ant-oat-real-token")
    model = AnthropicChatModel("claude-sonnet-4-5", api_key=REAL, base_url="http://127.0.0.1:9")
    with Gateway([upstream_of(model, {})], Prices()) as gw, \
            through_gateway(gw, model, tmp_path, None) as gated:  # fmt: skip
        client = gated.inner.client()
        held = (client.api_key, client.auth_token)
    assert held == (PLACEHOLDER_KEY, None)


# -- 2. the real key ---------------------------------------------------------------------------


def test_the_real_key_echoed_in_a_streamed_reply_is_not_written_to_the_ledger(
    tmp_path: Path,
) -> None:
    """The real key a provider echoes is cut out (`***`) of a JSON answer and of a streamed
    one, in what the agent gets and in `gateway.jsonl`."""

    def stream(h: BaseHTTPRequestHandler, n: int) -> None:
        events = [
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
             "choices": [{"index": 0, "delta": {"role": "assistant",
                                                "content": f"your key is {REAL}"},
                          "finish_reason": None}]},
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 10, "completion_tokens": 5}},
        ]  # fmt: skip
        body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
        body += b"data: [DONE]\n\n"
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("content-length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def plain(h: BaseHTTPRequestHandler, n: int) -> None:
        send_json(h, completion({"prompt_tokens": 10, "completion_tokens": 5},
                                text=f"your key is {REAL}"))  # fmt: skip

    for name, answer in (("plain", plain), ("stream", stream)):
        raw = Provider(answer)
        try:
            model = model_at(raw.base_url)
            with Gateway([upstream_of(model, {})], Prices(), timeout_s=5) as gw, \
                    through_gateway(gw, model, tmp_path / name, None) as gated:  # fmt: skip
                client = gated.inner.client()
                if name == "stream":
                    chunks = list(client.chat.completions.create(
                        model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                        stream=True))  # fmt: skip
                    got = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
                else:
                    got = (
                        client.chat.completions.create(
                            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
                        )
                        .choices[0]
                        .message.content
                    )
            assert got == "your key is ***", (name, got)
        finally:
            raw.close()
    assert REAL not in (tmp_path / "plain" / "gateway.jsonl").read_text()  # holds
    assert REAL not in (tmp_path / "stream" / "gateway.jsonl").read_text()


def test_a_host_gate_serves_only_its_private_socket(tmp_path: Path) -> None:
    """A host-driven attempt's gate serves its host socket alone (0600 in a 0700 folder): no
    socket for a container, which any local user could reach and spend the real key on."""
    before = {p.name for p in Path(tempfile.gettempdir()).glob("swl-gw-*")}
    with FakeOpenAIServer(expected_key=REAL, lifetime_s=60) as server:
        model = model_at(server.base_url)
        with Gateway([upstream_of(model, {})], Prices()) as gw, \
                through_gateway(gw, model, tmp_path, None) as gated:  # fmt: skip
            gate = gated.gate
            assert gate.socket is None and gate.socket_dir is None
            assert gate.host_socket is not None
            modes = (gate.host_socket.stat().st_mode & 0o777,
                     gate.host_socket.parent.stat().st_mode & 0o777)  # fmt: skip
            made = {p.name for p in Path(tempfile.gettempdir()).glob("swl-gw-*")} - before
    assert modes == (0o600, 0o700)
    assert made == set(), f"a container socket was served: {made}"


# -- 3. nothing left behind --------------------------------------------------------------------


def test_a_call_the_sdk_gave_up_on_leaves_no_thread_after_the_attempt(tmp_path: Path) -> None:
    """The provider trickles its answer (one byte every 0.2 s): the SDK's read times out at
    0.5 s, but the gateway's reads (same per-read timeout) never do. After the attempt's gate
    is closed its handler thread is still forwarding, and records into the closed attempt."""
    stop = threading.Event()

    def trickle(h: BaseHTTPRequestHandler, n: int) -> None:
        data = json.dumps(completion({"prompt_tokens": 1000, "completion_tokens": 1})).encode()
        h.send_response(200)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        h.wfile.flush()
        for i in range(0, len(data), 40):
            if stop.wait(0.2):
                return
            try:
                h.wfile.write(data[i : i + 40])
                h.wfile.flush()
            except OSError:
                return

    raw = Provider(trickle)
    before = set(threading.enumerate())
    try:
        model = model_at(raw.base_url, timeout_s=0.5)
        policy = RetryPolicy(budget_s=1, base_delay_s=0.01, max_delay_s=0.05, unreachable_s=0.6)
        model.retry_policy = policy
        budget = RunBudget()
        with Gateway(
            [upstream_of(model, {})], Prices(), budget=budget, timeout_s=model.timeout_s
        ) as gw:  # as `run.agent._gateway` makes it
            with (
                through_gateway(gw, model, tmp_path, None) as gated,
                pytest.raises(Exception),  # noqa: B017  (the SDK's timeout, however it says it)
            ):
                gated.complete(hi())
            ended = time.monotonic()
            lines_at_end = len(read_records(tmp_path))
            left = [t for t in set(threading.enumerate()) - before if t.is_alive() and _serving(t)]
            # wait for the late answers to land
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and any(t.is_alive() for t in left):
                time.sleep(0.1)
            late = len(read_records(tmp_path)) - lines_at_end
            spent_late = budget.spent_usd
    finally:
        stop.set()
        raw.close()
    assert not left and late == 0, (
        f"{len(left)} thread(s) alive after the attempt ended: {[t.name for t in left]}; "
        f"{late} record(s) written to its gateway.jsonl after it ended "
        f"({time.monotonic() - ended:.1f}s later), run spend ${spent_late:.4f}"
    )


def test_an_attempt_that_ends_in_an_error_leaves_no_socket_or_server_thread(
    tmp_path: Path,
) -> None:
    """A rejected key ends the attempt; its sockets, folders and serving threads
    are gone."""
    from swelancer.errors import ModelError

    before = set(threading.enumerate())
    with FakeOpenAIServer(expected_key="sk-other", lifetime_s=60) as server:
        model = model_at(server.base_url)
        with Gateway([upstream_of(model, {})], Prices()) as gw:
            with (
                pytest.raises(ModelError, match="OPENAI_API_KEY") as info,
                through_gateway(gw, model, tmp_path, None) as gated,
            ):
                paths = (gated.gate.host_socket,)
                gated.complete(hi())
            assert REAL not in str(info.value)
            assert gw._open == []
    assert all(p is not None and not p.exists() and not p.parent.exists() for p in paths)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and set(threading.enumerate()) - before:
        time.sleep(0.05)
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]


def _serving(thread: threading.Thread) -> bool:
    """Whether `thread` serves a gateway connection (not the fake provider's)."""
    target = getattr(thread, "_target", None)
    return isinstance(getattr(target, "__self__", None), _Server)


@pytest.mark.parametrize("key", ["x", "0"])
def test_a_short_key_for_a_local_server_does_not_rewrite_the_reply(
    tmp_path: Path, key: str
) -> None:
    """A local OpenAI-compatible server is often given a throwaway key (`x`, `0`, `EMPTY`).
    The gateway's scrub replaces every occurrence of the key in the answer's bytes."""
    reply_text = "```python\nx = 10\nprint(x)\n```"
    with FakeOpenAIServer(expected_key=key, lifetime_s=60) as server:
        server.push(Reply(reply_text, input_tokens=1000, output_tokens=10))
        server.push(Reply(reply_text, input_tokens=1000, output_tokens=10))
        model = OpenAIChatModel("gpt-4o", api_key=key, base_url=server.base_url,
                                retry_policy=FAST)  # fmt: skip
        direct = model.complete(hi())
        with Gateway([upstream_of(model, {})], Prices()) as gw, \
                through_gateway(gw, model, tmp_path, None) as gated:  # fmt: skip
            try:
                through: Any = gated.complete(hi())
            except Exception as exc:
                through = exc
    records = read_records(tmp_path)
    assert direct.message.content == reply_text
    assert not isinstance(through, Exception), (through, [(r.status, r.cost_usd) for r in records])
    assert through.message.content == reply_text
    assert through.usage.input_tokens == 1000


def test_concurrent_attempts_overshoot_the_run_cap_by_no_more_than_the_calls_in_flight(
    tmp_path: Path,
) -> None:
    """Four attempts at once against a $1 run cap, calls of $0.25 each."""
    n = 4
    with FakeOpenAIServer(expected_key=REAL, lifetime_s=60) as server:
        server.answer_with(lambda body: Reply("w", input_tokens=100_000, output_tokens=0,
                                              delay_s=0.05))  # fmt: skip
        model = model_at(server.base_url)
        budget = RunBudget(1.0)
        stops: list[str] = []
        with Gateway([upstream_of(model, {})], Prices(), budget=budget) as gw:

            def attempt(i: int) -> None:
                with through_gateway(gw, model, tmp_path / str(i), None) as gated:
                    for _ in range(20):
                        try:
                            gated.complete(hi())
                        except CapRefused as refused:
                            stops.append(refused.stop_reason)
                            return

            threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        forwarded = len(server.requests)
    recorded = sum(r.cost_usd or 0 for i in range(n) for r in read_records(tmp_path / str(i)))
    assert stops == ["max_run_cost"] * n
    assert budget.spent_usd == pytest.approx(recorded) == pytest.approx(forwarded * 0.25)
    assert budget.spent_usd < 1.0 + n * 0.25 + 1e-9


def test_the_key_is_cut_out_of_a_stream_wherever_its_chunks_break() -> None:
    """The key split across two chunks at every place, and a chunk that ends in what could
    begin it but does not: the stream passed on holds `***` and every other byte as sent."""
    from swelancer.gateway.server import _Scrub

    sent = f"data: before {REAL} after {REAL[:5]}x\n\n".encode()
    for cut in range(len(sent) + 1):
        scrub = _Scrub(REAL)
        passed = b"".join(scrub.stream(iter([sent[:cut], sent[cut:]])))
        assert passed == sent.replace(REAL.encode(), b"***"), cut
