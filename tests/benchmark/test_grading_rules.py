"""Upstream's rules for IC test runs (`_grade_swe_ic`): the exit code decides, a failed run is
followed by the next, and an honest pytest summary that is no plain `passed`/`failed` (an error
of a fixture, a skip, a log of many megabytes) is no tampering. Against the fake sandbox that
runs upstream's `run_tests.yml` contract."""

from __future__ import annotations

import pytest

from swelancer.benchmark.hidden import drop_tests, hide_tests
from swelancer.benchmark.judged import Pair, grade_split
from swelancer.benchmark.playbook_split import split_playbook
from swelancer.benchmark.pytest_log import CUT, LOG_HEAD, LOG_TAIL
from swelancer.benchmark.setup import wait_until_ready
from swelancer.errors import FaultKind, InfraError
from swelancer.run.attempt import sandbox_spec
from tests.fakes.runs import attempt_settings
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import FAKE_IMAGE, ic_task, task_image
from tests.fakes.sandbox_upstream import SPLIT_PART, judge_part

SETUP_ERROR = (
    "issues/101/test.py::test_issue ERROR\n\n"
    "==================================== ERRORS ====================================\n"
    "_________________________ ERROR at setup of test_issue _________________________\n"
    "playwright._impl._errors.TargetClosedError: Browser.new_context: Target closed\n"
    "=========================== short test summary info ============================\n"
    "ERROR issues/101/test.py::test_issue - playwright._impl._errors.TargetClosedError\n"
    "=============================== 1 error in 7.12s ===============================\n"
)
PASSED = "issues/101/test.py::test_issue PASSED\n\n===== 1 passed in 4.20s =====\n"


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"]))
    yield provider
    assert provider.unknown == []


def with_test(provider, codes, log):
    """The test's runs exit with `codes` in turn (the last one repeated) and print `log(code)`."""
    codes = list(codes)
    test = provider.images[FAKE_IMAGE].tests["101"]
    test.verdict = lambda box: codes.pop(0) if len(codes) > 1 else codes[0]
    test.log = lambda box, code: log(code)


def grade(provider, tmp_path, runs=3):
    """The runs across an app container (the grader, its tests dropped) and a judge container
    sharing its network, as `run.judge` makes them."""
    task = ic_task("101")
    box = provider.start(sandbox_spec(task, 1, attempt_settings(), role="grader"))
    wait_until_ready(box, task, 5)
    hidden = hide_tests(box, tmp_path / "tests", task)
    drop_tests(box)
    spec = sandbox_spec(task, 1, attempt_settings(), role="judge")
    judge = provider.start(spec.model_copy(update={"network_of": box.name}))
    wait_until_ready(judge, task, 5)
    pair = Pair(box, box.process_ids(), (judge, judge.process_ids()))
    parts = split_playbook(hidden.root / "run_tests.yml")
    out = tmp_path / "out"
    return grade_split(pair, task, parts, test_runs=runs, timeout_s=60, out_dir=out), box


def test_a_fixture_that_fails_once_then_passes_earns_the_task(provider, tmp_path):
    """A browser that fails to start in a fixture: exit 1 with `1 error`, as upstream a failed
    run; the next run is tried and passes."""
    with_test(provider, [1, 0], lambda code: SETUP_ERROR if code else PASSED)
    result, _ = grade(provider, tmp_path)
    assert (result.outcome, result.exit_codes) == ("passed", [1, 0])
    assert [r.outcome for r in result.runs] == ["failed", "passed"]
    assert all(r.note is None for r in result.runs), result.runs


@pytest.mark.parametrize("runs", [1, 3])
def test_a_fixture_that_always_fails_is_a_failure_after_every_run(provider, tmp_path, runs):
    with_test(provider, [1], lambda code: SETUP_ERROR)
    result, _ = grade(provider, tmp_path, runs=runs)
    assert (result.outcome, result.exit_codes) == ("failed", [1] * runs)
    assert result.note is None


@pytest.mark.parametrize(
    "summary",
    ["1 skipped", "1 xfailed", "1 xpassed", "1 passed, 2 warnings", "1 passed, 1 skipped"],
)
def test_exit_0_with_skips_or_expected_failures_is_a_pass(provider, tmp_path, summary):
    with_test(provider, [0], lambda code: f"issues/101/test.py s\n\n== {summary} in 0.31s ==\n")
    result, _ = grade(provider, tmp_path)
    assert (result.outcome, result.exit_codes) == ("passed", [0]), result.note


def test_teardown_errors_after_a_pass_are_a_failed_run(provider, tmp_path):
    teardown = "== 1 passed, 1 error in 3.0s ==\n"
    with_test(provider, [1, 0], lambda code: teardown if code else PASSED)
    result, _ = grade(provider, tmp_path)
    assert (result.outcome, result.exit_codes) == ("passed", [1, 0])


