"""The hidden tests (`benchmark.hidden`) on a fake sandbox: what is kept on the host, what is
deleted from the container, pruned from a fresh one, and put back pristine."""

from __future__ import annotations

import pytest

from swelancer.benchmark.hidden import (
    drop_tests,
    hide_tests,
)
from swelancer.benchmark.setup import wait_until_ready
from swelancer.errors import FaultKind, InfraError
from swelancer.run.attempt import sandbox_spec
from tests.fakes.runs import attempt_settings
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import (
    FAKE_IMAGE,
    hidden_test_source,
    ic_task,
    manager_task,
    task_image,
)
from tests.fakes.sandbox_upstream import rewrite


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101", "102_1"], managers=["0df39e7"]))
    yield provider
    assert provider.unknown == []


def box_for(provider, task):
    box = provider.start(sandbox_spec(task, 1, attempt_settings()))
    wait_until_ready(box, task, 5)
    return box


def host_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_an_ic_task_keeps_its_own_folder_and_what_the_playbook_needs(provider, tmp_path):
    box = box_for(provider, ic_task("101"))
    image_tests = box.fs.files("/app/tests")
    hidden = hide_tests(box, tmp_path / "tests", ic_task("101"))
    assert box.ops.count("copy_out") == 1, "the tests come out in one archive copy"
    assert host_files(hidden.root) == [
        "issues/101/bug_reintroduce.patch",
        "issues/101/commit_id.txt",
        "issues/101/test.py",
        "issues/conftest.py",
        "rewrite_test.py",
        "run_tests.yml",
        "utils/browser.py",
    ]
    assert (hidden.root / "logs").is_dir()
    assert hidden.folder == "101" and hidden.test_file() == hidden.root / "issues/101/test.py"
    assert hidden.rewritten == rewrite(hidden_test_source("101").encode())
    assert not box.fs.exists("/app/tests"), "nothing of the tests is left in the container"
    assert not box.fs.exists("/tmp/.swelancer-rewritten-test.py")
    kept = {k: v for k, v in image_tests.items() if not k.startswith(("issues/102_1", "issues/9"))}
    copied = {p.relative_to(hidden.root).as_posix(): p.read_bytes()
              for p in hidden.root.rglob("*") if p.is_file()}  # fmt: skip
    assert copied == kept, "kept on the host exactly as taken out"


def test_a_manager_task_keeps_no_task_folder(provider, tmp_path):
    box = box_for(provider, manager_task())
    hidden = hide_tests(box, tmp_path / "tests", manager_task())
    assert sorted(p.name for p in (hidden.root / "issues").iterdir()) == ["conftest.py"]
    assert hidden.folder is None and hidden.rewritten is None and hidden.test_file() is None
    assert "rewrite_test" not in [name for name, _ in box.ran]


def test_faults_while_hiding(provider, tmp_path):
    task = ic_task("101")
    box = box_for(provider, task)
    box.fs.write("/app/tests/issues-file", "x")
    provider.inject("delete_tests", "fail", message="rm: cannot remove: busy")
    with pytest.raises(InfraError) as caught:
        hide_tests(box, tmp_path / "a", task)
    assert caught.value.kind == FaultKind.HIDE and "could not delete /app/tests" in str(
        caught.value
    )
    box = box_for(provider, task)
    box.fs.remove("/app/tests/issues")
    box.fs.write("/app/tests/issues", "not a folder")
    with pytest.raises(InfraError) as caught:
        hide_tests(box, tmp_path / "b", task)
    assert caught.value.kind == FaultKind.HIDE and "could not list" in str(caught.value)
    box = box_for(provider, task)
    provider.inject("copy_out", "raise", kind=FaultKind.COPY_FAILED)
    with pytest.raises(InfraError) as caught:
        hide_tests(box, tmp_path / "c", task)
    assert caught.value.kind == FaultKind.COPY_FAILED


def test_an_app_container_holds_no_test(provider):
    box = box_for(provider, ic_task("101"))
    drop_tests(box)
    assert not box.fs.exists("/app/tests")
    provider.inject("delete_tests", "fail", message="rm: read-only file system")
    box = box_for(provider, ic_task("101"))
    with pytest.raises(InfraError) as caught:
        drop_tests(box)
    assert caught.value.kind == FaultKind.HIDE
