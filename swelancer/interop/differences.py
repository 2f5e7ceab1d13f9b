"""How the `inspect_evals` SWE-Lancer task grades differently from this harness, named so that
a comparison of an imported run with one of ours says what its figures do not share.

Read from inspect_evals 0.26.0 (`src/inspect_evals/swe_lancer/`: `scorers.py`, `utils.py`,
`dataset.py`, `swe_lancer.py`; task version "2-B"; the same files in 0.28.0), and this
harness's `docs/FIDELITY.md`.
"""

from __future__ import annotations

from collections.abc import Mapping

INSPECT_EVALS = [
    "IC verdicts are read from the text of pytest's log (a summary line with `failed`), not "
    "from pytest's exit code: a test run that errors (exit 2 or more, no log at all) counts "
    "as passed there, and as an infrastructure error here (retried, outside every figure).",
    "IC tests run once, inside the sandbox the agent worked in; here they run in a judge "
    "container apart from the agent's code.",
    "an IC task whose setup did not complete is scored 0 (a failure) there; here setup "
    "faults are infrastructure errors.",
    "a manager's decision may be a quoted digit or a whole float there (`true` is refused); "
    "here upstream's rule reads `int()` of the file's first value.",
    "its sandbox has a network (Docker bridge) and by default the monolith image set up at "
    "start; here the agent's container has no network.",
    "its agent is Inspect's `react` with bash, python and user-tool calls and inspect_evals' "
    "own prompt, not upstream's protocol or words.",
]

OWN = "swelancer"
"""The task name of a log written by `swelancer export --format inspect`."""


def grading_differences(task: str, packages: Mapping[str, str] | None = None) -> list[str]:
    """The grading differences of a log of Inspect task `task` from this harness's."""
    if task == OWN:
        return []
    version = (packages or {}).get("inspect_evals")
    where = f"inspect_evals {version}" if version else "inspect_evals"
    if "swe_lancer" in task:
        return [f"graded by {where}: {d}" for d in INSPECT_EVALS]
    return [
        f"graded by the Inspect task {task!r}, whose grading this harness does not know: "
        "its verdicts are taken as its scorer gave them."
    ]
