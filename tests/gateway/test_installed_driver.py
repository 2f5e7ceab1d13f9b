"""The parts of an installed agent that need no engine: its prompt, where its calls go, how a
session's end is read, and the run's budget as the gateway's run cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swelancer.agents.installed import INSTALLED, installed, mounts_for, record_for
from swelancer.agents.installed.claude_code import ClaudeCode
from swelancer.agents.installed.driver import _ending, gateway_fault, upstream_for
from swelancer.agents.installed.mini_swe_agent import MiniSweAgent
from swelancer.agents.installed.prompt import terminal_prompt
from swelancer.agents.loop import RunBudget
from swelancer.errors import ConfigError
from swelancer.gateway.ledger import AttemptLedger, CallRecord, RunLedger
from tests.fakes.sandbox_images import ic_task, manager_task


def test_the_prompt_is_the_task_with_terminal_instructions() -> None:
    ic = terminal_prompt(ic_task(title="Cents are lost", description="4.35 becomes 4.34"))
    assert "# Cents are lost" in ic and "4.35 becomes 4.34" in ic and "$250" in ic
    assert "terminal" in ic and "```python" not in ic and "<user-tool>" not in ic
    assert "run `/tmp/swelancer-agent/user-tool`" in ic  # offered to IC tasks only
    manager = terminal_prompt(manager_task(title="Totals", description="mixed currencies"))
    assert "/app/expensify/manager_decisions.json" in manager
    assert "end your session" in manager and "user-tool" not in manager


def test_calls_go_to_the_family_of_the_agent_with_the_key_of_this_host() -> None:
    agent = ClaudeCode()
    up = upstream_for(agent, None, {"ANTHROPIC_API_KEY": "k1"})
    assert (up.base_url, up.api_key) == ("https://api.anthropic.com", "k1")
    up = upstream_for(agent, None, {"ANTHROPIC_API_KEY": "k1", "ANTHROPIC_BASE_URL": "http://x"})
    assert up.base_url == "http://x"
    assert upstream_for(agent, "http://y", {"ANTHROPIC_API_KEY": "k"}).base_url == "http://y"
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        upstream_for(agent, None, {"OPENAI_API_KEY": "k"})
    codex = INSTALLED["codex"]()
    assert upstream_for(codex, None, {"OPENAI_API_KEY": "k"}).base_url.endswith("/v1")


def test_the_session_end_is_read_from_the_log_and_the_gateway(tmp_path: Path) -> None:
    agent = ClaudeCode()
    log = tmp_path / "log.jsonl"
    result = {"type": "result", "subtype": "success", "num_turns": 3}
    log.write_text("not json\n" + json.dumps({"type": "assistant"}) + "\n" + json.dumps(result))
    assert _ending(agent, log, False, []) == ("done", 3)
    assert _ending(agent, log, True, []) == ("max_seconds", 3)
    assert _ending(agent, log, False, ["tools", "cost_cap"]) == ("max_cost", 3)
    log.write_text(json.dumps({"type": "result", "subtype": "error_max_turns", "num_turns": 5}))
    assert _ending(agent, log, False, []) == ("max_turns", 5)
    log.write_text("")
    assert _ending(agent, log, False, []) == ("done", 0)


def test_mini_swe_agents_trajectory_says_its_turns_and_its_step_limit(tmp_path: Path) -> None:
    agent = MiniSweAgent()
    log = tmp_path / "mini.traj.json"
    info = {"exit_status": "Submitted", "model_stats": {"api_calls": 4, "instance_cost": 0}}
    log.write_text(json.dumps({"info": info, "messages": []}, indent=2))
    assert _ending(agent, log, False, []) == ("done", 4)
    info = {"exit_status": "LimitsExceeded", "model_stats": {"api_calls": 30}}
    log.write_text(json.dumps({"info": info}))
    assert _ending(agent, log, False, []) == ("max_turns", 30)
    assert _ending(agent, log, False, ["cost_cap"]) == ("max_cost", 30)
    for broken in ("", "[1, 2]", '{"info": {"model_stats": {"api_calls": "x"}}}'):
        log.write_text(broken)
        assert _ending(agent, log, False, []) == ("done", 0)


def test_mini_swe_agent_speaks_the_protocol_its_model_needs() -> None:
    mini = MiniSweAgent()
    for model, family, name in [
        ("gpt-4o", "openai", "openai/gpt-4o"),
        ("openai/gpt-4o", "openai", "openai/gpt-4o"),
        ("claude-sonnet-4-5", "anthropic", "anthropic/claude-sonnet-4-5"),
        ("anthropic/claude-sonnet-4-5", "anthropic", "anthropic/claude-sonnet-4-5"),
    ]:
        agent = mini.for_model(model)
        assert (agent.family, agent.model_arg(model)) == (family, name), model
    assert mini.family == "openai"  # the agent of the registry is left as it was
    up = upstream_for(mini.for_model("claude-x"), None, {"ANTHROPIC_API_KEY": "k"})
    assert up.family == "anthropic"
    with pytest.raises(ConfigError, match="openrouter"):
        mini.for_model("openrouter/some-model")
    argv = mini.argv("/tmp/p.md", "openai/gpt-4o", 7)
    assert "agent.step_limit=7" in argv[-1] and "--task=" in argv[-1] and "1>&2" in argv[-1]
    assert ClaudeCode().for_model("anthropic/x").model_arg("anthropic/x") == "x"


def test_the_run_cap_is_the_runs_budget_shared_with_host_driven_agents(tmp_path: Path) -> None:
    budget = RunBudget(1.0)
    budget.add(0.9)  # spent by earlier attempts (a resume) or a host-driven agent
    ledger = AttemptLedger(tmp_path, RunLedger(budget=budget))
    assert ledger.refusal() is None
    ledger.record(CallRecord(method="POST", path="/v1/messages", cost_usd=0.2, metered=True))
    assert budget.spent_usd == pytest.approx(1.1)
    refusal = ledger.refusal()
    assert refusal is not None and refusal[0] == "run_cost_cap" and "1.1000" in refusal[1]


def test_the_run_records_and_mounts_the_pinned_agent_only_for_installed_modes() -> None:
    assert installed("tools") is None and mounts_for("upstream") == () and record_for("x") is None
    (mount,) = mounts_for("claude-code")
    assert mount.read_only and mount.source == f"swelancer-agent-claude-code-{ClaudeCode.version}"
    assert record_for("claude-code") == {
        "name": "claude-code",
        "version": ClaudeCode.version,
        "volume": mount.source,
    }


def test_a_session_that_ended_on_a_call_the_gateway_could_not_carry_is_its_fault() -> None:
    def call(**fields: object) -> CallRecord:
        return CallRecord(method="POST", path="/v1/messages", **fields)  # type: ignore[arg-type]

    cut = call(status=502, error="ConnectError: unreachable")
    answered = call(status=200, metered=True)
    assert gateway_fault([answered, cut]) == "ConnectError: unreachable"
    assert gateway_fault([cut, answered]) is None  # the CLI retried and was answered
    assert gateway_fault([answered, call(status=403, refused="cost_cap")]) is None
    assert gateway_fault([]) is None
    asked = CallRecord(method="POST", path="/swelancer/user-tool", status=200)
    assert gateway_fault([cut, asked]) == "ConnectError: unreachable"