def test_a_pass_whose_log_is_past_the_cap_is_read_from_its_end(provider, tmp_path):
    """Megabytes of output before the summary: the summary at the end is read, and what is
    kept of the log is bounded (its head, its tail, a note of the cut)."""
    noise = "".join(f"console message {i:07d} from the app under test\n" for i in range(70_000))
    assert len(noise) > LOG_HEAD + LOG_TAIL
    with_test(provider, [0], lambda code: noise + PASSED)
    result, _ = grade(provider, tmp_path)
    assert (result.outcome, result.exit_codes) == ("passed", [0]), result.note
    kept = (tmp_path / "out" / "101" / "run-1" / "pytest.log").read_text()
    assert len(kept.encode()) <= LOG_HEAD + LOG_TAIL + len(CUT) + 20
    assert "collected 1 item" in kept and kept.endswith(PASSED)
    assert CUT.format(head=LOG_HEAD) in kept


def test_a_forged_pass_past_the_cap_is_still_caught(provider, tmp_path):
    """The same log size, pytest said `1 failed`; the judge's playbook then wrote 0 as the
    exit code (the app cannot reach it: this is the check against the image's own scripts)."""
    noise = "x" * (LOG_HEAD + LOG_TAIL + 10) + "\n"
    with_test(provider, [1], lambda code: noise + "== 1 failed in 5.0s ==\n")

    def forged(box, call, match):
        code, output = judge_part(box, match["id"], call, trace=False)
        box.fs.write("/app/tests/logs/101/pytest_exit_code", "0\n")
        return code, output

    provider.on("forged_playbook", SPLIT_PART.replace("app|stop|judge", "judge"), forged)
    result, _ = grade(provider, tmp_path)
    assert result.outcome == "tampered" and "summary says '1 failed'" in result.note
    assert len(result.runs) == 1


def test_exit_1_without_a_summary_is_a_failed_run_and_the_next_is_tried(provider, tmp_path):
    with_test(provider, [1, 0], lambda code: "Segmentation fault\n" if code else PASSED)
    result, _ = grade(provider, tmp_path)
    assert (result.outcome, result.exit_codes) == ("passed", [1, 0])
    assert "no summary" in result.runs[0].note and result.runs[0].outcome == "failed"


def test_exit_0_without_a_summary_is_tampering(provider, tmp_path):
    with_test(provider, [0], lambda code: "issues/101/test.py .\n")
    result, _ = grade(provider, tmp_path)
    assert result.outcome == "tampered" and "no pytest summary" in result.note
    assert len(result.runs) == 1


@pytest.mark.parametrize("summary", ["1 passed, 1 error", "1 failed", "no tests ran"])
def test_exit_0_with_a_summary_that_is_no_pass_is_tampering(provider, tmp_path, summary):
    with_test(provider, [0], lambda code: f"== {summary} in 1.0s ==\n")
    result, _ = grade(provider, tmp_path)
    assert result.outcome == "tampered" and f"summary says {summary!r}" in result.note


def link_tmp(target):
    """The app under test replaces /tmp, where the harness puts the app's part, by a link."""

    def app(box, trace):
        box.fs.remove("/tmp")
        box.fs.symlink("/tmp", target)

    return app


@pytest.mark.parametrize("target", ["/nonexistent", "/etc/hostname"])
def test_a_link_where_the_tests_are_staged_ends_the_runs_without_an_error(
    provider, tmp_path, target
):
    """Run 1 fails; the app then linked /tmp, so run 2's app part cannot be put in place: the
    runs end there, a failure (upstream's run 2 would have run), never an infrastructure
    error."""
    provider.apps.append(link_tmp(target))
    with_test(provider, [1], lambda code: SETUP_ERROR)
    result, box = grade(provider, tmp_path)
    assert box.fs.node("/tmp").kind == "link"
    assert (result.outcome, result.exit_codes) == ("failed", [1, -1])
    assert result.runs[1].outcome == "anomaly"
    assert "could not be put in place for test run 2" in result.note


def test_a_broken_staging_with_no_verdict_yet_is_left_to_the_control(provider, tmp_path):
    provider.apps.append(link_tmp("/nonexistent"))
    with_test(provider, [None], lambda code: "")
    result, _ = grade(provider, tmp_path)
    assert (result.outcome, result.exit_codes) == ("anomaly", [-1, -1])
    assert "could not be put in place" in result.note


def test_an_engine_that_stops_answering_while_staging_is_infrastructure(provider, tmp_path):
    provider.inject("write_file", "engine_down", kind=FaultKind.DOCKER_UNAVAILABLE, role="grader")
    with pytest.raises(InfraError) as caught:
        grade(provider, tmp_path)
    assert caught.value.kind == FaultKind.DOCKER_UNAVAILABLE


def test_a_copy_fault_in_a_sandbox_gone_is_infrastructure(provider, tmp_path):
    provider.inject("write_file", "die", role="grader")
    with pytest.raises(InfraError) as caught:
        grade(provider, tmp_path)
    assert caught.value.kind == FaultKind.CONTAINER_GONE


def test_an_engine_api_error_while_staging_stays_infrastructure(provider, tmp_path):
    provider.inject("write_file", "raise", kind=FaultKind.DOCKER, role="grader")
    with pytest.raises(InfraError) as caught:
        grade(provider, tmp_path)
    assert caught.value.kind == FaultKind.DOCKER
