"""What a run directory holds about one attempt, read into an `AttemptView`: its
transcript.jsonl (damaged lines skipped), its grading logs, decision.json, patch.diff and its
AttemptRecord. `blocks` turns a view into what the terminal and the HTML report draw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swelancer.errors import ConfigError
from swelancer.jsonl import read_objects
from swelancer.records import AttemptRecord
from swelancer.report.metrics import is_run_dir, run_dirs_in
from swelancer.run.results import RunDir
from swelancer.textsafe import clean


@dataclass
class GradingRun:
    """One run of the tests: `grading/<test folder>/run-<k>/`."""

    folder: str
    run: int
    exit_code: str | None
    log: str
    playbook: str | None = None


@dataclass
class AttemptView:
    """Everything the run directory holds about one attempt."""

    run_dir: Path
    task_id: str
    attempt: int
    folder: Path
    events: list[dict[str, Any]]
    skipped_lines: int
    record: AttemptRecord | None
    grading: list[GradingRun]
    decision: str | None
    patch: str | None
    others: list[int]
    """The task's other attempts."""


def one_line(text: str) -> str:
    """A title, label or name: cleaned, on one line."""
    return " ".join(clean(text).splitlines())


# -- reading ------------------------------------------------------------------------------


def read_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The events of a transcript.jsonl and how many lines were skipped as damaged."""
    events, skipped = read_objects(path)
    return [_printable(e) for e in events], skipped


def _printable(value: Any) -> Any:
    """The value with lone surrogates (bytes that were not UTF-8) replaced, so it can be
    printed and written."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode(
                "utf-8", "surrogateescape" if _escaped(value) else "replace"
            ).decode("utf-8", "replace")
        return value
    if isinstance(value, dict):
        return {str(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


def _escaped(value: str) -> bool:
    """Whether every surrogate in the text stands for a byte (as surrogateescape writes it)."""
    return all("\udc80" <= c <= "\udcff" for c in value if "\ud800" <= c <= "\udfff")


def _read_text(path: Path, limit: int = 5_000_000) -> str | None:
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"\n… the file is longer than {limit:,} bytes; see {path}"
    return text


def _number(name: str) -> int:
    digits = re.sub(r"\D", "", name)
    return int(digits) if digits else 0


def read_grading(folder: Path) -> list[GradingRun]:
    """`grading/<test folder>/run-<k>/{pytest.log,exit_code,playbook.log}`, in order."""
    grading = folder / "grading"
    runs: list[GradingRun] = []
    if not grading.is_dir():
        return runs
    for test_folder in sorted(p for p in grading.iterdir() if p.is_dir()):
        run_dirs = [p for p in test_folder.iterdir() if p.is_dir() and p.name.startswith("run-")]
        for run_dir in sorted(run_dirs, key=lambda p: _number(p.name)):
            code = _read_text(run_dir / "exit_code")
            runs.append(
                GradingRun(
                    folder=test_folder.name,
                    run=_number(run_dir.name),
                    exit_code=code.strip() if code is not None else None,
                    log=_read_text(run_dir / "pytest.log") or "",
                    playbook=_read_text(run_dir / "playbook.log"),
                )
            )
    return runs


def _attempt_numbers(rd: RunDir, task_id: str, records: list[AttemptRecord]) -> list[int]:
    numbers = {r.attempt for r in records if r.task_id == task_id}
    task_dir = rd.task_dir(task_id)
    if task_dir.is_dir():
        numbers |= {int(p.name) for p in task_dir.iterdir() if p.is_dir() and p.name.isdigit()}
    return sorted(numbers)


def task_ids(rd: RunDir, records: list[AttemptRecord]) -> list[str]:
    ids = {r.task_id for r in records}
    attempts = rd.path / "attempts"
    if attempts.is_dir():
        ids |= {p.name for p in attempts.iterdir() if p.is_dir()}
    return sorted(ids)


def _listing(names: list[str], limit: int = 30) -> str:
    shown = ", ".join(one_line(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def resolve_run(run: Path, results_dir: Path) -> Path:
    """A run directory named by its path or by its id under `results_dir`."""
    for candidate in (run, results_dir / run):
        if is_run_dir(candidate):
            return candidate
    runs = [p.name for p in run_dirs_in(results_dir)]
    known = f"runs under {results_dir}: {_listing(runs)}" if runs else f"no run under {results_dir}"
    raise ConfigError(f"{run} is not a run directory (no run.json or attempts.jsonl); {known}.")


def load_attempt(
    run_dir: Path,
    task_id: str,
    attempt: int | None = None,
    records: list[AttemptRecord] | None = None,
) -> AttemptView:
    """What the run directory holds about one attempt (the first when `attempt` is None)."""
    rd = RunDir(run_dir)
    records = rd.records() if records is None else records
    tasks = task_ids(rd, records)
    if task_id not in tasks:
        known = f"its tasks: {_listing(tasks)}" if tasks else "it has no attempt yet"
        raise ConfigError(f"run {rd.run_id} has no task {task_id!r}; {known}.")
    numbers = _attempt_numbers(rd, task_id, records)
    if attempt is None:
        attempt = numbers[0] if numbers else 1
    if attempt not in numbers:
        listed = ", ".join(map(str, numbers)) or "none"
        raise ConfigError(
            f"task {task_id} of run {rd.run_id} has no attempt {attempt}; its attempts: {listed}."
        )
    folder = rd.attempt_dir(task_id, attempt)
    events, skipped = read_events(folder / "transcript.jsonl")
    mine = [r for r in records if r.task_id == task_id and r.attempt == attempt]
    return AttemptView(
        run_dir=run_dir,
        task_id=task_id,
        attempt=attempt,
        folder=folder,
        events=events,
        skipped_lines=skipped,
        record=mine[-1] if mine else None,
        grading=read_grading(folder),
        decision=_read_text(folder / "grading" / "decision.json")
        or _read_text(folder / "decision.json"),
        patch=_read_text(folder / "patch.diff"),
        others=[n for n in numbers if n != attempt],
    )
