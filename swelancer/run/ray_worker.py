"""One attempt in a Ray worker, on the node Ray placed it: the same `run_attempt` as the local
executor, against that node's Docker engine, with its folders in a temporary directory whose
files go back to the driver with the record.

What the worker gets: an `AttemptOrder` (the job, the agent and limits sections, what the run
had spent) and, as a separate argument held only in memory, the model API keys. The keys are
set in the worker process's environment for the length of the call and restored after; they are
never written to a file, a runtime_env or the job's configuration.

Shared by the attempts of one worker process (never across processes or nodes): the engine's
provider, the controls (the untouched task's verdict) and the snapshot store. Two workers may
therefore grade a task's control twice or set one task up cold at once; both are only slower.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from swelancer.agents.loop import RunBudget
from swelancer.agents.prompts import PromptSet
from swelancer.config import AgentSection, LimitsSection
from swelancer.records import AttemptRecord
from swelancer.run.agent import make_agent
from swelancer.run.controls import ControlGrades
from swelancer.run.job import AttemptJob, Workbench, run_attempt
from swelancer.run.ray_board import Post, post
from swelancer.run.ray_files import TryFiles, pack
from swelancer.run.spec import AttemptSettings

MODEL_ENV = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENROUTER_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
)
"""What `models.resolve` reads of the environment: the keys and the base URLs."""


class AttemptOrder(BaseModel):
    """What the driver sends with each attempt (never the keys)."""

    job: AttemptJob
    agent: AgentSection
    limits: LimitsSection
    run_spent_usd: float = 0.0
    """The run's API spend when the attempt was sent (the run's cost limit counts from it)."""
    prompts: PromptSet | None = None
    """The prompts the driver read, so that every node sends the same words, read nowhere else."""


class AttemptReturn(BaseModel):
    """What comes back: the record, each try's files, and where it ran."""

    record: AttemptRecord
    tries: list[TryFiles] = Field(default_factory=list)
    node: str


def model_env(model: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of `MODEL_ENV` (and the key variable the model's route names) set here."""
    environ = os.environ if environ is None else environ
    names = list(MODEL_ENV)
    with contextlib.suppress(Exception):  # mocks and unknown names have no route
        from swelancer.models.resolve import route

        names.append(route(model, env=environ).key_env)
    return {name: environ[name] for name in dict.fromkeys(names) if environ.get(name)}


@contextlib.contextmanager
def env_for_call(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in this process's environment while the block runs; the earlier state after."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in before.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


@dataclass
class _NodeShare:
    run_id: str
    provider: Any
    controls: ControlGrades
    snapshots: Any


_SHARE: dict[str, _NodeShare] = {}


def _share(settings: AttemptSettings) -> _NodeShare:
    """This process's provider, controls and snapshot store for the run (one run at a time)."""
    share = _SHARE.get(settings.run_id)
    if share is None:
        from swelancer.sandbox.factory import docker_provider

        for old in _SHARE.values():  # the earlier run's reader of engine events ends
            old.provider.forget_run(old.run_id)
        _SHARE.clear()
        provider: Any = docker_provider()
        sandbox = settings.sandbox
        snapshots = None
        if sandbox.snapshots:
            snapshots = provider.snapshot_store(
                settings.run_id, sandbox.snapshot_budget, sandbox.keep_snapshots
            )
        share = _NodeShare(settings.run_id, provider, ControlGrades(), snapshots)
        _SHARE[settings.run_id] = share
    return share


def node_label() -> str:
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    return f"{ray.util.get_node_ip_address()}/{node_id[:8]}"


def remove_leftovers(provider: Any, run_id: str, task_id: str, attempt: int) -> list[str]:
    """Remove the containers an earlier, lost try of this attempt left on this engine (an
    attempt runs in one place at a time, so any found are orphans)."""
    from swelancer.sandbox.docker import find_containers

    removed = []
    for container in find_containers(provider.client, run_id):
        labels = container.labels or {}
        if (labels.get("swelancer.task_id"), labels.get("swelancer.run.attempt")) == (
            task_id,
            str(attempt),
        ):
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)
                removed.append(str(container.name))
    return removed


def run_on_node(order: AttemptOrder, keys: dict[str, str], board: Any = None) -> AttemptReturn:
    """The Ray task's body: run the attempt here and hand back its record and files."""
    job = order.job
    task_id, n = job.key
    node = node_label()
    post(board, Post("started", task_id, n, node))
    with env_for_call(keys):
        budget = RunBudget(order.limits.max_run_cost_usd)
        budget.add(order.run_spent_usd)
        agent = make_agent(order.agent, order.limits, budget, order.prompts)
        share = _share(job.settings)
        gone = remove_leftovers(share.provider, job.settings.run_id, task_id, n)
        if gone:
            post(board, Post("note", task_id, n, node, f"removed {len(gone)} leftover(s)"))
        root = Path(tempfile.mkdtemp(prefix=f"swelancer-{task_id[:40]}-{n}-"))
        try:
            names: list[str] = []

            def new_folder() -> Path:
                names.append(f"try-{len(names) + 1}")
                folder = root / names[-1]
                folder.mkdir()
                return folder

            bench = Workbench(
                agent=agent,
                provider=share.provider,
                budget=budget,
                controls=share.controls,
                snapshots=share.snapshots,
                on_phase=lambda t, a, phase: post(board, Post("phase", t, a, node, phase)),
                note=lambda line: post(board, Post("note", task_id, n, node, line)),
            )
            record = run_attempt(job, new_folder, bench)
            tries = [pack(root / name, name) for name in names]
            return AttemptReturn(record=record, tries=tries, node=node)
        finally:
            agent.close()
            shutil.rmtree(root, ignore_errors=True)
