"""`--executor ray` as the runner sees it: the cluster joined and its images checked on every
node before the run starts, what run.json records of it, and the executor of the attempts."""

from __future__ import annotations

from collections.abc import Callable

from swelancer.config import RunConfig
from swelancer.ops.cluster import ClusterInfo, check_images, connect
from swelancer.run.job import Workbench
from swelancer.run.ray_executor import RayExecutor, cluster_facts
from swelancer.run.results import RunDir
from swelancer.sandbox.base import SandboxProvider


class RaySite:
    """`--executor ray` for the runner: the cluster joined and its images checked before the
    run, its facts for run.json, and the executor."""

    name = "ray"

    def __init__(self, config: RunConfig, say: Callable[[str], None] = print) -> None:
        self.config = config
        self.say = say
        self.cluster: ClusterInfo | None = None

    def prepare_images(
        self,
        provider: SandboxProvider,
        images: list[str],
        *,
        build_demo: bool,
        on_line: Callable[[str], None],
    ) -> dict[str, str]:
        self.cluster = connect(self.config.run.ray_address)
        c = self.cluster
        self.say(
            f"Ray cluster at {c.address}: {len(c.nodes)} node(s) with docker_slots, "
            f"{c.slots} slot(s); at most {self.config.run.concurrency} attempt(s) at once (-j)"
        )
        return check_images(c, images, build_demo=build_demo, say=on_line)

    def facts(self) -> dict:
        if self.cluster is None:
            return {"name": "ray", "address": self.config.run.ray_address}
        return cluster_facts(self.cluster, self.config.run.concurrency)

    def executor(self, bench: Workbench, run_dir: RunDir) -> RayExecutor:
        if self.cluster is None:
            self.cluster = connect(self.config.run.ray_address)
        return RayExecutor(bench, run_dir, self.config, self.cluster)
