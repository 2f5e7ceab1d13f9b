"""The patch's base is the repository as the agent received it, files setup left included: a
task whose setup leaves more files neither tracked nor ignored than a change may touch
(`PatchLimits.max_files`, so that counting them as the agent's would fail the attempt),
attempted twice with the same scripted change (the fix, one of those files edited, one deleted,
one file added), once in a container set up cold and once from the snapshot that setup made,
gives byte-identical patches, both graded in a fresh container (which applies the patch).

The image is the demo image with one more step in its setup playbook (an image of its own, so
that its snapshots are this test's alone); it is removed, with its snapshots, at the end.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swelancer.benchmark.patch import PatchLimits
from swelancer.ops.images import DEMO_IMAGE
from swelancer.sandbox.docker.images import ensure_images
from swelancer.sandbox.docker.snapshot_index import list_snapshots

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "tasks" / "demo" / "issues" / "101" / "bug_reintroduce.patch"
LEFT = PatchLimits().max_files + 500
"""Files setup leaves: more than a change may touch."""

SETUP_STEP = """
    - name: Leave build output in the repository, neither tracked nor ignored
      ansible.builtin.command: python3 /opt/leave_files.py
      args:
        chdir: /app/expensify
"""
LEAVE_FILES = f"""import os
os.makedirs("generated")
for n in range({LEFT}):
    with open(f"generated/f{{n:05d}}.txt", "w") as f:
        f.write(f"generated {{n}}\\n")
"""

CHANGE = r"""
import json, os, subprocess
PARAMS = json.loads(%r)
with open("/tmp/gold.patch", "w") as f:
    f.write(PARAMS["gold"])
subprocess.run(["git", "apply", "-R", "/tmp/gold.patch"], check=True)
os.remove("/tmp/gold.patch")
with open("generated/f00001.txt", "a") as f:
    f.write("edited\n")
os.remove("generated/f00002.txt")
with open("notes.md", "w") as f:
    f.write("the fix\n")
