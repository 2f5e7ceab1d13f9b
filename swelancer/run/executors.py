"""Executors: where the attempts of a run are carried out. The runner hands each attempt to an
executor as an `AttemptJob` and appends the records the futures give back; nothing else of the
run reaches the executor.

A new executor (a cluster, a queue) implements `Executor`: `submit` returns a future of the
attempt's record once its files are in the folder `RunDir.attempt_dir` names on the driver.

`make_site` chooses by `--executor`: `local` (a thread pool here) or `ray` (a cluster, see
`run.ray_executor` and docs/SCALING.md). A site also prepares the images where attempts will
run and says what run.json records of it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from swelancer.config import RunConfig
from swelancer.records import AttemptRecord
from swelancer.run.job import AttemptJob, Workbench, run_attempt
from swelancer.run.results import RunDir
from swelancer.sandbox.base import SandboxProvider


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


class LocalSite:
    """`--executor local` for the runner: this machine's engine prepares the images; a
    `LocalExecutor` runs the attempts."""

    name = "local"

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def prepare_images(
        self,
        provider: SandboxProvider,
        images: list[str],
        *,
        build_demo: bool,
        on_line: Callable[[str], None],
    ) -> dict[str, str]:
        return provider.prepare_images(images, build_demo=build_demo, on_line=on_line)

    def facts(self) -> dict:
        return {"name": self.name, "workers": self.config.run.concurrency}

    def executor(self, bench: Workbench, run_dir: RunDir) -> Executor:
        return LocalExecutor(bench, run_dir, self.config.run.concurrency)


class Site(Protocol):
    """Where a run's attempts go, as the runner sees it before and while it runs."""

    name: str

    def prepare_images(
        self,
        provider: SandboxProvider,
        images: list[str],
        *,
        build_demo: bool,
        on_line: Callable[[str], None],
    ) -> dict[str, str]:
        """Check (or build) the run's images wherever attempts will run; their ids."""
        ...

    def facts(self) -> dict:
        """The `executor` entry of run.json."""
        ...

    def executor(self, bench: Workbench, run_dir: RunDir) -> Executor:
        """The executor of the run's attempts."""
        ...


def make_site(config: RunConfig, say: Callable[[str], None] = print) -> Site:
    """The site `config.run.executor` names (`ray` imports Ray only now)."""
    if config.run.executor == "ray":
        from swelancer.run.ray_site import RaySite

        return RaySite(config, say)
    return LocalSite(config)
