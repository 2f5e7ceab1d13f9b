"""`ops.images` on the fake engine: what is here, pulls and their errors, prune plans."""

from __future__ import annotations

import pytest

from swelancer.errors import InfraError
from swelancer.ops.images import (
    DEMO_IMAGE,
    MONOLITH_IMAGE,
    apply_prune,
    image_state,
    per_task_image,
    prune_plan,
    pull_image,
    swelancer_images,
)
from tests.fakes.engine import FakeEngine

GONE = per_task_image("99999001")
"""A per-task image of a task no manifest keeps."""


def test_image_state_and_the_swelancer_images_here() -> None:
    engine = FakeEngine()
    demo = engine.add_image(DEMO_IMAGE, size=900)
    engine.add_image("debian:bookworm-slim", "swelancer-tools:1")
    state = image_state(engine, DEMO_IMAGE)
    assert (state.present, state.id, state.size, state.tags) == (True, demo.id, 900, [DEMO_IMAGE])
    assert state.created and state.created.startswith("2026-")
    assert image_state(engine, MONOLITH_IMAGE).present is False
    assert [s.name for s in swelancer_images(engine)] == ["swelancer-demo:latest",
                                                          "swelancer-tools:1"]  # fmt: skip


def test_a_pull_passes_every_event_on_and_gives_the_id() -> None:
    engine = FakeEngine()
    engine.offer(MONOLITH_IMAGE, layers=3)
    events: list[dict] = []
    image_id = pull_image(engine, MONOLITH_IMAGE, on_event=events.append)
    assert image_id == image_state(engine, MONOLITH_IMAGE).id
    assert [e["status"] for e in events].count("Pull complete") == 3
    assert events[0]["status"].startswith("Pulling from") and "progressDetail" in events[2]
    assert pull_image(engine, MONOLITH_IMAGE) == image_id  # without a callback too


@pytest.mark.parametrize(
    ("said", "engine_gone", "kind", "words"),
    [
        ("manifest for x not found: manifest unknown", False, "image_missing", "was not found"),
        ("dial tcp: lookup registry-1.docker.io: no such host", False, "registry_unreachable",
         "could not reach the registry"),
        ("write /var/lib/docker/x: no space left on device", False, "disk_full", "ran out of disk"),
        ("Connection aborted", True, "docker_unavailable", "stopped answering"),
    ],
)  # fmt: skip
def test_a_failed_pull_says_why(said: str, engine_gone: bool, kind: str, words: str) -> None:
    engine = FakeEngine()
    engine.refuse(GONE, said, engine_gone=engine_gone)
    with pytest.raises(InfraError) as caught:
        pull_image(engine, GONE)
    assert caught.value.kind == kind and words in str(caught.value) and GONE in str(caught.value)
    assert said in str(caught.value)


def test_pulling_what_no_registry_has_names_the_upstream_images() -> None:
    with pytest.raises(InfraError, match="Upstream images are named") as caught:
        pull_image(FakeEngine(), "swelancer/nope:1")
    assert caught.value.kind == "image_missing"


def test_an_engine_that_does_not_answer_is_said_before_any_pull() -> None:
    engine = FakeEngine()
    engine.up = False
    with pytest.raises(InfraError) as caught:
        pull_image(engine, MONOLITH_IMAGE)
    assert caught.value.kind == "docker_unavailable" and "Start Docker" in str(caught.value)


def _prunable() -> FakeEngine:
    engine = FakeEngine()
    engine.add_image(MONOLITH_IMAGE, size=14_000)
    engine.add_image(per_task_image("111"), size=14_000)  # a task the manifest keeps
    engine.add_image(GONE, size=14_000)  # only this tag: removing it frees the image
    engine.add_image(per_task_image("99999002"), "mirror/copy:1", size=7_000)  # shared
    engine.add_image(per_task_image("99999003"), size=3_000)
    engine.add_image(per_task_image("99999004"), size=2_000)
    engine.add_container("agent-1", per_task_image("99999003"), status="running")
    engine.add_container("old-1", per_task_image("99999004"), status="exited")
    return engine


def test_a_prune_plan_lists_tags_of_tasks_gone_and_what_removing_them_frees() -> None:
    plan = {item.tag: item for item in prune_plan(_prunable(), keep_task_ids={"111"})}
    assert sorted(plan) == [GONE, *(per_task_image(f"9999900{n}") for n in (2, 3, 4))]
    assert plan[GONE].frees and plan[GONE].task_id == "99999001" and plan[GONE].size == 14_000
    shared = plan[per_task_image("99999002")]
    assert not shared.frees and shared.other_tags == ["mirror/copy:1"]
    assert "in use by running container agent-1" in (plan[per_task_image("99999003")].blocked or "")
    stopped = plan[per_task_image("99999004")].blocked or ""
    assert "stopped container old-1" in stopped and "docker rm old-1" in stopped
    assert all(not item.removed for item in plan.values())


def test_applying_a_plan_removes_only_what_no_container_uses() -> None:
    engine = _prunable()
    items = prune_plan(engine, keep_task_ids={"111"})
    engine.add_container("late", GONE, status="running")  # started after the plan was made
    engine.refuse_removal[per_task_image("99999002")] = "conflict: the engine said no"
    done = {item.tag: item for item in apply_prune(engine, items)}
    assert "running container late" in (done[GONE].blocked or "") and not done[GONE].removed
    assert done[per_task_image("99999002")].error == "conflict: the engine said no"
    assert not done[per_task_image("99999003")].removed  # blocked from the start
    assert GONE in engine.tags() and per_task_image("111") in engine.tags()


def test_untagging_a_shared_image_keeps_the_image() -> None:
    engine = _prunable()
    items = [i for i in prune_plan(engine, {"111"}) if i.tag == per_task_image("99999002")]
    (done,) = apply_prune(engine, items)
    assert done.removed and done.error is None
    assert "mirror/copy:1" in engine.tags() and per_task_image("99999002") not in engine.tags()
    assert image_state(engine, "mirror/copy:1").present
