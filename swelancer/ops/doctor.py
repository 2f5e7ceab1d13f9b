"""`swelancer doctor`: is this machine ready to run a selection of tasks with a model?

Each check ends `ok`, `warn` or `fail`, with a fix line when it is not ok. Any `fail` means a run
would not get far (exit code 1); warnings are worth reading but do not stop a run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from swelancer.errors import InfraError, SwelancerError
from swelancer.format import size
from swelancer.sandbox.engine import EngineFacts, ImageEngine

Status = Literal["ok", "warn", "fail"]
WORKING_ROOM_BYTES = 2_000_000_000
"""Disk kept free beyond the images, for containers' writable layers and logs."""
START_DOCKER = (
    "start Docker (Docker Desktop on macOS/Windows, `sudo systemctl start docker` on Linux) or "
    "point DOCKER_HOST at a running engine, then check with `docker info`"
)


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorOptions:
    split: str | None = None
    manifest: Path | None = None
    per_task_images: bool = False
    model: str | None = None
    base_url: str | None = None
    fetch: bool = False


def gigabytes(n: float) -> str:
    """Disk space in GB whatever its size, so that free and needed read alike."""
    return size(n, unit="GB")


# ---------------------------------------------------------------------------------------------
# The checks, each a small function of real inputs


def check_engine(engine: ImageEngine) -> tuple[Check, EngineFacts | None]:
    """Ask the engine about itself; the check and its facts (None when it does not answer)."""
    try:
        facts = engine.facts()
    except InfraError as err:
        detail, fix = _split_advice(str(err))
        return Check("engine", "fail", detail, fix), None
    except Exception as err:  # the engine answered the ping, then failed
        return Check("engine", "fail", f"the Docker engine failed: {err}", START_DOCKER), None
    where = f" at {os.environ['DOCKER_HOST']}" if os.environ.get("DOCKER_HOST") else ""
    detail = f"Docker {facts.version} (API {facts.api_version}, {facts.os}){where}"
    return Check("engine", "ok", detail), facts


def _split_advice(message: str) -> tuple[str, str]:
    """An unreachable engine's message as (what is wrong, how to fix it): its `Start Docker …`
    sentence is the fix; the rest, with what Docker said, the detail."""
    start = message.find("Start Docker")
    end = message.find("(Docker said:")
    if start < 0 or end < start:
        return message, START_DOCKER
    fix = message[start:end].strip()
    detail = (message[:start].strip() + " " + message[end:].strip()).strip()
    return detail, fix


def check_architecture(facts: EngineFacts, *, upstream: bool) -> Check:
    arch = facts.architecture or "unknown"
    x86 = arch.lower() in ("x86_64", "amd64")
    if x86:
        return Check("architecture", "ok", f"{arch}")
    if not upstream:
        return Check("architecture", "ok", f"{arch} (the demo image builds for this engine)")
    return Check(
        "architecture",
        "warn",
        f"{arch}: upstream SWE-Lancer images are x86-64 only; they run under emulation here, "
        "many times slower, and setup may exceed its timeout",
        "run upstream splits on an x86-64 engine (or raise --setup-timeout and expect slow runs)",
    )


def disk_need(missing: list[str], *, unknown_per_task: bool = False) -> tuple[int, str]:
    """Bytes the missing images need, plus working room; and how that figure was made."""
    from swelancer.ops.images import DEMO_IMAGE, estimated_bytes

    need = sum(estimated_bytes(image) for image in missing) + WORKING_ROOM_BYTES
    demo = sum(1 for image in missing if image == DEMO_IMAGE)
    upstream = len(missing) - demo
    parts = []
    if demo:
        parts.append("the demo image (~1 GB)")
    if upstream:
        parts.append(f"{upstream} upstream image{'s' if upstream > 1 else ''} (~14 GB each)")
    parts.append(f"{gigabytes(WORKING_ROOM_BYTES)} working room")
    how = " + ".join(parts)
    if unknown_per_task:
        how += "; per-task images not counted until the manifest is cached"
    return need, how


