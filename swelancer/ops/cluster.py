"""A Ray cluster of Docker hosts: connecting to it, the nodes that take attempts (those offering
the `docker_slots` resource), and small jobs run once on each of them: checking, pulling and
building images, removing a run's containers and snapshots. The attempts themselves are
`run.ray_executor`'s.

Ray is imported lazily and only by this module and the run's Ray modules: without the `ray`
extra the rest of swelancer works, and `--executor ray` says how to get it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from swelancer.errors import ConfigError, InfraError

SLOT = "docker_slots"
"""The custom resource of a node with a Docker engine: how many attempts it takes at once."""
PROBE_TIMEOUT_S = 5.0
START_HINT = (
    "Start one with `ray start --head --resources='{\"docker_slots\": 2}'` on a Docker host "
    "(and `ray start --address=HEAD:6379 --resources='{\"docker_slots\": 2}'` on each other "
    "one), then give its address with --ray-address HEAD:6379, or leave `auto` on a node of it"
)
Say = Callable[[str], None]


class NodeInfo(BaseModel):
    """A node of the cluster that takes attempts."""

    node_id: str
    ip: str
    docker_slots: float

    @property
    def label(self) -> str:
        """`10.0.0.5/1a2b3c4d`: the address, and the id's start (one host may run two raylets)."""
        return f"{self.ip}/{self.node_id[:8]}"


class ClusterInfo(BaseModel):
    """The cluster a run uses, as recorded in run.json."""

    address: str
    ray_version: str
    nodes: list[NodeInfo] = Field(default_factory=list)

    @property
    def slots(self) -> int:
        return int(sum(node.docker_slots for node in self.nodes))

    def label_of(self, node_id: str) -> str:
        for node in self.nodes:
            if node.node_id == node_id:
                return node.label
        return node_id[:8]


def import_ray() -> Any:
    """The `ray` module, or a `ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs the Ray package, which is not installed in this Python "
            "environment. Install it with `pip install 'swelancer[ray]'` here and on every node "
            "of the cluster (the same swelancer version everywhere), or run with --executor local."
        ) from None
    return ray


def connect(address: str) -> ClusterInfo:
    """Join the cluster at `address` (`auto`: the one this machine belongs to) as its driver,
    unless already joined; `ConfigError` naming the address when no cluster answers there."""
    ray = import_ray()
    if not ray.is_initialized():
        _probe(address)
        handler = _sigterm_handler()
        try:
            ray.init(
                address=address,
                logging_level=logging.WARNING,
                log_to_driver=False,
                configure_logging=True,
            )
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            raise ConfigError(
                f"no Ray cluster answers at {address} ({_first_line(exc)}). {START_HINT}."
            ) from None
        finally:
            _restore_sigterm(handler)
    return ClusterInfo(address=address, ray_version=ray.__version__, nodes=docker_nodes(address))


def disconnect() -> None:
    """Leave the cluster (the cluster itself goes on)."""
    ray = import_ray()
    if ray.is_initialized():
        ray.shutdown()


def docker_nodes(address: str) -> list[NodeInfo]:
    """The live nodes offering `docker_slots`; `ConfigError` when there are none."""
    ray = import_ray()
    nodes = [
        NodeInfo(
            node_id=str(n["NodeID"]),
            ip=str(n.get("NodeManagerAddress") or "?"),
            docker_slots=float((n.get("Resources") or {}).get(SLOT, 0)),
        )
        for n in ray.nodes()
        if n.get("Alive") and (n.get("Resources") or {}).get(SLOT, 0) > 0
    ]
    if not nodes:
        raise ConfigError(
            f"no node of the Ray cluster at {address} offers the resource {SLOT}, so no attempt "
            f"could be placed. Start each Docker host's raylet with "
            f"--resources='{{\"{SLOT}\": N}}' (N attempts at once on that host)."
        )
    return nodes


def _probe(address: str) -> None:
    """Fail fast when nothing listens at a host:port (Ray itself retries for minutes)."""
    target = address
    if address == "auto":
        target = os.environ.get("RAY_ADDRESS") or ""
        if not target:
            return  # Ray looks for this machine's cluster itself, and says so when there is none
    hostport = target.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(
            f"no Ray cluster answers at {target} ({exc.strerror or exc}). {START_HINT}."
        ) from None


def _sigterm_handler() -> Any:
    """The SIGTERM handler now (`ray.init` puts its own, which exits without the run's cleanup
    message; the caller's is put back after it)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.getsignal(signal.SIGTERM)


def _restore_sigterm(handler: Any) -> None:
    if handler is not None:
        signal.signal(signal.SIGTERM, handler)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def on_each_node(
    nodes: list[NodeInfo], fn: Callable[..., Any], *args: Any, timeout: float | None = 120.0
) -> dict[str, Any]:
    """Run `fn(*args)` once on every node, all at once (pinned there, taking no CPU and no slot,
    so it never waits behind attempts); {node id: its result, or the exception it ended with}."""
    if not nodes:
        return {}
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(fn)
    refs = {
        node.node_id: remote.options(
            num_cpus=0,
            max_retries=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False),
        ).remote(*args)
        for node in nodes
    }
    out: dict[str, Any] = {}
    for node_id, ref in refs.items():
        try:
            out[node_id] = ray.get(ref, timeout=timeout)
        except Exception as exc:
            out[node_id] = getattr(exc, "cause", None) or exc
            if timeout is not None:
                ray.cancel(ref, force=True)
    return out


