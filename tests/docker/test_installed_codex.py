"""The real Codex CLI (npm, pinned; its static native binary) through `swelancer run`: in the
demo image's task container with no network, its model calls (OpenAI Responses, streamed)
through the run's gateway. A fake Responses server on this host plays the session: one
`exec_command` call that fixes task 101, then a closing message; the hidden test grades it.
Codex's own web search is switched off in its config: the gateway would refuse the call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_runs import FIX_101, metered_as_the_gateway_says, records, run_installed, unique

from swelancer.agents.installed.codex import Codex
from swelancer.gateway.ledger import read_records
from swelancer.models.base import ToolCall
from tests.fakes.script import Reply
from tests.gateway.streaming import FakeResponsesServer

pytestmark = pytest.mark.docker

REAL = "sk-openai-real-secret-codex-0123"


def session(body: dict[str, Any]) -> Reply:
    """One `exec_command` with the fix; once its output is back, a closing message."""
    items = body.get("input") if isinstance(body.get("input"), list) else []
    if not any(i.get("type") == "function_call_output" for i in items):
        call = ToolCall(id="call_fix101", name="exec_command", arguments={"cmd": FIX_101})
        return Reply(tool_calls=[call], input_tokens=3000, output_tokens=30)
    return Reply(text="Amounts keep their cents now.", input_tokens=3100, output_tokens=8)


def keys(fake: FakeResponsesServer) -> dict[str, str]:
    return {"OPENAI_API_KEY": REAL, "OPENAI_BASE_URL": f"{fake.url}/v1"}


@pytest.fixture
def fake() -> Iterator[FakeResponsesServer]:
    with FakeResponsesServer(expected_key=REAL) as server:
        yield server  # type: ignore[misc]


def test_swelancer_run_with_codex_earns_task_101(
    tmp_path: Path, docker_client: Any, demo_image: str, fake: FakeResponsesServer
) -> None:
    fake.answer_with(session)
    run_id = unique("codex")
    run_installed(tmp_path, run_id, "codex", "gpt-4o", keys(fake), "--task", "101")
    run_dir = tmp_path / run_id
    (record,) = records(run_dir)
    folder = run_dir / "attempts" / "101" / "1"
    assert record["status"] == "passed" and record["earned_usd"] == 250.0, (
        record, (folder / "codex.stderr").read_text()[-2000:])  # fmt: skip
    events = [json.loads(x) for x in (folder / "codex.jsonl").read_text().splitlines() if x]
    assert events[-1]["type"] == "turn.completed" and record["turns"] == 2
    assert any("FIXED-101" in json.dumps(e) for e in events)  # the command ran in the box
    calls = metered_as_the_gateway_says(run_dir, run_id, record, folder, REAL, Codex().version)
    assert len(calls) == len(fake.requests) >= 2 and all(r.refused is None for r in calls)
    assert all(r.headers["authorization"] == f"Bearer {REAL}" for r in fake.requests)


def test_a_call_past_the_cost_cap_ends_the_session_as_the_agents_limit(
    tmp_path: Path, docker_client: Any, demo_image: str, fake: FakeResponsesServer
) -> None:
    """`--max-cost-usd 0.005`: the first call ($0.0078) spends the cap, the gateway refuses the
    next; Codex ends, the attempt is graded as it stands (its fix had run) and its stop reason
    is the cost limit, not an error."""
    fake.answer_with(session)
    run_id = unique("codex-cap")
    run_installed(tmp_path, run_id, "codex", "gpt-4o", keys(fake),
                  "--task", "101", "--max-cost-usd", "0.005")  # fmt: skip
    (record,) = records(tmp_path / run_id)
    assert (record["status"], record["stop_reason"]) == ("passed", "max_cost"), record
    folder = tmp_path / run_id / "attempts" / "101" / "1"
    refused = [r.refused for r in read_records(folder)]
    assert refused[0] is None and set(refused[1:]) == {"cost_cap"}
    assert len(fake.requests) == 1  # nothing past the cap reached the provider
    assert record["cost_usd"] == pytest.approx(0.0078)
