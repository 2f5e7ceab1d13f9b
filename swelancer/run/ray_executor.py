"""RayExecutor: the attempts of a run as Ray tasks on a cluster of Docker hosts.

Each attempt is one Ray task needing one `docker_slots` (a node's count of that resource is how
many attempts it takes at once) and no CPU; `-j` caps the attempts in flight across the cluster,
the rest wait here. Ray never reruns a task (`max_retries=0`): a node lost under an attempt is
an infrastructure fault of kind `node_lost`, which this executor retries on the live nodes and,
past `--max-retries`, records as an error. The worker (`run.ray_worker`) sends back the record
and the attempt's files; they are unpacked into the run directory here before the future
resolves, and the runner alone appends the record.

The run's cost limit and stop flag stay on the driver and are checked before each attempt is
sent; an attempt in flight knows the spend as of its start.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from swelancer.config import RunConfig
from swelancer.errors import FaultKind, InfraError, SwelancerError
from swelancer.ops.cluster import ClusterInfo, disconnect
from swelancer.ops.cluster import remove_run_everywhere as remove_everywhere
from swelancer.records import AttemptRecord, utc_now
from swelancer.run.attempt import Interrupted, error_record
from swelancer.run.job import AttemptJob, Workbench
from swelancer.run.ray_board import open_board, take
from swelancer.run.ray_files import unpack
from swelancer.run.ray_worker import AttemptOrder, AttemptReturn, model_env, run_on_node
from swelancer.run.results import RunDir

POLL_S = 0.5
STOP_GRACE_S = 10.0
"""How long a stop waits for cancelled tasks to end before removing their containers."""
NODE_LOST_ERRORS = (
    "NodeDiedError",
    "WorkerCrashedError",
    "LocalRayletDiedError",
    "ObjectLostError",
    "OwnerDiedError",
    "ObjectReconstructionFailedError",
    "ObjectReconstructionFailedMaxAttemptsExceededError",
    "ObjectReconstructionFailedLineageEvictedError",
    "ObjectFetchTimedOutError",
    "OutOfMemoryError",
    "TaskCancelledError",
)
"""Ray's errors of a task whose worker, node or result went away (by class name, so that the
list holds across Ray versions that lack some)."""


@dataclass
class _Entry:
    job: AttemptJob
    future: Future
    max_retries: int = 0
    lost: int = 0
    """Tries lost with their node."""
    first_started: str = ""
    node: str = ""


@dataclass
class _NodeLoad:
    slots: dict[str, float] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)

    def text(self, node: str) -> str:
        slots = self.slots.get(node)
        shown = f"{int(slots)}" if slots is not None else "?"
        return f"{self.busy.get(node, 0)}/{shown} slots busy there"


def classify(exc: BaseException) -> BaseException:
    """What a failed Ray task means for the run: `Interrupted`, a `SwelancerError` that ends the
    run (as it would locally), or an `InfraError` to retry."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):  # the task's own code raised
        if isinstance(cause, Interrupted | SwelancerError):
            return cause  # InfraError included: retried like the others
        if type(cause).__module__.startswith("ray."):
            return classify(cause)
        full = isinstance(cause, OSError) and cause.errno == errno.ENOSPC
        return InfraError(
            f"the attempt's worker failed ({type(cause).__name__}: {cause})",
            kind=FaultKind.DISK_FULL if full else FaultKind.HARNESS,
        )
    names = {cls.__name__ for cls in type(exc).__mro__}
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:400]
    if names & set(NODE_LOST_ERRORS):
        return InfraError(f"the node running it was lost: {first}", kind=FaultKind.NODE_LOST)
    return InfraError(
        f"Ray failed to run it ({type(exc).__name__}: {first})", kind=FaultKind.HARNESS
    )


