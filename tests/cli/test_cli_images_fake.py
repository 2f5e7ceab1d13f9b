"""The `images` and `cleanup` commands in process, on the fake engine: what they print, what
they remove and what they refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from upstream_data import CURRENT, need

from swelancer.cli.app import main
from swelancer.ops.images import DEMO_IMAGE, MONOLITH_IMAGE, per_task_image
from swelancer.run.results import RunDir
from tests.fakes.engine import FakeEngine, build_output
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import FAKE_IMAGE, task_image

GONE = per_task_image("99999001")
OURS = {"swelancer": "1"}


@pytest.fixture
def engine(monkeypatch, tmp_path: Path) -> FakeEngine:
    """The engine every command gets (instead of Docker)."""
    fake = FakeEngine(provider=FakeProvider(task_image(FAKE_IMAGE, ic=["101", "103", "104"])))
    monkeypatch.setattr("swelancer.sandbox.factory.docker_engine", lambda: fake)
    monkeypatch.setenv("SWELANCER_CACHE_DIR", str(tmp_path / "cache"))
    return fake


def swelancer(capsys, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `swelancer ARGS` run in this process."""
    with pytest.raises(SystemExit) as ended:
        main(list(args))
    out = capsys.readouterr()
    code = ended.value.code
    return (code if isinstance(code, int) else 1), out.out, " ".join(out.err.split())


# ---------------------------------------------------------------------------------------------
# list


def test_list_shows_which_images_and_which_tasks_have_a_snapshot(capsys, engine) -> None:
    demo = engine.add_image(DEMO_IMAGE, size=900_000_000)
    engine.add_image("swelancer-tools:1")
    engine.add_snapshot("101", DEMO_IMAGE, kept=True)
    engine.add_snapshot("103", DEMO_IMAGE, tagged=False)  # untagged: no task has it
    code, out, _ = swelancer(capsys, "images", "list", "--split", "demo", "--json")
    assert code == 0
    listing = json.loads(out)
    assert listing["needed"] == [{"image": DEMO_IMAGE, "present": True, "id": demo.id,
                                  "size": 900_000_000, "created": demo.created}]  # fmt: skip
    assert [o["image"] for o in listing["other"]] == ["swelancer-tools:1"]  # no snapshot there
    assert listing["ic_tasks_with_snapshot"] == ["101"]
    assert "103" in listing["ic_tasks_without_snapshot"] and len(listing["snapshots"]) == 2
    assert listing["snapshots"][0]["last_used_at"].endswith("Z") and engine.closed == 1

    code, out, _ = swelancer(capsys, "images", "list", "--split", "demo")
    assert code == 0 and "present" in out and demo.id[7:19] in out
    assert "untagged" in out and "1 of 9 IC tasks of demo have a snapshot" in out
    assert "make the others with: swelancer images snapshot --split demo" in out


def test_list_says_how_to_get_what_is_missing(capsys, engine) -> None:
    code, out, _ = swelancer(capsys, "images", "list", "--split", "demo")
    assert code == 0 and "missing" in out and "no snapshots here" in out
    assert "1 missing; get them with: swelancer images build demo" in " ".join(out.split())
    code, out, _ = swelancer(capsys, "images", "list", "--split", "diamond")
    assert "swelancer images pull diamond" in " ".join(out.split())


# ---------------------------------------------------------------------------------------------
# pull and build


def test_pull_shows_each_layer_and_skips_what_is_here(capsys, engine) -> None:
    engine.offer(MONOLITH_IMAGE, layers=2)
    code, _, err = swelancer(capsys, "images", "pull", MONOLITH_IMAGE)
    assert code == 0, err
    assert f"pulling {MONOLITH_IMAGE}" in err  # layers are counted as the engine names them
    assert "layer layer0: pull complete (1/1)" in err and "layer layer1: pull complete (2/2)" in err
    assert "Status: Downloaded newer" in err
    assert f"pulled {MONOLITH_IMAGE}" in err
    code, _, err = swelancer(capsys, "images", "pull", "diamond")
    assert code == 0 and f"{MONOLITH_IMAGE}: already present" in err and engine.closed == 2


