"""What telling setup's files from the agent's change costs on a repository with many files
setup left (needs a Docker engine on this host, run as root).

Starts a demo container, writes N files (default 100,000) into its repository as a setup would,
then, as an attempt does before and after the agent's turn, lists the container's changes from
its layers with each entry's mark, and times the step that keeps only what changed since the
first listing (`patch_base.since_start`); one file is edited in between, so one path must remain.

    .venv/bin/python benchmarks/patch_base.py [--files 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from pathlib import Path

from swelancer.benchmark.patch_base import PatchBase, relative_changes, relative_marks, since_start
from swelancer.ops.images import DEMO_IMAGE
from swelancer.sandbox.docker import DockerSandbox, docker_client, remove_containers
from swelancer.sandbox.docker.images import ensure_images

CWD = "/app/expensify"
WRITE = (
    "import os, sys\nos.makedirs('generated', exist_ok=True)\n"
    "for n in range(int(sys.argv[1])):\n"
    "    with open(f'generated/f{n:06d}.txt', 'w') as f:\n        f.write(str(n))\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker_client()
    ensure_images(client, [DEMO_IMAGE])
    run_id = f"bench-patch-base-{secrets.token_hex(3)}"
    box = DockerSandbox.start(
        DEMO_IMAGE, command=["sleep infinity"], labels={"swelancer.run_id": run_id}, client=client
    )
    try:
        done = box.exec(["python3", "-c", WRITE, str(args.files)], workdir=CWD, timeout=1800)
        assert done.ok, done.output[-500:]
        time.sleep(0.2)  # past the racy window of the last file written
        began = time.monotonic()
        start = box.changes()
        first = time.monotonic() - began
        if getattr(start, "marks", None) is None:
            print("the layers cannot be read here (not root, not overlay2, or remote)")
            return
        patch_base = PatchBase.model_construct(
            cwd=CWD, tracked=[], store=Path("/nonexistent"), stored=[],
            start=relative_changes(start, CWD), marks=relative_marks(start, CWD),
        )  # fmt: skip
        box.exec(["sh", "-c", "echo edited >> generated/f000001.txt"], workdir=CWD)
        listing, keeping = [], []
        for _ in range(args.rounds):
            began = time.monotonic()
            now = box.changes()
            listing.append(time.monotonic() - began)
            began = time.monotonic()
            touched, compare = since_start(
                patch_base, relative_changes(now, CWD), relative_marks(now, CWD)
            )
            keeping.append(time.monotonic() - began)
        kept = sorted(p for p in touched if p.startswith("generated/f"))
        print(
            f"{len(start)} entries listed; first listing {first:.3f} s; later listings median "
            f"{statistics.median(listing):.3f} s; since_start median "
            f"{statistics.median(keeping):.3f} s; files kept: {kept}, to compare: {len(compare)}"
        )
    finally:
        remove_containers(client, run_id=run_id)


if __name__ == "__main__":
    main()
