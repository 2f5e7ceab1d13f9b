"""The images a run starts its containers from: each name resolved to its id once, before the
first attempt, and held for the whole run, so that a tag moved meanwhile (a pull, a rebuild of
the demo image, another checkout's build on a shared engine) changes nothing of it. A resume
whose names now resolve to other ids, or a run of one image resumed under another name that
gives another id, is refused unless the user allows the change."""

from __future__ import annotations

from typing import Any

from swelancer.errors import ConfigError
from swelancer.records import utc_now


def pins_for(site: str, ids: dict[str, str]) -> dict[str, str]:
    """Name → the id every container of the run starts from. Only where the ids were read
    from the engine the attempts use: a cluster's nodes may each hold a build of their own of
    an image (the demo image, built on each), so there each node resolves the name itself."""
    return dict(ids) if site == "local" else {}


def moved(recorded: dict[str, Any] | None, ids: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Name → (the id the run recorded, the id it names now), for each that changed."""
    recorded = recorded or {}
    return {
        name: (str(recorded[name]), new)
        for name, new in ids.items()
        if recorded.get(name) and recorded[name] != new
    }


def renamed(recorded: dict[str, Any] | None, ids: dict[str, str]) -> tuple[str, str, str] | None:
    """(the name the run used, its id, the name now) when a run of one image is resumed
    under another name that gives another id (`--image B` after `--image A`): every task
    then runs on another image, as when a tag moves. A run of several images (per-task
    images) may be resumed on other tasks, whose names are new: not judged here."""
    recorded = {k: str(v) for k, v in (recorded or {}).items() if v}
    if len(recorded) != 1 or len(ids) != 1:
        return None
    (before, old), (now, new) = next(iter(recorded.items())), next(iter(ids.items()))
    if before == now or old == new:
        return None
    return before, old, now


def check_resume(
    existing: dict[str, Any] | None, ids: dict[str, str], run_id: str, allow: bool
) -> list[dict[str, str]]:
    """The run.json record of the images a resume goes on with: refused (a `ConfigError`
    naming the image, the id the run used and the one its name gives now) when a name moved,
    unless `allow`; then the changes, appended to those recorded before."""
    if not existing:
        return []
    before = list(existing.get("image_changes") or [])
    other = renamed(existing.get("images"), ids)
    if other is not None:
        return [*before, _renamed_change(other, ids[other[2]], run_id, allow)]
    changed = moved(existing.get("images"), ids)
    if not changed:
        return before
    if not allow:
        name, (old, new) = next(iter(changed.items()))
        more = f" (and {len(changed) - 1} other image(s))" if len(changed) > 1 else ""
        raise ConfigError(
            f"run {run_id} started its containers from {name} as it was then ({old}); that "
            f"name now gives another image ({new}), rebuilt or pulled since{more}. Resuming "
            "would mix two images in one run's results. Resume with the image the run had "
            f"(`docker tag {old} {name}`, if the engine still holds it), pass "
            "--allow-image-change to go on with the new one (run.json and each attempt's "
            "record say which image it ran), or use another --run-id."
        )
    at = utc_now()
    return before + [
        {"image": name, "from": old, "to": new, "at": at} for name, (old, new) in changed.items()
    ]


def _renamed_change(
    other: tuple[str, str, str], new: str, run_id: str, allow: bool
) -> dict[str, str]:
    name, old, now = other
    if not allow:
        raise ConfigError(
            f"run {run_id} started its containers from {name} ({old}); this resume names "
            f"{now}, another image ({new}). Resuming would mix two images in one run's "
            f"results. Resume with --image {name} (if the engine still holds {old}), pass "
            "--allow-image-change to go on with the new one (run.json and each attempt's "
            "record say which image it ran), or use another --run-id."
        )
    return {"image": now, "from": old, "to": new, "at": utc_now(), "renamed_from": name}
