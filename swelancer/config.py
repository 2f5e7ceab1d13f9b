"""RunConfig: every knob of a run in sections, validated once, recorded in run.json.

The defaults live here and nowhere else. `swelancer run --config run.toml` loads a file of these
sections; command-line options override it; `--print-config` writes the resolved configuration
back as TOML (which, given to `--config`, prints the same text again).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from swelancer.agents.base import Limits
from swelancer.errors import ConfigError
from swelancer.tasks.catalog import TaskQuery

RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
SECTIONS = ("run", "selection", "agent", "limits", "sandbox", "grading")


def default_concurrency() -> int:
    """A small pool that fits the machine: each attempt is a container running tests."""
    return max(1, min(4, (os.cpu_count() or 2) // 2 + 1))


def new_run_id(model: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-")[:40] or "run"
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{slug}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RunSection(_Section):
    """Where the run lives and how it is scheduled."""

    run_id: str | None = None
    """The run directory's name under `results_dir`; letters, digits, `_`, `.`, `-`."""
    results_dir: Path = Path("results")
    tries: int = Field(1, ge=1)
    concurrency: int = Field(default_factory=default_concurrency, ge=1)
    """Attempts at once: on this machine, or across the whole cluster with `executor = "ray"`."""
    max_retries: int = Field(2, ge=0)
    executor: Literal["local", "ray"] = "local"
    """Where attempts run: `local`, a pool of threads on this machine's Docker engine; `ray`,
    Ray tasks on the nodes of a Ray cluster that offer the `docker_slots` resource (each node
    takes as many attempts at once as it has slots; see docs/SCALING.md)."""
    ray_address: str = "auto"
    """The Ray cluster to join with `executor = "ray"`: HOST:PORT of its head (6379 unless
    changed), or `auto` for the cluster this machine belongs to (`ray start` ran here)."""

    @field_validator("run_id")
    @classmethod
    def _plain_run_id(cls, value: str | None) -> str | None:
        if value is not None and not RUN_ID.fullmatch(value):
            raise ValueError(
                f"run id {value[:80]!r} is not a plain name (letters, digits, '_', '.', '-'; "
                "at most 128, not starting with '.' or '-')"
            )
        return value


class Selection(TaskQuery):
    """Which tasks: a split or manifest file, and filters."""

    model_config = ConfigDict(extra="forbid")


class AgentSection(_Section):
    """Who works on the tasks, and how it is asked."""

    model: str
    """gpt-4o, claude-…, openrouter/NAME, or a mock (mock/oracle, mock/noop, …)."""
    mode: Literal["upstream", "tools", "claude-code", "codex", "mini-swe-agent"] = "upstream"
    """How the model works: the upstream loop, native tools, or an installed agent
    (`agents.installed.INSTALLED`) in the task container."""
    base_url: str | None = None
    temperature: float | None = None
    reasoning_effort: str | None = None
    max_output_tokens: int | None = None
    prompts: str | None = None
    """`upstream` (upstream's own words, read from its pinned files), `swelancer` (this
    project's), or a folder holding copies of upstream's files; default `upstream` for the
    upstream agent, `swelancer` with `mode = "tools"` or a `prompt_template`."""
    prompt_template: Path | None = None
    prices_file: Path | None = None
    max_unreachable_s: float = Field(120.0, gt=0)
    """Seconds a model endpoint may not answer at all (refused, reset, timed out), in a row,
    before the run stops; other transient faults have upstream's 20 minutes."""


class LimitsSection(Limits):
    """What one attempt may spend (the agent's limits), and the whole run."""

    model_config = ConfigDict(extra="forbid")

    max_run_cost_usd: float | None = None