print(len(os.listdir("generated")), "generated files left")
"""


def _context(run_id: str) -> io.BytesIO:
    """A build context: the demo image, its setup playbook one step longer."""
    dockerfile = (
        f"FROM {DEMO_IMAGE}\n"
        "COPY leave_files.py /opt/leave_files.py\n"
        "COPY step.yml /tmp/step.yml\n"
        "RUN cat /tmp/step.yml >> /app/tests/setup_expensify.yml && rm /tmp/step.yml\n"
        f"LABEL swelancer.test.patch_base={run_id}\n"
    )
    files = {"Dockerfile": dockerfile, "leave_files.py": LEAVE_FILES, "step.yml": SETUP_STEP}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


@pytest.fixture(scope="module")
def leaving_image(docker_client: Any, docker_run_id: str) -> Iterator[str]:
    """The demo image whose setup also leaves `LEFT` untracked, un-ignored files."""
    ensure_images(docker_client, [DEMO_IMAGE])
    name = f"swelancer-patchbase-{docker_run_id}:demo"
    context = _context(docker_run_id)
    docker_client.images.build(fileobj=context, custom_context=True, tag=name, rm=True)
    image_id = docker_client.images.get(name).id
    yield name
    for snapshot in list_snapshots(docker_client):
        if snapshot.base_id == image_id:
            for box in docker_client.containers.list(
                all=True, filters={"ancestor": snapshot.image_id}
            ):
                box.remove(force=True)
            docker_client.images.remove(snapshot.image_id, force=True)
    for box in docker_client.containers.list(all=True, filters={"ancestor": name}):
        box.remove(force=True)
    docker_client.images.remove(name, force=True)


def test_the_same_change_gives_the_same_patch_cold_and_from_a_snapshot(
    leaving_image: str, tmp_path: Path, docker_run_id: str
) -> None:
    code = CHANGE % json.dumps({"gold": GOLD.read_text()})
    script = tmp_path / "script.json"
    script.write_text(json.dumps([f"```python\n{code}\n```", "DONE"]))
    run_id = f"{docker_run_id}-patchbase"
    done = subprocess.run(
        [sys.executable, "-m", "swelancer", "run", "--split", "demo", "--image", leaving_image,
         "--task", "101", "-k", "2", "-j", "1", "--grade-in", "fresh", "--test-runs", "1",
         "--model", f"mock/scripted:{script}", "--results-dir", str(tmp_path / "results"),
         "--run-id", run_id, "--quiet"],
        capture_output=True, text=True, timeout=1500, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "results" / run_id
    lines = (run_dir / "attempts.jsonl").read_text().splitlines()
    records = {r["attempt"]: r for r in map(json.loads, filter(str.strip, lines))}
    assert sorted(records) == [1, 2]
    assert records[1]["setup_from"]["agent"] == "cold", records[1]
    assert records[2]["setup_from"]["agent"] == "snapshot", records[2]
    for record in records.values():
        assert record["status"] == "passed", record.get("reason")
        assert record["graded_in"] == "fresh"
    transcript = (run_dir / "attempts" / "101" / "1" / "transcript.jsonl").read_text()
    assert f"{LEFT - 1} generated files left" in transcript, "the change ran on all of them"
    cold = (run_dir / "attempts" / "101" / "1" / "patch.diff").read_bytes()
    warm = (run_dir / "attempts" / "101" / "2" / "patch.diff").read_bytes()
    assert cold == warm
    text = cold.decode()
    assert text.count("diff --git") == 4, text[:3000]
    assert "diff --git a/expenses/money.py b/expenses/money.py\nindex" in text
    assert "diff --git a/generated/f00001.txt b/generated/f00001.txt\nindex" in text
    assert " generated 1\n+edited\n" in text
    assert "diff --git a/generated/f00002.txt b/generated/f00002.txt\ndeleted file mode" in text
    assert "diff --git a/notes.md b/notes.md\nnew file mode 100644" in text


class CountingReads:
    """A sandbox whose reads through the engine are counted."""

    def __init__(self, box: Any) -> None:
        self.box, self.reads = box, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.box, name)

    def copy_out(self, *args: Any, **kwargs: Any) -> Any:
        self.reads += 1
        return self.box.copy_out(*args, **kwargs)


def test_many_starting_files_are_kept_in_one_read_and_a_link_among_them_is_named(
    docker_client: Any, docker_run_id: str, tmp_path: Path
) -> None:
    from swelancer.benchmark.patch_base import BATCH_DIR, _copy_files
    from swelancer.errors import InfraError
    from swelancer.sandbox.base import SandboxSpec
    from swelancer.sandbox.docker.provider import DockerProvider

    ensure_images(docker_client, [DEMO_IMAGE])
    labels = {"swelancer.run_id": f"{docker_run_id}-batch"}
    box = DockerProvider().start(
        SandboxSpec(image=DEMO_IMAGE, labels=labels, env={"EVAL_VARIANT": "swe_manager"})
    )
    try:
        made = box.exec(["sh", "-c", "mkdir -p /app/x/gen && cd /app/x && "
                         "for i in $(seq 1 1000); do echo $i > gen/f$i.txt; done && "
                         "printf 'a\\0b' > 'gen/odd é' && ln -s gen/f1.txt link"],
                        timeout=300)  # fmt: skip
        assert made.ok, made.output
        paths = [f"gen/f{i}.txt" for i in range(1, 1001)] + ["gen/odd é"]
        counted = CountingReads(box)
        _copy_files(counted, "/app/x", paths, tmp_path / "base")
        assert counted.reads == 1
        assert sorted(p.name for p in (tmp_path / "base" / "gen").iterdir()) == sorted(
            p.split("/")[1] for p in paths
        )
        assert (tmp_path / "base/gen/f77.txt").read_text() == "77\n"
        assert (tmp_path / "base/gen/odd é").read_bytes() == b"a\0b"
        assert box.exec(["test", "-e", BATCH_DIR], timeout=60).exit_code == 1  # gone
        with pytest.raises(InfraError, match=re.escape("link: a link to 'gen/f1.txt'")):
            _copy_files(box, "/app/x", [*paths[:100], "link"], tmp_path / "with-link")
    finally:
        box.remove()
