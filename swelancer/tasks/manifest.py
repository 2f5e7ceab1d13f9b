"""Read task manifests: both upstream CSV schemas, decoded the way upstream means them.

Current schema: `question_id, variant, price, price_limit, manager_data, manager_commit,
acceptable_folders, cwd, set, title, description, proposals` (any order). Older schema:
`question_id, variant, price, price_limit, prompt, manager_data, manager_commit,
acceptable_folders, cwd[, canary]`, every row a Diamond task. Bad input raises `ManifestError`
naming file, row (1-based as a spreadsheet shows it: the header is row 1) and column.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from swelancer.errors import ManifestError
from swelancer.tasks.models import (
    PRICE_LIMIT,
    REPO_DIR,
    IcTask,
    ManagerTask,
    PriceStyle,
    Proposal,
    commit_problem,
    cwd_problem,
    folder_problem,
    id_problem,
)
from swelancer.tasks.rows import Row, iter_rows
from swelancer.tasks.text import (
    decode_newlines,
    normalise_newlines,
    render_proposals,
    surrogate_problem,
)

KNOWN_BROKEN: dict[str, str] = {
    task_id: (
        "excluded as broken by the Inspect Evals port of SWE-Lancer (inspect_evals 0.26.0); "
        "kept by default so that figures match upstream's, left out with --skip-broken"
    )
    for task_id in ("29854_602", "49523_849", "32236_652")
}

AnyTask = IcTask | ManagerTask


def is_missing(value: str | None) -> bool:
    """Upstream writes a missing value as an empty cell or as pandas' `nan`."""
    return value is None or value.strip() == "" or value.strip().lower() == "nan"


class _RowReader:
    """Decodes the cells of one row, raising errors that name the file, row and column."""

    def __init__(self, row: Row, path: str, line: int) -> None:
        self.row, self.path, self.line = row, path, line

    def fail(self, column: str, message: str) -> ManifestError:
        return ManifestError(message, path=self.path, row=self.line, column=column)

    def text(self, column: str) -> str:
        value = self.row.get(column)
        return "" if is_missing(value) else str(value)

    def checked(self, column: str, value: str, problem: str | None) -> str:
        """`value`, or the `ManifestError` naming `column` when `problem` says why it is bad."""
        if problem:
            raise self.fail(column, problem)
        return value

    def literal(self, column: str, expected: type) -> Any:
        raw = self.text(column)
        if not raw:
            return None
        try:
            value = ast.literal_eval(raw)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
            raise self.fail(
                column, f"not a Python literal ({type(exc).__name__}: {exc}); starts {raw[:60]!r}"
            ) from None
        if not isinstance(value, expected):
            raise self.fail(column, f"expected a {expected.__name__}, got {type(value).__name__}")
        return value

    def price(self) -> float:
        raw = self.text("price")
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(
                "price", f"not a number: {raw[:80]!r}. Write the task's price in dollars."
            ) from None
        if not math.isfinite(value) or not 0 <= value <= PRICE_LIMIT:
            raise self.fail(
                "price",
                f"must be an amount of dollars from 0 to {PRICE_LIMIT:,.0f} (the real tasks pay "
                f"$50 to $32,000), got {raw[:80]!r}. Fix the price cell.",
            )
        return value

    def sendable(self, column: str, text: str) -> str:
        """`text`, or the `ManifestError` naming `column` when it cannot be sent as UTF-8."""
        return self.checked(column, text, surrogate_problem(text))

    def written(self, column: str) -> str:
        """A title, description or proposals cell as its author wrote it (newlines decoded)."""
        return self.sendable(column, decode_newlines(self.text(column)))


def _extract_title(prompt: list[str]) -> str:
    """The issue title in an older-schema prompt: the first line after 'following issue:'."""
    text = prompt[0] if prompt else ""
    match = re.search(r"following issue:\s*\n+\s*([^\n]+)", text)
    return match.group(1).strip() if match else ""


def _prompt_messages(rr: _RowReader) -> list[str]:
    messages = rr.literal("prompt", list)
    if not messages:
        raise rr.fail("prompt", "empty: the older schema carries the rendered prompt here")
    out: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise rr.fail("prompt", "expected a list of {'content': str, 'role': ...} messages")
        out.append(rr.sendable("prompt", message["content"]))
    return out


def _formal_proposals(rr: _RowReader, game: dict[str, Any]) -> list[Proposal]:
    """`game.all_formal_proposals`, each with its text as written (carriage returns dropped as
    upstream's proposals cell drops them)."""
    formal = game.get("all_formal_proposals")
    if formal is None:
        return []
    if not isinstance(formal, list | tuple):
        raise rr.fail(
            "manager_data",
            f"game.all_formal_proposals is a {type(formal).__name__}, expected a list of "
            "{'id': int, 'content': str} proposals",
        )
    proposals = []
    for index, item in enumerate(formal):
        pid = item.get("id") if isinstance(item, dict) else None
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(pid, bool) or not isinstance(pid, int) or not isinstance(content, str):
            raise rr.fail(
                "manager_data",
                f"game.all_formal_proposals[{index}] is not a proposal "
                "(expected {'id': int, 'content': str, ...})",
            )
        text = rr.sendable("manager_data", normalise_newlines(content))
        proposals.append(Proposal(id=pid, text=text))
    return proposals  # as upstream has them: one real task lists proposal 0 twice