class SandboxSection(_Section):
    """The containers: which images, their limits, setup and snapshots."""

    image: str | None = None
    image_prefix: str = "swelancer/swelancer_x86"
    """Upstream images are `<prefix>_monolith:<tag>` and `<prefix>_<task id>:<tag>`."""
    image_tag: str = "releasev1"
    per_task_images: bool = False
    build_missing_demo_image: bool = True
    allow_image_change: bool = False
    """Resume a run whose image names now give other images than those it started from (each
    run starts every container from the ids its names had before its first attempt)."""
    setup_timeout_s: float = Field(2400.0, gt=0)
    memory: str = "auto"
    """Docker's units (512m, 8g), `none`, or `auto`: 8g on the demo image and no limit on
    upstream images (as upstream runs them)."""
    cpus: float | None = None
    pids_limit: int = Field(4096, ge=0)
    """Processes one container may hold (a fork bomb stops there); 0 for no limit."""
    disk: str | None = "20g"
    """Cap of each container's writable layer (Docker's units, e.g. 50g; `none` for no cap),
    where the storage driver allows it (`swelancer doctor` and run.json say when it does not)."""
    snapshots: bool = True
    """Commit each IC task's container once its setup is done, and start its later containers
    from that snapshot (see `sandbox.docker.snapshots`)."""
    snapshot_budget: str | None = None
    """Disk the snapshots may take (50g); default a quarter of the engine's free disk."""
    keep_snapshots: bool = False


class GradingSection(_Section):
    """How the agent's work is graded, and the user tool."""

    grade_in: Literal["same", "fresh"] = "same"
    test_runs: int = Field(3, ge=1)
    test_timeout_s: float = Field(1800.0, gt=0)
    user_tool_in: Literal["same", "fresh"] = "fresh"
    """Where the user tool runs: a fresh sandbox holding the agent's patch (only the trace
    comes back), or the agent's container once its processes are stopped."""
    user_tool_timeout_s: float = Field(300.0, gt=0)


class RunConfig(BaseModel):
    """What `swelancer run` was asked to do, in sections."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    run: RunSection = Field(default_factory=RunSection)
    selection: Selection = Field(default_factory=Selection)
    agent: AgentSection
    limits: LimitsSection = Field(default_factory=LimitsSection)
    sandbox: SandboxSection = Field(default_factory=SandboxSection)
    grading: GradingSection = Field(default_factory=GradingSection)

    @property
    def model(self) -> str:
        return self.agent.model

    @property
    def run_id(self) -> str | None:
        return self.run.run_id


def load(
    path: Path | None,
    overrides: dict[str, dict[str, Any]],
    flags: dict[tuple[str, str], str] | None = None,
) -> RunConfig:
    """The configuration of a file (when given) with `overrides` (section: {key: value}) on top;
    `ConfigError` naming the file and the setting when it is not valid, or the command-line
    flag (`flags`: (section, key) → `--concurrency/-j`) when an override was."""
    data: dict[str, dict[str, Any]] = {}
    where = "the options"
    if path is not None:
        where = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no configuration file at {path}.") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML ({exc}).") from None
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise ConfigError(
                f"{path}: unknown section [{unknown[0]}]; the sections are "
                f"{', '.join(f'[{s}]' for s in SECTIONS)}."
            )
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    if not isinstance(data.get("agent"), dict) or "model" not in data["agent"]:
        raise ConfigError(
            "no model to run: give --model NAME (e.g. --model mock/oracle), or `model = ...` "
            "under [agent] in the --config file."
        )
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        given = {
            loc: flag for loc, flag in (flags or {}).items() if loc[1] in overrides.get(loc[0], {})
        }
        errors = exc.errors()
        if given and all(tuple(map(str, e["loc"][:2])) in given for e in errors):
            where = "the options"
        raise ConfigError(f"{where}: {validation_text(exc, given)}") from None


def validation_text(exc: ValidationError, flags: dict[tuple[str, str], str] | None = None) -> str:
    """pydantic's complaints as one clause per setting (`agent.model: Field required`), a
    setting given on the command line named by its flag (`--concurrency/-j: …`)."""
    flags = flags or {}

    def name(loc: tuple[int | str, ...]) -> str:
        flag = flags.get((str(loc[0]), str(loc[1]))) if len(loc) > 1 else None
        return flag if flag else ".".join(str(x) for x in loc)

    return "; ".join(
        f"{name(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
    )


def to_toml(config: RunConfig) -> str:
    """The configuration as TOML, every section and every set value, in a fixed order."""
    data = config.model_dump(mode="json", exclude_none=True)
    lines: list[str] = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        for key, value in data.get(section, {}).items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # A TOML basic string: JSON's escapes are TOML's, and DEL, which JSON leaves raw, is escaped.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")
