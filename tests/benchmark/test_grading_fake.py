"""IC grading (`benchmark.grading.grade_ic`) against a fake sandbox that runs upstream's
`run_tests.yml` contract: where the verdict is read, how runs repeat and stop, and what the
app under test can forge or spoil without being noticed (nothing)."""

from __future__ import annotations

import pytest

from swelancer.benchmark import grading
from swelancer.benchmark.grading import grade_ic
from swelancer.benchmark.hidden import hide_tests
from swelancer.benchmark.setup import wait_until_ready
from swelancer.errors import FaultKind, InfraError
from swelancer.run.attempt import sandbox_spec
from tests.fakes.runs import attempt_settings
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import CWD, FAKE_IMAGE, fixed_code, ic_task, source_of, task_image
from tests.fakes.sandbox_upstream import PLAYBOOK, REWRITTEN_MARK, playbook

LOGS = "/app/tests/logs/101"


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101", "102_1"]))
    yield provider
    assert provider.unknown == []


def hidden_box(provider, tmp_path, *, fixed=False):
    task = ic_task("101")
    box = provider.start(sandbox_spec(task, 1, attempt_settings(), role="grader"))
    wait_until_ready(box, task, 5)
    hidden = hide_tests(box, tmp_path / "tests", task)
    if fixed:
        box.fs.write(f"{CWD}/{source_of('101')}", fixed_code("101"))
    return box, hidden, task


def grade(box, hidden, task, tmp_path, runs=3, keep=None):
    out = tmp_path / "out"
    return grade_ic(box, task, hidden, test_runs=runs, timeout_s=60, out_dir=out, keep=keep)


def test_the_verdict_is_read_where_the_playbook_writes_it(provider, tmp_path):
    box, hidden, task = hidden_box(provider, tmp_path)
    result = grade(box, hidden, task, tmp_path, runs=1)
    assert (result.outcome, result.exit_codes, result.folder) == ("failed", [1], "101")
    assert box.fs.read(f"{LOGS}/pytest_exit_code") == b"1\n"
    assert "1 failed" in box.fs.text(f"{LOGS}/pytest.log")
    for log in ("npm_run_dev.log", "mitmdump.log", "ffmpeg.log"):
        assert box.fs.is_file(f"{LOGS}/{log}")
    test_py = box.fs.read("/app/tests/issues/101/test.py")
    assert test_py.startswith(REWRITTEN_MARK), "the playbook rewrites the test in place"
    assert hidden.rewritten == test_py, "and the harness knew that rewrite beforehand"
    run = tmp_path / "out" / "101" / "run-1"
    assert (run / "exit_code").read_text() == "1\n"
    assert "PLAY RECAP" in (run / "playbook.log").read_text()
    assert result.runs[0].note is None


def test_runs_repeat_until_a_pass(provider, tmp_path):
    outcomes = iter([False, False, True, True])
    provider.images[FAKE_IMAGE].tests["101"].verdict = lambda box: next(outcomes)
    box, hidden, task = hidden_box(provider, tmp_path)
    result = grade(box, hidden, task, tmp_path, runs=3)
    assert (result.outcome, result.exit_codes) == ("passed", [1, 1, 0])
    result = grade(box, hidden, task, tmp_path, runs=3)
    assert result.exit_codes == [0], "it stops at the first pass"


def test_a_run_without_an_exit_code_is_noted_and_the_next_one_tried(provider, tmp_path):
    outcomes = iter([None, True])
    provider.images[FAKE_IMAGE].tests["101"].verdict = lambda box: next(outcomes)
    box, hidden, task = hidden_box(provider, tmp_path)
    result = grade(box, hidden, task, tmp_path)
    assert (result.outcome, result.exit_codes) == ("passed", [-1, 0])
    assert "the test never ran" in result.runs[0].note
    assert (tmp_path / "out" / "101" / "run-1" / "exit_code").read_text() == "none\n"


def test_an_image_without_a_rewrite_step_grades_the_test_as_it_is(tmp_path):
    image = task_image(FAKE_IMAGE)
    image.fs.remove("/app/tests/rewrite_test.py")
    image.fs.mark()
    provider = FakeProvider(image)
    box, hidden, task = hidden_box(provider, tmp_path, fixed=True)
    assert hidden.rewritten is None
    result = grade(box, hidden, task, tmp_path)
    assert result.outcome == "passed"
    assert not box.fs.read("/app/tests/issues/101/test.py").startswith(REWRITTEN_MARK)


