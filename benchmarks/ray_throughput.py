"""Demo attempts per minute with the local executor and with `--executor ray` on one and on two
raylets of this machine (same Docker engine, same concurrency), and the Ray path's overhead per
attempt: the wall time per attempt spent outside the attempt's own phases, against the local
executor's, and a no-op attempt's round trip (a Ray task on a docker_slots node handing back a
real attempt's files, unpacked here).

    python benchmarks/ray_throughput.py [CONCURRENCY [ROUNDS]]      # default 2 2

Needs Docker and `pip install 'swelancer[ray]'`. The clusters are started and killed here (own
ports and temporary directory; see tests/ray_local.py). Other work on the machine moves the
figures: compare them within one run of this script.
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ray_local import LocalRayCluster

from swelancer.config import AgentSection, RunConfig, RunSection, Selection
from swelancer.run.progress import PlainProgress
from swelancer.run.ray_files import pack, unpack
from swelancer.run.results import RunDir
from swelancer.run.runner import Runner

ROUND_TRIPS = 30


class Result(NamedTuple):
    attempts: int
    errors: int
    wall_s: float
    own_s: float
    """The attempts' own mean time (setup + agent + grading, as recorded)."""

    @property
    def per_minute(self) -> float:
        return self.attempts / self.wall_s * 60

    def outside_s(self, concurrency: int) -> float:
        """Wall time per attempt not spent in an attempt's phases: scheduling, the harness's
        own work, and (with Ray) the trip to the worker and back."""
        return self.wall_s * concurrency / self.attempts - self.own_s


def run_demo(results: Path, run_id: str, concurrency: int, address: str | None) -> Result:
    run = RunSection(results_dir=results, run_id=run_id, concurrency=concurrency)
    if address is not None:
        run = run.model_copy(update={"executor": "ray", "ray_address": address})
    config = RunConfig(agent=AgentSection(model="mock/oracle"), selection=Selection(split="demo"))
    config.run = run
    quiet = lambda log: PlainProgress(stream=io.StringIO(), log_path=log)  # noqa: E731
    start = time.perf_counter()
    summary = Runner(config, say=lambda line: None, make_progress=quiet).run()
    wall = time.perf_counter() - start
    records = RunDir(results / run_id).records()
    own = statistics.mean(r.seconds.setup + r.seconds.agent + r.seconds.grading for r in records)
    return Result(summary.recorded, summary.errors, wall, own)


def noop_round_trip(address: str, sample: Path) -> list[float]:
    """Seconds for a no-op attempt through Ray: send an order-sized argument, pack a real
    attempt folder on a docker_slots node, send it back, unpack it here."""
    import ray

    from swelancer.ops.cluster import connect, disconnect

    connect(address)

    def noop(order: bytes, keys: dict, folder: str):
        return [pack(Path(folder), "try-1")]

    remote = ray.remote(noop).options(resources={"docker_slots": 1}, num_cpus=0, max_retries=0)
    order = b"x" * 20_000  # about an AttemptOrder's size (the task and the settings)
    ray.get(remote.remote(order, {}, str(sample)))  # the worker process starts once
    seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = RunDir(Path(tmp) / "r")
        for k in range(ROUND_TRIPS):
            start = time.perf_counter()
            tries = ray.get(remote.remote(order, {}, str(sample)))
            unpack(tries, lambda k=k: run_dir.fresh_attempt_dir("t", k + 1))
            seconds.append(time.perf_counter() - start)
    disconnect()
    return seconds


def main() -> None:
    concurrency = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    names = ("local", f"ray, 1 raylet x {concurrency} slots", "ray, 2 raylets")
    found: dict[str, list[Result]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp)
        with (
            LocalRayCluster(nodes=1, slots=concurrency) as one,
            LocalRayCluster(nodes=2, slots=max(1, concurrency // 2)) as two,
        ):
            for k in range(rounds):  # interleaved, so that the machine's other load falls on all
                addresses = (None, one.address, two.address)
                for i, (name, address) in enumerate(zip(names, addresses, strict=True)):
                    result = run_demo(results, f"round{k}-{i}", concurrency, address)
                    found[name].append(result)
                    print(f"  round {k + 1}: {name}: {result.wall_s:.1f} s", flush=True)
            sample = next(results.glob("*/attempts/101/1"))
            size = len(pack(sample, "try-1").tar)
            trips = noop_round_trip(two.address, sample)
    print(f"demo split, mock/oracle, -j {concurrency}, best of {rounds} interleaved rounds:")
    local_outside = statistics.median(r.outside_s(concurrency) for r in found["local"])
    for name in names:
        best = min(found[name], key=lambda r: r.wall_s)
        outside = statistics.median(r.outside_s(concurrency) for r in found[name])
        print(
            f"  {name:<24} {best.per_minute:5.1f} attempts/min ({best.attempts} in "
            f"{best.wall_s:.0f} s, {best.errors} errors); an attempt's own time "
            f"{best.own_s:.1f} s; outside it {outside:+.2f} s per attempt"
            + ("" if name == "local" else f" (Ray: {outside - local_outside:+.2f} s)")
        )
    print(
        f"  no-op attempt round trip through Ray ({ROUND_TRIPS}x, a real attempt's files, "
        f"{size / 1000:.0f} kB as tar): median {statistics.median(trips) * 1000:.0f} ms, "
        f"max {max(trips) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
