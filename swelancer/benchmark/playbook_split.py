"""The image's `run_tests.yml`, split by task name into what runs beside the app (the agent's
code: build, dev server) and what decides the verdict (mitmdump, the test's rewrite, pytest,
the exit code), so that each part runs in its own container.

The task definitions are the image's own, read at run time from the harness's copy of the
image's `/app/tests` (taken before the agent's turn, never from the agent's container); only
their placement is this module's. A task in neither list is an error that names it: a changed
playbook is caught, never silently run on the wrong side or skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from swelancer.errors import FaultKind, InfraError

APP_TASKS = frozenset({
    # upstream's run_tests.yml
    "Check if the webpack.dev.ts file exists",
    "Compile Development Webpack (TypeScript)",
    "Check if the webpack.dev.js file exists",
    "Compile Development Webpack (JavaScript)",
    "Start npm server in the background",
    "Wait for the Expensify development server to start",
    "Stop npm server",
    "Kill all node processes if they exist",
    # the demo image's
    "Build the app (import every module of the package)",
    "Stop a dev server left over from an earlier run",
    "Start the dev server in the background",
    "Wait for the dev server on port {{ dev_server_port }}",
    "Stop the dev server",
})  # fmt: skip
"""Tasks that start, wait for or stop the app: run in the app's container, which holds no test."""

JUDGE_TASKS = frozenset({
    # upstream's run_tests.yml: the two reads of the task's folder are never used later, but
    # they read the test's folder (the bug patch gives the fix away): the judge's side
    "Get the commit ID for the issue",
    "Read the patch file content",
    "Start mitmdump in the background",
    "Wait for the mitmproxy to start",
    "Rewrite test file to include required params",
    "Start ffmpeg recording",
    "Run pytest tests",
    "Persist pytest exit code for the grader",
    "Stop ffmpeg recording",
    "Stop mitmdump if exist",
    # the demo image's
    "Run pytest",
    "Write pytest's exit code for the grader",
})  # fmt: skip
"""Tasks that read the tests or make the verdict: run in the judge's container."""

BOTH_TASKS = frozenset({
    "Ensure ISSUE_ID environment variable is set",
    "Clean up pid files",
    "Stop unless ISSUE_ID is set",
})  # fmt: skip
"""Checks and clean-ups each side runs for itself."""

VERDICT_TASKS = frozenset({"Run pytest tests", "Run pytest"})
"""The test run: app tasks before it run before the judge's part, those after it after."""


class SplitPlaybook(BaseModel):
    """The image's playbook as three playbooks (YAML text), run in this order: `app_start` in
    the app's container, `judge` in the judge's, `app_stop` in the app's."""

    app_start: str
    judge: str
    app_stop: str


def split_playbook(path: Path) -> SplitPlaybook:
    """Split the playbook at `path` (the harness's copy of the image's `run_tests.yml`)."""
    import yaml

    try:
        plays = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _bad(path, f"it cannot be read as YAML ({str(exc)[:300]})") from exc
    if not isinstance(plays, list) or len(plays) != 1 or not isinstance(plays[0], dict):
        raise _bad(path, "it is not one play")
    play: dict[str, Any] = plays[0]
    tasks = play.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise _bad(path, "its play has no tasks")
    names = [t.get("name") if isinstance(t, dict) else None for t in tasks]
    unknown = [str(n) for n in names if n not in APP_TASKS | JUDGE_TASKS | BOTH_TASKS]
    if unknown:
        raise _bad(
            path,
            f"its task(s) {', '.join(repr(n) for n in unknown[:5])} are neither the app's nor "
            "the judge's; a changed playbook must be placed task by task in "
            "swelancer/benchmark/playbook_split.py before it is graded",
        )
    cut = next((i for i, n in enumerate(names) if n in VERDICT_TASKS), None)
    if cut is None:
        raise _bad(path, "it has no pytest task")

    def part(keep: list[dict]) -> str:
        return yaml.safe_dump([{**play, "tasks": keep}], sort_keys=False, width=1000)

    app = [(i, t) for i, t in enumerate(tasks) if t["name"] in APP_TASKS | BOTH_TASKS]
    return SplitPlaybook(
        app_start=part([t for i, t in app if i < cut]),
        judge=part([t for t in tasks if t["name"] in JUDGE_TASKS | BOTH_TASKS]),
        app_stop=part([t for i, t in app if i > cut]),
    )


def _bad(path: Path, why: str) -> InfraError:
    return InfraError(
        f"the image's playbook {path.name} cannot be split into the app's and the judge's "
        f"parts: {why}.",
        kind=FaultKind.GRADER,
        retryable=False,
    )
