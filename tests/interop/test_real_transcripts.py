"""Exports of transcripts the turn loop really wrote: an IC attempt whose model calls tools
through the OpenAI SDK against the fake server, and a manager attempt on upstream's protocol
(code blocks, no tool calls), both run on fake sandboxes and gathered into one run directory.
"""

from __future__ import annotations

import json
import shutil

import pytest
from fakes.runs import fake_attempt, run_cli
from fakes.sandbox import FakeProvider
from fakes.sandbox_images import CWD, FAKE_IMAGE, fixed_code, ic_task, manager_task, source_of
from fakes.sandbox_images import task_image as fake_task_image

from swelancer.agents.loop import ModelAgent
from swelancer.models.base import ToolCall
from swelancer.models.openai import OpenAIChatModel
from swelancer.models.retry import RetryPolicy
from swelancer.models.scripted import ScriptedChatModel
from swelancer.report.metrics import compute
from swelancer.run.results import RunDir
from tests.fakes import FakeOpenAIServer, Reply

inspect_log = pytest.importorskip("inspect_ai.log")

KEY = "sk-test-interop"
DECIDE = "import json\njson.dump({'selected_proposal_id': 0}, open('/app/expensify/manager_decisions.json', 'w'))"  # noqa: E501


@pytest.fixture
def run(tmp_path):
    provider = FakeProvider(fake_task_image(FAKE_IMAGE, ic=["101"], managers=["0df39e7"]))

    def fix(box, call, match):
        box.fs.write(f"{CWD}/{source_of('101')}", fixed_code("101"))
        return 0, "fixed\n"

    provider.on("agent_fix", r".*fix it.*", fix, shells=("bash -i", None))
    provider.on("agent_ls", r".*\bls\b.*", lambda box, call, m: (0, "src\n"),
                shells=("bash -i", None))  # fmt: skip

    def decide(box, call, match):
        box.fs.write(f"{CWD}/manager_decisions.json", b'{"selected_proposal_id": 0}')
        return 0, ""

    provider.on("agent_decide", r".*manager_decisions.*", decide, shells=("bash -i", None))
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    with FakeOpenAIServer(expected_key=KEY, lifetime_s=120) as server:
        server.push(
            Reply("Looking, then fixing.", [
                ToolCall(id="call_a", name="bash", arguments={"command": "ls"}),
                ToolCall(id="call_b", name="python", arguments={"code": "print('fix it')"}),
            ], input_tokens=1500, output_tokens=60),
            Reply("Fixed.", [ToolCall(id="call_c", name="finish")], input_tokens=1700,
                  output_tokens=20),
        )  # fmt: skip
        retry = RetryPolicy(budget_s=20, base_delay_s=0.01)
        chat = OpenAIChatModel("gpt-4o", api_key=KEY, base_url=server.base_url, retry_policy=retry)
        tools = ModelAgent(chat, mode="tools", name="gpt-4o")
        ic = fake_attempt(provider, attempts, ic_task("101"), tools)
    script = tmp_path / "script.json"
    script.write_text(json.dumps([f"I pick proposal 0.\n```python\n{DECIDE}\n```", "DONE"]))
    upstream = ModelAgent(ScriptedChatModel(script), name="mock/scripted")
    manager = fake_attempt(provider, attempts, manager_task("110-manager-0"), upstream)
    rd = RunDir(tmp_path / "results" / "real")
    rd.create()
    rd.write_run({"run_id": "real", "model": "gpt-4o", "config": {"run": {"tries": 1}},
                  "status": "complete"})  # fmt: skip
    for folder, record in (ic, manager):
        shutil.move(folder, rd.attempt_dir(record.task_id, record.attempt))
        rd.append(record.model_copy(update={"run_id": "real"}))
    return rd.path


def test_a_tool_calling_attempt_reads_back_call_by_call(run, tmp_path, capsys):
    records = {r.task_id: r for r in RunDir(run).records()}
    assert records["101"].status == "passed", records["101"]
    assert records["110-manager-0"].status == "passed", records["110-manager-0"]
    target = tmp_path / "real.eval"
    assert run_cli("export", str(run), "-o", str(target), capsys=capsys)[0] == 0
    log = inspect_log.read_eval_log(str(target))
    ic = next(s for s in log.samples if s.id == "101")
    calls = [c for m in ic.messages if m.role == "assistant" for c in m.tool_calls or []]
    assert [(c.id, c.function) for c in calls] == [
        ("call_a", "bash"), ("call_b", "python"), ("call_c", "finish")
    ]
    answers = {m.tool_call_id: m.text for m in ic.messages if m.role == "tool"}
    assert answers["call_a"] == "src\n" and "fixed" in answers["call_b"]
    assert set(answers) == {"call_a", "call_b", "call_c"}, "every call is answered"
    usage = ic.model_usage["gpt-4o"]
    assert (usage.input_tokens, usage.output_tokens) == (3200, 80)
    assert ic.scores["swelancer"].metadata["earned"] == 250.0
    report = compute(run)
    assert sum(s.scores["swelancer"].metadata["earned"] for s in log.samples) == report.earned_usd


def test_an_upstream_protocol_attempt_keeps_its_code_blocks_and_outputs(
    run, tmp_path, capsys, harbor_trajectory
):
    target = tmp_path / "real.eval"
    assert run_cli("export", str(run), "-o", str(target), capsys=capsys)[0] == 0
    manager = next(s for s in inspect_log.read_eval_log(str(target)).samples
                   if s.id == "110-manager-0")  # fmt: skip
    replies = [m for m in manager.messages if m.role == "assistant"]
    assert "```python" in replies[0].text and not replies[0].tool_calls
    after = manager.messages[manager.messages.index(replies[0]) + 1]
    assert after.role == "user", "upstream's protocol sends the output back as a user turn"
    assert replies[-1].text == "DONE"
    trials = tmp_path / "t"
    code, _, err = run_cli("export", str(run), "-f", "atif", "-o", str(trials), capsys=capsys)
    assert code == 0, err
    paths = sorted(trials.glob("*/agent/trajectory.json"))
    assert len(paths) == 2
    for path in paths:
        harbor_trajectory.model_validate(json.loads(path.read_text()))
