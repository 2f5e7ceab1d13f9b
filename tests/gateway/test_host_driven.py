"""Host-driven agents through the model gateway: the real turn loop, made as a run makes it
(`run.agent.make_agent`), its real `openai` / `anthropic` SDK client on the gate's host socket,
fake providers behind the gateway. Each call is recorded in the attempt's `gateway.jsonl` and
its dollars counted once; the caps stop the attempt by the gateway's refusal."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from swelancer.agents.base import AgentEnv, Limits
from swelancer.agents.loop import ModelAgent, RunBudget
from swelancer.agents.prompts import PromptSet
from swelancer.config import AgentSection, LimitsSection
from swelancer.errors import ModelError
from swelancer.gateway.host import CapRefused, GatedModel, through_gateway, upstream_of
from swelancer.gateway.ledger import read_records
from swelancer.gateway.server import PLACEHOLDER_KEY, Gateway
from swelancer.models.anthropic import AnthropicChatModel
from swelancer.models.base import Message
from swelancer.models.openai import OpenAIChatModel
from swelancer.models.prices import Prices, UnknownModelPriceWarning
from swelancer.models.retry import ModelUnavailableError, RetryPolicy
from swelancer.run.agent import make_agent
from swelancer.sandbox.base import ExecResult
from swelancer.tasks.models import ManagerTask
from tests.fakes import FakeAnthropicServer, FakeModelServer, FakeOpenAIServer, Reply
from tests.fakes.script import dropped, rate_limited, server_error

REAL = "sk-host-real-5e0c2a9d71b4"
TASK = ManagerTask(task_id="9-manager-0", price_usd=100.0, correct_proposal_id=1)
WORK = "Looking.\n\n```python\nprint('hi')\n```"
MODELS = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-5"}


def gpt_4o(input_tokens: int, output_tokens: int) -> float:
    return (input_tokens * 2.50 + output_tokens * 10) / 1e6


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def event(self, kind: str, **data: Any) -> None:
        self.events.append((kind, data))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [data for k, data in self.events if k == kind]


def env_in(folder: Path) -> AgentEnv:
    def shell(command: str, timeout: float) -> ExecResult:
        return ExecResult(exit_code=0, output="hi")

    return AgentEnv(sandbox=None, user_tool=None, run=shell, folder=folder)  # type: ignore[arg-type]


@pytest.fixture(params=["openai", "anthropic"])
def provider(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, FakeModelServer]:
    """A fake provider expecting the real key, and the environment a run would have."""
    family = request.param
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server_cls = FakeOpenAIServer if family == "openai" else FakeAnthropicServer
    server = server_cls(expected_key=REAL, lifetime_s=60)
    server.start()
    request.addfinalizer(server.stop)
    if family == "openai":
        monkeypatch.setenv("OPENAI_API_KEY", REAL)
    else:
        monkeypatch.setenv("ANTHROPIC_API_KEY", REAL)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    return family, server


def agent_for(family: str, server: FakeModelServer, budget: RunBudget, **limits: Any) -> ModelAgent:
    section = AgentSection(
        model=MODELS[family], base_url=server.base_url if family == "openai" else None
    )
    agent = make_agent(section, LimitsSection(**limits), budget, PromptSet())
    assert isinstance(agent, ModelAgent) and agent.gateway is not None
    return agent


def solve(agent: ModelAgent, folder: Path, **limits: Any) -> tuple[Any, Log]:
    log = Log()
    outcome = agent.solve(TASK, env_in(folder), Limits(**limits), log)
    return outcome, log


def model_calls(server: FakeModelServer) -> list[Any]:
    return [r for r in server.requests if r.path != "/v1/models"]


# -- recorded, costed, counted once -------------------------------------------------------


def test_each_call_is_recorded_by_the_gateway_and_counted_once(
    provider: tuple[str, FakeModelServer], tmp_path: Path
) -> None:
    family, server = provider
    server.push(
        Reply(WORK, input_tokens=10_000, output_tokens=300, cached_tokens=4_000),
        Reply(WORK, input_tokens=12_000, output_tokens=200, cache_write_tokens=2_000),
        Reply("DONE", input_tokens=13_000, output_tokens=5),
    )
    budget = RunBudget()
    budget.add(0.5)  # what earlier attempts spent
    agent = agent_for(family, server, budget)
    outcome, log = solve(agent, tmp_path / "try-1")

    assert (outcome.stop_reason, outcome.turns) == ("done", 3)
    records = read_records(tmp_path / "try-1")
    assert [(r.path, r.status, r.model) for r in records] == [
        ("/v1/messages" if family == "anthropic" else "/v1/chat/completions", 200, MODELS[family])
    ] * 3
    costs = [r.cost_usd for r in records]
    assert all(c is not None and c > 0 for c in costs)
    # the attempt's figures are the gateway's, call by call and in sum
    assert [e["cost_usd"] for e in log.of("model")] == costs
    assert [e["usage"]["input_tokens"] for e in log.of("model")] == [10_000, 12_000, 13_000]
    assert outcome.cost_usd == pytest.approx(sum(costs))  # type: ignore[arg-type]
    assert outcome.usage.input_tokens == 35_000 and outcome.usage.output_tokens == 505
    assert outcome.usage.cached_input_tokens == 4_000
    # counted once: the run's budget grew by exactly what the gateway recorded
    assert budget.spent_usd == pytest.approx(0.5 + sum(costs))  # type: ignore[arg-type]
    assert agent.gateway is not None
    assert agent.gateway.run.spent_usd == budget.spent_usd
    if family == "openai":  # cached input at gpt-4o's $1.25 per million
        first = (6_000 * 2.50 + 4_000 * 1.25 + 300 * 10) / 1e6
        assert costs[0] == pytest.approx(first)
    else:  # claude-sonnet-4-5: a cache write at $3.75 per million
        second = (10_000 * 3.00 + 2_000 * 3.75 + 200 * 15) / 1e6
        assert costs[1] == pytest.approx(second)


def test_the_provider_gets_the_real_key_and_the_sdk_holds_only_the_placeholder(
    provider: tuple[str, FakeModelServer], tmp_path: Path
) -> None:
    family, server = provider
    server.push(Reply("hello", input_tokens=100, output_tokens=10))
    agent = agent_for(family, server, RunBudget())
    assert agent.gateway is not None
    with through_gateway(agent.gateway, agent.model, tmp_path, None) as gated:  # type: ignore[arg-type]
        client = gated.inner.client()
        assert client.api_key == PLACEHOLDER_KEY
        assert str(client.base_url).startswith("http://gateway")
        reply = gated.complete([Message(role="user", content="hi")])
        socket = gated.gate.host_socket
        assert socket is not None and socket.exists()
        assert socket.stat().st_mode & 0o777 == 0o600
        assert socket.parent.stat().st_mode & 0o777 == 0o700
        assert socket.parent != gated.gate.socket_dir  # never in the folder a container mounts
    assert reply.message.content == "hello"
    (call,) = model_calls(server)
    sent = json.dumps(call.headers)
    assert REAL in sent and PLACEHOLDER_KEY not in sent
    assert REAL not in (tmp_path / "gateway.jsonl").read_text()
    assert not socket.exists() and not socket.parent.exists()


def test_a_model_without_a_price_is_carried_with_an_unknown_cost(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As before the gateway: a local model with no price and no cap is counted in tokens,
    its dollars unknown (None), and nothing is added to the run's spend."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeOpenAIServer(lifetime_s=60) as server:
        server.push(Reply(WORK, input_tokens=900, output_tokens=40), Reply("DONE"))
        budget = RunBudget()
        agent = make_agent(AgentSection(model="local-model", base_url=server.base_url),
                           LimitsSection(), budget, PromptSet())  # fmt: skip
        assert isinstance(agent, ModelAgent)
        with pytest.warns(UnknownModelPriceWarning, match="local-model"):
            outcome, _ = solve(agent, tmp_path)
        assert [r.headers.get("authorization") for r in server.requests] == [
            "Bearer no-key-needed"
        ] * 2
    assert outcome.turns == 2 and outcome.cost_usd is None
    assert outcome.usage.input_tokens == 912 and budget.spent_usd == 0.0
    assert [r.cost_usd for r in read_records(tmp_path)] == [None, None]


# -- the caps: the gateway refuses, the loop stops as a cost limit ------------------------


def test_the_attempts_cap_stops_it_by_the_gateways_refusal(
    provider: tuple[str, FakeModelServer], tmp_path: Path
) -> None:
    family, server = provider
    server.answer_with(lambda body: Reply(WORK, input_tokens=400_000, output_tokens=9))
    budget = RunBudget()
    agent = agent_for(family, server, budget, max_cost_usd=1.0)
    outcome, log = solve(agent, tmp_path, max_cost_usd=1.0)
    assert (outcome.stop_reason, outcome.turns) == ("max_cost", 1)
    (limit,) = log.of("limit")
    assert limit["reason"] == "max_cost" and "--max-cost-usd 1" in limit["message"]
    assert "no access" not in limit["message"]  # not the advice for a provider's own 403
    assert len(model_calls(server)) == 1  # the refused call never left the host
    answered, refused = read_records(tmp_path)
    assert refused.status == 403 and refused.refused == "cost_cap"
    assert outcome.cost_usd == pytest.approx(answered.cost_usd) and outcome.cost_usd > 1.0
    assert budget.spent_usd == pytest.approx(outcome.cost_usd)


def test_the_runs_cap_stops_an_attempt_by_the_gateways_refusal(tmp_path: Path,
                                                                monkeypatch) -> None:  # fmt: skip
    monkeypatch.setenv("OPENAI_API_KEY", REAL)
    with FakeOpenAIServer(expected_key=REAL, lifetime_s=60) as server:
        server.answer_with(lambda body: Reply(WORK, input_tokens=40_000, output_tokens=0))
        budget = RunBudget(1.0)
        budget.add(0.95)  # other attempts of the run
        agent = agent_for("openai", server, budget, max_run_cost_usd=1.0)
        outcome, log = solve(agent, tmp_path / "a")
        assert (outcome.stop_reason, outcome.turns) == ("max_run_cost", 1)
        assert log.of("limit")[0]["reason"] == "max_run_cost"
        assert budget.spent_usd == pytest.approx(0.95 + gpt_4o(40_000, 0))
        # a later attempt of the same run: refused at its first call, no turn
        later, _ = solve(agent, tmp_path / "b")
        assert (later.stop_reason, later.turns, later.cost_usd) == ("max_run_cost", 0, 0.0)
        assert len(model_calls(server)) == 1
    assert [r.refused for r in read_records(tmp_path / "b")] == ["run_cost_cap"]
    assert budget.spent_usd == pytest.approx(0.95 + gpt_4o(40_000, 0))


# -- faults of the provider pass through ----------------------------------------------------


def test_rate_limits_and_server_errors_are_retried_through_the_gateway(
    provider: tuple[str, FakeModelServer], tmp_path: Path
) -> None:
    family, server = provider
    server.push(rate_limited(retry_after=0.3), server_error(502), Reply("DONE"))
    agent = agent_for(family, server, RunBudget())
    started = time.monotonic()
    outcome, log = solve(agent, tmp_path)
    assert time.monotonic() - started >= 0.3  # the provider's retry-after reached the SDK
    assert outcome.stop_reason == "done" and log.of("model")[0]["retries"] == 2
    records = read_records(tmp_path)
    assert [r.status for r in records] == [429, 502, 200]
    assert [r.cost_usd is not None for r in records] == [False, False, True]
    assert outcome.cost_usd == records[-1].cost_usd


def test_a_rejected_key_still_says_which_variable_to_fix(
    provider: tuple[str, FakeModelServer], tmp_path: Path
) -> None:
    family, server = provider
    server.expected_key = "sk-the-right-one"
    agent = agent_for(family, server, RunBudget())
    with pytest.raises(ModelError) as info:
        solve(agent, tmp_path)
    assert not isinstance(info.value, CapRefused)
    message = str(info.value)
    variable = "OPENAI_API_KEY" if family == "openai" else "ANTHROPIC_API_KEY"
    assert variable in message and "401" in message and "key" in message
    assert REAL not in message
    assert len(model_calls(server)) == 1  # not retried
    assert [r.status for r in read_records(tmp_path)] == [401]


# -- one gate per attempt, nothing left behind ----------------------------------------------


def test_attempts_at_once_have_gates_of_their_own_and_leave_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", REAL)
    threads_before = threading.active_count()

    def answer(body: dict[str, Any]) -> Reply:
        turn = sum(m["role"] == "assistant" for m in body["messages"])
        tokens = 1000 if "# first" in body["messages"][0]["content"] else 2000
        return Reply("DONE" if turn == 2 else WORK, input_tokens=tokens, output_tokens=1)

    with FakeOpenAIServer(expected_key=REAL, lifetime_s=60) as server:
        server.answer_with(answer)
        budget = RunBudget()
        agent = agent_for("openai", server, budget)
        results: dict[str, Any] = {}

        def attempt(name: str) -> None:
            task = TASK.model_copy(update={"title": name})
            results[name] = agent.solve(task, env_in(tmp_path / name), Limits(), Log())

        # two attempts of one agent at the same time, as a run's pool runs them
        runs = [threading.Thread(target=attempt, args=(n,)) for n in ("first", "second")]
        for t in runs:
            t.start()
        for t in runs:
            t.join(30)
        assert agent.gateway is not None and agent.gateway._open == []
        agent.close()  # as the run does at its end: the gateway's connections go too
    for name, tokens in (("first", 1000), ("second", 2000)):
        records = read_records(tmp_path / name)
        assert [r.usage.input_tokens for r in records] == [tokens] * 3, name
        assert results[name].cost_usd == pytest.approx(3 * gpt_4o(tokens, 1))
    assert budget.spent_usd == pytest.approx(3 * gpt_4o(1000, 1) + 3 * gpt_4o(2000, 1))
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before, [t.name for t in threading.enumerate()]


def test_where_a_host_driven_models_calls_go() -> None:
    """The gateway sends a call where the SDK would have: the given base URL (with or without
    `/v1`), the family's URL variable, else the provider; a local server's missing key stays
    the placeholder the model was given."""

    def url(model: OpenAIChatModel, env: dict[str, str] | None = None) -> str:
        return upstream_of(model, env or {}).url("/v1/chat/completions")

    local = OpenAIChatModel("m", api_key="k", base_url="http://10.0.0.5:8000")
    assert url(local) == "http://10.0.0.5:8000/chat/completions"
    with_v1 = OpenAIChatModel("m", api_key="k", base_url="http://10.0.0.5:8000/v1/")
    assert url(with_v1) == "http://10.0.0.5:8000/v1/chat/completions"
    router = OpenAIChatModel("m", api_key="k", base_url="https://openrouter.ai/api/v1")
    assert url(router) == "https://openrouter.ai/api/v1/chat/completions"
    plain = OpenAIChatModel("gpt-4o", api_key="k")
    assert url(plain) == "https://api.openai.com/v1/chat/completions"
    assert url(plain, {"OPENAI_BASE_URL": "http://proxy/v1"}) == "http://proxy/v1/chat/completions"
    assert upstream_of(plain, {}).api_key == "k"


def test_models_that_call_no_api_stay_off_the_gateway(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(["DONE"]))
    section = AgentSection(model=f"mock/scripted:{script}")
    agent = make_agent(section, LimitsSection(), RunBudget(), PromptSet())
    assert isinstance(agent, ModelAgent) and agent.gateway is None
    assert not isinstance(agent.model, GatedModel)


def test_a_gate_without_a_host_socket_serves_no_host_model(tmp_path: Path) -> None:
    model = OpenAIChatModel("gpt-4o", api_key="k")
    with Gateway([upstream_of(model, {})], Prices()) as gw, gw.open(tmp_path) as gate:
        assert gate.host_socket is None
        with pytest.raises(ValueError, match="host=True"):
            GatedModel(model, gate)


def test_a_provider_that_does_not_answer_is_given_up_on_as_before(tmp_path: Path) -> None:
    """The gateway leaves the host's call unanswered when the provider cannot be reached, so
    the SDK sees a connection fault and `--max-unreachable-seconds` still bounds the wait
    (a 502 would have been retried for the whole retry budget)."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = RetryPolicy(budget_s=60, base_delay_s=0.01, max_delay_s=0.05, unreachable_s=0.5)
    url = f"http://127.0.0.1:{port}/v1"
    model = OpenAIChatModel("gpt-4o", api_key=REAL, base_url=url, retry_policy=policy)
    started = time.monotonic()
    with (
        Gateway([upstream_of(model, {})], Prices()) as gw,
        through_gateway(gw, model, tmp_path, None) as gated,
        pytest.raises(ModelUnavailableError, match="did not answer"),
    ):
        gated.complete([Message(role="user", content="hi")])
    assert time.monotonic() - started < 10
    records = read_records(tmp_path)
    assert len(records) >= 2 and {r.status for r in records} == {0}
    assert all("ConnectError" in (r.error or "") for r in records)


