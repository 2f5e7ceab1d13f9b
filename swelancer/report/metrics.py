"""Figures of a run, recomputed from attempts.jsonl, and their renderings.

A task's pass@1 is the mean score of its graded attempts; it earns `price × pass@1`. Attempts
that ended in an infrastructure error are outside every denominator and listed apart; a task
whose attempts all errored is not counted as available.

Renderers: `render_table` (rich, for a terminal), `render_markdown`, `render_json`; the HTML
report is in `report_html`, comparisons of several runs in `compare`.
"""

from __future__ import annotations

import io
from collections import defaultdict
from math import comb
from pathlib import Path
from typing import Any

from swelancer.run.results import AttemptRecord, RunDir
from swelancer.tasks.models import PRICE_BUCKETS, VARIANTS, price_bucket
from swelancer.textsafe import json_text, md_text, rich_text

REPORT_SCHEMA = 1
VARIANT_NAMES = {"ic_swe": "IC SWE", "swe_manager": "SWE Manager"}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n graded attempts of which c passed."""
    if n < k:
        return 1.0 if c > 0 else 0.0
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def _figures(records: list[AttemptRecord], k: int) -> dict[str, Any]:
    by_task: dict[str, list[AttemptRecord]] = defaultdict(list)
    for r in records:
        by_task[r.task_id].append(r)
    graded = {t: [r for r in rs if r.status != "error"] for t, rs in by_task.items()}
    graded = {t: rs for t, rs in graded.items() if rs}
    pass1 = {t: sum(r.score for r in rs) / len(rs) for t, rs in graded.items()}
    price = {t: rs[0].price_usd for t, rs in by_task.items()}
    costs = [r.cost_usd for r in records]
    cost = None if any(c is None for c in costs) else round(sum(costs), 6)  # type: ignore[arg-type]
    earned = round(sum(price[t] * p for t, p in pass1.items()), 2)
    out: dict[str, Any] = {
        "tasks": len(graded),
        "tasks_errored": len(by_task) - len(graded),
        "attempts": len(records),
        "passed": sum(r.status == "passed" for r in records),
        "failed": sum(r.status == "failed" for r in records),
        "errors": sum(r.status == "error" for r in records),
        "pass_at_1": round(sum(pass1.values()) / len(pass1), 4) if pass1 else 0.0,
        "earned_usd": earned,
        "available_usd": round(sum(price[t] for t in graded), 2),
        "errored_usd": round(sum(price[t] for t in by_task if t not in graded), 2),
        "input_tokens": sum(r.tokens.input for r in records),
        "output_tokens": sum(r.tokens.output for r in records),
        "cost_usd": cost,
        "earned_per_api_usd": round(earned / cost, 2) if cost else None,
    }
    if k > 1:
        out[f"pass_at_{k}"] = (
            round(
                sum(
                    pass_at_k(len(rs), sum(r.status == "passed" for r in rs), k)
                    for rs in graded.values()
                )
                / len(graded),
                4,
            )
            if graded
            else 0.0
        )
    return out


def _task_rows(records: list[AttemptRecord]) -> list[dict[str, Any]]:
    """One row per task: its attempts and what it earned (the same arithmetic as `_figures`)."""
    by_task: dict[str, list[AttemptRecord]] = defaultdict(list)
    for r in records:
        by_task[r.task_id].append(r)
    rows = []
    for task_id in sorted(by_task):
        attempts = sorted(by_task[task_id], key=lambda r: r.attempt)
        graded = [r for r in attempts if r.status != "error"]
        pass1 = sum(r.score for r in graded) / len(graded) if graded else None
        passed = sum(r.status == "passed" for r in attempts)
        if not graded:
            status = "error"
        elif passed == len(graded):
            status = "passed"
        elif passed == 0:
            status = "failed"
        else:
            status = "mixed"
        price = attempts[0].price_usd
        rows.append(
            {
                "task_id": task_id,
                "variant": attempts[0].variant,
                "price_usd": price,
                "price_bucket": price_bucket(price),
                "status": status,
                "graded": len(graded),
                "passed": passed,
                "errors": len(attempts) - len(graded),
                "pass_at_1": None if pass1 is None else round(pass1, 4),
                "earned_usd": 0.0 if pass1 is None else round(price * pass1, 4),
                "attempts": [
                    {
                        "attempt": r.attempt,
                        "status": r.status,
                        "score": r.score,
                        "earned_usd": r.earned_usd,
                        "turns": r.turns,
                        "cost_usd": r.cost_usd,
                        "stop_reason": r.stop_reason,
                        "reason": r.reason,
                        "error": f"{r.error.kind}: {r.error.message}" if r.error else None,
                    }
                    for r in attempts
                ],
            }
        )
    return rows


def _read_meta(rd: RunDir) -> tuple[dict[str, Any], list[str]]:
    try:
        meta = rd.read_run() or {}
    except (OSError, ValueError) as exc:
        return {}, [f"run.json could not be read ({exc}); the run's context is unknown."]
    return (meta, []) if isinstance(meta, dict) else ({}, ["run.json is not a JSON object."])


def compute(run_dir: Path) -> dict[str, Any]:
    """Every figure of a run, from its attempts.jsonl (and run.json for the context)."""
    rd = RunDir(run_dir)
    meta, problems = _read_meta(rd)
    records = rd.records()
    k = int((meta.get("config") or {}).get("tries") or max((r.attempt for r in records), default=1))
    report: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA,
        "run_id": meta.get("run_id", rd.run_id),
        "model": meta.get("model") or (records[0].model if records else None),
        "status": meta.get("status"),
        "manifest": meta.get("manifest"),
        "skipped_broken": meta.get("skipped_broken", []),
        "tries": k,
        "started_at": meta.get("started_at") or meta.get("created_at"),
        "finished_at": meta.get("finished_at"),
        "problems": problems,
        **_figures(records, k),
    }
    report["by_variant"] = {
        v: _figures([r for r in records if r.variant == v], k) for v in VARIANTS
    }
    report["by_price_bucket"] = {
        label: _figures([r for r in records if price_bucket(r.price_usd) == label], k)
        for label, _, _ in PRICE_BUCKETS
    }
    report["errored"] = [
        {
            "task_id": r.task_id,
            "attempt": r.attempt,
            "kind": r.error.kind,
            "message": r.error.message,
        }
        for r in records
        if r.status == "error" and r.error
    ]
    report["per_task"] = _task_rows(records)
    return report


def is_run_dir(path: Path) -> bool:
    return (path / "attempts.jsonl").is_file() or (path / "run.json").is_file()


def run_dirs_in(results_dir: Path) -> list[Path]:
    """The run directories directly inside a results directory, by name."""
    if not results_dir.is_dir():
        return []
    return sorted(p for p in results_dir.iterdir() if p.is_dir() and is_run_dir(p))


def newest_run(results_dir: Path) -> Path | None:
    runs = [p for p in results_dir.glob("*/run.json")] if results_dir.exists() else []
    return max(runs, key=lambda p: p.stat().st_mtime).parent if runs else None


# -- formatting shared by every renderer ---------------------------------------------------


def money(value: float | None) -> str:
    """Dollars as a reader writes them: `$1,250`, `$12.50`; `unknown` when not known."""
    if value is None:
        return "unknown"
    return f"${value:,.2f}".removesuffix(".00")


def api_money(value: float | None) -> str:
    """API dollars, which are often small: four decimals below a dollar."""
    if value is None:
        return "unknown"
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def model_name(report: dict[str, Any]) -> str:
    return report.get("model") or "unknown model"


def variant_name(variant: str) -> str:
    return VARIANT_NAMES.get(variant, variant)


ROWS = (
    ("tasks", "tasks graded"),
    ("attempts", "attempts"),
    ("passed", "passed"),
    ("failed", "failed"),
    ("errors", "errors (not counted)"),
    ("pass_at_1", "pass@1"),
    ("earned_usd", "earned"),
    ("available_usd", "available"),
    ("input_tokens", "input tokens"),
    ("output_tokens", "output tokens"),
    ("cost_usd", "API cost"),
    ("earned_per_api_usd", "earned per API dollar"),
)


def cell(key: str, value: Any) -> str:
    if key == "cost_usd":
        return api_money(value)
    if key == "earned_per_api_usd":
        return ratio(value)
    if key.endswith("_usd"):
        return money(value)
    if key.startswith("pass_at"):
        return percent(value)
    if key.endswith("_tokens") and isinstance(value, int):
        return f"{value:,}"
    return "unknown" if value is None else str(value)


def figure_cell(key: str, figures: dict[str, Any]) -> str:
    """A figure of a group as shown; pass@k of a group with no graded task is a dash, not 0%."""
    if key.startswith("pass_at") and not figures["tasks"]:
        return "—"
    return cell(key, figures[key])


def columns(report: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(key, title, figures) of the summary's columns: each variant, then the total."""
    return [
        *((v, variant_name(v), report["by_variant"][v]) for v in VARIANTS),
        ("total", "total", report),
    ]


def rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    out = list(ROWS)
    if report["tries"] > 1:
        out.insert(6, (f"pass_at_{report['tries']}", f"pass@{report['tries']}"))
    return out


BUCKET_COLUMNS = (
    ("tasks", "tasks"),
    ("pass_at_1", "pass@1"),
    ("earned_usd", "earned"),
    ("available_usd", "available"),
    ("errors", "errors"),
)


def bucket_rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The price buckets that hold at least one attempt, cheapest first."""
    return [(label, f) for label, f in report["by_price_bucket"].items() if f["attempts"]]


def headline(report: dict[str, Any]) -> str:
    share = report["earned_usd"] / report["available_usd"] if report["available_usd"] else None
    text = f"Earned {money(report['earned_usd'])} of {money(report['available_usd'])}"
    if share is not None:
        text += f" ({share:.1%} of the dollars)"
    text += f", pass@1 {figure_cell('pass_at_1', report)}"
    if report["tries"] > 1:
        k = report["tries"]
        text += f", pass@{k} {figure_cell(f'pass_at_{k}', report)}"
    return text + "."


def notes(report: dict[str, Any]) -> list[str]:
    out = list(report.get("problems") or [])
    if report["errors"]:
        out.append(
            f"{report['errors']} attempt(s) ended in infrastructure errors and are left out of "
            f"every figure ({money(report['errored_usd'])} of tasks with no graded attempt); "
            "they are listed under 'Errored attempts'."
        )
    if report["skipped_broken"]:
        out.append(
            "left out as known broken upstream (--skip-broken): "
            + ", ".join(report["skipped_broken"])
        )
    if report["status"] == "running":
        out.append(
            "the run is still running (or was killed before it could say so): the figures "
            "cover the attempts recorded so far."
        )
    elif report["status"] not in (None, "complete"):
        out.append(f"the run is {report['status']}: resume it to record the missing attempts.")
    if report["cost_usd"] is None and report["attempts"]:
        out.append("the API cost is unknown (a model without a known price).")
    return out


# -- Markdown -----------------------------------------------------------------------------


def md_cell(text: Any) -> str:
    """Text from a run that stays inside one Markdown table cell (or heading, or list item) and
    makes no HTML, link or image there (`textsafe.md_text`)."""
    return md_text(text)


def render_markdown(report: dict[str, Any]) -> str:
    cols = columns(report)
    lines = [
        f"# {md_cell(report['run_id'])} — {md_cell(model_name(report))}",
        "",
        f"**{headline(report)}**",
        "",
        "| | " + " | ".join(title for _, title, _ in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for key, label in rows(report):
        lines.append(f"| {label} | " + " | ".join(figure_cell(key, f) for _, _, f in cols) + " |")
    buckets = bucket_rows(report)
    if buckets:
        lines += [
            "",
            "## By price",
            "",
            "| price | " + " | ".join(label for _, label in BUCKET_COLUMNS) + " |",
            "|---|" + "---:|" * len(BUCKET_COLUMNS),
        ]
        for label, f in buckets:
            lines.append(
                f"| {label} | " + " | ".join(figure_cell(k, f) for k, _ in BUCKET_COLUMNS) + " |"
            )
    if report["errored"]:
        lines += [
            "",
            "## Errored attempts",
            "",
            "| task | attempt | kind | reason |",
            "|---|---:|---|---|",
        ]
        for e in report["errored"]:
            lines.append(
                f"| {md_cell(e['task_id'])} | {e['attempt']} | {md_cell(e['kind'])} | "
                f"{md_cell(e['message'])} |"
            )
    found = notes(report)
    if found:
        lines += ["", "## Notes", "", *(f"- {md_cell(n)}" for n in found)]
    return "\n".join(lines) + "\n"


# -- terminal -----------------------------------------------------------------------------


def console(file: Any = None, *, width: int | None = None) -> Any:
    """A rich console that reads no markup or emoji codes in what it prints (text from a run may
    hold any); wide when the output is not a terminal so that tables are not squeezed."""
    from rich.console import Console

    options = {"highlight": False, "markup": False, "emoji": False}
    made = Console(file=file, width=width, **options)
    if width is None and not made.is_terminal:
        made = Console(file=file, width=160, **options)
    return made


def render_table(report: dict[str, Any], out: Any = None) -> None:
    """The report as rich tables on `out` (a console; the terminal by default). Text from the
    run is drawn as cleaned rich `Text`: no escape sequence and no markup gets through."""
    from rich.table import Table

    out = out or console()
    table = Table(title=rich_text(f"{report['run_id']} — {model_name(report)}"))
    table.add_column("")
    cols = columns(report)
    for _, title, _ in cols:
        table.add_column(title, justify="right")
    for key, label in rows(report):
        table.add_row(label, *(figure_cell(key, f) for _, _, f in cols))
    out.print(table)
    out.print(headline(report), style="bold", markup=False)
    buckets = bucket_rows(report)
    if buckets:
        by_price = Table(title="by price")
        by_price.add_column("price")
        for _, label in BUCKET_COLUMNS:
            by_price.add_column(label, justify="right")
        for label, f in buckets:
            by_price.add_row(label, *(figure_cell(k, f) for k, _ in BUCKET_COLUMNS))
        out.print(by_price)
    if report["errored"]:
        errored = Table(title="errored attempts (not counted)")
        for name in ("task", "attempt", "kind", "reason"):
            errored.add_column(name, overflow="fold")
        for e in report["errored"]:
            errored.add_row(
                rich_text(e["task_id"]), str(e["attempt"]), rich_text(e["kind"]),
                rich_text(e["message"]),
            )  # fmt: skip
        out.print(errored)
    for note in notes(report):
        out.print(rich_text(note))


def table_text(render: Any, *args: Any) -> str:
    """What a table renderer prints, as plain text (for --output)."""
    buffer = io.StringIO()
    render(*args, console(buffer, width=120))
    return buffer.getvalue()


def render_json(report: dict[str, Any]) -> str:
    """The report as JSON; nothing in it that a terminal acts on (`textsafe.json_text`)."""
    return json_text(report, indent=2)