def check_disk(facts: EngineFacts, missing: list[str], *, unknown_per_task: bool) -> Check:
    """Free space under the engine's data root, when that root is on this machine."""
    root = facts.root_dir
    need, how = disk_need(missing, unknown_per_task=unknown_per_task)
    if not root or not Path(root).exists():
        return Check(
            "disk",
            "warn",
            f"cannot measure: the engine's data root {root or '(unknown)'} is not on this "
            f"machine (a VM or a remote engine); needed ≈ {gigabytes(need)} ({how})",
            "check the engine's free space with `docker system df` and its VM's disk settings",
        )
    try:
        free = shutil.disk_usage(root).free
    except OSError as err:
        return Check(
            "disk",
            "warn",
            f"cannot measure free space on {root} ({err.strerror})",
            "check with `df -h` as a user that can read the Docker data root",
        )
    detail = f"{gigabytes(free)} free on {root}; needed ≈ {gigabytes(need)} ({how})"
    if free < need:
        return Check(
            "disk",
            "fail",
            detail,
            "free space: `swelancer images prune`, `docker system prune`, or remove images you "
            "do not need (or move Docker's data root to a larger disk)",
        )
    return Check("disk", "ok", detail)


def check_container_disk(facts: EngineFacts) -> Check:
    """Whether the engine caps each container's disk (`--disk`, 20g by default)."""
    if facts.no_disk_cap is None:
        return Check("container disk", "ok", "each container's disk is capped (--disk, 20g)")
    return Check(
        "container disk",
        "warn",
        f"the engine cannot cap a container's disk ({facts.no_disk_cap}): an agent can fill "
        "the engine's disk; run.json says so too",
        "put Docker's data root on xfs mounted with pquota to cap each container's disk",
    )


def image_fix(image: str, selection) -> str:
    from swelancer.ops.images import DEMO_IMAGE

    if image == DEMO_IMAGE:
        return "`swelancer images build demo` (or let `swelancer run` build it on first use)"
    split = selection.split if selection.split in ("diamond", "nondiamond", "all", "lite") else ""
    if split:
        flag = " --per-task-images" if "monolith" not in image else ""
        return f"`swelancer images pull {split}{flag}` or `docker pull {image}`"
    return f"`docker pull {image}`"


def check_images(engine: ImageEngine, selection) -> tuple[Check, list[str]]:
    """Whether every image of the selection is on the engine; the check and the missing ones."""
    from swelancer.ops.images import DEMO_IMAGE, image_state

    missing = [image for image in selection.images if not image_state(engine, image).present]
    present = len(selection.images) - len(missing)
    note = f"; {selection.note}" if selection.note else ""
    if not missing:
        names = ", ".join(selection.images[:3]) + (" …" if len(selection.images) > 3 else "")
        return Check("images", "ok", f"{present} present ({names}){note}"), missing
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    detail = f"{len(missing)} of {len(selection.images)} missing: {shown}{note}"
    fixes = list(dict.fromkeys(image_fix(image, selection) for image in missing))
    fix = "; ".join(fixes[:3])
    # A missing demo image is built by `swelancer run` on first use; upstream ones are not.
    status: Status = "warn" if missing == [DEMO_IMAGE] else "fail"
    return Check("images", status, detail, fix), missing


def check_api_key(
    model: str | None, base_url: str | None, env: Mapping[str, str] | None = None
) -> Check:
    """Whether the key `model` needs is set. The key itself is never shown."""
    env = os.environ if env is None else env
    if not model:
        return Check("api key", "ok", "no --model given; nothing to check")
    if model.startswith("mock/"):
        return Check("api key", "ok", f"{model} is a local mock model and needs no key")
    from swelancer.models.resolve import required_key

    try:
        variable = required_key(model, base_url, env=env)
    except SwelancerError as err:
        return Check("api key", "fail", str(err), "choose a model of an accepted form (--model)")
    if variable is None:
        return Check("api key", "ok", f"{model}: no key required (a base URL is set)")
    if env.get(variable):
        return Check("api key", "ok", f"{model}: {variable} set")
    return Check(
        "api key",
        "fail",
        f"{model}: {variable} not set",
        f"export {variable}=… in the shell that runs swelancer",
    )


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 86400:.0f} days"


