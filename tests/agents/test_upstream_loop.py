"""The upstream protocol's turn rules, as upstream's solver applies them: when a reply ends the
attempt, which code runs, and what the model is told back. Driven through the real loop."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from swelancer.agents.base import AgentEnv, Limits
from swelancer.agents.loop import NO_CODE_BLOCK, NO_OUTPUT, ModelAgent
from swelancer.benchmark.user_tool_reply import UserToolReply
from swelancer.models.scripted import ScriptedChatModel
from swelancer.sandbox.base import ExecResult
from swelancer.tasks.models import IcTask, ManagerTask

IC = IcTask(task_id="7", price_usd=100.0, title="t", description="d", test_folders=["7"])
MANAGER = ManagerTask(task_id="7-manager-0", price_usd=100.0, correct_proposal_id=1)


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def event(self, kind: str, **data: Any) -> None:
        self.events.append((kind, data))


class Shell:
    """Records the commands the loop runs; answers each with `output`."""

    def __init__(self, output: str = "out") -> None:
        self.commands: list[str] = []
        self.output = output

    def __call__(self, command: str, timeout: float) -> ExecResult:
        self.commands.append(command)
        return ExecResult(exit_code=0, output=self.output)


def run(tmp_path, replies, task=IC, output="out", max_turns=5):
    script = tmp_path / "script.json"
    script.write_text(json.dumps(replies))
    model = ScriptedChatModel(script)
    shell = Shell(output)
    calls: list[str] = []

    def user_tool() -> UserToolReply:
        calls.append("ut")
        return UserToolReply("TRACE")

    env = AgentEnv(sandbox=None, user_tool=user_tool, run=shell)  # type: ignore[arg-type]
    agent = ModelAgent(model, mode="upstream")
    messages: list[str] = []
    original = model.complete

    def complete(msgs, tools=None):
        messages[:] = [m.content for m in msgs]
        return original(msgs, tools)

    model.complete = complete  # type: ignore[method-assign]
    outcome = agent.solve(task, env, Limits(max_turns=max_turns), Log())
    return outcome, shell, calls, messages


@pytest.mark.parametrize("reply", ["done", "DONE", "Done", "  DONE\n"])
def test_a_reply_that_is_just_done_in_any_case_ends_the_attempt(tmp_path, reply):
    outcome, shell, _, _ = run(tmp_path, [reply, "```python\nprint(1)\n```"])
    assert outcome.stop_reason == "done" and outcome.turns == 1 and shell.commands == []


@pytest.mark.parametrize("reply", ["I am done. DONE", "DONE!", "done.", "All DONE"])
def test_done_among_other_words_does_not_end_it(tmp_path, reply):
    outcome, _, _, messages = run(tmp_path, [reply], max_turns=2)
    assert outcome.turns == 2  # the first reply did not end it; the script then says DONE
    assert NO_CODE_BLOCK in messages


def test_the_first_python_block_runs_dedented_with_python_c(tmp_path):
    reply = (
        "Look:\n```python\n    import os\n    print(os.getcwd())\n```\n"
        "then\n```python\nprint(2)\n```"
    )
    _, shell, _, _ = run(tmp_path, [reply])
    assert shell.commands == [
        f"python -c {shlex.quote('import os' + chr(10) + 'print(os.getcwd())')}"
    ]


def test_only_blocks_fenced_as_python_run(tmp_path):
    _, shell, _, messages = run(tmp_path, ["```py\nprint(1)\n```", "```bash\nls\n```"], max_turns=3)
    assert shell.commands == []
    assert messages.count(NO_CODE_BLOCK) == 2


def test_the_user_tool_comes_first_even_beside_a_code_block(tmp_path):
    _, shell, calls, messages = run(tmp_path, ["<user-tool>\n```python\nprint(1)\n```"])
    assert calls == ["ut"] and shell.commands == []
    assert "TRACE\nTurns left: 4" in messages


def test_the_output_comes_back_with_the_turns_left(tmp_path):
    _, _, _, messages = run(tmp_path, ["```python\nprint(1)\n```"], output="hello")
    assert "hello\nTurns left: 4" in messages


def test_no_output_is_said_so(tmp_path):
    _, _, _, messages = run(tmp_path, ["```python\npass\n```"], output="")
    assert f"{NO_OUTPUT}\nTurns left: 4" in messages


def test_a_reply_without_a_block_is_reminded_without_a_turn_count(tmp_path):
    _, _, _, messages = run(tmp_path, ["Let me think."], max_turns=3)
    assert NO_CODE_BLOCK in messages and not any(
        m.startswith(NO_CODE_BLOCK + "\n") for m in messages
    )


def test_manager_tasks_follow_the_same_rules(tmp_path):
    outcome, shell, _, _ = run(tmp_path, ["```python\nprint(1)\n```", "done"], task=MANAGER)
    assert outcome.stop_reason == "done" and len(shell.commands) == 1
