"""`swelancer tasks …`: list, count, show and download benchmark tasks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swelancer.format import money
from swelancer.textsafe import clean, json_text, rich_text

if TYPE_CHECKING:
    from rich.console import JustifyMethod

tasks_app = typer.Typer(
    help=(
        "Browse the benchmark's tasks.\n\n"
        "  swelancer tasks stats --split diamond\n\n"
        "  swelancer tasks list --split demo --variant swe_manager\n\n"
        "  swelancer tasks show 15193-manager-0 --split diamond --answer"
    ),
    no_args_is_help=True,
)

SplitOpt = Annotated[
    str | None,
    typer.Option(
        "--split",
        "-s",
        help="diamond, nondiamond or all (current upstream manifest, downloaded and cached), "
        "lite (the older lite file), demo (this project's own tasks). Default: diamond.",
    ),
]
ManifestOpt = Annotated[
    Path | None,
    typer.Option("--manifest", "-m", help="Read tasks from this CSV instead of a split."),
]
VariantOpt = Annotated[
    str | None, typer.Option("--variant", help="Only ic_swe or only swe_manager tasks.")
]
TaskOpt = Annotated[
    list[str] | None, typer.Option("--task", "-t", help="Only this task id (repeatable).")
]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-n", help="At most N tasks.")]
SkipBrokenOpt = Annotated[
    bool,
    typer.Option(
        "--skip-broken", help="Leave out tasks known to be broken upstream (said in reports)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def query_from(split, manifest, variant, task, limit, skip_broken):
    """A TaskQuery from the shared selector options (also used by `run`)."""
    from swelancer.tasks.catalog import TaskQuery

    query = TaskQuery(
        split=split,
        manifest=manifest,
        variant=variant,
        task_ids=task or [],
        limit=limit,
        skip_broken=skip_broken,
    )
    check_query(query)
    return query


def check_query(query) -> None:
    """`ConfigError` for a selection that cannot mean anything."""
    from swelancer.errors import ConfigError

    if query.variant and query.variant not in ("ic_swe", "swe_manager"):
        raise ConfigError(f"unknown --variant {query.variant!r}; choose ic_swe or swe_manager.")
    if query.split and query.manifest and query.split not in ("diamond", "nondiamond", "all"):
        raise ConfigError(
            "with --manifest, --split may only filter the file's `set` column "
            "(diamond, nondiamond or all)."
        )


@tasks_app.command("list")
def list_tasks(
    split: SplitOpt = None,
    manifest: ManifestOpt = None,
    variant: VariantOpt = None,
    task: TaskOpt = None,
    limit: LimitOpt = None,
    skip_broken: SkipBrokenOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List tasks: id, variant, price, title. Tasks known to be broken upstream are marked."""
    from swelancer.tasks.catalog import load_tasks

    task_set = load_tasks(query_from(split, manifest, variant, task, limit, skip_broken))
    if as_json:
        rows = [
            {
                "task_id": t.task_id,
                "variant": t.variant,
                "price_usd": t.price_usd,
                "split": t.split,
                "title": t.title,
                "broken": t.broken,
            }
            for t in task_set.tasks
        ]
        typer.echo(json_text(rows, indent=2))
        return
    from rich.console import Console

    console = Console()
    title = f"{len(task_set.tasks)} tasks from {task_set.source.path}"
    table, width = task_table(task_set.tasks, title, console.width)
    Console(width=width).print(table) if width > console.width else console.print(table)
    if any(t.broken for t in task_set.tasks):
        typer.echo("[broken upstream]: " + next(t.broken for t in task_set.tasks if t.broken))


TITLE_MIN = 12
"""Characters of a title kept however narrow the terminal: past that, the table is wider."""
BROKEN_MARK = " [broken upstream]"


def task_table(tasks, caption: str, width: int):
    """The `tasks list` table for a terminal `width` columns wide, and the width it takes: id,
    variant, price and split are shown whole; the title is cut to what is left (at least
    `TITLE_MIN` characters)."""
    from rich.table import Table
    from rich.text import Text

    rows = [(t.task_id, t.variant, money(t.price_usd), t.split) for t in tasks]
    names = ("task", "variant", "price", "split")
    fixed = [
        max([len(n), *(Text(clean(r[i])).cell_len for r in rows)]) for i, n in enumerate(names)
    ]
    frame = 3 * (len(names) + 1) + 1  # a border and two spaces of padding per column, one more
    titles = [rich_text(" ".join(clean(t.title).split())) for t in tasks]
    marks = [Text(BROKEN_MARK if t.broken else "") for t in tasks]
    pairs = zip(titles, marks, strict=True)
    longest = max([len("title"), *(t.cell_len + m.cell_len for t, m in pairs)])
    least = max([TITLE_MIN, *(m.cell_len + 2 for m in marks)])  # a mark always shows whole
    title_width = max(least, min(longest, width - sum(fixed) - frame))
    table = Table(title=rich_text(caption))
    for name, size in zip(names, fixed, strict=True):
        justify: JustifyMethod = "right" if name == "price" else "left"
        table.add_column(name, justify=justify, no_wrap=True, width=size)
    table.add_column("title", no_wrap=True, width=title_width)
    for row, title, mark in zip(rows, titles, marks, strict=True):
        title.truncate(max(title_width - mark.cell_len, 1), overflow="ellipsis")
        table.add_row(*map(rich_text, row), title + mark)
    return table, sum(fixed) + frame + title_width


