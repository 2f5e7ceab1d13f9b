"""What upstream's solver tells the model after each reply, read out of `SimpleAgentSolver.run`
in its `solver.py` with `ast` (never imported or run): the reminder when a reply holds no code
block, the message for code that printed nothing, the user tool's reply, the timeout message,
and the shape of a turn's feedback (`{output}` then the turns left).

Each is found by where it sits in the method, not by its words: the one constant user message
appended inside the turn loop; the constant given to `execution_output` under the test for
`"<user-tool>"`, and under the test of `execution_output` itself; the f-string given to it in
the `except` clause; and the f-string of the user message appended last in the loop. A file in
which any of these is missing or ambiguous is a `ConfigError` naming the file and the text.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from pydantic import BaseModel

from swelancer.errors import ConfigError

SOLVER_CLASS, SOLVER_METHOD = "SimpleAgentSolver", "run"
OUTPUT = "execution_output"


class TurnTexts(BaseModel):
    """Upstream's words after a reply. `timeout` holds `{timeout}` (seconds); `feedback` holds
    `{output}` and `{turns_left}`."""

    no_code_block: str
    no_output: str
    user_tool_done: str
    timeout: str
    feedback: str


def turn_texts(tree: ast.Module, file: str) -> TurnTexts:
    """The texts of `SimpleAgentSolver.run` in a parsed `solver.py`."""
    method = next(
        (
            item
            for node in tree.body
            if isinstance(node, ast.ClassDef) and node.name == SOLVER_CLASS
            for item in node.body
            if isinstance(item, ast.AsyncFunctionDef | ast.FunctionDef)
            and item.name == SOLVER_METHOD
        ),
        None,
    )
    where = f"{file}: {SOLVER_CLASS}.{SOLVER_METHOD}"
    if method is None:
        raise ConfigError(f"{where} is not there to read the turn messages from.")
    loops = [n for n in ast.walk(method) if isinstance(n, ast.For | ast.AsyncFor)]
    if len(loops) != 1:
        raise ConfigError(f"{where} has {len(loops)} loops; expected one turn loop.")
    loop = loops[0]
    appends = [_user_content(n) for n in ast.walk(loop)]
    constants = [
        c.value for c in appends if isinstance(c, ast.Constant) and isinstance(c.value, str)
    ]
    feedback = [c for c in appends if isinstance(c, ast.JoinedStr)]
    assigned = _assignments(loop)
    filled = {OUTPUT: "output", "remaining_turns - 1": "turns_left"}
    return TurnTexts(
        no_code_block=_one(constants, where, "constant user message in the turn loop"),
        no_output=_one(_under(assigned, _tests_output), where, "text for empty output"),
        user_tool_done=_one(_under(assigned, _tests_user_tool), where, "user tool's reply"),
        timeout=_one(
            [
                _template(v, {"timeout": "timeout"}, where)
                for h, v in assigned
                if isinstance(h, str) and h.endswith("TimeoutError")
            ],
            where,
            "timeout message",
        ),
        feedback=_one(
            [_template(f, filled, where) for f in feedback],
            where,
            "feedback message",
        ),
    )


def _one(found: list[str], where: str, what: str) -> str:
    if len(found) != 1:
        raise ConfigError(f"{where}: found {len(found)} candidates for the {what}; expected one.")
    return found[0]


def user_message_content(node: ast.AST) -> ast.expr | None:
    """The content expression of `messages.append({"role": "user", "content": X})`, else None."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "append"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "messages"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Dict)
    ):
        return None
    entries = {
        k.value: v
        for k, v in zip(node.args[0].keys, node.args[0].values, strict=True)
        if isinstance(k, ast.Constant)
    }
    role = entries.get("role")
    if not (isinstance(role, ast.Constant) and role.value == "user"):
        return None
    return entries.get("content")


def _user_content(node: ast.AST) -> ast.expr | None:
    """A user message's content when it is a string constant or an f-string, else None."""
    content = user_message_content(node)
    if isinstance(content, ast.Constant) and isinstance(content.value, str):
        return content
    return content if isinstance(content, ast.JoinedStr) else None


def _assignments(loop: ast.AST) -> list[tuple[ast.AST | str | None, ast.expr]]:
    """Each `execution_output = <str or f-string>` in the loop with the `if` whose body holds
    it, or `"except <type>"` inside an exception handler (None: in neither)."""
    found: list[tuple[ast.AST | str | None, ast.expr]] = []

    def visit(node: ast.AST, holder: ast.AST | str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = holder
            if isinstance(node, ast.If) and child in node.body:
                inner = node
            if isinstance(child, ast.ExceptHandler):
                inner = "except " + (ast.unparse(child.type) if child.type else "")
            if (
                isinstance(child, ast.Assign)
                and [getattr(t, "id", None) for t in child.targets] == [OUTPUT]
                and _is_text(child.value)
            ):
                found.append((inner, child.value))
            visit(child, inner)

    visit(loop, None)
    return found


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _under(
    assigned: list[tuple[ast.AST | str | None, ast.expr]], test: Callable[[ast.expr], bool]
) -> list[str]:
    return [
        v.value
        for holder, v in assigned
        if isinstance(holder, ast.If)
        and isinstance(v, ast.Constant)
        and isinstance(v.value, str)
        and test(holder.test)
    ]


def _tests_output(test: ast.expr) -> bool:
    return any(isinstance(n, ast.Name) and n.id == OUTPUT for n in ast.walk(test))


def _tests_user_tool(test: ast.expr) -> bool:
    return any(isinstance(n, ast.Constant) and n.value == "<user-tool>" for n in ast.walk(test))


def _template(node: ast.expr, names: dict[str, str], where: str) -> str:
    """An f-string as a `str.format` template: its text as written, each `{expr}` (one of
    `names`, by its source) as `{name}`; literal braces doubled."""
    if isinstance(node, ast.Constant):
        return str(node.value).replace("{", "{{").replace("}", "}}")
    if not isinstance(node, ast.JoinedStr):
        raise ConfigError(f"{where}: expected an f-string, found {ast.unparse(node)[:80]!r}.")
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
            continue
        assert isinstance(value, ast.FormattedValue)
        source = ast.unparse(value.value)
        if source not in names or value.conversion != -1 or value.format_spec is not None:
            raise ConfigError(f"{where}: an f-string fills {{{source}}}, which is not expected.")
        parts.append("{" + names[source] + "}")
    return "".join(parts)
