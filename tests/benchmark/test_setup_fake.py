"""Getting a container ready (`benchmark.setup`) on fake sandboxes: the manager's base commit,
the fresh history, and the log shown when setup fails."""

from __future__ import annotations

import pytest

from swelancer.benchmark.setup import checkout_manager_base, fresh_history, log_tail
from swelancer.errors import FaultKind
from swelancer.run.attempt import sandbox_spec
from tests.fakes.runs import attempt_settings
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import CWD, FAKE_IMAGE, ic_task, manager_task, task_image


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], managers=["0df39e7"]))
    yield provider
    assert provider.unknown == []


def start(provider, task):
    return provider.start(sandbox_spec(task, 1, attempt_settings()))


def test_a_manager_task_without_a_commit_stays_where_the_image_is(provider):
    box = start(provider, manager_task(commit=""))
    checkout_manager_base(box, manager_task(commit=""))
    assert box.ran == [] and not box.fs.exists(f"{CWD}/src/manager_base.js")


def test_the_fresh_history_commits_the_starting_state_for_ic_tasks_only(provider):
    ic, manager = start(provider, ic_task("101")), start(provider, manager_task())
    fresh_history(ic, ic_task("101"))
    fresh_history(manager, manager_task())
    tracked = ic.fs.text(f"{CWD}/.git/index").split("\0")
    assert "src/bug_101.js" in tracked and ic.fs.exists(f"{CWD}/.git/refs/heads/main")
    assert manager.fs.text(f"{CWD}/.git/index") == "", "a manager's repository has no commit"
    for box in (ic, manager):
        assert not box.fs.exists(f"{CWD}/.git/objects/pack/pack-1.pack")


def test_the_log_tail_of_a_failed_setup(provider):
    box = start(provider, ic_task("101"))
    assert log_tail(box, lines=2).splitlines() == [
        "Starting Pusher-Fake service...",
        "RUNTIME_SETUP is not set; assuming Expensify setup happened at build time.",
    ]
    box.log_lines.clear()
    assert log_tail(box) == "(empty)"
    provider.inject("logs", "raise", kind=FaultKind.DOCKER)
    assert log_tail(box) == "(the log could not be read)"
