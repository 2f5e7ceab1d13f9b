"""Choose tasks: resolve a split or manifest file, load it, apply the user's filters."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from swelancer.tasks.manifest import AnyTask, read_manifest, select_tasks
from swelancer.tasks.models import PriceStyle
from swelancer.tasks.sources import ManifestSource, resolve_source


class TaskQuery(BaseModel):
    """The task selectors shared by `tasks` and `run`."""

    split: str | None = None
    manifest: Path | None = None
    variant: str | None = None
    task_ids: list[str] = []
    limit: int | None = None
    skip_broken: bool = False


class TaskSet(BaseModel):
    """Tasks chosen by a query, with where they came from."""

    tasks: list[AnyTask]
    source: ManifestSource
    skipped_broken: list[str] = []
    price_style: PriceStyle = "float"
    """How upstream's harness (pandas) types the manifest's price column: its prompts say
    `500` or `500.0` accordingly."""


def load_tasks(query: TaskQuery, *, show_progress: bool = True) -> TaskSet:
    """Load and filter the tasks a query names. Raises `ManifestError` on any problem."""
    source = resolve_source(query.split, query.manifest, show_progress=show_progress)
    tasks, price_style = read_manifest(Path(source.path))
    # The `set` column names diamond/nondiamond; lite and demo files are taken whole.
    split_filter = query.split if query.split in ("diamond", "nondiamond") else None
    where = str(query.manifest) if query.manifest else f"the {source.split} split"
    kept = select_tasks(
        tasks,
        split=split_filter,
        variant=query.variant,
        task_ids=query.task_ids or None,
        source=where,
    )
    skipped = [t.task_id for t in kept if t.broken] if query.skip_broken else []
    chosen = [t for t in kept if t.task_id not in skipped]
    if query.limit is not None:
        chosen = chosen[: max(query.limit, 0)]
    return TaskSet(
        tasks=chosen, source=source, skipped_broken=skipped, price_style=price_style
    )


def task_stats(task_set: TaskSet) -> dict:
    """Tasks and dollars per variant, in total and by price bucket, with the manifest's source."""
    from swelancer.tasks.models import PRICE_BUCKETS, VARIANTS, price_bucket

    def tally(tasks: list[AnyTask]) -> dict:
        return {"tasks": len(tasks), "usd": round(sum(t.price_usd for t in tasks), 2)}

    tasks = task_set.tasks
    out: dict = {"total": tally(tasks)}
    for variant in VARIANTS:
        out[variant] = tally([t for t in tasks if t.variant == variant])
    out["by_price_bucket"] = {
        label: tally([t for t in tasks if price_bucket(t.price_usd) == label])
        for label, _, _ in PRICE_BUCKETS
    }
    out["known_broken"] = [t.task_id for t in tasks if t.broken]
    out["skipped_broken"] = task_set.skipped_broken
    out["source"] = task_set.source.model_dump()
    return out
