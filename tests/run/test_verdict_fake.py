"""The verdict on an IC attempt (`run.verdict`) when what the agent did to its own container, or
what its app does while the test runs, breaks the harness's grading steps: a failure with its
reason, never an infrastructure error. On fake sandboxes."""

from __future__ import annotations

import pytest

from swelancer.errors import FaultKind, InfraError
from tests.fakes.runs import acting_agent, fake_attempt
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import FAKE_IMAGE, ic_task, task_image


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"]))
    yield provider
    assert provider.unknown == [], "the harness sent commands the fake does not know"


def link_tmp(box, target="/nonexistent"):
    box.fs.remove("/tmp")
    box.fs.symlink("/tmp", target)


def test_tmp_linked_by_the_agent_is_a_failure_in_its_own_container(provider, tmp_path):
    """Graded in place, the app's part of the playbook cannot be put in place: the control
    (the untouched task, fresh) grades cleanly, so the change is the cause."""
    agent = acting_agent(lambda task, env: link_tmp(env.sandbox))
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), agent, grade_in="same")
    assert (record.status, record.error, record.graded_in) == ("failed", None, "same")
    assert "could not be put in place for test run 1" in record.reason
    assert "the untouched task grades cleanly" in record.reason
    assert record.control_exit_codes == [1, 1, 1] and record.tampering is None
    assert provider.live() == []


def test_tmp_linked_by_the_app_under_test_is_a_failure_in_a_fresh_grader(provider, tmp_path):
    """Graded fresh, the agent's app links /tmp while its first test run runs: the second run's
    app part cannot be put in place; the first failed, so the attempt did."""
    provider.apps.append(lambda box, trace: link_tmp(box, "/etc/hostname"))
    agent = acting_agent(lambda task, env: None)
    _, record = fake_attempt(
        provider, tmp_path, ic_task("101"), agent, grade_in="fresh", test_runs=2
    )
    assert (record.status, record.error, record.graded_in) == ("failed", None, "fresh")
    assert record.test_exit_codes == {"101": [1, -1]}
    assert "could not be put in place for test run 2" in record.reason


def test_an_engine_that_stops_answering_while_staging_is_still_infrastructure(provider, tmp_path):
    provider.inject("write_file", "engine_down", kind=FaultKind.DOCKER_UNAVAILABLE, role="agent")
    agent = acting_agent(lambda task, env: None)
    with pytest.raises(InfraError) as caught:  # the runner retries it, then records an error
        fake_attempt(provider, tmp_path, ic_task("101"), agent, grade_in="same")
    assert caught.value.kind == FaultKind.DOCKER_UNAVAILABLE
    assert provider.made("control") == []
