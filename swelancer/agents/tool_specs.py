"""The tools of `--agent tools`: their specifications, and what is wrong with a call's
arguments (told to the model)."""

from __future__ import annotations

from swelancer.models.base import ToolCall, ToolSpec

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


def bad_arguments(call: ToolCall) -> str | None:
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
