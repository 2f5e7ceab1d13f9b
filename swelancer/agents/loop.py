"""The turn loop shared by model agents: the upstream protocol or tool calling, limits,
the user tool, context trimming, usage and cost.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
from textwrap import dedent
from typing import Any, Literal

from swelancer.agents.base import AgentEnv, AgentOutcome, Limits, TranscriptLog
from swelancer.agents.prompts import PromptSet, render_prompt
from swelancer.models.base import ChatModel, Message, ToolCall, ToolSpec, Usage
from swelancer.tasks.models import IcTask, ManagerTask

Mode = Literal["upstream", "tools"]
PYTHON_BLOCK = re.compile(r"```python\s*\n(.*?)\n```", re.DOTALL)
"""Upstream's rule: the first block fenced as ```python, dedented, is run with `python -c`."""
NO_CODE_BLOCK = (
    "No ```python code block was found in your reply. Each reply must hold one Python code "
    "block for me to run, or be just DONE when you have finished."
)
NO_OUTPUT = (
    "The code ran and printed nothing. If you have finished, reply with just DONE and your "
    "work will be graded; otherwise carry on."
)
MAX_OUTPUT_TO_MODEL = 30_000
CHARS_PER_TOKEN = 3.5


class RunBudget:
    """Dollars spent by the whole run, shared by every attempt; None means no limit."""

    def __init__(self, limit_usd: float | None = None) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self._lock = threading.Lock()

    def add(self, usd: float | None) -> None:
        if usd:
            with self._lock:
                self.spent_usd += usd

    @property
    def exhausted(self) -> bool:
        return self.limit_usd is not None and self.spent_usd >= self.limit_usd


