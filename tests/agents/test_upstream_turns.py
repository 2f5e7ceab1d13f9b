"""After the first message, the upstream agent tells the model what upstream's own solver tells
it, character for character: upstream's `SimpleAgentSolver.run` (imported by path from the
shared snapshot, its third-party imports replaced by stand-ins, its model call and computer
scripted) and our loop are given the same replies and the same command results, and every
message list each sends to the model is compared."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from upstream_data import UPSTREAM, need

from swelancer.agents.base import AgentEnv, Limits
from swelancer.agents.loop import ModelAgent
from swelancer.agents.prompt_choice import resolve_prompts
from swelancer.benchmark.user_tool_reply import UserToolReply
from swelancer.models.scripted import ScriptedChatModel
from swelancer.sandbox.base import ExecResult
from swelancer.tasks.models import IcTask

SOLVER = UPSTREAM / "preparedness_51052ce_swelancer" / "swelancer" / "solvers" / "swelancer_agent"
TASK = IcTask(task_id="7", price_usd=100.0, title="t", description="d", test_folders=["7"])

# What a command does, by the code it runs: (output, exit code), or "timeout".
Outcome = tuple[str, int] | str


def _stub(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


class _Logger:
    def bind(self, **_: Any) -> _Logger:
        return self

    def info(self, *_: Any, **__: Any) -> None: ...

    def exception(self, *_: Any, **__: Any) -> None: ...


class _Anything:
    def __init__(self, *_: Any, **__: Any) -> None: ...


def _field(default: Any = None, default_factory: Any = None, doc: str = "") -> Any:
    return default


@pytest.fixture
def upstream_solver(monkeypatch):
    """Upstream's solver module, imported with stand-ins for what it imports from outside the
    Python standard library and openai (nanoeval, alcatraz, chz, structlog, tenacity, ...)."""
    stubs = {
        "structlog": _stub("structlog"),
        "structlog.stdlib": _stub("structlog.stdlib", get_logger=lambda **_: _Logger(),
                                  BoundLogger=_Logger),
        "tenacity": _stub("tenacity"),
        "tiktoken": _stub("tiktoken"),
        "dotenv": _stub("dotenv", load_dotenv=lambda: None),
        "nanoeval_alcatraz": _stub("nanoeval_alcatraz"),
        "nanoeval_alcatraz.alcatraz_computer_interface": _stub(
            "nanoeval_alcatraz.alcatraz_computer_interface", AlcatrazComputerRuntime=_Anything
        ),
        "chz": _stub("chz", chz=lambda cls: cls, field=_field),
        "nanoeval": _stub("nanoeval"),
        "nanoeval.contrib": _stub("nanoeval.contrib"),
        "nanoeval.contrib.utils": _stub("nanoeval.contrib.utils", run_with_startup_timeout=None),
        "nanoeval.eval": _stub("nanoeval.eval", RolloutSystemError=RuntimeError),
        "nanoeval.solvers": _stub("nanoeval.solvers"),
        "nanoeval.solvers.computer_tasks": _stub("nanoeval.solvers.computer_tasks"),
        "nanoeval.solvers.computer_tasks.code_execution_interface": _stub(
            "nanoeval.solvers.computer_tasks.code_execution_interface",
            ComputerRuntime=_Anything, RuntimeConfig=_Anything,
        ),
        "nanoeval.solvers.computer_tasks.solver": _stub(
            "nanoeval.solvers.computer_tasks.solver", PythonCodingSolver=object
        ),
        "nanoeval.solvers.computer_tasks.steps": _stub(
            "nanoeval.solvers.computer_tasks.steps", FinalResult=dict, Step=_Anything
        ),
        "nanoeval.solvers.computer_tasks.task": _stub(
            "nanoeval.solvers.computer_tasks.task", ComputerTask=_Anything
        ),
        "swelancer.eval": _stub("swelancer.eval", SWELancerTask=_Anything),
    }  # fmt: skip
    for name, module in stubs.items():
        monkeypatch.setitem(sys.modules, name, module)
        parent, _, child = name.rpartition(".")
        if parent in stubs:  # `import a.b` then `a.b.x` reads the attribute
            setattr(stubs[parent], child, module)
    spec = importlib.util.spec_from_file_location("upstream_solver", need(SOLVER / "solver.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Output:
    def __init__(self, text: str) -> None:
        self.output = text.encode()


class _Computer:
    def __init__(self, commands: Callable[[str], Outcome], user_tool_times_out: bool) -> None:
        self.commands = commands
        self.user_tool_times_out = user_tool_times_out

    async def send_shell_command(self, command: str) -> _Output:
        if command.startswith("rm -rf /app/tests"):
            return _Output("")
        outcome = self.commands(command)
        if outcome == "timeout":
            await asyncio.sleep(3600)  # until upstream's own `asyncio.timeout` stops it
        return _Output(outcome[0])

    async def check_shell_command(self, command: str) -> _Output:
        if self.user_tool_times_out and "user-tool" in command:
            await asyncio.sleep(3600)
        return _Output("")  # the unzip and the user tool succeed


def upstream_messages(
    module, replies: list[str], first: str, commands, *, user_tool_times_out: bool = False
) -> list[list[dict]]:
    """Each message list upstream's solver sends to the model, its replies scripted."""
    seen: list[list[dict]] = []
    queue = list(replies)

    async def get_model_response(task, messages, model, effort, logger):
        seen.append([dict(m) for m in messages])
        return queue.pop(0), 0, 0, 0

    @contextlib.asynccontextmanager
    async def start(runtime, task, timeout):
        yield _Computer(commands, user_tool_times_out)

    task = _Anything()
    task.prompt = [{"role": "user", "content": first}]
    task.run_group_id = task.runs_dir = task.run_id = "x"
    task.input_tokens = task.output_tokens = task.reasoning_tokens = 0

    async def grade(computer, config):
        return "graded"

    task.grade = grade
    # upstream's 300 s limit, reached at once by what sleeps (its message still says 300)
    module.asyncio = types.SimpleNamespace(
        timeout=lambda seconds: asyncio.timeout(0.05), TimeoutError=asyncio.TimeoutError
    )
    module.get_model_response = get_model_response
    module.run_with_startup_timeout = start
    solver = module.SimpleAgentSolver()
    solver.computer_runtime = solver.runtime_config = None
    solver.model, solver.reasoning_effort = "openai/gpt-4o", None

    async def drive() -> None:
        async for _ in solver.run(task):
            pass

    asyncio.run(drive())
    return seen


