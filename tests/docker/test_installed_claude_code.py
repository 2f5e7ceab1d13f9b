"""The real Claude Code CLI (npm, pinned) through `swelancer run`: in the demo image's task
container with no network, its volume mounted read-only, its model calls through the run's
gateway (a relay beside the container opens the loopback port). A fake Anthropic server on
this host plays the session: Claude Code asks, the fake answers with Bash calls (the
`user-tool` command, then the fix of task 101), then ends the turn; the hidden test grades
the fix. A manager task in the same run writes its decision file.

The volume is prepared once per version and kept by its labels (`swelancer cleanup` leaves
it; `docker volume rm swelancer-agent-claude-code-<version>` makes it again).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_runs import FIX_101, metered_as_the_gateway_says, records, run_installed, unique

from swelancer.agents.installed.claude_code import ClaudeCode
from swelancer.agents.installed.user_tool import COMMAND as USER_TOOL
from swelancer.gateway.ledger import read_records
from swelancer.models.base import ToolCall
from tests.fakes.script import Reply
from tests.gateway.streaming import StreamingAnthropicServer

pytestmark = pytest.mark.docker

REAL = "sk-ant-real-secret-cc-0123456789"


DECIDE = "echo '{\"selected_proposal_id\": 2}' > /app/expensify/manager_decisions.json"


def session(body: dict[str, Any]) -> Reply:
    """Claude Code's side calls (no tools) get a short text. Its main loop on task 101: the
    `user-tool` command its prompt names, then the fix, then a closing text; on manager task
    111: the decision file its prompt names, then a closing text. One Bash call per reply."""
    tools = [t.get("name") for t in body.get("tools") or []]
    if "Bash" not in tools:
        return Reply(text="ok", input_tokens=50, output_tokens=2)
    first = json.dumps(body["messages"][0]["content"])
    if "manager_decisions.json" in first:
        steps = [DECIDE]
    else:
        assert USER_TOOL in first  # the IC prompt offers the user tool
        steps = [USER_TOOL, FIX_101]
    done = sum(
        block.get("type") == "tool_result"
        for message in body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
    )
    if done < len(steps):
        call = ToolCall(id=f"toolu_{done}", name="Bash",
                        arguments={"command": steps[done], "description": "Do it"})  # fmt: skip
        return Reply(text="Next step.", tool_calls=[call], input_tokens=2000, output_tokens=40)
    return Reply(text="Done.", input_tokens=2100, output_tokens=10)


@pytest.fixture
def fake() -> Iterator[StreamingAnthropicServer]:
    with StreamingAnthropicServer(expected_key=REAL) as server:
        yield server  # type: ignore[misc]


def test_swelancer_run_with_claude_code_earns_task_101(
    tmp_path: Path, docker_client: Any, demo_image: str, fake: StreamingAnthropicServer
) -> None:
    """`swelancer run --split demo --task 101 --task 111-manager-0 --agent claude-code --model
    claude-sonnet-4-5`: the volume prepared (or found), the CLI run in each task container with
    no network, the fix graded by the hidden test and the manager's decision file by the
    manager's choice, tokens and dollars those the gateway metered."""
    fake.answer_with(session)
    run_id = unique("claude-code")
    tasks = ["--task", "101", "--task", "111-manager-0"]
    run_installed(tmp_path, run_id, "claude-code", "claude-sonnet-4-5",
                  {"ANTHROPIC_API_KEY": REAL, "ANTHROPIC_BASE_URL": fake.url}, *tasks)  # fmt: skip
    run_dir = tmp_path / run_id
    record, manager = sorted(records(run_dir), key=lambda r: r["task_id"])
    assert record["status"] == "passed" and record["earned_usd"] == 250.0, record
    assert manager["status"] == "passed" and manager["earned_usd"] == 250.0, manager
    folder = run_dir / "attempts" / "101" / "1"
    events = [json.loads(x) for x in (folder / "claude-code.jsonl").read_text().splitlines() if x]
    assert events[-1]["type"] == "result" and events[-1]["subtype"] == "success"
    assert any("FIXED-101" in json.dumps(e) for e in events)  # the Bash call ran in the box
    # `user-tool` asked the harness through the gateway's port; the user tool ran (a trace)
    # and its message came back to the CLI as the command's output.
    (asked,) = [r for r in read_records(folder) if r.path == "/swelancer/user-tool"]
    assert asked.status == 200 and "user_tool" in asked.response["reply"]
    trace = asked.response["reply"].split("\n")[1].strip()  # the trace's folder
    assert trace.startswith("/app/expensify/user_tool/output_")
    assert any(trace in json.dumps(e) for e in events)
    ran = [json.loads(x) for x in (folder / "transcript.jsonl").read_text().splitlines()]
    assert [e["outcome"] for e in ran if e["kind"] == "user_tool"] == ["finished"]
    # Each answered call is a turn of the transcript (what `swelancer view` shows), as it happened.
    turns = [e for e in ran if e["kind"] == "model"]
    commands = [c["arguments"]["command"] for t in turns for c in t["tool_calls"]]
    assert commands == [USER_TOOL, FIX_101]
    assert [t["turn"] for t in turns] == list(range(1, len(turns) + 1))
    kinds = [e["kind"] for e in ran]
    assert kinds.index("model") < kinds.index("user_tool") < len(kinds) - kinds[::-1].index("model")
    # Every model call went through the gateway, with the real key behind it, and was metered;
    # the record's tokens and dollars are the gateway's.
    calls = metered_as_the_gateway_says(run_dir, run_id, record, folder, REAL,
                                        ClaudeCode().version)  # fmt: skip
    served = [r for r in fake.requests if r.path.split("?")[0] == "/v1/messages"]
    managers = read_records(run_dir / "attempts" / "111-manager-0" / "1")
    assert len(calls) + len([r for r in managers if r.metered]) == len(served) >= 5
    assert all(r.headers.get("x-api-key") == REAL for r in fake.requests)
    assert record["cost_usd"] > 0


def test_cleanup_keeps_installed_agents_volumes(docker_client: Any) -> None:
    """A run's leftovers are removed by label, an installed agent's volume is kept (it serves
    every later run); shown on two volumes of a run id of this test's own."""
    from swelancer.sandbox.docker.containers import remove_volumes

    run_id = unique("volumes")
    marks = {"swelancer": "1", "swelancer.run_id": run_id}
    kept = docker_client.volumes.create(
        name=f"{run_id}-agent", labels={**marks, "swelancer.role": "installed-agent"}
    )
    gone = docker_client.volumes.create(name=f"{run_id}-reach", labels=marks)
    try:
        assert remove_volumes(docker_client, run_id) == [gone.name]
        assert [v.name for v in docker_client.volumes.list(filters={"label": [
            f"swelancer.run_id={run_id}"]})] == [kept.name]  # fmt: skip
    finally:
        kept.remove(force=True)
