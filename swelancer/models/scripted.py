"""`mock/scripted:PATH`: replay a JSON list of assistant replies through the real turn loop.

Each item is a string (the reply's text) or `{"content": str, "tool_calls": [{"name": ...,
"arguments": {...}}]}`. When the script runs out, the model says DONE (or calls `finish`).
"""

from __future__ import annotations

import json
from pathlib import Path

from swelancer.errors import ConfigError
from swelancer.models.base import ChatResponse, Message, ToolCall, ToolSpec, Usage


def load_script(path: Path) -> list[Message]:
    """The replies of a script file; `ConfigError` naming the file and item when malformed."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no script file at {path} (mock/scripted:PATH).") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a JSON list of replies ({exc}).") from None
    if not isinstance(items, list):
        raise ConfigError(f"{path} must hold a JSON list of replies.")
    replies = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            replies.append(Message(role="assistant", content=item))
            continue
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: reply {index} is neither a string nor an object.")
        content = item.get("content") or ""
        calls = item.get("tool_calls") or []
        if not isinstance(content, str) or not isinstance(calls, list):
            raise ConfigError(
                f"{path}: reply {index} must have a string 'content' and a list 'tool_calls'."
            )
        replies.append(
            Message(
                role="assistant",
                content=content,
                tool_calls=[_tool_call(path, index, n, c) for n, c in enumerate(calls)],
            )
        )
    return replies


def _tool_call(path: Path, index: int, n: int, call: object) -> ToolCall:
    where = f"{path}: tool call {n} of reply {index}"
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise ConfigError(f"{where} needs a 'name' (a string).")
    arguments = call.get("arguments") or {}
    if not isinstance(arguments, dict):
        raise ConfigError(f"{where}: 'arguments' must be an object.")
    return ToolCall(id=f"call_{index}_{n}", name=call["name"], arguments=arguments)


class ScriptedChatModel:
    """A ChatModel that answers with the next reply of a script, whatever it is asked."""

    context_window = 1_000_000

    def __init__(self, path: Path) -> None:
        self.name = f"mock/scripted:{path}"
        self.path = path
        self.replies = load_script(path)

    def complete(
        self, messages: list[Message], tools: list[ToolSpec] | None = None
    ) -> ChatResponse:
        # Stateless: the position in the script is the number of replies so far (the context
        # window is large enough that the loop never trims a scripted conversation).
        index = sum(m.role == "assistant" for m in messages)
        if index < len(self.replies):
            reply = self.replies[index]
        elif tools:
            reply = Message(role="assistant", tool_calls=[ToolCall(id="end", name="finish")])
        else:
            reply = Message(role="assistant", content="DONE")
        return ChatResponse(message=reply, usage=Usage(), cost_usd=0.0, model=self.name)
