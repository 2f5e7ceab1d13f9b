"""The checks that keep a verdict honest, on the text upstream's playbook and pytest really print
(copied from a run on the contract image, which runs upstream's run_tests.yml verbatim)."""

from __future__ import annotations

import pytest

from swelancer.benchmark.grading import _Run, last_int, verdict_mismatch
from swelancer.benchmark.shell import without_shell_noise

PASSED_PLAYBOOK = """\
TASK [Rewrite test file to include required params] ****************************
changed: [localhost]

TASK [Run pytest tests] ********************************************************
changed: [localhost]

TASK [Persist pytest exit code for the grader] *********************************
changed: [localhost]
"""
FAILED_PLAYBOOK = """\
TASK [Run pytest tests] ********************************************************
fatal: [localhost]: FAILED! => {"changed": true, "cmd": "ISSUE_ID=91342\\npytest  issues/$ISSUE_ID/test.py  > logs/$ISSUE_ID/pytest.log 2>&1\\n", "delta": "0:00:05.477001", "msg": "non-zero return code", "rc": 1, "stderr": "", "stdout": ""}
...ignoring

TASK [Persist pytest exit code for the grader] *********************************
changed: [localhost]
"""  # noqa: E501
PASSED_LOG = (
    "collected 1 item\n\nissues/91342/test.py .\n\n"
    + "=" * 30
    + " 1 passed in 2.52s "
    + "=" * 31
    + "\n"
)
FAILED_LOG = (
    "=========================== short test summary info ============================\n"
    "FAILED issues/91342/test.py::test_report_total_keeps_two_decimals - Assertion...\n"
    "============================== 1 failed in 5.33s ===============================\n"
)


def run(code, log, output):
    return _Run(code=code, log=log, output=output, timed_out=False)


def test_an_honest_pass_and_an_honest_failure_raise_nothing():
    assert verdict_mismatch(run(0, PASSED_LOG, PASSED_PLAYBOOK)) == []
    assert verdict_mismatch(run(1, FAILED_LOG, FAILED_PLAYBOOK)) == []


@pytest.mark.parametrize(
    ("log", "output", "why"),
    [
        (FAILED_LOG, FAILED_PLAYBOOK, "summary"),  # the file forged, pytest said failed
        ("", PASSED_PLAYBOOK, "summary"),  # the log removed
        ("pytest now always passes\n", PASSED_PLAYBOOK, "summary"),  # a fake pytest
        (PASSED_LOG, FAILED_PLAYBOOK, "playbook"),  # log forged too; the playbook saw rc 1
        (PASSED_LOG.replace("1 passed", "1 passed, 1 error"), PASSED_PLAYBOOK, "summary"),
    ],
)
def test_a_forged_pass_is_caught(log, output, why):
    problems = verdict_mismatch(run(0, log, output))
    assert problems and why in " ".join(problems)


def test_a_forged_failure_is_caught_too():
    assert verdict_mismatch(run(1, PASSED_LOG, PASSED_PLAYBOOK))


def test_codes_that_are_no_verdict_are_not_judged_here():
    assert verdict_mismatch(run(None, "", "")) == [] and verdict_mismatch(run(3, "", "")) == []


def test_the_exit_code_is_the_last_integer_line():
    assert last_int("bash: no job control in this shell\n1\n") == 1
    assert last_int("0\n\n") == 0 and last_int("-9\n") == -9
    assert last_int("garbage\n1 2\n") is None and last_int("9" * 40) is None


def test_bash_notes_without_a_tty_are_dropped_whatever_their_pid():
    noisy = (
        "bash: cannot set terminal process group (554): Inappropriate ioctl for device\n"
        "bash: no job control in this shell\nhello\nbash: no job control in this shell\n"
    )
    assert without_shell_noise(noisy) == "hello\nbash: no job control in this shell\n"
    assert without_shell_noise("plain\n") == "plain\n"