class RayExecutor:
    """Sends attempt jobs to a Ray cluster, at most `concurrency` at once."""

    name = "ray"

    def __init__(
        self,
        bench: Workbench,
        run_dir: RunDir,
        config: RunConfig,
        cluster: ClusterInfo,
        *,
        ray: Any = None,
    ) -> None:
        if ray is None:
            import ray
        self._ray = ray
        self.bench = bench
        self.run_dir = run_dir
        self.config = config
        self.cluster = cluster
        self.concurrency = config.run.concurrency
        self._keys = model_env(config.model)
        self._remote = ray.remote(run_on_node).options(
            resources={"docker_slots": 1}, num_cpus=0, max_retries=0
        )
        self._board = open_board(ray)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._waiting: deque[_Entry] = deque()
        self._running: dict[Any, _Entry] = {}
        self._load = _NodeLoad(slots={n.label: n.docker_slots for n in cluster.nodes})
        self._closing = False
        self._stopped = False
        self._thread = threading.Thread(target=self._guarded, name="ray-executor", daemon=True)
        self._thread.start()

    # -- the Executor protocol ----------------------------------------------------------

    def submit(self, job: AttemptJob) -> Future[AttemptRecord]:
        entry = _Entry(job=job, future=Future(), max_retries=job.max_retries)
        with self._lock:
            self._waiting.append(entry)
        self._wake.set()
        return entry.future

    def stop(self) -> None:
        """Cancel every attempt (their workers are killed), then remove the run's containers on
        every node and on this machine's engine."""
        self.bench.stop.set()
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            refs = list(self._running)
        for ref in refs:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
        with contextlib.suppress(Exception):
            self._ray.wait(refs, num_returns=len(refs), timeout=STOP_GRACE_S)
        self._wake.set()
        self._sweep(snapshots_too=False)

    def close(self) -> None:
        """Wait for the attempts, then remove what lost tries left on the live nodes (and the
        run's snapshots not kept) and leave the cluster."""
        self._closing = True
        self._wake.set()
        self._thread.join()
        self._sweep(snapshots_too=self._snapshots_go())
        with contextlib.suppress(Exception):
            disconnect()

    def facts(self) -> dict:
        return cluster_facts(self.cluster, self.concurrency)

    # -- the dispatcher thread ----------------------------------------------------------

    def _guarded(self) -> None:
        """The loop; should it fail, every job still open fails with it (never a hang)."""
        try:
            self._loop()
        except Exception as exc:
            fault = SwelancerError(
                f"the Ray executor stopped ({type(exc).__name__}: {exc}); the run stopped. Check "
                f"the cluster at {self.cluster.address} (`ray status`) and run the same command "
                "again to resume."
            )
            with self._lock:
                open_entries = [*self._waiting, *self._running.values()]
                self._waiting.clear()
                self._running.clear()
            for entry in open_entries:
                _fail(entry.future, fault)

    def _loop(self) -> None:
        while True:
            self._launch()
            with self._lock:
                running = list(self._running)
                idle = not running and not self._waiting
            if idle and self._closing:
                return
            self._show(self._take() if running else [])
            if not running:
                self._wake.wait(POLL_S)
                self._wake.clear()
                continue
            ready, _ = self._ray.wait(running, num_returns=1, timeout=POLL_S)
            for ref in ready:
                self._settle(ref)

    def _launch(self) -> None:
        with self._lock:
            while self._waiting and len(self._running) < self.concurrency:
                entry = self._waiting.popleft()
                if not entry.lost and not entry.future.set_running_or_notify_cancel():
                    continue  # cancelled by the runner before it was sent
                if self.bench.stop.is_set() or self.bench.budget.exhausted:
                    _fail(entry.future, Interrupted())
                    continue
                entry.first_started = entry.first_started or utc_now()
                order = AttemptOrder(
                    job=entry.job,
                    agent=self.config.agent,
                    limits=self.config.limits,
                    run_spent_usd=self.bench.budget.spent_usd,
                    prompts=getattr(self.bench.agent, "prompts", None),  # model agents only
                )
                try:
                    ref = self._remote.remote(order, self._keys, self._board)
                except Exception as exc:
                    _fail(entry.future, SwelancerError(f"could not send the attempt: {exc}"))
                    continue
                self._running[ref] = entry

    def _settle(self, ref: Any) -> None:
        with self._lock:
            entry = self._running.pop(ref)
        task_id, n = entry.job.key
        try:
            done: AttemptReturn = self._ray.get(ref)
        except Exception as exc:
            self._failed(entry, exc)
            return
        self._leave(entry, done.node)
        try:
            unpack(done.tries, lambda: self.run_dir.fresh_attempt_dir(task_id, n))
        except OSError as exc:
            _fail(entry.future, exc)
            return
        record = done.record
        if entry.lost:
            record.infra_retries += entry.lost
            record.started_at = entry.first_started
        self.bench.budget.add(record.cost_usd)
        self.bench.note(
            f"{task_id} #{n}: {record.status} on {done.node} ({self._load.text(done.node)})"
        )
        _finish(entry.future, record)

    def _failed(self, entry: _Entry, exc: BaseException) -> None:
        self._leave(entry, entry.node)
        if self.bench.stop.is_set():
            _fail(entry.future, Interrupted())
            return
        fault = classify(exc)
        if not isinstance(fault, InfraError):
            _fail(entry.future, fault)
            return
        task_id, n = entry.job.key
        where = entry.node or "a node"
        if fault.kind == FaultKind.NODE_LOST and not self._nodes_left():
            _fail(entry.future, SwelancerError(
                f"{task_id} #{n}: {fault}; and no node of the Ray cluster at "
                f"{self.cluster.address} offers docker_slots any more, so the run stopped. "
                "Bring the nodes back (`ray status` shows them) and run the same command again "
                "to resume."
            ))  # fmt: skip
            return
        try:
            folder = self.run_dir.fresh_attempt_dir(task_id, n)
            (folder / "error.txt").write_text(f"{fault.kind} on {where}: {fault}\n", "utf-8")
        except OSError as err:
            _fail(entry.future, err)
            return
        entry.lost += 1
        retries = entry.lost - 1
        job = entry.job
        if retries >= entry.max_retries or not fault.retryable:
            record = error_record(job.task, n, job.settings, fault, retries, entry.first_started)
            _finish(entry.future, record)
            return
        self.bench.note(
            f"{task_id} #{n}: infrastructure fault ({fault.kind}) on {where}: {fault}; "
            f"retry {entry.lost} of {entry.max_retries} on the live nodes"
        )
        entry.job = job.model_copy(update={"max_retries": entry.max_retries - entry.lost})
        entry.node = ""
        with self._lock:
            self._waiting.appendleft(entry)

    # -- progress -----------------------------------------------------------------------

    def _show(self, posts: list) -> None:
        with self._lock:
            live = {e.job.key: e for e in self._running.values()}
        for item in posts:
            entry = live.get((item.task_id, item.attempt))
            if entry is None:
                continue  # a late post of an attempt already settled
            if item.kind == "started":
                entry.node = item.node
                self._load.busy[item.node] = self._load.busy.get(item.node, 0) + 1
                self.bench.note(
                    f"{item.task_id} #{item.attempt}: started on {item.node} "
                    f"({self._load.text(item.node)})"
                )
                self.bench.on_phase(item.task_id, item.attempt, f"{item.node}: starting")
            elif item.kind == "phase":
                self.bench.on_phase(item.task_id, item.attempt, f"{item.node}: {item.text}")
            else:
                self.bench.note(f"{item.task_id} #{item.attempt} on {item.node}: {item.text}")

    def _nodes_left(self) -> int:
        """Live nodes with docker_slots (0 when the cluster does not answer)."""
        try:
            nodes = self._ray.nodes()
        except Exception:
            return 0
        return sum(
            1 for n in nodes if n.get("Alive") and (n.get("Resources") or {}).get("docker_slots")
        )

    def _take(self) -> list:
        posts = take(self._ray, self._board)
        if posts is None:
            self._board = None  # gone: the notes at each end of an attempt remain
        return posts or []

    def _leave(self, entry: _Entry, node: str) -> None:
        if entry.node and self._load.busy.get(entry.node):
            self._load.busy[entry.node] -= 1
        entry.node = entry.node or node

    # -- cleaning up --------------------------------------------------------------------

    def _snapshots_go(self) -> bool:
        sandbox = self.config.sandbox
        return sandbox.snapshots and not sandbox.keep_snapshots

    def _sweep(self, *, snapshots_too: bool) -> None:
        run_id = self.run_dir.run_id
        try:
            failed = remove_everywhere(self.cluster, run_id, snapshots_too=snapshots_too)
        except Exception as exc:
            failed = [str(exc)]
        for line in failed:
            self.bench.note(f"could not clean up after the run there ({line}); run "
                            "`swelancer cleanup` on that node")  # fmt: skip
        with contextlib.suppress(Exception):  # this machine's engine, when it has one
            self.bench.provider.remove_run(run_id)


def _finish(future: Future, record: AttemptRecord) -> None:
    with contextlib.suppress(Exception):  # already settled (cancelled by the runner)
        future.set_result(record)


def _fail(future: Future, exc: BaseException) -> None:
    with contextlib.suppress(Exception):
        future.set_exception(exc)


def cluster_facts(cluster: ClusterInfo, concurrency: int) -> dict:
    """The `executor` entry of run.json."""
    return {
        "name": "ray",
        "address": cluster.address,
        "ray_version": cluster.ray_version,
        "concurrency": concurrency,
        "slots": cluster.slots,
        "nodes": [
            {"node_id": n.node_id, "ip": n.ip, "docker_slots": n.docker_slots}
            for n in cluster.nodes
        ],
    }