def check_manifest(split: str | None, manifest: Path | None, *, fetch: bool = False) -> Check:
    """Where the selection's tasks come from; for upstream splits, whether they are cached."""
    import json

    from swelancer.ops.images import UPSTREAM_SPLITS, cached_manifest
    from swelancer.tasks.sources import sha256_of, upstream_url

    if manifest is not None:
        if not manifest.is_file():
            return Check("manifest", "fail", f"no such file: {manifest}", "check --manifest")
        return Check("manifest", "ok", f"{manifest} (sha256 {sha256_of(manifest)[:12]})")
    split = split or "demo"
    if split not in UPSTREAM_SPLITS:
        from swelancer.tasks.sources import demo_manifest_path

        try:
            demo = demo_manifest_path()
        except SwelancerError as err:
            return Check("manifest", "fail", str(err), "use a source checkout, or --manifest")
        return Check("manifest", "ok", f"bundled demo tasks at {demo}")
    which = "lite" if split == "lite" else "current"
    path = cached_manifest(split)
    if path is None and fetch:
        from swelancer.tasks.sources import fetch_upstream

        try:
            path = fetch_upstream(which, show_progress=False)
        except SwelancerError as err:
            return Check(
                "manifest", "fail", str(err), "check the network, or pass a local CSV (--manifest)"
            )
    if path is None:
        return Check(
            "manifest",
            "warn",
            f"the {split} manifest is not cached; it will be downloaded on first use from "
            f"{upstream_url(which)}",
            f"`swelancer doctor --split {split} --fetch` downloads it now",
        )
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    try:
        fetched = datetime.fromisoformat(meta["fetched_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        fetched = path.stat().st_mtime
    age = _age(max(datetime.now(UTC).timestamp() - fetched, 0))
    return Check(
        "manifest",
        "ok",
        f"cached at {path} (sha256 {sha256_of(path)[:12]}, fetched {age} ago)",
    )


# ---------------------------------------------------------------------------------------------
# All together


def _not_checked(name: str) -> Check:
    return Check(name, "warn", "not checked: the Docker engine did not answer", "see `engine`")


def run_checks(
    options: DoctorOptions,
    *,
    env: Mapping[str, str] | None = None,
    engine: ImageEngine | None = None,
) -> list[Check]:
    """Every check, in the order a user would fix them (on the Docker engine by default)."""
    from swelancer.ops.images import selection_images

    if engine is None:
        from swelancer.sandbox.factory import docker_engine

        engine = docker_engine()
    checks: list[Check] = []
    manifest_check = check_manifest(options.split, options.manifest, fetch=options.fetch)
    try:
        selection = selection_images(
            options.split,
            options.manifest,
            per_task=options.per_task_images,
            download=False,
        )
    except SwelancerError as err:
        selection = None
        if manifest_check.status != "fail":
            manifest_check = Check("manifest", "fail", str(err), "fix the manifest or --split")

    try:
        engine_check, facts = check_engine(engine)
        checks.append(engine_check)
        if facts is None:
            checks += [_not_checked(name) for name in ("architecture", "disk", "container disk",
                                                       "images")]  # fmt: skip
        elif selection is None:
            checks.append(check_architecture(facts, upstream=options.split not in (None, "demo")))
            checks.append(check_disk(facts, [], unknown_per_task=True))
            checks.append(check_container_disk(facts))
            checks.append(Check("images", "warn", "not checked: the selection could not be read"))
        else:
            checks.append(check_architecture(facts, upstream=selection.upstream))
            images, missing = check_images(engine, selection)
            unknown = selection.note is not None
            checks.append(check_disk(facts, missing, unknown_per_task=unknown))
            checks.append(check_container_disk(facts))
            checks.append(images)
    finally:
        engine.close()
    checks.append(check_api_key(options.model, options.base_url, env))
    checks.append(manifest_check)
    return checks


def exit_code(checks: list[Check]) -> int:
    """1 when any check failed, else 0 (warnings do not fail)."""
    return 1 if any(check.status == "fail" for check in checks) else 0


def render_table(checks: list[Check], console) -> None:
    from rich.table import Table
    from rich.text import Text

    styles = {"ok": "green", "warn": "yellow", "fail": "bold red"}
    table = Table(title="swelancer doctor", show_lines=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail", overflow="fold")
    table.add_column("fix", overflow="fold")
    for check in checks:
        table.add_row(
            check.name,
            Text(check.status, style=styles[check.status]),
            Text(check.detail),
            Text(check.fix or ""),
        )
    console.print(table)
    failed = [c.name for c in checks if c.status == "fail"]
    if failed:
        console.print(f"[bold red]not ready[/]: fix {', '.join(failed)} first.")
    else:
        warned = [c.name for c in checks if c.status == "warn"]
        extra = f" (read the warnings: {', '.join(warned)})" if warned else ""
        console.print(f"[green]ready[/]{extra}.")