def test_bytecode_beside_the_tests_is_tampering(provider, tmp_path, monkeypatch):
    """pytest writes no bytecode with the grading environment: any that appears was planted
    (here, what pytest itself would write without it)."""
    box, hidden, task = hidden_box(provider, tmp_path, fixed=True)
    assert grade(box, hidden, task, tmp_path).outcome == "passed"
    monkeypatch.setattr(grading, "GRADING_ENV", {})
    result = grade(box, hidden, task, tmp_path)
    assert result.outcome == "tampered"
    assert "issues/101/__pycache__/test.cpython-312-pytest-8.3.4.pyc was added" in result.note


def forging(provider, change):
    """The playbook, with what the app does to its results afterwards."""

    def run(box, call, match):
        code, output = playbook(box, match["id"], call, trace=False)
        return change(box, code, output)

    provider.on("forged_playbook", PLAYBOOK, run)


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (lambda box, code, out: (box.fs.write(f"{LOGS}/pytest_exit_code", "0\n"), (code, out))[1],
         "pytest_exit_code says 0 but pytest's summary says '1 failed'"),
        (lambda box, code, out: (box.fs.write(f"{LOGS}/pytest_exit_code", "0\n"), (code, out))[1],
         "pytest_exit_code says 0 but the playbook ran pytest to 1"),
        (lambda box, code, out: (code, out + "\nTASK [Run pytest tests] ****\nok: [localhost]\n"),
         "the playbook's output shows its pytest task 2 times"),
        (lambda box, code, out: (box.fs.write(f"{LOGS}/pytest.log", "== 1 passed in 1.0s ==\n"),
                                 (code, out))[1],
         "pytest_exit_code says 1 but pytest's summary says '1 passed'"),
    ],
    ids=["exit-code", "playbook-rc", "two-blocks", "summary"],
)  # fmt: skip
def test_a_forged_verdict_is_tampering(provider, tmp_path, change, found):
    forging(provider, change)
    box, hidden, task = hidden_box(provider, tmp_path)
    result = grade(box, hidden, task, tmp_path)
    assert result.outcome == "tampered" and found in result.note, result.note
    assert len(result.runs) == 1, "tampering ends the grading"


def test_a_test_the_app_deleted_is_tampering_not_an_error(provider, tmp_path):
    provider.apps.append(lambda box, trace: box.fs.remove("/app/tests/issues/101/test.py"))
    box, hidden, task = hidden_box(provider, tmp_path)
    result = grade(box, hidden, task, tmp_path)
    assert result.outcome == "tampered" and "issues/101/test.py was removed" in result.note
    assert result.exit_codes == [4]


def test_processes_left_by_a_run_do_not_see_the_next(provider, tmp_path):
    seen: list[bool] = []

    def app(box, trace):
        seen.append(any("leftover" in p.cmd for p in box.procs.values()))
        box.spawn("python leftover.py")

    provider.apps.append(app)
    box, hidden, task = hidden_box(provider, tmp_path)
    grade(box, hidden, task, tmp_path, runs=2, keep=box.process_ids())
    assert seen == [False, False]
    seen.clear()
    grade(box, hidden, task, tmp_path, runs=2, keep=None)
    assert seen == [True, True], "without `keep` nothing is stopped between runs"


def test_the_tests_removed_while_they_ran_is_tampering(provider, tmp_path):
    provider.apps.append(lambda box, trace: box.fs.remove("/app/tests"))
    box, hidden, task = hidden_box(provider, tmp_path, fixed=True)
    result = grade(box, hidden, task, tmp_path)
    assert result.outcome == "tampered"
    assert "/app/tests was removed while the test ran" in result.note
    assert result.exit_codes == [-1], "the playbook could not go on"


def test_a_link_planted_among_the_tests_is_tampering(provider, tmp_path):
    provider.apps.append(lambda box, trace: box.fs.symlink("/app/tests/utils/x", "/etc/passwd"))
    box, hidden, task = hidden_box(provider, tmp_path, fixed=True)
    result = grade(box, hidden, task, tmp_path)
    assert result.outcome == "tampered"
    assert "tests/utils/x: a link to '/etc/passwd' (among the tests)" in result.note


def test_changes_the_engine_cannot_list_after_a_run_are_tampering(provider, tmp_path):
    box, hidden, task = hidden_box(provider, tmp_path, fixed=True)
    provider.inject("changes", "raise", role="grader", times=None)
    result = grade(box, hidden, task, tmp_path)
    assert result.outcome == "tampered"
    assert "what changed while the test ran cannot be listed" in result.note


def test_the_container_stopping_while_its_test_ran_is_infrastructure(provider, tmp_path):
    def stop(box, trace):
        box.die()
        provider.inject("changes", "raise", role="grader", times=None)

    provider.apps.append(stop)
    box, hidden, task = hidden_box(provider, tmp_path, fixed=True)
    with pytest.raises(InfraError) as caught:
        grade(box, hidden, task, tmp_path)
    assert caught.value.kind == FaultKind.CONTAINER_GONE
