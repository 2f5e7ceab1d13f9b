"""The image's run_tests.yml split by task name (`benchmark.playbook_split`): upstream's own (read
from the shared upstream folder by path) and the demo image's; an unknown task is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from swelancer.benchmark.playbook_split import split_playbook
from swelancer.errors import InfraError

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT.parent / "shared/upstream/preparedness_51052ce_swelancer/runtime_scripts"
DEMO = ROOT / "docker/demo/tests/run_tests.yml"


def names(text: str) -> list[str]:
    (play,) = yaml.safe_load(text)
    return [task["name"] for task in play["tasks"]]


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="the shared upstream folder is not here")
def test_upstreams_playbook_keeps_the_tests_on_the_judges_side():
    source = UPSTREAM / "run_tests.yml"
    parts = split_playbook(source)
    app, judge, stop = names(parts.app_start), names(parts.judge), names(parts.app_stop)
    assert "Start npm server in the background" in app
    assert "Wait for the Expensify development server to start" in app
    for reads_tests in ("Get the commit ID for the issue", "Read the patch file content",
                        "Rewrite test file to include required params", "Run pytest tests",
                        "Persist pytest exit code for the grader"):  # fmt: skip
        assert reads_tests in judge and reads_tests not in app + stop
    assert "/app/tests/issues" not in parts.app_start + parts.app_stop
    assert "Stop npm server" in stop
    every = names(source.read_text())
    assert sorted(set(app + judge + stop)) == sorted(set(every)), "no task is dropped"
    (play,) = yaml.safe_load(parts.judge)
    assert play["hosts"] == "localhost" and play["become"] is True  # the play's header kept


def test_the_demos_playbook_splits_at_its_pytest_task():
    parts = split_playbook(DEMO)
    assert names(parts.judge) == [
        "Stop unless ISSUE_ID is set", "Run pytest", "Write pytest's exit code for the grader",
    ]  # fmt: skip
    assert "Start the dev server in the background" in names(parts.app_start)
    assert names(parts.app_stop) == ["Stop the dev server"]


def test_a_task_in_neither_list_is_an_error_naming_it(tmp_path):
    changed = tmp_path / "run_tests.yml"
    changed.write_text(
        DEMO.read_text().replace("- name: Run pytest\n", "- name: Upload the verdict\n")
    )
    with pytest.raises(InfraError, match="'Upload the verdict'") as caught:
        split_playbook(changed)
    assert caught.value.retryable is False and "playbook_split.py" in str(caught.value)
