"""Upstream's prompt text read out of its source files with `ast`: string constants (and `+` of
string constants) assigned at module level, and the protocol message the old harness appends
inline in `SimpleAgentSolver.run`. Nothing is imported or executed; a file without what is
looked for is a `ConfigError` naming the file and the name.
"""

from __future__ import annotations

import ast
from pathlib import Path

from pydantic import BaseModel

from swelancer.agents.upstream_turns import TurnTexts, turn_texts, user_message_content
from swelancer.errors import ConfigError

PROMPT_NAMES = (
    "IC_FIRST_PROMPT",
    "IC_SECOND_PROMPT",
    "IC_THIRD_PROMPT",
    "MANAGER_FIRST_PROMPT",
    "MANAGER_SECOND_PROMPT",
)
SOLVER_NAMES = ("ADDITIONAL_AGENT_PROMPT",)
OLD_AGENT_CLASS, OLD_AGENT_METHOD = "SimpleAgentSolver", "run"


class UpstreamTexts(BaseModel):
    """The words upstream sends before the model's first reply, as its files hold them."""

    constants: dict[str, str]
    """`PROMPT_NAMES` (prompts.py) and `SOLVER_NAMES` (solver.py), by name."""
    old_protocol: str
    """The user message the old harness appends after a lite row's own messages."""
    turns: TurnTexts
    """What the solver tells the model after each reply (`agents.upstream_turns`)."""


def read_texts(paths: dict[str, Path]) -> UpstreamTexts:
    """The texts of the three pinned files (keys as `upstream_files.PINNED`)."""
    constants = module_strings(_parse(paths["prompts"]), PROMPT_NAMES, str(paths["prompts"]))
    solver = _parse(paths["solver"])
    constants |= module_strings(solver, SOLVER_NAMES, str(paths["solver"]))
    old = inline_protocol(_parse(paths["old_agent"]), str(paths["old_agent"]))
    turns = turn_texts(solver, str(paths["solver"]))
    return UpstreamTexts(constants=constants, old_protocol=old, turns=turns)


def _parse(path: Path) -> ast.Module:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError) as exc:
        raise ConfigError(f"{path} is not Python source that parses ({exc}).") from None


def string_value(node: ast.expr) -> str | None:
    """The value of a string constant or of `+` between such, else None (nothing is run)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = string_value(node.left), string_value(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def module_strings(tree: ast.Module, names: tuple[str, ...], file: str) -> dict[str, str]:
    """Each of `names` assigned once at module level to a string expression."""
    found: dict[str, list[ast.expr]] = {name: [] for name in names}
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets, value = [statement.target], statement.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in found:
                found[target.id].append(value)
    out: dict[str, str] = {}
    for name, values in found.items():
        if len(values) != 1:
            how = "is not assigned" if not values else f"is assigned {len(values)} times"
            raise ConfigError(f"{file}: {name} {how} at module level; expected it once.")
        text = string_value(values[0])
        if text is None:
            raise ConfigError(
                f"{file}: {name} is not a string constant (or a `+` of string constants), so "
                "it cannot be read without running the file."
            )
        out[name] = text
    return out


def inline_protocol(tree: ast.Module, file: str) -> str:
    """The constant user message `SimpleAgentSolver.run` appends to `messages` before its turn
    loop: the one `messages.append({"role": "user", "content": "..."})` outside any loop."""
    method = _method(tree, OLD_AGENT_CLASS, OLD_AGENT_METHOD)
    where = f"{OLD_AGENT_CLASS}.{OLD_AGENT_METHOD}"
    if method is None:
        raise ConfigError(f"{file}: no {where} to read the protocol message from.")
    found = [text for node in _outside_loops(method.body) if (text := _user_append(node))]
    if len(found) != 1:
        raise ConfigError(
            f"{file}: {where} appends {len(found)} constant user messages outside its loops; "
            "expected exactly one (the protocol message)."
        )
    return found[0]


def _method(tree: ast.Module, cls: str, name: str):
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == name:
                    return item
    return None


def _outside_loops(body: list[ast.stmt]):
    """Every node under `body`, not descending into loops or nested definitions."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop(0)
        yield node
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        stack[:0] = list(ast.iter_child_nodes(node))


def _user_append(node: ast.AST) -> str | None:
    """The content of `messages.append({"role": "user", "content": <string constant>})`."""
    content = user_message_content(node)
    return None if content is None else string_value(content)
