"""An attempt as a self-contained job: (task, settings) in, the record out, with the retries of
infrastructure faults. An executor runs jobs wherever it likes; `Workbench` is what a job runs
with on the machine it lands on."""

from __future__ import annotations

import contextlib
import errno
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from swelancer.agents.base import Agent
from swelancer.agents.loop import RunBudget
from swelancer.errors import FaultKind, InfraError, SwelancerError
from swelancer.records import AttemptRecord, Spend, utc_now
from swelancer.run.attempt import Interrupted, error_record, run_try
from swelancer.run.controls import ControlGrades
from swelancer.run.results import transcript_spend
from swelancer.run.spec import AttemptSettings
from swelancer.sandbox.base import SandboxProvider
from swelancer.tasks.models import Task
from swelancer.textsafe import clean

if TYPE_CHECKING:
    from swelancer.sandbox.base import SnapshotStore


class AttemptJob(BaseModel):
    """Everything one attempt needs to be run anywhere (it pickles and serialises)."""

    task: Task
    attempt: int = Field(ge=1)
    settings: AttemptSettings
    max_retries: int = Field(2, ge=0)

    @property
    def key(self) -> tuple[str, int]:
        return (self.task.task_id, self.attempt)


def _ignore(*_: object) -> None:
    return None


@dataclass
class Workbench:
    """What jobs share on one machine: the agent, the sandbox provider, the stop signal, the
    run's cost budget, the controls, the snapshot store, and where progress goes."""

    agent: Agent
    provider: SandboxProvider
    stop: threading.Event = field(default_factory=threading.Event)
    budget: RunBudget = field(default_factory=RunBudget)
    controls: ControlGrades = field(default_factory=ControlGrades)
    snapshots: SnapshotStore | None = None
    on_phase: Callable[[str, int, str], None] = _ignore
    """(task id, attempt, phase name) as the attempt moves on."""
    note: Callable[[str], None] = _ignore
    """A line for the user (e.g. a retry)."""
    backoff: Callable[[float], None] | None = None
    """How to wait between tries (None: on `stop`, so that a stop ends the wait at once)."""


def _with_spend(record: AttemptRecord, earlier: Spend) -> AttemptRecord:
    """Add what earlier, cut-short tries of the attempt spent: the API bill is real either way."""
    total = Spend(tokens=record.tokens, cost_usd=record.cost_usd) + earlier
    record.tokens, record.cost_usd = total.tokens, total.cost_usd
    return record


HOST_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                         errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM})  # fmt: skip
"""Errors of this machine itself (its disk full, the results folder unwritable): they end the
run. Any other `OSError` (a name, a folder gone, a path too long: what a container's files
can cause) is a fault of this attempt, recorded, never the run's end."""


def _harness_fault(folder: Path, bug: BaseException) -> InfraError:
    """A fault of the harness on one attempt: its traceback in the attempt's `error.txt`."""
    (folder / "error.txt").write_text(clean(traceback.format_exc()), encoding="utf-8")
    return InfraError(
        f"the harness failed on this attempt ({type(bug).__name__}: {str(bug)[:300]}); see "
        f"{folder / 'error.txt'}",
        kind=FaultKind.HARNESS,
    )


def run_attempt(job: AttemptJob, new_folder: Callable[[], Path], bench: Workbench) -> AttemptRecord:
    """Run the job to its record, retrying infrastructure faults up to `job.max_retries` times,
    each try in a folder of `new_folder()`. Raises `Interrupted` when the run stops (nothing is
    recorded), `SwelancerError` or an `OSError` of this machine (`HOST_FAULTS`) for faults that
    end the run."""
    task, n = job.task, job.attempt
    started = utc_now()
    retries = 0
    spent_before = Spend()  # by tries that infrastructure faults cut short
    while True:
        if bench.stop.is_set() or bench.budget.exhausted:
            raise Interrupted()
        folder = new_folder()
        try:
            record = run_try(
                task,
                n,
                job.settings,
                bench.agent,
                folder,
                stop=bench.stop,
                provider=bench.provider,
                controls=bench.controls,
                snapshots=bench.snapshots,
                on_phase=lambda name: bench.on_phase(task.task_id, n, name),
            )
            record.infra_retries = retries
            return _with_spend(record, spent_before)
        except InfraError as exc:
            fault = exc
        except (SwelancerError, Interrupted):
            raise
        except OSError as exc:
            if exc.errno in HOST_FAULTS:  # this machine's disk or results folder
                raise
            fault = _harness_fault(folder, exc)
        except Exception as bug:  # a fault of the harness itself: never the run's end
            fault = _harness_fault(folder, bug)
        spent_before = spent_before + transcript_spend(folder / "transcript.jsonl")
        if bench.stop.is_set():
            raise Interrupted() from None
        with contextlib.suppress(OSError), (folder / "error.txt").open("a") as handle:
            handle.write(clean(f"{fault.kind}: {fault}") + "\n")
        if retries >= job.max_retries or not fault.retryable:
            record = error_record(task, n, job.settings, fault, retries, started)
            return _with_spend(record, spent_before)
        bench.note(
            f"{task.task_id} #{n}: infrastructure fault ({fault.kind}): {fault}; "
            f"retry {retries + 1} of {job.max_retries}"
        )
        delay = min(2.0 * (retries + 1), 10.0)
        if bench.backoff is not None:
            bench.backoff(delay)
        elif bench.stop.wait(delay):
            raise Interrupted()
        retries += 1
