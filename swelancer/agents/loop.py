"""The turn loop shared by model agents: the upstream protocol or tool calling, limits,
the user tool, context trimming, usage and cost.

Given the run's model gateway, each attempt of a model that calls an API (an SDK chat model)
goes through a gate of its own (`gateway.host`): the gateway checks the attempt's and the run's
cost caps before each call, and its ledger alone adds each call's dollars to the attempt and to
the run's `RunBudget`; the loop takes each turn's usage and dollars from the gateway's record,
and a call refused for a cap ends the attempt (`max_cost`, `max_run_cost`). Models that call no
API (scripted ones) are costed by themselves, and the loop checks the caps and adds their
dollars to the budget.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
from textwrap import dedent
from typing import TYPE_CHECKING, Any, Literal

from swelancer.agents.base import AgentEnv, AgentOutcome, Limits, TranscriptLog
from swelancer.agents.prompts import PromptSet, render_prompt
from swelancer.agents.tool_specs import TOOLS, bad_arguments
from swelancer.benchmark.user_tool_reply import UserToolReply
from swelancer.benchmark.variants import rules_for
from swelancer.models.base import ChatModel, Message, ToolCall, ToolSpec, Usage
from swelancer.tasks.models import Task

if TYPE_CHECKING:
    from swelancer.gateway.server import Gateway

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
    """Dollars spent by the whole run, shared by every attempt; None means no limit. The model
    gateway's `RunLedger` adds what its calls cost; the loop adds only what models that make
    no API call cost."""

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
        gateway: Gateway | None = None,
    ) -> None:
        self.model = model
        self.mode = mode
        self.prompts = prompts or PromptSet()
        """The words sent before the first reply (`render_prompt`); ours unless given."""
        self.budget = budget or RunBudget()
        self.name = name or model.name
        self.gateway = gateway
        """The run's model gateway (its ledger shares `budget`); the calls of an SDK chat model
        go through it, one gate per attempt. None: straight to the provider."""

    def close(self) -> None:
        """Close the model gateway (once no attempt runs)."""
        if self.gateway is not None:
            self.gateway.close()

    # -- the loop -------------------------------------------------------------------------

    def solve(self, task: Task, env: AgentEnv, limits: Limits, log: TranscriptLog) -> AgentOutcome:
        from swelancer.gateway.host import carried, through_gateway

        model = self.model
        if self.gateway is not None and carried(model):
            if env.folder is None:
                raise ValueError("an attempt through the model gateway needs a folder")
            with through_gateway(self.gateway, model, env.folder, limits.max_cost_usd) as gated:
                return self._solve(gated, True, task, env, limits, log)
        return self._solve(model, False, task, env, limits, log)

    def _solve(self, model: ChatModel, gated: bool, task: Task, env: AgentEnv, limits: Limits,
               log: TranscriptLog) -> AgentOutcome:  # fmt: skip
        """The loop, with `model`; `gated`: its calls go through the gateway, which keeps the
        cost caps and counts the dollars."""
        from swelancer.gateway.host import CapRefused

        prompt = render_prompt(task, mode=self.mode, prompts=self.prompts)
        messages = [Message(role="user", content=text) for text in prompt]
        for text in prompt:
            log.event("prompt", role="user", content=text)
        tools = self._tools(task) if self.mode == "tools" else None
        outcome = AgentOutcome(turns=0, usage=Usage(), cost_usd=0.0, stop_reason="max_turns")
        started = time.monotonic()
        window = int(getattr(model, "context_window", 128_000))
        budget_tokens = int(window * 0.85) - 8_000

        while outcome.turns < limits.max_turns:
            stop = self._limit_reached(limits, outcome, started, costs=not gated)
            if stop:
                outcome.stop_reason = stop
                log.event("limit", reason=stop)
                return outcome
            t0 = time.monotonic()
            try:
                response, budget_tokens = self._complete(
                    model, messages, len(prompt), budget_tokens, tools, log
                )
            except CapRefused as refused:
                outcome.stop_reason = refused.stop_reason
                log.event("limit", reason=refused.stop_reason, message=str(refused))
                return outcome
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
            if not gated:  # the gateway's ledger has added a gated call's dollars already
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

    def _complete(self, model, messages, keep_head, budget_tokens, tools, log):
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
                return model.complete(context, tools), budget_tokens
            except ContextWindowExceededError as exc:
                log.event("context_window_exceeded", message=str(exc), kept=len(context))
                if len(context) <= keep_head + 1 or budget_tokens < 1_000:
                    return None, budget_tokens
                budget_tokens //= 2

    def _limit_reached(
        self, limits: Limits, outcome: AgentOutcome, started: float, *, costs: bool = True
    ) -> str | None:
        """The limit reached before the next call, if any; `costs`: the cost caps too (else
        the gateway keeps them, refusing the call)."""
        elapsed = time.monotonic() - started
        if limits.max_agent_seconds is not None and elapsed >= limits.max_agent_seconds:
            return "max_seconds"
        if not costs:
            return None
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
        reminder (and, as upstream, no turn count). With upstream's prompts, what comes back is
        in upstream's words (`agents.upstream_turns`), else in ours."""
        words = self.prompts.upstream.turns if self.prompts.upstream is not None else None
        text = reply.content or ""
        if "<user-tool>" in text:
            output = self._user_tool_said(env, log, words)
        elif text.strip().lower() == "done":
            return True
        else:
            blocks = PYTHON_BLOCK.findall(text)
            if not blocks:
                warning = words.no_code_block if words is not None else NO_CODE_BLOCK
                messages.append(Message(role="user", content=warning))
                return False
            code = dedent(blocks[0])
            command = f"python -c {shlex.quote(code)}"
            if words is None:
                output = self._run(env, log, command, timeout, code)
            else:
                output = self._run_as_upstream(env, log, command, timeout, code, words)
        if words is None:
            note = f"{clip(output) if output.strip() else NO_OUTPUT}\nTurns left: {turns_left}"
        else:  # upstream: only an output that is exactly empty is said to be empty
            shown = clip(output) if output != "" else words.no_output
            note = words.feedback.format(output=shown, turns_left=turns_left)
        messages.append(Message(role="user", content=note))
        return False

    def _run_as_upstream(self, env, log, command, timeout, shown, words) -> str:
        """The command's output as upstream's solver returns it: the output alone (no exit
        code), or, when the command was stopped, upstream's timeout message instead."""
        result = self._exec(env, log, command, timeout, shown)
        if result.timed_out:
            return words.timeout.format(timeout=_seconds(timeout))
        return result.output

    def _user_tool_said(self, env, log, words) -> str:
        """The user tool's reply: ours, or upstream's words for a call that finished or timed
        out (a call that could not start keeps our reason); `note` follows either."""
        reply = self._user_tool(env, log)
        text = reply.text
        if words is not None and reply.outcome == "finished":
            text = words.user_tool_done
        elif words is not None and reply.outcome == "timed_out":
            text = words.timeout.format(timeout=_seconds(reply.limit_s))
        return f"{text}\n\n{reply.note}" if reply.note else text

    # -- tool calling ---------------------------------------------------------------------

    def _tools(self, task: Task) -> list[ToolSpec]:
        names = ["bash", "python", "finish"]
        if rules_for(task).offers_user_tool:
            names.insert(2, "user_tool")
        return [TOOLS[n] for n in names]

    def _tool_turn(self, task, env, limits, log, reply, messages, timeout) -> bool:
        if not reply.tool_calls:
            if re.search(r"\bDONE\b", reply.content or ""):
                return True
            finish = (
                "call `finish` with the number of the proposal you accept"
                if rules_for(task).chooses_proposal
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
        problem = bad_arguments(call)
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
        if call.name == "user_tool" and rules_for(task).offers_user_tool:
            reply = self._user_tool(env, log)
            return (f"{reply.text}\n\n{reply.note}" if reply.note else reply.text), False
        if call.name == "finish":
            answered = None
            if "selected_proposal_id" in args:
                answered = rules_for(task).answer(env.sandbox, args["selected_proposal_id"])
            if answered is not None:
                log.event(answered[0], **answered[1])
            return "Finished.", True
        return f"Unknown tool {call.name!r}.", False

    # -- actions --------------------------------------------------------------------------

    def _run(self, env, log, command: str, timeout: float, shown: str) -> str:
        result = self._exec(env, log, command, timeout, shown)
        output = result.output
        if result.timed_out:
            output += f"\n[the command was stopped after {timeout:.0f} seconds]"
        elif result.exit_code:
            output += f"\n[exit code {result.exit_code}]"
        return output

    @staticmethod
    def _exec(env, log, command: str, timeout: float, shown: str):
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
        return result

    @staticmethod
    def _user_tool(env, log) -> UserToolReply:
        t0 = time.monotonic()
        reply = env.user_tool()
        log.event(
            "user_tool",
            output=reply.text,
            outcome=reply.outcome,
            note=reply.note,
            seconds=round(time.monotonic() - t0, 3),
        )
        return reply


def _seconds(value: float) -> str:
    """Seconds as upstream's message writes its limit: `300`, not `300.0`."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
