"""A container's change list read from its overlay2 layers against the engine's own listing
(needs a Docker engine on this host, run as root).

Starts a demo IC container (and with `--heavy`, one of the heavy-setup image of
`benchmarks/heavy_setup/`, whose setup writes about 100,000 files), waits until it is set up,
then times both ways of listing its changes and checks that they give the same entries.

    .venv/bin/python benchmarks/changes.py [--task 101] [--rounds 3] [--heavy]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time

from snapshots import build_heavy_image

from swelancer.benchmark import setup
from swelancer.ops.images import DEMO_IMAGE
from swelancer.run.spec import AttemptSettings, sandbox_spec
from swelancer.sandbox.docker import docker_client, remove_containers
from swelancer.sandbox.docker.images import ensure_images
from swelancer.sandbox.docker.layer_changes import layer_changes, layers_of
from swelancer.sandbox.docker.processes import _native_diff
from swelancer.sandbox.docker.provider import DockerProvider
from swelancer.tasks.catalog import TaskQuery, load_tasks


def measure(client, image: str, task, label: str, rounds: int) -> None:
    spec = sandbox_spec(task, 1, AttemptSettings(run_id=label, model="bench", image=image))
    box = DockerProvider(client).start(spec)
    try:
        setup.wait_until_ready(box, task, 900)
        layers = layers_of(box.container.attrs, native_diff=_native_diff(client))
        if layers is None:
            print(f"{image}: the layers cannot be read here (not root, not overlay2, or remote)")
            return
        mine, engine = [], []
        for _ in range(rounds):
            began = time.monotonic()
            listed = layer_changes(layers)
            mine.append(time.monotonic() - began)
            began = time.monotonic()
            theirs = [(c["Path"], c["Kind"]) for c in client.api.diff(box.id) or []]
            engine.append(time.monotonic() - began)
        same = "the same entries" if sorted(listed) == sorted(theirs) else "DIFFERENT entries"
        print(
            f"{image}: {len(listed)} entries; layers median {statistics.median(mine):.3f} s, "
            f"engine median {statistics.median(engine):.3f} s; {same}"
        )
    finally:
        box.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="101")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--heavy", action="store_true", help="also the heavy-setup image")
    args = parser.parse_args()
    client = docker_client()
    ensure_images(client, [DEMO_IMAGE])
    (task,) = load_tasks(TaskQuery(split="demo", task_ids=[args.task])).tasks
    nonce = secrets.token_hex(3)
    label = f"bench-changes-{nonce}"
    heavy = f"swelancer-heavy-setup:bench-{nonce}"
    try:
        measure(client, DEMO_IMAGE, task, label, args.rounds)
        if args.heavy:
            build_heavy_image(client, heavy)
            measure(client, heavy, task, label, args.rounds)
    finally:
        remove_containers(client, run_id=label)
        if args.heavy:
            client.images.remove(heavy, force=True)


if __name__ == "__main__":
    main()
