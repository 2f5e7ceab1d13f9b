"""What the judge's own network namespace costs per judge (needs a Docker engine).

Starts an app container from an image (the demo image by default; `--image` for another, e.g.
a contract image with `--manager-env` to skip its setup) and, in turns, a judge that shares its
network namespace (`network_of`, the earlier design) and one in a namespace of its own that
reaches the app's declared ports (`Reach`: a volume, a relay container, the forwarder in the
judge); times each start (until the forwarder is ready) and removal, and the relay
container's writable layer. The judges run no setup (`EVAL_VARIANT=swe_manager`), so only the
difference of the two designs is timed. Prints medians.

    .venv/bin/python benchmarks/judge_reach.py [--rounds 7] [--image IMAGE]
"""

from __future__ import annotations

import argparse
import statistics
import time

from swelancer.benchmark.app_ports import APP_PORTS
from swelancer.ops.images import DEMO_IMAGE
from swelancer.sandbox.base import Reach, SandboxSpec
from swelancer.sandbox.docker import docker_client, remove_containers
from swelancer.sandbox.docker.images import ensure_images
from swelancer.sandbox.docker.provider import DockerProvider

RUN_ID = "bench-judge-reach"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--image", default=DEMO_IMAGE)
    args = parser.parse_args()
    client = docker_client()
    if args.image == DEMO_IMAGE:
        ensure_images(client, [DEMO_IMAGE], build_demo=True, on_line=lambda line: None)
    provider = DockerProvider()
    marks = {"swelancer.run_id": RUN_ID, "swelancer.role": "app"}
    spec = SandboxSpec(image=args.image, labels=marks, env={"EVAL_VARIANT": "swe_manager"})
    judge_marks = {**marks, "swelancer.role": "judge"}
    app = provider.start(spec)
    times: dict[str, list[float]] = {"shared": [], "own": [], "rm shared": [], "rm own": []}
    relay_bytes: list[int] = []
    try:
        for _ in range(args.rounds):
            for name, update in (
                ("shared", {"network_of": app.name}),
                ("own", {"reach": Reach(of=app.name, ports=APP_PORTS, deadline_s=600)}),
            ):
                started = time.monotonic()
                judge = provider.start(spec.model_copy(update={**update, "labels": judge_marks}))
                times[name].append(time.monotonic() - started)
                if name == "own":
                    relays = client.containers.list(
                        filters={"label": [f"swelancer.run_id={RUN_ID}",
                                           "swelancer.role=judge-relay"]},
                    )  # fmt: skip
                    for relay in relays:
                        url = client.api._url("/containers/{0}/json", relay.id)
                        info = client.api._result(client.api._get(url, params={"size": 1}), True)
                        relay_bytes.append(int(info.get("SizeRw") or 0))
                started = time.monotonic()
                judge.remove()
                times[f"rm {name}"].append(time.monotonic() - started)
    finally:
        app.remove()
        remove_containers(client, RUN_ID)
    for name, values in times.items():
        print(f"{name:>10}: median {statistics.median(values):.2f} s "
              f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})")  # fmt: skip
    extra = statistics.median(times["own"]) - statistics.median(times["shared"])
    extra += statistics.median(times["rm own"]) - statistics.median(times["rm shared"])
    print(f"extra per judge (start + removal): {extra:.2f} s")
    print(f"relay writable layer: median {statistics.median(relay_bytes or [0])} bytes")


if __name__ == "__main__":
    main()
