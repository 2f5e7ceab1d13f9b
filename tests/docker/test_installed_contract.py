"""An installed agent on the contract images (upstream's runtime scripts, verbatim): Claude
Code, through `swelancer run --agent claude-code`, fixes contract task 91342 and picks the
manager's proposal of 96120-manager-0, each in its task container with no network, its model
calls through the run's gateway to a fake Anthropic server on this host. Both earn their
price."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_runs import containers, unique
from contract.build import IMAGE_PREFIX, IMAGE_TAG, MANIFEST

from swelancer.gateway.ledger import read_records
from swelancer.models.base import ToolCall
from tests.fakes.script import Reply
from tests.gateway.streaming import StreamingAnthropicServer

pytestmark = pytest.mark.docker

REAL = "sk-ant-real-secret-contract-0123"
FIX = "sed -i 's/{whole:,}.{minor}\"/{whole:,}.{minor:02d}\"/' src/libs/CurrencyUtils.py"
DECIDE = "echo '{\"selected_proposal_id\": 1}' > /app/expensify/manager_decisions.json"


def session(body: dict[str, Any]) -> Reply:
    """One Bash call (the fix, or the decision file), then a closing text."""
    if "Bash" not in [t.get("name") for t in body.get("tools") or []]:
        return Reply(text="ok", input_tokens=50, output_tokens=2)
    first = json.dumps(body["messages"][0]["content"])
    command = DECIDE if "manager_decisions.json" in first else FIX
    answered = any(
        block.get("type") == "tool_result"
        for message in body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
    )
    if answered:
        return Reply(text="Done.", input_tokens=2100, output_tokens=10)
    call = ToolCall(id="toolu_0", name="Bash", arguments={"command": command})
    return Reply(tool_calls=[call], input_tokens=2000, output_tokens=40)


@pytest.fixture
def fake() -> Iterator[StreamingAnthropicServer]:
    with StreamingAnthropicServer(expected_key=REAL) as server:
        yield server  # type: ignore[misc]


def test_claude_code_earns_a_contract_fix_and_a_contract_decision(
    tmp_path: Path, contract_images: dict[str, str], fake: StreamingAnthropicServer
) -> None:
    fake.answer_with(session)
    run_id = unique("contract-claude-code")
    run_dir = tmp_path / run_id
    done = subprocess.run(
        [sys.executable, "-m", "swelancer", "run", "--manifest", str(MANIFEST),
         "--agent", "claude-code", "--model", "claude-sonnet-4-5",
         "--image-prefix", IMAGE_PREFIX, "--image-tag", IMAGE_TAG,
         "--results-dir", str(tmp_path), "--run-id", run_id, "--quiet", "-j", "2",
         "--task", "91342", "--task", "96120-manager-0"],
        env={**os.environ, "ANTHROPIC_API_KEY": REAL, "ANTHROPIC_BASE_URL": fake.url},
        capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = (run_dir / "attempts.jsonl").read_text().splitlines()
    got = {r["task_id"]: r for r in map(json.loads, lines)}
    assert {k: (r["status"], r["earned_usd"]) for k, r in got.items()} == {
        "91342": ("passed", 1000.0),
        "96120-manager-0": ("passed", 2000.0),
    }
    for task, record in got.items():
        calls = [r for r in read_records(run_dir / "attempts" / task / "1") if r.metered]
        assert calls and record["cost_usd"] == pytest.approx(sum(r.cost_usd or 0 for r in calls))
    assert containers(run_id) == []
