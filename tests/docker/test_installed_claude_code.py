"""The real Claude Code CLI (npm, pinned) in a demo-image container with no network: task 101
set up by the image's entry point, the agent's volume mounted read-only, the model gateway's
socket folder mounted and opened on a loopback port. A fake Anthropic server on this host
plays the session: Claude Code asks, the fake answers with one Bash call that fixes the bug,
then ends the turn. The fix is in the repository, the session's stream-JSON log is kept, and
every model call went through the gateway, metered, with the real key only behind it.

The volume is prepared once per version and kept by its labels (`swelancer cleanup` leaves
it; `docker volume rm swelancer-agent-claude-code-<version>` makes it again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swelancer.agents.installed.claude_code import ClaudeCode
from swelancer.agents.installed.runner import run_session
from swelancer.agents.installed.volume import mount as agent_mount
from swelancer.agents.installed.volume import prepare
from swelancer.gateway.inside import mount as gateway_mount
from swelancer.gateway.inside import open_port
from swelancer.gateway.ledger import read_records
from swelancer.gateway.server import Gateway, Upstream
from swelancer.models.base import ToolCall
from swelancer.models.prices import Prices
from swelancer.sandbox.base import SandboxSpec
from swelancer.sandbox.docker.provider import DockerProvider
from tests.fakes.script import Reply
from tests.gateway.streaming import StreamingAnthropicServer

pytestmark = pytest.mark.docker

REAL = "sk-ant-real-secret-cc-0123456789"
FIX = (
    "sed -i 's/return int(value \\* 10 \\*\\* places(currency))/"
    "return int(round(value * 10 ** places(currency)))/' expenses/money.py && echo FIXED-101"
)


def session(body: dict[str, Any]) -> Reply:
    """Claude Code's side calls (no tools) get a short text; its main loop gets one Bash call
    with the fix, then, once the call's result is back, a closing text."""
    tools = [t.get("name") for t in body.get("tools") or []]
    if "Bash" not in tools:
        return Reply(text="ok", input_tokens=50, output_tokens=2)
    results = [
        block
        for message in body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    if not results:
        call = ToolCall(id="toolu_fix101", name="Bash",
                        arguments={"command": FIX, "description": "Fix the rounding"})  # fmt: skip
        return Reply(text="Fixing the amount parser.", tool_calls=[call],
                     input_tokens=2000, output_tokens=40)  # fmt: skip
    return Reply(text="The amounts now keep their cents.", input_tokens=2100, output_tokens=10)


@pytest.fixture(scope="module")
def claude_volume(docker_client: Any) -> dict[str, Any]:
    return prepare(docker_client, ClaudeCode())


@pytest.fixture
def fake() -> Iterator[StreamingAnthropicServer]:
    with StreamingAnthropicServer(expected_key=REAL) as server:
        yield server  # type: ignore[misc]


def test_claude_code_fixes_task_101_through_the_gateway(
    tmp_path: Path,
    docker_client: Any,
    demo_image: str,
    docker_run_id: str,
    claude_volume: dict[str, Any],
    fake: StreamingAnthropicServer,
) -> None:
    agent = ClaudeCode()
    assert claude_volume["version"] == agent.version and claude_volume["bytes"] > 0
    fake.answer_with(session)
    upstream = Upstream(family="anthropic", base_url=fake.url, api_key=REAL)
    with Gateway([upstream], Prices()) as gw, gw.open(tmp_path / "attempt") as gate:
        spec = SandboxSpec(
            image=demo_image,
            env={"ISSUE_ID": "101"},
            labels={"swelancer.run_id": docker_run_id},
            mounts=(gateway_mount(gate), agent_mount(agent)),
        )
        box = DockerProvider(docker_client).start(spec)
        try:
            until = time.monotonic() + 600
            while box.exec(["cat", "/setup_done.txt"], timeout=30).output.strip() != "done":
                assert time.monotonic() < until and box.alive(), box.logs()[-2000:]
                time.sleep(1)
            box.disconnect_network()
            env = open_port(box, deadline_s=900)  # type: ignore[arg-type]
            ended = run_session(
                box, agent, "Amounts with cents are saved one cent short; fix it.",
                model="claude-sonnet-4-5", max_turns=5, wall_s=600, cwd="/app/expensify",
                gateway_env=env, folder=tmp_path / "attempt",
            )  # fmt: skip
            diff = box.exec(["git", "diff"], timeout=30, workdir="/app/expensify").output
            ro = box.exec(["touch", "/opt/swelancer-agent/x"], timeout=30)
        finally:
            box.remove()
    assert ended.exit_code == 0 and not ended.timed_out, ended.stderr_tail
    assert "+        return int(round(value * 10 ** places(currency)))" in diff.replace(
        "+    return", "+        return"
    )
    assert ro.exit_code != 0  # the agent's volume is read-only in the task container
    events = [json.loads(line) for line in ended.log.read_text().splitlines() if line.strip()]
    assert events[-1]["type"] == "result" and events[-1]["subtype"] == "success"
    assert any("FIXED-101" in json.dumps(e) for e in events)  # the Bash call's output
    # Every model call went through the gateway, with the real key behind it, and was metered.
    records = read_records(tmp_path / "attempt")
    calls = [r for r in records if r.path.startswith("/v1/messages") and r.metered]
    assert (
        len(calls) == len([r for r in fake.requests if r.path.split("?")[0] == "/v1/messages"]) >= 2
    )
    assert all(r.headers.get("x-api-key") == REAL for r in fake.requests)
    assert all(r.cost_usd and r.cost_usd > 0 for r in calls)
    assert REAL not in ended.log.read_text()
