"""Several runs side by side, and the leaderboard of a results directory.

Each run's figures come from `report.compute` (so from its attempts.jsonl); nothing here adds
arithmetic of its own beyond putting them next to each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from swelancer.report.metrics import (
    compute,
    console,
    figure_cell,
    md_cell,
    money,
    percent,
    run_dirs_in,
)
from swelancer.textsafe import json_text, rich_text

COMPARISON_SCHEMA = 1
RUN_FIELDS: list[tuple[str, str]] = [
    ("model", "model"),
    ("status", "status"),
    ("tasks", "tasks graded"),
    ("pass_at_1", "pass@1"),
    ("earned_usd", "earned"),
    ("available_usd", "available"),
    ("errors", "errors"),
    ("cost_usd", "API cost"),
]
COMPARISON_ROWS: list[tuple[str, str]] = [
    *RUN_FIELDS[:6],
    ("ic_swe_earned_usd", "earned, IC SWE"),
    ("swe_manager_earned_usd", "earned, SWE Manager"),
    *RUN_FIELDS[6:],
    ("earned_per_api_usd", "earned per API dollar"),
]


def comparison_rows(comparison: dict[str, Any]) -> list[tuple[str, str]]:
    rows = list(COMPARISON_ROWS)
    if comparison["runs"] and "common_earned_usd" in comparison["runs"][0]:
        rows.insert(6, ("common_earned_usd", "earned, tasks all graded"))
        rows.insert(7, ("common_available_usd", "available, tasks all graded"))
    return rows


def run_summary(report: dict[str, Any], path: Path) -> dict[str, Any]:
    """The figures of one run that a comparison shows."""
    return {
        "run_id": report["run_id"],
        "path": str(path),
        "model": report["model"],
        "status": report["status"],
        "tries": report["tries"],
        "tasks": report["tasks"],
        "attempts": report["attempts"],
        "pass_at_1": report["pass_at_1"],
        "earned_usd": report["earned_usd"],
        "available_usd": report["available_usd"],
        "ic_swe_earned_usd": report["by_variant"]["ic_swe"]["earned_usd"],
        "swe_manager_earned_usd": report["by_variant"]["swe_manager"]["earned_usd"],
        "errors": report["errors"],
        "errored_usd": report["errored_usd"],
        "cost_usd": report["cost_usd"],
        "earned_per_api_usd": report["earned_per_api_usd"],
    }


def _state(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "status": row["status"],
        "pass_at_1": row["pass_at_1"],
        "earned_usd": row["earned_usd"],
        "attempts": len(row["attempts"]),
    }


def status_text(state: dict[str, Any] | None) -> str:
    """How one run did on one task, in a few words."""
    if state is None:
        return "not run"
    if state["status"] == "error":
        return "error"
    return f"{state['status']} {percent(state['pass_at_1'])}"


def compare_runs(paths: list[Path]) -> dict[str, Any]:
    """The runs side by side; the tasks every run has on which they differ (most expensive
    first); and the tasks only some runs have."""
    reports = [compute(p) for p in paths]
    rows = [{t["task_id"]: t for t in r["per_task"]} for r in reports]
    all_tasks = sorted(set().union(*rows))
    common = [t for t in all_tasks if all(t in by_id for by_id in rows)]

    def entry(task_id: str) -> dict[str, Any]:
        price = next(by_id[task_id]["price_usd"] for by_id in rows if task_id in by_id)
        states = [_state(by_id.get(task_id)) for by_id in rows]
        return {"task_id": task_id, "price_usd": price, "runs": states}

    def outcome(state: dict[str, Any] | None) -> tuple | None:
        return None if state is None else (state["status"], state["pass_at_1"])

    differences = [entry(t) for t in common]
    differences = [d for d in differences if len({outcome(s) for s in d["runs"]}) > 1]
    differences.sort(key=lambda d: (-d["price_usd"], d["task_id"]))
    only_some = [entry(t) for t in all_tasks if t not in common]
    only_some.sort(key=lambda d: (-d["price_usd"], d["task_id"]))
    summaries = [run_summary(r, p) for r, p in zip(reports, paths, strict=True)]
    found = []
    if only_some:
        graded_everywhere = [
            t for t in common if all(by_id[t]["pass_at_1"] is not None for by_id in rows)
        ]
        for summary, by_id in zip(summaries, rows, strict=True):
            summary["common_earned_usd"] = round(
                sum(by_id[t]["earned_usd"] for t in graded_everywhere), 2
            )
            summary["common_available_usd"] = round(
                sum(by_id[t]["price_usd"] for t in graded_everywhere), 2
            )
        found.append(
            f"{len(only_some)} task(s) are in only some of the runs; on the "
            f"{len(graded_everywhere)} task(s) every run graded, the runs earned "
            + ", ".join(f"{money(s['common_earned_usd'])} ({s['run_id']})" for s in summaries)
            + f" of {money(summaries[0]['common_available_usd'])}."
        )
    if any(r["errors"] for r in reports):
        found.append("attempts that ended in infrastructure errors are outside every figure.")
    incomplete = [r["run_id"] for r in reports if r["status"] not in (None, "complete")]
    if incomplete:
        found.append("not complete: " + ", ".join(incomplete))
    return {
        "schema_version": COMPARISON_SCHEMA,
        "kind": "comparison",
        "runs": summaries,
        "tasks": len(all_tasks),
        "tasks_in_common": len(common),
        "same": len(common) - len(differences),
        "differences": differences,
        "only_in_some": only_some,
        "notes": found,
    }


def leaderboard(results_dir: Path) -> dict[str, Any]:
    """Every run in a results directory, by dollars earned (then pass@1, then name)."""
    paths = run_dirs_in(results_dir)
    runs = [run_summary(compute(p), p) for p in paths]
    runs.sort(key=lambda r: (-r["earned_usd"], -r["pass_at_1"], r["run_id"]))
    for rank, run in enumerate(runs, start=1):
        run["rank"] = rank
    found = []
    available = {r["available_usd"] for r in runs}
    if len(available) > 1:
        found.append(
            f"the runs were scored on different dollars available ({money(min(available))} to "
            f"{money(max(available))}): a different task set, errors, or an unfinished run; "
            "compare earned with available."
        )
    incomplete = [r["run_id"] for r in runs if r["status"] not in (None, "complete")]
    if incomplete:
        found.append("not complete: " + ", ".join(incomplete))
    return {
        "schema_version": COMPARISON_SCHEMA,
        "kind": "leaderboard",
        "results_dir": str(results_dir),
        "runs": runs,
        "notes": found,
    }


# -- renderers ----------------------------------------------------------------------------


def render_json(data: dict[str, Any]) -> str:
    """The data as JSON; nothing in it that a terminal acts on (`textsafe.json_text`)."""
    return json_text(data, indent=2)


SAME = "The runs did the same on every task they have in common."


def _md_task_table(runs: list[dict[str, Any]], entries: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| task | price | " + " | ".join(md_cell(r["run_id"]) for r in runs) + " |",
        "|---|---:|" + "---|" * len(runs),
    ]
    for d in entries:
        lines.append(
            f"| {md_cell(d['task_id'])} | {money(d['price_usd'])} | "
            + " | ".join(status_text(s) for s in d["runs"])
            + " |"
        )
    return lines


def render_comparison_markdown(comparison: dict[str, Any]) -> str:
    runs = comparison["runs"]
    lines = [
        f"# {len(runs)} runs compared",
        "",
        "| | " + " | ".join(md_cell(r["run_id"]) for r in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for key, label in comparison_rows(comparison):
        lines.append(
            f"| {label} | " + " | ".join(md_cell(figure_cell(key, r)) for r in runs) + " |"
        )
    diffs = comparison["differences"]
    lines += ["", f"## Tasks where they differ ({len(diffs)} of {comparison['tasks_in_common']})"]
    lines += ["", *_md_task_table(runs, diffs)] if diffs else ["", SAME]
    if comparison["only_in_some"]:
        lines += ["", f"## Tasks in only some runs ({len(comparison['only_in_some'])})", ""]
        lines += _md_task_table(runs, comparison["only_in_some"])
    if comparison["notes"]:
        lines += ["", "## Notes", "", *(f"- {md_cell(n)}" for n in comparison["notes"])]
    return "\n".join(lines) + "\n"


def _task_table(title: str, runs: list[dict[str, Any]], entries: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("task")
    table.add_column("price", justify="right")
    for r in runs:
        table.add_column(rich_text(r["run_id"]), overflow="fold")
    for d in entries:
        table.add_row(rich_text(d["task_id"]), money(d["price_usd"]), *map(status_text, d["runs"]))
    return table


def render_comparison_table(comparison: dict[str, Any], out: Any = None) -> None:
    from rich.table import Table

    out = out or console()
    runs = comparison["runs"]
    table = Table(title=f"{len(runs)} runs compared")
    table.add_column("")
    for r in runs:
        table.add_column(rich_text(r["run_id"]), justify="right", overflow="fold")
    for key, label in comparison_rows(comparison):
        table.add_row(label, *(rich_text(figure_cell(key, r)) for r in runs))
    out.print(table)
    diffs = comparison["differences"]
    if diffs:
        title = f"tasks where they differ ({len(diffs)} of {comparison['tasks_in_common']})"
        out.print(_task_table(title, runs, diffs))
    else:
        out.print(SAME)
    if comparison["only_in_some"]:
        title = f"tasks in only some runs ({len(comparison['only_in_some'])})"
        out.print(_task_table(title, runs, comparison["only_in_some"]))
    for note in comparison["notes"]:
        out.print(rich_text(note))


LEADERBOARD_COLUMNS: list[tuple[str, str]] = [("rank", "#"), ("run_id", "run"), *RUN_FIELDS]
TEXT_FIELDS = ("run_id", "model", "status")


def render_leaderboard_markdown(board: dict[str, Any]) -> str:
    lines = [
        f"# Leaderboard: {md_cell(board['results_dir'])}",
        "",
        "| " + " | ".join(label for _, label in LEADERBOARD_COLUMNS) + " |",
        "|" + "".join("---|" if k in TEXT_FIELDS else "---:|" for k, _ in LEADERBOARD_COLUMNS),
    ]
    for r in board["runs"]:
        lines.append(
            "| " + " | ".join(md_cell(figure_cell(k, r)) for k, _ in LEADERBOARD_COLUMNS) + " |"
        )
    if board["notes"]:
        lines += ["", "## Notes", "", *(f"- {md_cell(n)}" for n in board["notes"])]
    return "\n".join(lines) + "\n"


def render_leaderboard_table(board: dict[str, Any], out: Any = None) -> None:
    from rich.table import Table

    out = out or console()
    table = Table(title=rich_text(f"leaderboard: {board['results_dir']} (by dollars earned)"))
    for key, label in LEADERBOARD_COLUMNS:
        left = key in TEXT_FIELDS
        table.add_column(label, justify="left" if left else "right", overflow="fold")
    for r in board["runs"]:
        table.add_row(*(rich_text(figure_cell(k, r)) for k, _ in LEADERBOARD_COLUMNS))
    out.print(table)
    for note in board["notes"]:
        out.print(rich_text(note))
