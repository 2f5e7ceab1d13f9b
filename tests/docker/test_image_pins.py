"""Every container of a run starts from the image ids resolved before its first attempt, on
the real engine: the run's image tag is moved to another build while the run goes on (once
its first agent's container exists), and every container the run creates, read from the
engine's events by the run's label, still came from the id the tag had at the start; a
resume after the move is refused naming both ids, and goes on when allowed.

The tag is one of the test's own pointing at the demo image (moving the demo image's own tag
would move it under every other run on this engine); the other build is the demo image with
one label more, built by the test and removed by it."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from swelancer.ops.images import DEMO_IMAGE
from swelancer.sandbox.docker.images import ensure_images
from swelancer.sandbox.snapshot_model import LABEL as SNAPSHOT_LABEL
from tests.docker.cli_runs import records, run_args, unique

pytestmark = pytest.mark.docker

TEST_LABEL = "swelancer.test.image-pins"


class Watch:
    """The run's container creations, as the engine reports them, each inspected at once:
    the image it was given, the id the engine started it from, and that id's snapshot base."""

    def __init__(self, client, run_id: str, on_first_agent) -> None:
        self.client, self.seen, self.on_first_agent = client, [], on_first_agent
        self.moved_at: int | None = None
        filters = {"type": "container", "event": "create", "label": f"swelancer.run_id={run_id}"}
        self.events = client.events(decode=True, filters=filters)
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        try:
            for event in self.events:
                self._one(event)
        except Exception:  # the stream closed by `close`
            return

    def _one(self, event: dict) -> None:
        attrs = event["Actor"]["Attributes"]
        seen = {"role": attrs.get("swelancer.role"), "given": attrs.get("image"),
                "label": attrs.get("swelancer.image"), "at": int(event["timeNano"])}  # fmt: skip
        try:
            seen["id"] = self.client.api.inspect_container(event["Actor"]["ID"])["Image"]
            labels = self.client.images.get(seen["id"]).labels or {}
            seen["base"] = labels.get(f"{SNAPSHOT_LABEL}.base")
        except Exception:  # removed already (a reference container lives briefly)
            pass
        self.seen.append(seen)
        if seen["role"] == "agent" and self.moved_at is None:
            self.on_first_agent()
            self.moved_at = time.time_ns()

    def close(self) -> None:
        self.events.close()
        self.thread.join(timeout=10)


def build_other(client, start_id: str, tag: str, marker: str) -> str:
    """The demo image with one label more, tagged `tag` (moving it); its id."""
    dockerfile = f"FROM {start_id}\nLABEL {TEST_LABEL}={marker}\n"
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return image.id


@pytest.fixture
def own_tag(docker_client):
    """A tag of the test's own on the demo image (its id), and the builds the test made,
    removed afterwards."""
    ids = ensure_images(docker_client, [DEMO_IMAGE], build_demo=True, on_line=lambda line: None)
    marker = unique("pins")
    tag = f"swelancer-test-pins:{marker.split('-', 1)[1]}"
    docker_client.images.get(ids[DEMO_IMAGE]).tag(tag)
    yield tag, ids[DEMO_IMAGE], marker
    for image in docker_client.images.list(filters={"label": f"{TEST_LABEL}={marker}"}):
        docker_client.images.remove(image.id, force=True)  # its tag goes with it
    if any(tag in i.tags for i in docker_client.images.list(name=tag.split(":")[0])):
        docker_client.images.remove(tag)  # the tag only: the image is the demo's


def test_a_tag_moved_during_a_run_changes_none_of_its_containers(
    docker_client, own_tag, tmp_path: Path
):
    tag, pinned, marker = own_tag
    run_id = unique("pins")
    moved: list[str] = []
    watch = Watch(docker_client, run_id, lambda: moved.append(build_other(
        docker_client, pinned, tag, marker)))  # fmt: skip
    try:
        args = run_args(tmp_path, run_id, "--task", "101", "--task", "110-manager-0",
                        "--image", tag, "--grade-in", "fresh", "-j", "1")  # fmt: skip
        done = subprocess.run(args, capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stderr[-3000:]
        time.sleep(1)  # the last events reach the watch
    finally:
        watch.close()
    (other,) = moved
    assert other != pinned and docker_client.images.get(tag).id == other, "the tag moved"
    found = records(tmp_path / run_id)
    assert sorted((r["task_id"], r["status"]) for r in found) == [
        ("101", "passed"), ("110-manager-0", "passed")]  # fmt: skip
    assert {r["image"] for r in found} == {pinned}
    meta = json.loads((tmp_path / run_id / "run.json").read_text())
    assert meta["images"] == {tag: pinned}

    assert {s["role"] for s in watch.seen} >= {"agent", "grader", "judge"}
    after = [s for s in watch.seen if s["at"] > (watch.moved_at or 0)]
    assert after, "containers were started after the tag moved"
    inspected = [s for s in watch.seen if "id" in s]
    assert {s["role"] for s in inspected} >= {"agent", "judge"}
    for seen in watch.seen:
        assert seen["label"] == pinned, seen
        assert seen["given"] == pinned or seen["given"].startswith("swelancer-snapshot/"), seen
    for seen in inspected:
        assert seen["id"] == pinned or seen["base"] == pinned, seen
        assert seen["id"] != other, seen

    # a resume now finds the tag naming another image: refused before any container starts
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode != 0
    said = " ".join(again.stderr.split())
    assert tag in said and pinned in said and other in said and "--allow-image-change" in said
    allowed = subprocess.run([*args, "--allow-image-change"], capture_output=True, text=True,
                             timeout=600)  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    meta = json.loads((tmp_path / run_id / "run.json").read_text())
    assert meta["images"] == {tag: other}
    assert [(c["from"], c["to"]) for c in meta["image_changes"]] == [(pinned, other)]
