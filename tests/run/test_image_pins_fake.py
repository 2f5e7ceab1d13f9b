"""Every container of a run starts from the image ids resolved before its first attempt
(`run.image_pins`), on fake sandboxes: a tag moved during the run changes nothing of it, a
resume after the tag moved is refused (or allowed, and recorded), and the pinned image gone is
an infrastructure error naming it, never a start from what the tag gives now."""

from __future__ import annotations

import dataclasses
import json

import pytest

from swelancer.config import AgentSection, GradingSection, RunConfig, RunSection, Selection
from swelancer.errors import ConfigError, FaultKind
from swelancer.ops.images import DEMO_IMAGE
from swelancer.run.results import read_records
from swelancer.run.runner import Runner
from swelancer.tasks.manifest import load_manifest
from swelancer.tasks.sources import demo_manifest_path
from tests.fakes.sandbox import FakeImage, FakeProvider
from tests.fakes.sandbox_images import image_for_tasks

TASKS = ("101", "102_1", "110-manager-0")


class Quiet:
    """A progress sink that ignores what it is told."""

    def start(self, **_: object) -> None: ...
    def phase(self, *_: object) -> None: ...
    def finished(self, *_: object) -> None: ...
    def note(self, _: str) -> None: ...
    def close(self) -> None: ...


def config(tmp_path, tasks=TASKS, **sandbox) -> RunConfig:
    cfg = RunConfig(
        agent=AgentSection(model="mock/oracle"),
        selection=Selection(split="demo", task_ids=list(tasks)),
        run=RunSection(run_id="pins", results_dir=tmp_path, concurrency=2, max_retries=1),
        grading=GradingSection(grade_in="fresh"),
    )
    for key, value in sandbox.items():
        setattr(cfg.sandbox, key, value)
    return cfg


def run(cfg: RunConfig, provider: FakeProvider):
    return Runner(cfg, say=lambda _: None, make_progress=lambda _: Quiet(),
                  provider=provider).run()  # fmt: skip


def demo_provider(
    snapshots: bool = False, setup: str = "crash"
) -> tuple[FakeProvider, FakeImage, FakeImage]:
    """A provider holding the demo image, and another build of it, by default one that cannot
    set up (a container started from it is an error, so a start from it cannot pass unseen)."""
    image = image_for_tasks(load_manifest(demo_manifest_path()), DEMO_IMAGE)
    other = dataclasses.replace(image, setup=setup, id="")
    other.__post_init__()
    return FakeProvider(image, snapshots=snapshots), image, other


@pytest.mark.parametrize("snapshots", [False, True])
def test_a_tag_moved_during_the_run_changes_none_of_its_containers(tmp_path, snapshots):
    provider, image, other = demo_provider(snapshots)
    # once the first agent's container is up, the tag names another build
    move = lambda _: provider.retag(DEMO_IMAGE, other)  # noqa: E731
    provider.inject("changes", "call", role="agent", then=move)
    summary = run(config(tmp_path), provider)
    assert provider.images[DEMO_IMAGE] is other, "the tag did move during the run"
    assert (summary.passed, summary.errors) == (len(TASKS), 0)
    made = set(provider.stores[0].made.values()) if snapshots else set()
    assert len(provider.sandboxes) > len(TASKS)  # agents, graders, judges, references
    for box in provider.sandboxes:
        assert box.spec.image == image.id or box.spec.image in made, box.name
        assert box.labels["swelancer.image"] == image.id
    if snapshots:
        assert made and set(provider.stores[0].made) == {(image.id, "101"), (image.id, "102_1")}
    assert {r.image for r in read_records(tmp_path / "pins" / "attempts.jsonl")} == {image.id}
    meta = json.loads((tmp_path / "pins" / "run.json").read_text())
    assert meta["images"] == {DEMO_IMAGE: image.id} and "image_changes" not in meta


def test_a_resume_after_the_tag_moved_is_refused_unless_allowed(tmp_path):
    provider, image, other = demo_provider(setup="run.sh")  # a rebuild that works
    run(config(tmp_path, tasks=("101",)), provider)
    provider.retag(DEMO_IMAGE, other)
    before = len(provider.sandboxes)
    more = config(tmp_path, tasks=("101", "102_1"))
    with pytest.raises(ConfigError) as refused:
        run(more, provider)
    said = str(refused.value)
    assert DEMO_IMAGE in said and image.id in said and other.id in said
    assert "--allow-image-change" in said and "--run-id" in said
    assert len(provider.sandboxes) == before, "nothing started"

    more.sandbox.allow_image_change = True
    summary = run(more, provider)
    assert summary.recorded == 1 and summary.passed == 1
    by_task = {r.task_id: r.image for r in read_records(tmp_path / "pins" / "attempts.jsonl")}
    assert by_task == {"101": image.id, "102_1": other.id}, "each record says its image"
    meta = json.loads((tmp_path / "pins" / "run.json").read_text())
    assert meta["images"] == {DEMO_IMAGE: other.id}
    (change,) = meta["image_changes"]
    assert (change["image"], change["from"], change["to"]) == (DEMO_IMAGE, image.id, other.id)


def test_a_resume_with_the_same_image_is_not_refused(tmp_path):
    provider, _, _ = demo_provider()
    run(config(tmp_path, tasks=("101",)), provider)
    assert run(config(tmp_path, tasks=("101", "102_1")), provider).recorded == 1


def test_the_pinned_image_removed_mid_run_is_an_error_naming_it(tmp_path):
    provider, image, other = demo_provider()

    def remove(_):
        provider.retag(DEMO_IMAGE, other)
        provider.remove_image(image.id)

    provider.inject("changes", "call", role="agent", then=remove)
    summary = run(config(tmp_path, tasks=("101",)), provider)
    assert summary.errors == 1
    (record,) = read_records(tmp_path / "pins" / "attempts.jsonl")
    assert record.error is not None and record.error.kind == FaultKind.IMAGE_MISSING
    assert DEMO_IMAGE in record.error.message and image.id in record.error.message
    assert record.infra_retries == 0, "retrying cannot bring the image back"
    assert all(box.spec.image == image.id for box in provider.sandboxes), "no fall back to the tag"