@tasks_app.command("stats")
def stats(
    split: SplitOpt = None,
    manifest: ManifestOpt = None,
    variant: VariantOpt = None,
    task: TaskOpt = None,
    limit: LimitOpt = None,
    skip_broken: SkipBrokenOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Tasks and dollars per variant and in total, by price bucket, and the manifest's sha256."""
    from swelancer.tasks.catalog import load_tasks, task_stats

    figures = task_stats(load_tasks(query_from(split, manifest, variant, task, limit, skip_broken)))
    if as_json:
        typer.echo(json_text(figures, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="Tasks and dollars available")
    for name in ("", "tasks", "USD"):
        table.add_column(name, justify="left" if not name else "right")
    for key, label in (("ic_swe", "IC SWE"), ("swe_manager", "SWE Manager"), ("total", "total")):
        table.add_row(label, str(figures[key]["tasks"]), money(figures[key]["usd"]))
    console.print(table)
    buckets = Table(title="By price")
    for name in ("price", "tasks", "USD"):
        buckets.add_column(name, justify="left" if name == "price" else "right")
    for label, tally in figures["by_price_bucket"].items():
        buckets.add_row(label, str(tally["tasks"]), money(tally["usd"]))
    console.print(buckets)
    source = figures["source"]
    console.print(rich_text(f"source: {source['kind']} {source.get('url') or source['path']}"))
    console.print(rich_text(f"sha256: {source['sha256']}"))
    if figures["known_broken"]:
        known = ", ".join(figures["known_broken"])
        console.print(rich_text(f"known broken upstream (kept): {known}"))
    if figures["skipped_broken"]:
        skipped = ", ".join(figures["skipped_broken"])
        console.print(rich_text(f"left out (--skip-broken): {skipped}"))


@tasks_app.command("show")
def show(
    task_id: Annotated[str, typer.Argument(help="The task id, e.g. 12155_1 or 15193-manager-0.")],
    split: SplitOpt = None,
    manifest: ManifestOpt = None,
    answer: Annotated[
        bool, typer.Option("--answer", help="Also show the proposal the manager chose.")
    ] = False,
    prompt: Annotated[
        bool,
        typer.Option(
            "--prompt",
            help="Print instead the messages an attempt sends before the model's first reply.",
        ),
    ] = False,
    agent: Annotated[
        str | None, typer.Option("--agent", help="With --prompt: upstream (default) or tools.")
    ] = None,
    prompts: Annotated[
        str | None,
        typer.Option("--prompts", help="With --prompt: upstream, swelancer or FOLDER, as `run`."),
    ] = None,
    prompt_template: Annotated[
        Path | None, typer.Option("--prompt-template", help="With --prompt: as `run`.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The messages of --prompt as a JSON list, exact.")
    ] = False,
) -> None:
    """Show one task: title, price, description and, for manager tasks, the proposals.

    Text from the manifest is cleaned of what a terminal would act on (`textsafe.clean`);
    `--prompt --json` prints the messages exactly as they are sent.

      swelancer tasks show 15193-manager-0 --split diamond --prompt

      swelancer tasks show 12155_1 --split diamond --prompt --agent tools --json"""
    from swelancer.benchmark.variants import rules_for
    from swelancer.tasks.catalog import load_tasks

    task_set = load_tasks(query_from(split, manifest, None, [task_id], None, False))
    t = task_set.tasks[0]
    if prompt or as_json:
        messages = _first_messages(t, task_set.price_style, agent, prompts, prompt_template)
        if as_json:
            typer.echo(json_text(messages, indent=2))
        else:
            for n, text in enumerate(messages, start=1):
                typer.echo(f"--- message {n} of {len(messages)} (user) ---")
                typer.echo(clean(text))
        return
    lines = [
        f"{t.task_id}  ({t.variant}, {money(t.price_usd)}, split {t.split})",
        f"title: {t.title}",
    ]
    if t.broken:
        lines.append(f"known broken upstream: {t.broken}")
    lines += ["", t.description or "\n\n".join(t.prompt or [])]
    lines += rules_for(t).details(answer)
    typer.echo(clean("\n".join(lines)))


def _first_messages(task, price_style, agent, prompts, template) -> list[str]:
    """What the model agent sends first, through the agent's own path (`render_prompt`)."""
    from swelancer.agents.prompt_choice import resolve_prompts
    from swelancer.agents.prompts import render_prompt
    from swelancer.errors import ConfigError

    mode = agent or "upstream"
    if mode not in ("upstream", "tools"):
        raise ConfigError(f"unknown --agent {mode!r}; choose upstream or tools.")
    chosen = resolve_prompts(prompts, mode=mode, template=template, price_style=price_style)
    return render_prompt(task, mode=mode, prompts=chosen)


@tasks_app.command("pull")
def pull(
    split: Annotated[str, typer.Argument(help="diamond, nondiamond, all or lite.")] = "diamond",
) -> None:
    """Download an upstream manifest into the cache now (again, if it is there already)."""
    from swelancer.errors import ConfigError
    from swelancer.tasks.catalog import TaskQuery, load_tasks, task_stats
    from swelancer.tasks.sources import fetch_upstream

    if split not in ("diamond", "nondiamond", "all", "lite"):
        raise ConfigError(f"`tasks pull` takes diamond, nondiamond, all or lite, not {split!r}.")
    path = fetch_upstream("lite" if split == "lite" else "current", refresh=True)
    figures = task_stats(load_tasks(TaskQuery(split=split), show_progress=False))
    typer.echo(f"saved {path}")
    typer.echo(f"sha256 {figures['source']['sha256']}")
    typer.echo(
        f"{figures['total']['tasks']} tasks worth {money(figures['total']['usd'])} "
        f"({figures['ic_swe']['tasks']} IC, {figures['swe_manager']['tasks']} manager)"
    )
