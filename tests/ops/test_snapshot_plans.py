"""`ops.snapshots` on the fakes: which snapshots cleanup and prune remove, and building them."""

from __future__ import annotations

import pytest

from swelancer.ops.snapshots import (
    apply_snapshot_plan,
    build_snapshots,
    remove_left_snapshots,
    snapshot_plan,
)
from swelancer.run.spec import AttemptSettings, sandbox_spec
from swelancer.sandbox.snapshot_model import Snapshot, parse_size, snapshot_labels, snapshot_name
from tests.fakes.engine import FakeEngine
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import FAKE_IMAGE, ic_task, task_image

BASE = "swelancer/swelancer_x86_monolith:releasev1"
OURS = {"swelancer": "1"}


def _engine() -> tuple[FakeEngine, dict[str, Snapshot]]:
    engine = FakeEngine()
    engine.add_image(BASE, size=14_000)
    snaps = {
        "left": engine.add_snapshot("101", BASE, run_id="killed"),
        "kept": engine.add_snapshot("102", BASE, run_id="earlier", kept=True),
        "used": engine.add_snapshot("103", BASE, run_id="killed"),
        "live": engine.add_snapshot("104", BASE, run_id="going"),
        "untagged": engine.add_snapshot("105", BASE, run_id="killed", tagged=False),
    }
    engine.add_container("agent-103", snaps["used"].image_id, labels={**OURS,
                         "swelancer.run_id": "other"})  # fmt: skip
    engine.add_container("agent-x", BASE, labels={**OURS, "swelancer.run_id": "going"})
    engine.add_container("not-ours", BASE, labels={"swelancer.run_id": "killed"})
    return engine, snaps


def _names(items) -> dict[str, str | None]:
    return {item.snapshot.task_id: item.blocked for item in items}


def test_plans_choose_all_left_or_none_and_spare_what_is_in_use() -> None:
    engine, _ = _engine()
    everything = _names(snapshot_plan(engine, "all"))
    assert sorted(everything) == ["101", "102", "103", "104", "105"]
    assert "running container agent-103" in (everything["103"] or "")
    assert "its run going still has containers" in (everything["104"] or "")
    assert everything["101"] is None and everything["105"] is None  # not-ours is no run's
    assert "102" not in _names(snapshot_plan(engine, "left"))
    assert snapshot_plan(engine, "none") == []
    assert sorted(_names(snapshot_plan(engine, "all", run_id="killed"))) == ["101", "103", "105"]


def test_applying_a_plan_removes_the_free_ones_and_reports_refusals() -> None:
    engine, snaps = _engine()
    items = snapshot_plan(engine, "left")
    engine.add_container("late", snaps["untagged"].image_id, status="created")
    engine.refuse_removal[snaps["left"].image_id] = "conflict: busy"
    done = {i.snapshot.task_id: i for i in apply_snapshot_plan(engine, items)}
    assert done["101"].error == "conflict: busy" and not done["101"].removed
    assert "stopped container late" in (done["105"].blocked or "")
    assert not done["103"].removed and not done["104"].removed
    assert {s.task_id for s in engine.snapshots()} == {"101", "102", "103", "104", "105"}


def test_cleanup_removes_the_left_snapshots_of_a_run_even_while_its_run_looks_live() -> None:
    engine, _ = _engine()
    gone = remove_left_snapshots(engine, "going")
    assert [(i.snapshot.task_id, i.removed) for i in gone] == [("104", True)]
    everywhere = {i.snapshot.task_id: i for i in remove_left_snapshots(engine, None)}
    assert everywhere["101"].removed and everywhere["105"].removed
    assert everywhere["103"].blocked and not everywhere["103"].removed
    assert {s.task_id for s in engine.snapshots()} == {"102", "103"}  # kept, and in use


