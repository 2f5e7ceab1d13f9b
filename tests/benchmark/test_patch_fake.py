"""The agent's change as a patch (`benchmark.patch`), from a fake sandbox's change list and
archive reads, made by the host's git: every kind of change, what is left out, the caps, and
that the patch applies to a fresh copy."""

from __future__ import annotations

import pytest

from swelancer.benchmark.patch import (
    PatchLimits,
    PatchTooLarge,
    PatchUnreadable,
    apply_patch,
    read_change,
)
from swelancer.benchmark.patch_base import capture_patch_base
from swelancer.benchmark.setup import BASE_LIST, fresh_history, wait_until_ready
from swelancer.errors import FaultKind, InfraError
from swelancer.run.attempt import sandbox_spec
from tests.fakes.runs import attempt_settings
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import CWD, FAKE_IMAGE, fixed_code, ic_task, make_patch, task_image

TASK = ic_task("101")


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"]))
    yield provider
    assert provider.unknown == []


def ready(provider, role="agent"):
    box = provider.start(sandbox_spec(TASK, 1, attempt_settings(), role=role))
    wait_until_ready(box, TASK, 5)
    return box


@pytest.fixture
def agent(provider, tmp_path):
    """An agent's container after setup, its patch_base, and a reference of the image."""
    box = ready(provider)
    fresh_history(box, TASK)
    patch_base = capture_patch_base(box, CWD, tmp_path / "base")
    return box, patch_base, provider.reference(FAKE_IMAGE, {})


def patch_of(agent, tmp_path, name="work", **limits):
    box, patch_base, reference = agent
    limits = PatchLimits(**limits) if limits else None
    return read_change(box, reference, patch_base, tmp_path / name, limits).patch()


def test_the_baseline_is_what_the_fresh_history_committed(agent):
    box, patch_base, _ = agent
    assert "src/bug_101.js" in patch_base.tracked and ".gitignore" in patch_base.tracked
    assert not any(p.startswith(("node_modules/", ".git/")) for p in patch_base.tracked)
    assert patch_base.stored == [".gitignore"], "setup changed no tracked file in this image"
    assert (patch_base.store / ".gitignore").read_text() == "node_modules/\n*.log\n"
    listed = box.fs.read(BASE_LIST).decode().split("\0")
    assert sorted(p for p in listed if p) == patch_base.tracked, "the fresh history's own list"


def test_every_kind_of_change_and_nothing_else(provider, agent, tmp_path):
    box = agent[0]
    box.fs.write(f"{CWD}/src/bug_101.js", fixed_code("101"))
    box.fs.write(f"{CWD}/src/new.js", "export const x = 1;\n")
    box.fs.write(f"{CWD}/scripts/run.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    box.fs.remove(f"{CWD}/README.md")
    box.fs.symlink(f"{CWD}/src/link.js", "bug_101.js")
    box.fs.write(f"{CWD}/debug.log", "ignored by .gitignore\n")
    box.fs.write(f"{CWD}/node_modules/pad/index.js", "ignored\n")
    box.fs.write(f"{CWD}/user_tool/output_1/trace.trace", "{}\n")
    box.fs.write(f"{CWD}/.git/HEAD", "ref: refs/heads/other\n")
    patch = patch_of(agent, tmp_path)
    for expected in (
        "diff --git a/src/bug_101.js b/src/bug_101.js",
        "+  return sumInCents(items); // FIXED",
        "diff --git a/src/new.js b/src/new.js\nnew file mode 100644",
        "diff --git a/scripts/run.sh b/scripts/run.sh\nnew file mode 100755",
        "diff --git a/README.md b/README.md\ndeleted file mode 100644",
        "diff --git a/src/link.js b/src/link.js\nnew file mode 120000",
    ):
        assert expected in patch
    for absent in ("debug.log", "node_modules", "user_tool", ".git/"):
        assert absent not in patch
    fresh = ready(provider, "grader")
    assert apply_patch(fresh, CWD, patch) is None
    for rel in ("src/bug_101.js", "src/new.js", "scripts/run.sh"):
        assert fresh.fs.read(f"{CWD}/{rel}") == box.fs.read(f"{CWD}/{rel}")
    assert not fresh.fs.exists(f"{CWD}/README.md")
    assert fresh.fs.node(f"{CWD}/scripts/run.sh").mode & 0o111


def test_a_gitignore_the_agent_changed_hides_nothing(agent, tmp_path):
    box = agent[0]
    box.fs.append(f"{CWD}/.gitignore", "secret.js\n")
    box.fs.write(f"{CWD}/secret.js", "the change\n")
    patch = patch_of(agent, tmp_path)
    assert "diff --git a/secret.js b/secret.js" in patch and "+secret.js" in patch


def test_a_deleted_folder_deletes_its_tracked_files(agent, tmp_path):
    box = agent[0]
    box.fs.remove(f"{CWD}/src")
    assert (f"{CWD}/src", 2) in box.fs.changes() and (
        f"{CWD}/src/bug_101.js",
        2,
    ) not in box.fs.changes()
    assert "diff --git a/src/bug_101.js b/src/bug_101.js\ndeleted file mode" in patch_of(
        agent, tmp_path
    )


def test_a_mode_change_alone_is_no_change(agent, tmp_path):
    box = agent[0]
    box.fs.write(f"{CWD}/README.md", box.fs.read(f"{CWD}/README.md"), mode=0o755)
    assert patch_of(agent, tmp_path) == ""


def test_files_setup_changed_are_based_on_the_sandbox_not_the_image(tmp_path):
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], runtime_setup=True))
    box = ready(provider)
    fresh_history(box, TASK)
    patch_base = capture_patch_base(box, CWD, tmp_path / "base")
    assert "src/bug_101.js" in patch_base.stored
    assert "sumInFloats" in (patch_base.store / "src/bug_101.js").read_text()
    box.fs.write(f"{CWD}/src/bug_101.js", fixed_code("101"))
    patch = patch_of((box, patch_base, provider.reference(FAKE_IMAGE, {})), tmp_path)
    assert "-  return sumInFloats(items); // BUG" in patch


