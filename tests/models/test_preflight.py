"""A dead or refusing model endpoint ends a run before its first attempt, in one paragraph;
within a run an endpoint that does not answer is given up on within the bound the user set; a
stop ends every wait between retries. The real SDKs against the fake servers and a closed port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from swelancer.errors import ModelError
from swelancer.models.anthropic import AnthropicChatModel
from swelancer.models.base import Message
from swelancer.models.openai import OpenAIChatModel
from swelancer.models.preflight import preflight
from swelancer.models.retry import (
    ModelUnavailableError,
    RetryPolicy,
    RetryStopped,
    resume_waiting,
    stop_waiting,
    wait_or_stop,
)
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Fault, Reply

KEY = "sk-right"


def closed_port() -> str:
    """A base URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_preflight_passes_a_live_endpoint_and_sends_no_completion() -> None:
    with FakeOpenAIServer(expected_key=KEY) as server:
        preflight(OpenAIChatModel("gpt-4o", api_key=KEY, base_url=server.base_url))
        assert [r.path for r in server.requests] == ["/v1/models"] and server.bodies == []
    with FakeAnthropicServer(expected_key=KEY) as server:
        preflight(AnthropicChatModel("claude-sonnet-4-5", api_key=KEY, base_url=server.url))
        assert [r.path for r in server.requests] == ["/v1/models"]


def test_preflight_refuses_a_rejected_key_through_either_sdk() -> None:
    with FakeOpenAIServer(expected_key=KEY) as server:
        chat = OpenAIChatModel("gpt-4o", api_key="sk-wrong", base_url=server.base_url)
        with pytest.raises(ModelError, match=r"HTTP 401.*OPENAI_API_KEY"):
            preflight(chat)
    with FakeAnthropicServer(expected_key=KEY) as server:
        chat = AnthropicChatModel("claude-sonnet-4-5", api_key="sk-wrong", base_url=server.url)
        with pytest.raises(ModelError, match=r"HTTP 401.*ANTHROPIC_API_KEY"):
            preflight(chat)


def test_preflight_refuses_an_endpoint_that_does_not_answer() -> None:
    url = closed_port()
    with pytest.raises(ModelError, match="did not answer at") as caught:
        preflight(OpenAIChatModel("gpt-4o", api_key=KEY, base_url=url))
    assert url in str(caught.value) and "--base-url" in str(caught.value)


def test_retries_of_an_endpoint_that_does_not_answer_stop_at_the_bound() -> None:
    chat = OpenAIChatModel("gpt-4o", api_key=KEY, base_url=closed_port(), unreachable_s=2.0)
    with pytest.raises(ModelUnavailableError, match="--max-unreachable-seconds"):
        chat.complete([Message(role="user", content="hi")])


def test_server_errors_are_not_cut_short_by_the_unreachable_bound() -> None:
    """A server that answers 503 is retried on upstream's budget, not the short bound."""
    with FakeOpenAIServer([Fault(503)] * 3 + [Reply(text="done")]) as server:
        chat = OpenAIChatModel("gpt-4o", api_key=KEY, base_url=server.base_url)
        chat.retry_policy = RetryPolicy(
            budget_s=60, base_delay_s=0.01, max_delay_s=0.02, unreachable_s=0.001
        )
        reply = chat.complete([Message(role="user", content="hi")])
        assert reply.message.content == "done" and reply.retries == 3


def test_a_stop_ends_a_wait_between_retries() -> None:
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            wait_or_stop(600)
        except RetryStopped as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    try:
        stop_waiting()
        waiter.join(timeout=60)
        assert not waiter.is_alive() and len(outcome) == 1
        with pytest.raises(RetryStopped):
            wait_or_stop(600)  # a later wait ends at once too, until the next run
    finally:
        resume_waiting()
    wait_or_stop(0)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "swelancer", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, "NO_PROXY": "127.0.0.1,localhost", "DOCKER_HOST": "unix:///nonexistent",
             **env},
    )  # fmt: skip


@pytest.mark.parametrize("case", ["closed port", "bad key"])
def test_run_fails_before_the_first_attempt_in_one_paragraph(case: str, tmp_path: Path) -> None:
    """No engine is needed to find out: the endpoint is looked at first (DOCKER_HOST points
    nowhere, and the error is the model's)."""
    with FakeOpenAIServer(expected_key=KEY) as server:
        url = closed_port() if case == "closed port" else server.base_url
        done = _cli("run", "--split", "demo", "--task", "101", "--model", "gpt-4o",
                    "--base-url", url, "--results-dir", str(tmp_path), "--run-id", "r", "-q",
                    env={"OPENAI_API_KEY": "sk-wrong"})  # fmt: skip
        assert server.bodies == []  # no completion was asked for
    assert done.returncode != 0 and "Traceback" not in done.stderr
    said = " ".join(done.stderr.split())
    assert ("did not answer at" if case == "closed port" else "key was not accepted") in said
    assert "Docker" not in said and not (tmp_path / "r").exists()
    paragraphs = [p for p in done.stderr.split("\n\n") if p.strip()]
    assert len(paragraphs) == 1, done.stderr


def test_mock_models_are_not_looked_at(tmp_path: Path) -> None:
    done = _cli("run", "--split", "demo", "--task", "101", "--model", "mock/oracle",
                "--base-url", closed_port(), "--results-dir", str(tmp_path), "-q",
                env={})  # fmt: skip
    assert "did not answer" not in done.stderr and "Docker" in done.stderr  # it got further