def our_messages(tmp_path, replies: list[str], commands, user_tool: UserToolReply):
    """Each message list our upstream agent (upstream's prompts) sends, on the same script."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps(replies))
    model = ScriptedChatModel(script)
    seen: list[list[dict]] = []
    original = model.complete

    def complete(messages, tools=None):
        seen.append([{"role": m.role, "content": m.content} for m in messages])
        return original(messages, tools)

    model.complete = complete  # type: ignore[method-assign]

    def run(command: str, timeout: float) -> ExecResult:
        outcome = commands(command)
        if outcome == "timeout":
            return ExecResult(exit_code=-1, output="partial", timed_out=True)
        return ExecResult(exit_code=outcome[1], output=outcome[0])

    env = AgentEnv(sandbox=None, user_tool=lambda: user_tool, run=run)  # type: ignore[arg-type]
    prompts = resolve_prompts(str(UPSTREAM), show_progress=False)
    agent = ModelAgent(model, mode="upstream", prompts=prompts)

    class Log:
        def event(self, kind: str, **data: Any) -> None: ...

    agent.solve(TASK, env, Limits(max_turns=40), Log())
    return seen


def commands_of(table: dict[str, Outcome]) -> Callable[[str], Outcome]:
    def answer(command: str) -> Outcome:
        return next(v for k, v in table.items() if k in command)

    return answer


REPLIES = [
    "Let me look.\n```python\nprint('hello')\n```",
    "```python\nimport sys; sys.exit(3)\n```",
    "I will think first.",
    "```python\n    pass\n```",
    "```python\nprint('slow')\n```",
    "<user-tool>",
    "```python\nprint('spaces')\n```",
    "DONE",
]
TABLE: dict[str, Outcome] = {
    "hello": ("hello\n", 0),
    "sys.exit": ("Traceback: boom\n", 3),
    "pass": ("", 0),
    "slow": "timeout",
    "spaces": ("  \n", 0),
}


def test_every_message_after_the_first_is_what_upstreams_solver_sends(upstream_solver, tmp_path):
    ours = our_messages(tmp_path, REPLIES, commands_of(TABLE), UserToolReply("our words"))
    first = ours[0][0]["content"]
    theirs = upstream_messages(upstream_solver, REPLIES, first.split("\n\n" + _additional())[0],
                               commands_of(TABLE))  # fmt: skip
    assert len(theirs) == len(REPLIES) == len(ours)
    for n, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == b, f"model call {n + 1} differs"


def test_a_user_tool_that_timed_out_is_told_as_upstreams_timeout(upstream_solver, tmp_path):
    replies = ["<user-tool>", "DONE"]
    reply = UserToolReply("our words", "timed_out", limit_s=300.0)
    ours = our_messages(tmp_path, replies, commands_of(TABLE), reply)
    first = ours[0][0]["content"].split("\n\n" + _additional())[0]
    theirs = upstream_messages(upstream_solver, replies, first, commands_of(TABLE),
                               user_tool_times_out=True)  # fmt: skip
    assert ours == theirs
    assert "Timeout" in ours[1][-1]["content"], "the case is the one meant"


def _additional() -> str:
    prompts = resolve_prompts(str(UPSTREAM), show_progress=False)
    assert prompts.upstream is not None
    return prompts.upstream.constants["ADDITIONAL_AGENT_PROMPT"]