def test_the_caps(agent, tmp_path):
    box = agent[0]
    box.fs.write(f"{CWD}/a.js", "a\n")
    box.fs.write(f"{CWD}/b.js", "b\n" * 950)
    with pytest.raises(PatchTooLarge, match="touches 2 files"):
        patch_of(agent, tmp_path, "w1", max_files=1)
    with pytest.raises(PatchTooLarge, match=r"b\.js is larger than"):
        patch_of(agent, tmp_path, "w2", max_file_bytes=1000)
    with pytest.raises(PatchTooLarge, match="the patch holds"):
        patch_of(agent, tmp_path, "w3", max_patch_bytes=2000)


def test_what_the_engine_cannot_read_is_unreadable(provider, agent, tmp_path):
    agent[0].fs.write(f"{CWD}/a.js", "a\n")
    provider.inject("copy_out", "raise", role="agent", kind=FaultKind.COPY_FAILED)
    with pytest.raises(PatchUnreadable, match="injected fault"):
        patch_of(agent, tmp_path)


def test_no_git_on_the_host_is_a_host_fault(agent, tmp_path, monkeypatch):
    agent[0].fs.write(f"{CWD}/a.js", "a\n")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(InfraError) as caught:
        patch_of(agent, tmp_path)
    assert caught.value.kind == FaultKind.HOST_GIT and not caught.value.retryable


def test_apply_patch_says_why_a_patch_does_not_apply(provider):
    box = ready(provider, "grader")
    assert apply_patch(box, CWD, "  \n") is None and box.ran == [], "nothing to apply"
    wrong = make_patch("README.md", "not what is there\n", "x\n")
    problem = apply_patch(box, CWD, wrong)
    assert problem is not None and "patch does not apply" in problem
    assert not box.fs.exists("/tmp/.swelancer.patch")


def test_a_repository_without_history_cannot_be_based(provider, tmp_path):
    box = ready(provider)
    box.fs.remove(f"{CWD}/.git")
    with pytest.raises(InfraError) as caught:
        capture_patch_base(box, CWD, tmp_path / "base")
    assert caught.value.kind == FaultKind.SETUP_FAILED and "not a git repository" in str(
        caught.value
    )


LEFT = 30
"""Files setup leaves in the repository, neither tracked nor ignored: more than the cap on
files a patch may touch that the tests below set."""


def _setup_leaves_files(box) -> None:
    for n in range(LEFT):
        box.fs.write(f"{CWD}/generated/f{n:02d}.txt", f"generated {n}\n")


def _change(box) -> None:
    """The same change either way: the fix, one generated file edited, one deleted, one new."""
    box.fs.write(f"{CWD}/src/bug_101.js", fixed_code("101"))
    box.fs.append(f"{CWD}/generated/f01.txt", "edited\n")
    box.fs.remove(f"{CWD}/generated/f02.txt")
    box.fs.write(f"{CWD}/notes.md", "new\n")


def _patch_after_change(provider, box, image, tmp_path, name):
    wait_until_ready(box, TASK, 5)
    fresh_history(box, TASK)
    patch_base = capture_patch_base(box, CWD, tmp_path / f"{name}-base")
    _change(box)
    reference = provider.reference(image, {})
    return read_change(
        box, reference, patch_base, tmp_path / name, PatchLimits(max_files=10)
    ).patch()


def test_files_setup_leaves_are_the_base_whether_set_up_cold_or_from_a_snapshot(tmp_path):
    from tests.fakes.sandbox import FakeSnapshotStore

    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"]))
    store = FakeSnapshotStore(provider)
    cold = provider.start(sandbox_spec(TASK, 1, attempt_settings(), role="agent"))
    wait_until_ready(cold, TASK, 5)
    _setup_leaves_files(cold)
    snapshot = store.make(cold, FAKE_IMAGE, TASK.task_id)
    assert snapshot is not None
    assert sum(p.startswith(f"{CWD}/generated/") for p, _ in cold.changes()) == LEFT
    from_cold = _patch_after_change(provider, cold, FAKE_IMAGE, tmp_path, "cold")
    spec = sandbox_spec(TASK, 2, attempt_settings(), role="agent")
    warm = provider.start(spec.model_copy(update={"image": snapshot}))
    assert not any(p.startswith(f"{CWD}/generated/") for p, _ in warm.changes())
    from_snapshot = _patch_after_change(provider, warm, snapshot, tmp_path, "snapshot")
    assert from_cold == from_snapshot
    assert "diff --git a/generated/f01.txt b/generated/f01.txt\nindex" in from_cold
    assert " generated 1\n+edited\n" in from_cold
    assert "diff --git a/generated/f02.txt b/generated/f02.txt\ndeleted file mode" in from_cold
    assert "new file mode" in from_cold.split("notes.md", 1)[1][:60]
    assert from_cold.count("diff --git") == 4, from_cold
    grader = provider.start(sandbox_spec(TASK, 3, attempt_settings(), role="grader")
                            .model_copy(update={"image": snapshot}))  # fmt: skip
    wait_until_ready(grader, TASK, 5)
    assert apply_patch(grader, CWD, from_cold) is None
    assert grader.fs.read(f"{CWD}/generated/f01.txt") == b"generated 1\nedited\n"
    assert not grader.fs.exists(f"{CWD}/generated/f02.txt")