def test_a_pull_that_fails_is_one_error_paragraph(capsys, engine) -> None:
    engine.refuse(GONE, "dial tcp: lookup registry-1.docker.io: i/o timeout")
    code, _, err = swelancer(capsys, "images", "pull", GONE)
    assert code == 1 and err.count("swelancer: error:") == 1
    assert "could not reach the registry" in err and "i/o timeout" in err and engine.closed == 1
    code, _, err = swelancer(capsys, "images", "pull", "demo")
    assert code == 2 and "swelancer images build demo" in err


def test_build_builds_the_demo_image_only(capsys, engine, tmp_path) -> None:
    engine.build_output = build_output(steps=12, lines=570)
    with pytest.raises(SystemExit) as ended:
        main(["images", "build", "demo"])
    shown = capsys.readouterr().err.splitlines()
    assert ended.value.code == 0
    log = tmp_path / "cache" / "image-build.log"  # the build's lines are there, not on screen
    assert len(shown) <= 4 and shown[-1].startswith(f"built {DEMO_IMAGE}"), shown
    assert f"its log: {log}" in shown[0] and "12 steps" in shown[-2] and str(log) in shown[-2]
    assert log.read_text().splitlines()[1:] == engine.build_output
    assert engine.built == [DEMO_IMAGE]
    code, _, err = swelancer(capsys, "images", "build", "monolith")
    assert code == 2 and "only the demo image is built here" in err


def test_a_failed_build_names_its_log_and_shows_its_last_lines(capsys, engine, tmp_path) -> None:
    engine.build_output = build_output(steps=12, lines=570, fail_at=9)
    engine.build_error = "The command '/bin/sh -c make part-9' returned a non-zero code: 2"
    with pytest.raises(SystemExit) as ended:
        main(["images", "build", "demo"])
    err = capsys.readouterr().err
    log = tmp_path / "cache" / "image-build.log"
    assert ended.value.code == 1 and err.count("swelancer: error:") == 1
    assert str(log) in " ".join(err.split()) and "non-zero code: 2" in " ".join(err.split())
    shown = err.splitlines()  # the paragraph, then the log's last lines as they are
    assert shown[-2] == f"  {engine.build_output[-1]}"
    assert shown[-1] == f"  build failed: building {DEMO_IMAGE} failed: {engine.build_error}"
    assert len(shown) < 30 and engine.built == []


# ---------------------------------------------------------------------------------------------
# prune


def _prune(capsys, *args: str) -> tuple[int, str, str]:
    return swelancer(capsys, "images", "prune", "--manifest", str(need(CURRENT)), *args)


def _prunable(engine: FakeEngine) -> None:
    engine.add_image(MONOLITH_IMAGE, size=14_000_000_000)
    engine.add_image(GONE, size=14_000_000_000)
    engine.add_image(per_task_image("99999002"), size=3_000_000_000)
    engine.add_container("agent-2", per_task_image("99999002"), labels=OURS)
    engine.add_snapshot("101", MONOLITH_IMAGE, run_id="killed", size=2_000_000_000)