def test_snapshot_names_labels_and_sizes() -> None:
    name = snapshot_name("28565_1001-Manager", "sha256:abcdef0123456789")
    assert name == "swelancer-snapshot/28565_1001-manager:abcdef012345-v1"
    labels = snapshot_labels("sha256:b", "base:1", "101", "run", kept=True)
    assert labels["swelancer.snapshot.kept"] == "1" and labels["swelancer.snapshot.task"] == "101"
    assert parse_size("50g") == 50_000_000_000 and parse_size("512mb") == 512_000_000
    assert parse_size(None) is None and parse_size("1024") == 1024
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


# ---------------------------------------------------------------------------------------------
# build_snapshots


def _builder(ic: list[str], **image: object) -> tuple[FakeEngine, FakeProvider]:
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=ic, **image))  # type: ignore[arg-type]
    engine = FakeEngine(provider=provider)
    engine.add_image(FAKE_IMAGE, size=10_000)
    return engine, provider


def _spec_for(run_id: str):
    def spec_for(task, image):
        settings = AttemptSettings(run_id=run_id, model="snapshot", image=image)
        return sandbox_spec(task, 1, settings, role="snapshot")

    return spec_for


@pytest.mark.parametrize("concurrency", [1, 2])
def test_build_makes_each_snapshot_once_and_resumes(concurrency: int) -> None:
    engine, provider = _builder(["101", "102", "103"])
    tasks = [ic_task(t) for t in ("101", "102", "103")]
    images = {t.task_id: FAKE_IMAGE for t in tasks}
    store = engine.snapshot_store("snap-1", budget_bytes=None, keep=True)
    lines: list[str] = []
    report = build_snapshots(tasks[:2], images, store=store, provider=provider,
                             spec_for=_spec_for("snap-1"), setup_timeout_s=5, say=lines.append,
                             concurrency=concurrency)  # fmt: skip
    assert sorted(report.made) == ["101", "102"] and not report.failed and not report.stopped
    assert any(line.startswith("[2/2]") and "committed" in line for line in lines)
    again = build_snapshots(tasks, images, store=store, provider=provider,
                            spec_for=_spec_for("snap-1"), setup_timeout_s=5, say=lines.append,
                            concurrency=concurrency)  # fmt: skip
    assert sorted(again.present) == ["101", "102"] and again.made == ["103"]
    assert "snapshot present" in "".join(lines) and provider.live() == []
    assert all(s.kept and s.run_id == "snap-1" for s in engine.snapshots())


def test_build_stops_at_the_budget_and_keeps_going_past_a_failed_setup() -> None:
    engine, provider = _builder(["101", "102", "103"])
    provider.inject("alive", "die", task="101")
    provider.images[FAKE_IMAGE].setup = "crash"  # no task's setup finishes here
    store = engine.snapshot_store("snap-2", budget_bytes=1_000, keep=True)
    tasks = [ic_task(t) for t in ("101", "102")]
    failed = build_snapshots(tasks, dict.fromkeys(["101", "102"], FAKE_IMAGE), store=store,
                             provider=provider, spec_for=_spec_for("snap-2"), setup_timeout_s=1,
                             say=lambda _: None)  # fmt: skip
    assert sorted(failed.failed) == ["101", "102"] and "setup failed" in failed.failed["101"]
    assert engine.snapshots() == [] and provider.live() == []

    engine, provider = _builder(["101", "102", "103"])
    store = engine.snapshot_store("snap-3", budget_bytes=1_200, keep=True)  # room for two
    tasks = [ic_task(t) for t in ("101", "102", "103")]
    stopped = build_snapshots(tasks, dict.fromkeys(["101", "102", "103"], FAKE_IMAGE),
                              store=store, provider=provider, spec_for=_spec_for("snap-3"),
                              setup_timeout_s=5, say=lambda _: None)  # fmt: skip
    assert stopped.made == ["101", "102"] and "does not fit" in (stopped.stopped or "")
    assert len(engine.snapshots()) == 2