def clip(text: str, limit: int = MAX_OUTPUT_TO_MODEL) -> str:
    """Keep the head and tail of a long output, saying how much was left out."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters left out ...]\n{text[-half:]}"


def _estimate_tokens(messages: list[Message]) -> int:
    chars = sum(len(m.content) + sum(len(json.dumps(c.arguments)) for c in m.tool_calls)
                for m in messages)  # fmt: skip
    return int(chars / CHARS_PER_TOKEN) + 4 * len(messages)


def trim_context(messages: list[Message], keep_head: int, budget_tokens: int) -> list[Message]:
    """Drop the oldest turns (an assistant message and the replies to it) until the estimate
    fits `budget_tokens`; the prompt (`keep_head` messages) and the newest turn always stay."""
    head, rest = messages[:keep_head], messages[keep_head:]
    turns: list[list[Message]] = []
    for message in rest:
        if message.role == "assistant" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    while len(turns) > 1 and _estimate_tokens(head + [m for t in turns for m in t]) > budget_tokens:
        turns.pop(0)
    return head + [m for t in turns for m in t]


TOOLS = {
    "bash": ToolSpec(
        name="bash",
        description="Run a bash command in the repository and return its output.",
        parameters={
            "type": "object",
            "properties": {"command": {"type": "string", "description": "The command."}},
            "required": ["command"],
        },
    ),
    "python": ToolSpec(
        name="python",
        description="Run Python code (python3 -c) in the repository and return its output.",
        parameters={
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The code."}},
            "required": ["code"],
        },
    ),
    "user_tool": ToolSpec(
        name="user_tool",
        description="Have a user perform the issue's steps on your version of the app; returns "
        "the trace of what they did and saw.",
    ),
    "finish": ToolSpec(
        name="finish",
        description="End your work. Manager tasks: give the chosen proposal's number.",
        parameters={
            "type": "object",
            "properties": {
                "selected_proposal_id": {
                    "type": "integer",
                    "description": "Manager tasks only: the number of the proposal you accept.",
                }
            },
        },
    ),
}


class ModelAgent:
    """Drives a ChatModel through an attempt, in the upstream protocol or with tools."""

    def __init__(
        self,
        model: ChatModel,
        *,
        mode: Mode = "upstream",
        prompts: PromptSet | None = None,
        budget: RunBudget | None = None,
        name: str | None = None,
    ) -> None:
        self.model = model
        self.mode = mode
        self.prompts = prompts or PromptSet()
        """The words sent before the first reply (`render_prompt`); ours unless given."""
        self.budget = budget or RunBudget()
        self.name = name or model.name

    # -- the loop -------------------------------------------------------------------------

    def solve(
        self, task: IcTask | ManagerTask, env: AgentEnv, limits: Limits, log: TranscriptLog
    ) -> AgentOutcome:
        prompt = render_prompt(task, mode=self.mode, prompts=self.prompts)
        messages = [Message(role="user", content=text) for text in prompt]
        for text in prompt:
            log.event("prompt", role="user", content=text)
        tools = self._tools(task) if self.mode == "tools" else None
        outcome = AgentOutcome(turns=0, usage=Usage(), cost_usd=0.0, stop_reason="max_turns")
        started = time.monotonic()
        window = int(getattr(self.model, "context_window", 128_000))
        budget_tokens = int(window * 0.85) - 8_000

        while outcome.turns < limits.max_turns:
            stop = self._limit_reached(limits, outcome, started)
            if stop:
                outcome.stop_reason = stop
                log.event("limit", reason=stop)
                return outcome
            t0 = time.monotonic()
            response, budget_tokens = self._complete(
                messages, len(prompt), budget_tokens, tools, log
            )
            if response is None:
                outcome.stop_reason = "context_window"
                log.event("limit", reason="context_window")
                return outcome
            outcome.turns += 1
            outcome.usage = outcome.usage + response.usage
            outcome.model_retries += response.retries
            if response.cost_usd is None or outcome.cost_usd is None:
                outcome.cost_usd = None
            else:
                outcome.cost_usd += response.cost_usd
            self.budget.add(response.cost_usd)
            reply = response.message
            log.event(
                "model",
                turn=outcome.turns,
                content=reply.content,
                tool_calls=[c.model_dump() for c in reply.tool_calls],
                usage=response.usage.model_dump(),
                cost_usd=response.cost_usd,
                retries=response.retries,
                seconds=round(time.monotonic() - t0, 3),
                finish_reason=response.finish_reason,
            )
            messages.append(reply)
            turns_left = limits.max_turns - outcome.turns
            remaining = self._seconds_left(limits, started)
            if self.mode == "tools":
                done = self._tool_turn(task, env, limits, log, reply, messages, remaining)
            else:
                done = self._upstream_turn(env, task, limits, log, reply, messages, turns_left,
                                           remaining)  # fmt: skip
            if done:
                outcome.stop_reason = "done"
                return outcome
        log.event("limit", reason="max_turns")
        return outcome

    def _complete(self, messages, keep_head, budget_tokens, tools, log):
        """One model call on the trimmed context: (response, the token budget to keep using).
        When the server still finds the context too long, trim to half and try again (and keep
        the smaller budget for the later turns); no response when even the prompt alone does
        not fit."""
        from swelancer.models.retry import ContextWindowExceededError

        while True:
            context = trim_context(messages, keep_head, budget_tokens)
            if len(context) < len(messages):
                log.event("trimmed", dropped=len(messages) - len(context))
            try:
                return self.model.complete(context, tools), budget_tokens
            except ContextWindowExceededError as exc:
                log.event("context_window_exceeded", message=str(exc), kept=len(context))
                if len(context) <= keep_head + 1 or budget_tokens < 1_000:
                    return None, budget_tokens
                budget_tokens //= 2

    def _limit_reached(self, limits: Limits, outcome: AgentOutcome, started: float) -> str | None:
        elapsed = time.monotonic() - started
        if limits.max_agent_seconds is not None and elapsed >= limits.max_agent_seconds:
            return "max_seconds"
        cost = outcome.cost_usd
        if limits.max_cost_usd is not None and cost is not None and cost >= limits.max_cost_usd:
            return "max_cost"
        if self.budget.exhausted:
            return "max_run_cost"
        return None

    @staticmethod
    def _seconds_left(limits: Limits, started: float) -> float:
        timeout = limits.command_timeout_s
        if limits.max_agent_seconds is not None:
            left = limits.max_agent_seconds - (time.monotonic() - started)
            timeout = min(timeout, max(left, 1.0))
        return timeout

    # -- the upstream protocol ------------------------------------------------------------

    def _upstream_turn(self, env, task, limits, log, reply, messages, turns_left, timeout):
        """Upstream's turn: `<user-tool>` anywhere runs the user tool; a reply that is just
        `done` (any case) ends; else the first python block runs. A reply with no block gets a
        reminder (and, as upstream, no turn count)."""
        text = reply.content or ""
        if "<user-tool>" in text:
            output = self._user_tool(env, task, log)
        elif text.strip().lower() == "done":
            return True
        else:
            blocks = PYTHON_BLOCK.findall(text)
            if not blocks:
                messages.append(Message(role="user", content=NO_CODE_BLOCK))
                return False
            code = dedent(blocks[0])
            output = self._run(env, log, f"python -c {shlex.quote(code)}", timeout, code)
        note = f"{clip(output) if output.strip() else NO_OUTPUT}\nTurns left: {turns_left}"
        messages.append(Message(role="user", content=note))
        return False

    # -- tool calling ---------------------------------------------------------------------

    def _tools(self, task: IcTask | ManagerTask) -> list[ToolSpec]:
        names = ["bash", "python", "finish"]
        if isinstance(task, IcTask):
            names.insert(2, "user_tool")
        return [TOOLS[n] for n in names]

    def _tool_turn(self, task, env, limits, log, reply, messages, timeout) -> bool:
        if not reply.tool_calls:
            if re.search(r"\bDONE\b", reply.content or ""):
                return True
            finish = (
                "call `finish` with the number of the proposal you accept"
                if isinstance(task, ManagerTask)
                else "call `finish` when you have finished"
            )
            messages.append(Message(role="user", content=f"Use the tools to work; {finish}."))
            return False
        finished = False
        for call in reply.tool_calls:
            output, is_finish = self._call_tool(task, env, log, call, timeout)
            finished = finished or is_finish
            messages.append(Message(role="tool", content=clip(output), tool_call_id=call.id))
        return finished

    def _call_tool(self, task, env, log, call: ToolCall, timeout: float) -> tuple[str, bool]:
        args: dict[str, Any] = call.arguments or {}
        problem = _bad_arguments(call)
        if problem:
            log.event("tool_error", tool=call.name, message=problem)
            return problem, False
        if call.name == "bash":
            command = str(args["command"])
            return self._run(env, log, command, timeout, command) or "[no output]", False
        if call.name == "python":
            code = str(args["code"])
            command = f"python -c {shlex.quote(code)}"
            return self._run(env, log, command, timeout, code) or "[no output]", False
        if call.name == "user_tool" and isinstance(task, IcTask):
            return self._user_tool(env, task, log), False
        if call.name == "finish":
            if isinstance(task, ManagerTask) and "selected_proposal_id" in args:
                decision = json.dumps({"selected_proposal_id": args["selected_proposal_id"]})
                env.sandbox.write_file(f"{task.cwd}/manager_decisions.json", decision)
                log.event("decision", selected_proposal_id=args["selected_proposal_id"])
            return "Finished.", True
        return f"Unknown tool {call.name!r}.", False

    # -- actions --------------------------------------------------------------------------

    def _run(self, env, log, command: str, timeout: float, shown: str) -> str:
        result = env.run(command, timeout)
        log.event(
            "command",
            command=shown,
            output=result.output,
            exit_code=result.exit_code,
            timed_out=result.timed_out,
            truncated=result.truncated,
            seconds=round(result.seconds, 3),
        )
        output = result.output
        if result.timed_out:
            output += f"\n[the command was stopped after {timeout:.0f} seconds]"
        elif result.exit_code:
            output += f"\n[exit code {result.exit_code}]"
        return output

    def _user_tool(self, env, task, log) -> str:
        t0 = time.monotonic()
        output = env.user_tool()
        log.event("user_tool", output=output, seconds=round(time.monotonic() - t0, 3))
        return output


def _bad_arguments(call: ToolCall) -> str | None:
    """What is wrong with a tool call's arguments, told to the model; None when they are fine."""
    args = call.arguments or {}
    raw = args.get("_invalid_json", args.get("_input"))
    if raw is not None:
        return (
            f"The arguments of `{call.name}` are not a JSON object: {str(raw)[:500]!r}. "
            "Call the tool again with valid JSON arguments."
        )
    spec = TOOLS.get(call.name)
    missing = [n for n in (spec.parameters.get("required") or []) if n not in args] if spec else []
    if missing:
        return f"`{call.name}` needs the argument {missing[0]!r}. Call it again with it."
    return None
