"""IC grading across an app container and a judge container (`benchmark.judged.grade_split`) on
fake sandboxes: upstream's rules for the runs (stop at a pass, exit 1 a failed run, no exit code
noted and the next run tried), the verdict read from the judge, the app's part in the app's
container and nothing of the tests there."""

from __future__ import annotations

import pytest

from swelancer.benchmark.hidden import drop_tests, hide_tests
from swelancer.benchmark.judged import Pair, grade_split
from swelancer.benchmark.playbook_split import split_playbook
from swelancer.benchmark.pytest_log import LOG_HEAD, LOG_TAIL
from swelancer.benchmark.setup import wait_until_ready
from swelancer.run.attempt import sandbox_spec
from tests.fakes.runs import attempt_settings
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import FAKE_IMAGE, ic_task, task_image

PASSED = "issues/101/test.py::test_issue PASSED\n\n===== 1 passed in 4.20s =====\n"
FAILED = "issues/101/test.py::test_issue FAILED\n\n===== 1 failed in 4.20s =====\n"


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"]))
    yield provider
    assert provider.unknown == []


def with_test(provider, codes, log=lambda code: PASSED if code == 0 else FAILED):
    """The test's runs find `codes` in turn (the last one repeated) and print `log(code)`."""
    codes = list(codes)
    test = provider.images[FAKE_IMAGE].tests["101"]
    test.verdict = lambda box: codes.pop(0) if len(codes) > 1 else codes[0]
    test.log = lambda box, code: log(code)


def grade(provider, tmp_path, runs=3):
    task = ic_task("101")
    app = provider.start(sandbox_spec(task, 1, attempt_settings(), role="grader"))
    wait_until_ready(app, task, 5)
    hidden = hide_tests(app, tmp_path / "tests", task)
    drop_tests(app)
    spec = sandbox_spec(task, 1, attempt_settings(), role="judge")
    judge = provider.start(spec.model_copy(update={"network_of": app.name}))
    wait_until_ready(judge, task, 5)
    parts = split_playbook(hidden.root / "run_tests.yml")
    pair = Pair(app, app.process_ids(), (judge, judge.process_ids()))
    out = tmp_path / "out"
    return grade_split(pair, task, parts, test_runs=runs, timeout_s=60, out_dir=out), app, judge


def test_the_verdict_is_the_judges_and_the_app_holds_no_test(provider, tmp_path):
    with_test(provider, [1, 0])
    result, app, judge = grade(provider, tmp_path)
    assert (result.outcome, result.exit_codes) == ("passed", [1, 0])
    assert not app.fs.exists("/app/tests/issues"), "no test where the app runs"
    assert [name for name, _ in app.ran].count("playbook") == 2  # the app's part, each run
    assert "judge_playbook" not in [name for name, _ in app.ran]
    assert [name for name, _ in judge.ran].count("judge_playbook") == 2
    assert judge.fs.text("/app/tests/logs/101/pytest_exit_code") == "0\n"
    run2 = tmp_path / "out" / "101" / "run-2"
    assert "1 passed" in (run2 / "pytest.log").read_text()
    assert "Start npm server" in (run2 / "app-playbook.log").read_text()


@pytest.mark.parametrize("runs", [1, 3])
def test_a_test_that_always_fails_is_a_failure_after_every_run(provider, tmp_path, runs):
    with_test(provider, [1])
    result, _, _ = grade(provider, tmp_path, runs=runs)
    assert (result.outcome, result.exit_codes) == ("failed", [1] * runs)


def test_an_app_that_never_comes_up_gives_no_exit_code_and_the_next_run_is_tried(
    provider, tmp_path
):
    with_test(provider, [None, 0])
    result, _, judge = grade(provider, tmp_path)
    assert result.exit_codes == [-1, 0] and result.outcome == "passed"
    assert "never ran" in (result.runs[0].note or "")
    assert [name for name, _ in judge.ran].count("judge_playbook") == 1, "no test without app"


def test_a_pass_whose_log_is_past_the_cap_is_read_from_its_end(provider, tmp_path):
    noise = "".join(f"console message {i:07d} from the app under test\n" for i in range(70_000))
    assert len(noise) > LOG_HEAD + LOG_TAIL
    with_test(provider, [0], lambda code: noise + PASSED)
    result, _, _ = grade(provider, tmp_path)
    assert (result.outcome, result.exit_codes) == ("passed", [0]), result.note


def test_an_exit_code_the_summary_contradicts_is_tampering(provider, tmp_path):
    with_test(provider, [0], lambda code: FAILED)
    result, _, _ = grade(provider, tmp_path)
    assert result.outcome == "tampered" and "summary" in (result.note or ""), result.note
