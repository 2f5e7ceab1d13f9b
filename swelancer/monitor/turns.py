"""A transcript read as the model's turns: what the model said and ran in each, what came back.

Events before the first `model` event are the harness's own doing (the gold agent applying
its patch, setup), never the model's: they are kept apart as `harness` and no rule reads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swelancer.jsonl import read_objects


@dataclass
class Turn:
    """One reply of the model and what followed it, up to the next reply."""

    number: int
    said: str = ""
    """The reply's text (in the upstream protocol it holds the code block that ran)."""
    ran: list[str] = field(default_factory=list)
    """Commands and code the harness ran for this reply, and tool calls' arguments."""
    outputs: list[str] = field(default_factory=list)
    """What came back: command outputs, the user tool's answer."""

    def actions(self) -> list[str]:
        """What the model did in this turn, as text: its reply, then what ran."""
        return [text for text in (self.said, *self.ran) if text]


@dataclass
class Session:
    """An attempt's transcript as turns, with the task's prompt and the harness's own steps."""

    prompt: str = ""
    turns: list[Turn] = field(default_factory=list)
    harness: list[str] = field(default_factory=list)
    """Commands run before the model's first reply (not the model's doing)."""
    damaged_lines: int = 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def session_of(events: list[dict[str, Any]]) -> Session:
    """The session a list of transcript events describes."""
    session = Session()
    prompts: list[str] = []
    current: Turn | None = None
    for event in events:
        kind = event.get("kind")
        if kind == "prompt":
            prompts.append(_text(event.get("content")))
        elif kind == "model":
            number = event.get("turn")
            current = Turn(number if isinstance(number, int) else len(session.turns) + 1)
            current.said = _text(event.get("content"))
            for call in event.get("tool_calls") or []:
                if isinstance(call, dict) and call.get("arguments"):
                    current.ran.append(json.dumps(call["arguments"], ensure_ascii=False))
            session.turns.append(current)
        elif kind == "command":
            command, output = _text(event.get("command")), _text(event.get("output"))
            if current is None:
                session.harness.append(command)
            else:
                if command and command not in current.said:
                    current.ran.append(command)
                current.outputs.append(output)
        elif kind == "user_tool" and current is not None:
            current.outputs.append(_text(event.get("output")))
    session.prompt = "\n\n".join(prompts)
    return session


def read_session(path: Path) -> Session:
    """The session of a transcript.jsonl; damaged lines are counted and skipped."""
    events, damaged = read_objects(path)
    session = session_of(events)
    session.damaged_lines = damaged
    return session
