"""Executors: where the attempts of a run are carried out. The runner hands each attempt to an
executor as an `AttemptJob` and appends the records the futures give back; nothing else of the
run reaches the executor.

A new executor (a cluster, a queue) implements `Executor`: `submit` returns a future of the
attempt's record once its files are in the folder `RunDir.attempt_dir` names on the driver."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from swelancer.run.job import AttemptJob, Workbench, run_attempt
from swelancer.run.results import AttemptRecord, RunDir


class Executor(Protocol):
    """Runs attempt jobs, several at once."""

    name: str

    def submit(self, job: AttemptJob) -> Future[AttemptRecord]:
        """Start (or queue) the job; the future raises `Interrupted` when the run stops."""
        ...

    def stop(self) -> None:
        """Ask every running job to end soon and remove their sandboxes (idempotent)."""
        ...

    def close(self) -> None:
        """Wait for the jobs still running, then release the executor's resources."""
        ...

    def facts(self) -> dict:
        """What to record about the executor in run.json."""
        ...


class LocalExecutor:
    """A pool of threads on this machine, sharing one workbench."""

    name = "local"

    def __init__(self, bench: Workbench, run_dir: RunDir, workers: int) -> None:
        self.bench = bench
        self.run_dir = run_dir
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="attempt")

    def submit(self, job: AttemptJob) -> Future[AttemptRecord]:
        task_id, n = job.key
        return self._pool.submit(
            run_attempt, job, lambda: self.run_dir.fresh_attempt_dir(task_id, n), self.bench
        )

    def stop(self) -> None:
        self.bench.stop.set()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def facts(self) -> dict:
        return {"name": self.name, "workers": self.workers}
