"""Read task manifests: both upstream CSV schemas, decoded the way upstream means them.

Current schema: `question_id, variant, price, price_limit, manager_data, manager_commit,
acceptable_folders, cwd, set, title, description, proposals` (any order). Older schema:
`question_id, variant, price, price_limit, prompt, manager_data, manager_commit,
acceptable_folders, cwd[, canary]`, every row a Diamond task. Bad input raises `ManifestError`
naming file, row (1-based as a spreadsheet shows it: the header is row 1) and column.
"""

from __future__ import annotations

import ast
import csv
import math
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from swelancer.errors import ManifestError
from swelancer.tasks.models import (
    IcTask,
    ManagerTask,
    Proposal,
    commit_problem,
    cwd_problem,
    folder_problem,
    id_problem,
)
from swelancer.textsafe import clean

CURRENT_COLUMNS = (
    "question_id", "variant", "price", "manager_data", "manager_commit",
    "acceptable_folders", "cwd", "set", "title", "description", "proposals",
)  # fmt: skip
OLDER_COLUMNS = (
    "question_id", "variant", "price", "prompt", "manager_data", "manager_commit",
    "acceptable_folders", "cwd",
)  # fmt: skip

KNOWN_BROKEN: dict[str, str] = {
    task_id: (
        "excluded as broken by the Inspect Evals port of SWE-Lancer (inspect_evals 0.26.0); "
        "kept by default so that figures match upstream's, left out with --skip-broken"
    )
    for task_id in ("29854_602", "49523_849", "32236_652")
}

Row = dict[str, str]
AnyTask = IcTask | ManagerTask

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def is_missing(value: str | None) -> bool:
    """Upstream writes a missing value as an empty cell or as pandas' `nan`."""
    return value is None or value.strip() == "" or value.strip().lower() == "nan"


def decode_escapes(text: str) -> str:
    """Turn backslash escapes (`\\n`, `\\t`, `\\u2019`) into the characters they stand for.

    Upstream decodes with `text.encode().decode("unicode_escape")`, which reads the UTF-8 bytes of
    every non-ASCII character as Latin-1 and so turns `’` into `â\\x80\\x99`. Encoding to Latin-1
    with `backslashreplace` first keeps such characters intact as escapes of their own.
    """
    if "\\" not in text:
        return text
    try:
        with warnings.catch_warnings():  # `\d` and friends stay as written, quietly
            warnings.simplefilter("ignore", DeprecationWarning)
            return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return text  # a lone trailing backslash or a broken \x escape: keep the text as written


def detect_schema(header: list[str], path: str) -> str:
    """`current` or `older`, from the header; `ManifestError` naming what is missing."""
    names = set(header)
    if "prompt" in names and "set" not in names:
        schema, needed = "older", OLDER_COLUMNS
    else:
        schema, needed = "current", CURRENT_COLUMNS
    missing = [c for c in needed if c not in names]
    if missing:
        raise ManifestError(
            f"missing column(s) {', '.join(missing)} for the {schema} SWE-Lancer schema "
            f"(header has: {clean(', '.join(header))[:500] or 'nothing'}). Pass a SWE-Lancer "
            "task CSV, such as upstream's all_swelancer_tasks.csv.",
            path=path,
            row=1,
            column=missing[0],
        )
    return schema


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
            raise self.fail("price", f"not a number: {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise self.fail("price", f"must be a finite amount of dollars ≥ 0, got {raw!r}")
        return value


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
        out.append(message["content"])
    return out


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
    proposals = []
    formal = game.get("all_formal_proposals")
    for item in formal if isinstance(formal, list | tuple) else []:
        if not isinstance(item, dict) or isinstance(item.get("id"), bool):
            continue
        if isinstance(item.get("id"), int):
            proposals.append(Proposal(id=item["id"], text=str(item.get("content") or "")))
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
        "title_fallback": str(data.get("title") or ""),
        "description_fallback": str(data.get("html_description") or ""),
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
    cwd = rr.text("cwd").strip() or "/app/expensify"
    common: dict[str, Any] = {
        "task_id": task_id,
        "price_usd": rr.price(),
        "cwd": rr.checked("cwd", cwd, cwd_problem(cwd)),
        "broken": KNOWN_BROKEN.get(task_id),
    }
    if schema == "current":
        common["split"] = rr.text("set").strip() or "diamond"
        common["title"] = decode_escapes(rr.text("title"))
        common["description"] = decode_escapes(rr.text("description"))
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
    proposals_text = decode_escapes(rr.text("proposals")) if schema == "current" else ""
    return ManagerTask(**common, **fields, proposals_text=proposals_text)


def iter_rows(path: Path) -> Iterator[tuple[int, Row, str]]:
    """Yield (spreadsheet row number, row, schema) for each data row of a manifest CSV."""
    shown = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            "no such file. Check the path given to --manifest, or use --split.", path=shown
        ) from None
    except OSError as exc:
        raise ManifestError(f"cannot be read ({exc.strerror}).", path=shown) from None
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ManifestError("the file is empty; expected a CSV header.", path=shown, row=1)
            header = [h.strip().lstrip("\ufeff") for h in header]
            schema = detect_schema(header, shown)
            for index, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) > len(header):
                    raise ManifestError(
                        f"{len(cells)} cells but the header names {len(header)} columns",
                        path=shown,
                        row=index,
                    )
                yield index, dict(zip(header, cells, strict=False)), schema
        except UnicodeDecodeError as exc:
            raise ManifestError(
                f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the CSV as UTF-8.",
                path=shown,
            ) from None
        except csv.Error as exc:
            raise ManifestError(f"not a well-formed CSV ({exc}).", path=shown) from None


def load_manifest(path: Path) -> list[AnyTask]:
    """Every task of a manifest CSV, in file order. Raises `ManifestError` on any bad row."""
    tasks: list[AnyTask] = []
    seen: dict[str, int] = {}
    for line, row, schema in iter_rows(path):
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
    return tasks


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
