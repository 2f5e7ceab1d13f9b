"""An attempt's transcript.jsonl read as a conversation: what the model was sent, each of its
replies with what its actions gave back, the actions of agents that call no model (the mocks),
and the harness's own notes. The exporters (`inspect_export`, `atif_export`) draw from this.

The transcript records each model reply (`model`, with its tool calls, usage and cost) and each
action's result (`command`, `user_tool`, `tool_error`, `decision`); a result is matched to the
first tool call of the last reply still waiting for one of its kind, in order, as the turn loop
runs them. With upstream's protocol a reply has no tool calls and its result stands alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swelancer.records import Tokens
from swelancer.report.attempt_dir import read_events

NOTE_LIMIT = 600
"""Characters of a harness note kept (its fields as JSON)."""

_RESULT_OF = {"command": ("bash", "python"), "user_tool": ("user_tool",), "decision": ("finish",)}


@dataclass
class Call:
    """One tool call of a reply (or of a scripted agent's action)."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Result:
    """What an action gave back; `call_id` names the tool call it answers, if any."""

    name: str
    output: str
    call_id: str | None = None
    error: bool = False
    exit_code: int | None = None


@dataclass
class Step:
    """One step: `user` (a prompt), `model` (a reply and its results), `action` (an agent's
    action with no model behind it: a mock's), or `note` (the harness's own event)."""

    kind: str
    text: str
    t: str | None = None
    calls: list[Call] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    tokens: Tokens | None = None
    cost_usd: float | None = None
    turn: int | None = None

    def waiting(self, names: tuple[str, ...]) -> Call | None:
        """The first call of one of these tools that has no result yet."""
        answered = {r.call_id for r in self.results}
        return next((c for c in self.calls if c.name in names and c.id not in answered), None)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _tokens(usage: Any) -> Tokens:
    usage = usage if isinstance(usage, dict) else {}
    return Tokens(
        input=int(usage.get("input_tokens") or 0),
        cached=int(usage.get("cached_input_tokens") or 0),
        output=int(usage.get("output_tokens") or 0),
        reasoning=int(usage.get("reasoning_tokens") or 0),
    )


def _calls(raw: Any) -> list[Call]:
    calls = []
    for n, call in enumerate(raw if isinstance(raw, list) else []):
        if isinstance(call, dict):
            args = call.get("arguments")
            calls.append(
                Call(
                    id=_text(call.get("id")) or f"call-{n + 1}",
                    name=_text(call.get("name")) or "unknown",
                    arguments=args if isinstance(args, dict) else {"value": args},
                )
            )
    return calls


def _note(event: dict[str, Any]) -> str:
    rest = {k: v for k, v in event.items() if k not in ("t", "kind")}
    text = json.dumps(rest, ensure_ascii=False, default=str)
    return text if len(text) <= NOTE_LIMIT else text[:NOTE_LIMIT] + "…"


def _result(event: dict[str, Any], kind: str) -> Result:
    if kind == "command":
        code = event.get("exit_code")
        output = _text(event.get("output"))
        if event.get("timed_out"):
            output += "\n[the command was stopped: it ran past its time limit]"
        return Result("command", output, exit_code=code if isinstance(code, int) else None)
    if kind == "user_tool":
        note = _text(event.get("note"))
        return Result("user_tool", _text(event.get("output")) + (f"\n\n{note}" if note else ""))
    if kind == "tool_error":
        return Result(_text(event.get("tool")), _text(event.get("message")), error=True)
    return Result("finish", f"selected proposal {event.get('selected_proposal_id')}")


def _commands_of(event: dict[str, Any]) -> str:
    return _text(event.get("command"))


def conversation(events: list[dict[str, Any]]) -> list[Step]:
    """The steps of a transcript's events, in order."""
    steps: list[Step] = []
    last_model: Step | None = None
    for event in events:
        kind = _text(event.get("kind"))
        t = _text(event.get("t")) or None
        if kind == "prompt":
            steps.append(Step("user", _text(event.get("content")), t))
        elif kind == "model":
            last_model = Step(
                "model",
                _text(event.get("content")),
                t,
                calls=_calls(event.get("tool_calls")),
                tokens=_tokens(event.get("usage")),
                cost_usd=event.get("cost_usd"),
                turn=event.get("turn") if isinstance(event.get("turn"), int) else None,
            )
            steps.append(last_model)
        elif kind in ("command", "user_tool", "tool_error", "decision"):
            result = _result(event, kind)
            names = (result.name,) if kind == "tool_error" else _RESULT_OF[kind]
            call = last_model.waiting(names) if last_model is not None else None
            if call is not None:
                result.call_id, result.name = call.id, call.name
                last_model.results.append(result)  # type: ignore[union-attr]
            elif last_model is not None and kind != "decision":
                last_model.results.append(result)  # upstream's protocol: no tool calls
            elif kind == "command":
                call = Call(f"action-{len(steps) + 1}", "bash", {"command": _commands_of(event)})
                result.call_id, result.name = call.id, "bash"
                steps.append(Step("action", "", t, calls=[call], results=[result]))
            else:
                steps.append(Step("note", f"{kind}: {_note(event)}", t))
        else:
            steps.append(Step("note", f"{kind}: {_note(event)}", t))
    for step in steps:  # `finish` answers "Finished." when nothing else was recorded for it
        while (call := step.waiting(("finish",))) is not None:
            step.results.append(Result("finish", "Finished.", call_id=call.id))
    return steps


def read_conversation(transcript: Path) -> tuple[list[Step], int]:
    """The steps of a transcript.jsonl and how many of its lines were damaged (skipped)."""
    events, skipped = read_events(transcript)
    return conversation(events), skipped