def test_a_dropped_connection_is_retried_through_the_gateway(tmp_path: Path) -> None:
    with FakeOpenAIServer(expected_key=REAL, lifetime_s=60) as server:
        server.push(dropped(), Reply("after the drop", input_tokens=100, output_tokens=10))
        policy = RetryPolicy(base_delay_s=0.01, max_delay_s=0.05)
        model = OpenAIChatModel(
            "gpt-4o", api_key=REAL, base_url=server.base_url, retry_policy=policy
        )
        with (
            Gateway([upstream_of(model, {})], Prices()) as gw,
            through_gateway(gw, model, tmp_path, None) as gated,
        ):
            reply = gated.complete([Message(role="user", content="hi")])
    assert reply.message.content == "after the drop" and reply.retries == 1
    assert reply.cost_usd == pytest.approx(gpt_4o(100, 10))
    assert [r.status for r in read_records(tmp_path)] == [0, 200]


def test_anthropic_thinking_tokens_are_read_by_the_gateway_as_the_model_read_them(
    tmp_path: Path,
) -> None:
    usage = {
        "input_tokens": 50,
        "output_tokens": 80,
        "output_tokens_details": {"thinking_tokens": 30},
    }
    with FakeAnthropicServer(expected_key=REAL, lifetime_s=60) as server:
        server.push(Reply("direct", raw_usage=usage), Reply("gated", raw_usage=usage))
        model = AnthropicChatModel("claude-sonnet-4-5", api_key=REAL, base_url=server.base_url)
        direct = model.complete([Message(role="user", content="hi")])
        with (
            Gateway([upstream_of(model, {})], Prices()) as gw,
            through_gateway(gw, model, tmp_path, None) as gated,
        ):
            through = gated.complete([Message(role="user", content="hi")])
    assert through.message.content == "gated"
    assert through.usage == direct.usage and through.usage.reasoning_tokens == 30
    assert through.cost_usd == pytest.approx(direct.cost_usd)  # type: ignore[arg-type]