# ---------------------------------------------------------------------------------------------
# What runs on a node (plain functions: Ray ships them by reference to this module)


class NodeImages(BaseModel):
    """One node's answer to the image check."""

    ids: dict[str, str] = Field(default_factory=dict)
    missing: dict[str, str] = Field(default_factory=dict)
    """Image: why it is not there."""


def node_images(images: list[str], build_demo: bool) -> NodeImages:
    """Each image present on this node's engine (the demo image built when allowed)?"""
    from swelancer.sandbox.factory import docker_engine

    provider = docker_engine().provider()
    answer = NodeImages()
    for image in dict.fromkeys(images):
        try:
            ids = provider.prepare_images([image], build_demo=build_demo, on_line=_mute)
            answer.ids.update(ids)
        except InfraError as exc:
            answer.missing[image] = str(exc)
    return answer


def node_pull(images: list[str]) -> list[str]:
    """Pull what this node lacks; a line per image."""
    from swelancer.ops.images import pull_image
    from swelancer.sandbox.factory import open_engine

    lines = []
    with open_engine() as engine:
        for image in images:
            if engine.image(image) is not None:
                lines.append(f"{image}: already present")
            else:
                lines.append(f"{image}: pulled ({pull_image(engine, image)[:19]})")
    return lines


def node_build_demo() -> str:
    """Build the demo image on this node; its id."""
    from swelancer.sandbox.factory import open_engine

    with open_engine() as engine:
        return engine.build_demo(on_line=None)


def node_remove_run(run_id: str, snapshots_too: bool) -> list[str]:
    """Remove the run's containers on this node's engine (and the snapshots it did not keep)."""
    from swelancer.sandbox.factory import open_engine

    with open_engine() as engine:
        removed = engine.remove_containers(run_id)
        if snapshots_too:
            from swelancer.ops.snapshots import remove_left_snapshots

            remove_left_snapshots(engine, run_id)
    return removed


def _mute(line: str) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# What the driver asks of every node


def check_images(
    cluster: ClusterInfo, images: list[str], *, build_demo: bool, say: Say
) -> dict[str, str]:
    """Refuse (a `ConfigError` naming node and image) unless every node holds every image; the
    ids, as the first node has them (a node whose ids differ is said)."""
    answers = on_each_node(cluster.nodes, node_images, images, build_demo, timeout=None)
    problems: list[str] = []
    ids: dict[str, str] = {}
    for node in cluster.nodes:
        answer = answers[node.node_id]
        if not isinstance(answer, NodeImages):
            problems.append(f"node {node.label} could not check its images ({answer})")
            continue
        for image, why in answer.missing.items():
            problems.append(f"node {node.label} lacks {image} ({why})")
        if ids and any(ids.get(k, v) != v for k, v in answer.ids.items()):
            say(f"node {node.label} holds other builds of the images than the first node")
        ids = ids or answer.ids
    if problems:
        raise ConfigError(
            "; ".join(problems) + ". Every node with docker_slots needs the run's images: run "
            "`swelancer images pull IMAGE_OR_SPLIT --executor ray` (or `swelancer images build "
            "demo --executor ray`) from a node of the cluster, or take the node out."
        )
    return ids


def remove_run_everywhere(cluster: ClusterInfo, run_id: str, *, snapshots_too: bool) -> list[str]:
    """Remove the run's containers on every live node; a line per node that failed."""
    ray = import_ray()
    try:
        nodes = docker_nodes(cluster.address) if ray.is_initialized() else []
    except ConfigError:
        nodes = []
    failed = []
    for node_id, result in on_each_node(nodes, node_remove_run, run_id, snapshots_too).items():
        if isinstance(result, BaseException):
            failed.append(f"node {cluster.label_of(node_id)}: {_first_line(result)}")
    return failed


def pull_on_cluster(address: str, images: list[str], say: Say) -> None:
    """`swelancer images pull --executor ray`: pull on every node with docker_slots."""
    _each_saying(connect(address), node_pull, say, images)


def build_on_cluster(address: str, say: Say) -> None:
    """`swelancer images build demo --executor ray`: build on every node with docker_slots."""
    _each_saying(connect(address), node_build_demo, say)


def _each_saying(cluster: ClusterInfo, fn: Callable[..., Any], say: Say, *args: Any) -> None:
    say(f"on {len(cluster.nodes)} node(s) of the Ray cluster at {cluster.address}")
    failed = []
    for node_id, result in on_each_node(cluster.nodes, fn, *args, timeout=None).items():
        label = cluster.label_of(node_id)
        if isinstance(result, BaseException):
            failed.append(f"node {label}: {_first_line(result)}")
            continue
        for line in result if isinstance(result, list) else [f"built {str(result)[:19]}"]:
            say(f"{label}: {line}")
    if failed:
        raise InfraError("; ".join(failed))