def _manager_fields(rr: _RowReader, task_id: str) -> dict[str, Any]:
    data = rr.literal("manager_data", dict)
    if not data:
        raise rr.fail("manager_data", f"manager task {task_id} has no manager_data")
    game = data.get("game")
    correct = game.get("correct_proposal") if isinstance(game, dict) else None
    correct_id = correct.get("id") if isinstance(correct, dict) else None
    if isinstance(correct_id, bool) or not isinstance(correct_id, int):
        raise rr.fail(
            "manager_data",
            f"manager task {task_id} has no correct proposal "
            "(expected an int at manager_data['game']['correct_proposal']['id'])",
        )
    proposals = _formal_proposals(rr, game)
    if proposals and correct_id not in {p.id for p in proposals}:
        raise rr.fail(
            "manager_data",
            f"manager task {task_id}: correct proposal {correct_id} is not one of its "
            f"proposals {sorted(p.id for p in proposals)}",
        )
    commit = rr.text("manager_commit").strip()
    return {
        "proposals": proposals,
        "correct_proposal_id": correct_id,
        "manager_commit": rr.checked("manager_commit", commit, commit_problem(commit)),
        "title_fallback": rr.sendable("manager_data", str(data.get("title") or "")),
        "description_fallback": rr.sendable(
            "manager_data", str(data.get("html_description") or "")
        ),
    }


def _test_folders(rr: _RowReader) -> list[str]:
    """The `acceptable_folders` of an IC row, each a valid folder name."""
    folders = rr.literal("acceptable_folders", list) or []
    if not all(isinstance(f, str | int) and not isinstance(f, bool) for f in folders):
        raise rr.fail("acceptable_folders", "expected a list of folder names")
    names = [str(f) for f in folders]
    for name in names:
        rr.checked("acceptable_folders", name, folder_problem(name))
    return names


def parse_row(row: Row, *, schema: str, path: str, line: int) -> AnyTask:
    """One manifest row to a task. `line` is the spreadsheet row number used in errors."""
    rr = _RowReader(row, path, line)
    task_id = rr.text("question_id").strip()
    if not task_id:
        raise rr.fail("question_id", "empty task id")
    variant = rr.text("variant").strip()
    if variant not in ("ic_swe", "swe_manager"):
        raise rr.fail(
            "variant", f"unknown variant {variant[:80]!r}; expected ic_swe or swe_manager"
        )
    rr.checked("question_id", task_id, id_problem(variant, task_id))
    cwd = rr.text("cwd").strip() or REPO_DIR
    common: dict[str, Any] = {
        "task_id": task_id,
        "price_usd": rr.price(),
        "cwd": rr.checked("cwd", cwd, cwd_problem(cwd)),
        "broken": KNOWN_BROKEN.get(task_id),
    }
    if schema == "current":
        common["split"] = rr.text("set").strip() or "diamond"
        common["title"] = rr.written("title")
        common["description"] = rr.written("description")
    else:
        common["split"] = "diamond"
        common["prompt"] = _prompt_messages(rr)
        common["title"] = _extract_title(common["prompt"])

    if variant == "ic_swe":
        return IcTask(**common, test_folders=_test_folders(rr) or [task_id])

    fields = _manager_fields(rr, task_id)
    title_fallback = fields.pop("title_fallback")
    description_fallback = fields.pop("description_fallback")
    if not common["title"]:
        common["title"] = title_fallback
    if not common.get("description"):
        common["description"] = description_fallback
    proposals_text = ""
    if fields["proposals"]:  # the text as written, which the cell holds with some ambiguity
        proposals_text = render_proposals([(p.id, p.text) for p in fields["proposals"]])
    elif schema == "current":
        proposals_text = rr.written("proposals")
    return ManagerTask(**common, **fields, proposals_text=proposals_text)


_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")


def load_manifest(path: Path) -> list[AnyTask]:
    """Every task of a manifest CSV, in file order. Raises `ManifestError` on any bad row."""
    return read_manifest(path)[0]


def read_manifest(path: Path) -> tuple[list[AnyTask], PriceStyle]:
    """Every task of a manifest CSV, in file order, and how pandas types its price column
    (read in the same pass). Raises `ManifestError` on any bad row."""
    tasks: list[AnyTask] = []
    seen: dict[str, int] = {}
    style: PriceStyle = "int"
    for line, row, schema in iter_rows(path):
        if not _INTEGER.fullmatch(row.get("price", "")):
            style = "float"
        task = parse_row(row, schema=schema, path=str(path), line=line)
        if task.task_id in seen:
            raise ManifestError(
                f"duplicate task id {task.task_id!r} (first on row {seen[task.task_id]})",
                path=str(path),
                row=line,
                column="question_id",
            )
        seen[task.task_id] = line
        tasks.append(task)
    return tasks, (style if tasks else "float")


def select_tasks(
    tasks: Iterable[AnyTask],
    *,
    split: str | None = None,
    variant: str | None = None,
    task_ids: list[str] | None = None,
    source: str = "the manifest",
) -> list[AnyTask]:
    """Filter tasks. Unknown ids in `task_ids` raise `ManifestError` naming them."""
    chosen = [t for t in tasks if split in (None, "all") or t.split == split]
    if variant:
        chosen = [t for t in chosen if t.variant == variant]
    if task_ids:
        by_id = {t.task_id: t for t in chosen}
        unknown = [i for i in task_ids if i not in by_id]
        if unknown:
            raise ManifestError(
                f"unknown task id(s) {', '.join(unknown)} in {source}"
                f"{' for split ' + split if split and split != 'all' else ''}"
                f"{' and variant ' + variant if variant else ''}. "
                "See `swelancer tasks list` for the ids."
            )
        chosen = [by_id[i] for i in dict.fromkeys(task_ids)]
    return chosen