def test_prune_shows_its_plan_and_removes_nothing_on_a_dry_run(capsys, engine) -> None:
    _prunable(engine)
    code, out, _ = _prune(capsys, "--dry-run", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["dry_run"] is True and plan["frees_bytes"] == 14_000_000_000
    by_tag = {item["tag"]: item for item in plan["items"]}
    assert set(by_tag) == {GONE, per_task_image("99999002")}
    assert "running container agent-2" in by_tag[per_task_image("99999002")]["blocked"]
    assert plan["snapshot_frees_bytes"] == 2_000_000_000 and len(plan["snapshots"]) == 1
    code, _, err = _prune(capsys, "--dry-run")
    assert code == 0 and "would free up to 14.0 GB" in err and "keep: in use" in err
    assert "snapshots: would free 2.0 GB" in err
    assert engine.removed == []


def test_prune_without_yes_refuses_then_removes_with_it(capsys, engine) -> None:
    _prunable(engine)
    code, _, err = _prune(capsys)
    assert code == 2 and "without --yes" in err and engine.removed == []
    code, out, _ = _prune(capsys, "--yes", "--json")
    assert code == 0
    done = json.loads(out)
    assert done["dry_run"] is False and [i["tag"] for i in done["items"] if i["removed"]] == [GONE]
    assert engine.snapshots() == [] and GONE not in engine.tags()
    assert per_task_image("99999002") in engine.tags()
    code, _, err = _prune(capsys, "--yes", "--snapshots", "left")
    assert code == 0 and "keep: in use by running container agent-2" in err
    assert "nothing removed" in err and "no snapshot to prune" in err


def test_prune_says_which_images_the_engine_would_not_remove(capsys, engine) -> None:
    _prunable(engine)
    engine.refuse_removal[GONE] = "conflict: image is being used"
    code, _, err = _prune(capsys, "--yes", "--snapshots", "none")
    assert code == 1 and "1 image(s) could not be removed" in err
    assert f"{GONE}: conflict: image is being used" in err and "failed: conflict" in err


def test_prune_needs_an_upstream_split_and_a_known_snapshot_choice(capsys, engine) -> None:
    code, _, err = swelancer(capsys, "images", "prune", "--split", "demo")
    assert code == 2 and "keeps the images of an upstream split" in err
    code, _, err = _prune(capsys, "--snapshots", "some")
    assert code == 2 and "--snapshots is all, left or none" in err


# ---------------------------------------------------------------------------------------------
# cleanup


def test_cleanup_removes_a_runs_containers_and_the_snapshots_it_did_not_keep(
    capsys, engine, tmp_path: Path
) -> None:
    engine.add_image(FAKE_IMAGE)
    engine.add_container("c1", FAKE_IMAGE, labels={**OURS, "swelancer.run_id": "killed"})
    engine.add_container("c2", FAKE_IMAGE, labels={**OURS, "swelancer.run_id": "other"})
    engine.add_snapshot("101", FAKE_IMAGE, run_id="killed")
    kept = engine.add_snapshot("103", FAKE_IMAGE, run_id="killed", kept=True)
    used = engine.add_snapshot("104", FAKE_IMAGE, run_id="killed")
    engine.add_container("c3", used.image_id, labels={**OURS, "swelancer.run_id": "other"})
    code, _, err = swelancer(capsys, "cleanup", "--run-id", "killed", "--results-dir",
                             str(tmp_path))  # fmt: skip
    assert code == 0
    assert "removed 1 container(s) and 1 snapshot(s) that were not kept" in err
    assert f"kept snapshot {used.name}: in use by running container c3" in err
    assert [c.name for c in engine.containers()] == ["c2", "c3"]
    assert {s.image_id for s in engine.snapshots()} == {kept.image_id, used.image_id}


def test_cleanup_leaves_a_run_that_is_still_going_alone(capsys, engine, tmp_path: Path) -> None:
    engine.add_image(FAKE_IMAGE)
    engine.add_container("c1", FAKE_IMAGE, labels={**OURS, "swelancer.run_id": "going"})
    (tmp_path / "going").mkdir()
    lock = RunDir(tmp_path / "going").lock()
    try:
        code, _, err = swelancer(capsys, "cleanup", "--run-id", "going", "--results-dir",
                                 str(tmp_path))  # fmt: skip
    finally:
        lock.release()
    assert code == 1 and "Its containers were left alone" in err
    assert [c.name for c in engine.containers()] == ["c1"]


def _utc(ago_s: float) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(seconds=ago_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_bare_cleanup_takes_only_runs_that_are_over_and_says_what_it_skipped(
    capsys, engine, tmp_path: Path
) -> None:
    results, elsewhere = tmp_path / "results", tmp_path / "elsewhere"
    (results / "over").mkdir(parents=True)
    (elsewhere / "going").mkdir(parents=True)  # a run of another --results-dir, found by label
    engine.add_image(FAKE_IMAGE)
    now = _utc(0)
    marks = {
        "going": {"swelancer.run_dir": str(elsewhere / "going")},
        "over": {},  # an older container with no directory label: <results>/over is asked
        "young": {"swelancer.run_dir": str(tmp_path / "deleted")},  # its directory is gone
        "old": {},
    }
    for run, extra in marks.items():
        created = _utc(7200) if run == "old" else now
        labels = {**OURS, "swelancer.run_id": run, **extra}
        engine.add_container(f"c-{run}", FAKE_IMAGE, labels=labels, created=created)
    engine.add_container("not-ours", FAKE_IMAGE, labels={"swelancer.run_id": "x"})
    going_snap = engine.add_snapshot("101", FAKE_IMAGE, run_id="going")
    engine.add_snapshot("103", FAKE_IMAGE, run_id="over")
    lock = RunDir(elsewhere / "going").lock()
    try:
        code, _, err = swelancer(capsys, "cleanup", "--results-dir", str(results))
        assert code == 0, err
        assert "removed 2 container(s) and 1 snapshot(s) that were not kept" in err
        assert sorted(c.name for c in engine.containers()) == ["c-going", "c-young", "not-ours"]
        assert (
            f"skipped 1 container(s) of run going: its run directory {elsewhere / 'going'} "
            "is locked" in err
        )
        assert "skipped 1 container(s) of run young: no run directory" in err
        assert "`swelancer cleanup --force` removes them" in err
        assert [s.image_id for s in engine.snapshots()] == [going_snap.image_id]

        code, _, err = swelancer(capsys, "cleanup", "--results-dir", str(results), "--force")
        assert code == 0 and "removed 2 container(s) and 1 snapshot(s)" in err
        assert [c.name for c in engine.containers()] == ["not-ours"]
    finally:
        lock.release()


# ---------------------------------------------------------------------------------------------
# snapshot


def _snapshot(capsys, *args: str) -> tuple[int, str, str]:
    return swelancer(capsys, "images", "snapshot", "--split", "demo", "--image", FAKE_IMAGE,
                     "--task", "101", "--task", "103", *args)  # fmt: skip


def test_snapshot_makes_each_tasks_snapshot_once_and_resumes(capsys, engine) -> None:
    engine.add_image(FAKE_IMAGE)
    code, _, err = _snapshot(capsys, "--budget", "10g")
    assert code == 0, err
    assert "snapshots of 2 IC task(s) of fake/swelancer:latest; budget 10.0 GB" in err
    assert "2 made, 0 present, 0 failed" in err
    assert sorted(s.task_id for s in engine.snapshots()) == ["101", "103"]
    assert all(s.kept for s in engine.snapshots()) and engine.sandboxes.live() == []
    code, _, err = _snapshot(capsys, "--concurrency", "2")
    assert code == 0 and err.count("snapshot present") == 2 and "0 made, 2 present" in err


def test_snapshot_stops_at_the_budget_and_says_how_to_go_on(capsys, engine) -> None:
    engine.add_image(FAKE_IMAGE)
    code, _, err = _snapshot(capsys, "--budget", "700")  # room for one of 500 bytes
    assert code == 1 and "stopped at the snapshot budget" in err and "Nothing was evicted" in err
    assert len(engine.snapshots()) == 1


def test_snapshot_refuses_what_it_cannot_do(capsys, engine) -> None:
    assert _snapshot(capsys, "--variant", "swe_manager")[0] == 2
    code, _, err = _snapshot(capsys, "--budget", "lots")
    assert code == 2 and "--budget: 'lots' is not a size" in err
    code, _, err = _snapshot(capsys, "--concurrency", "0")
    assert code == 2 and "--concurrency must be at least 1" in err
