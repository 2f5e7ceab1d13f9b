"""Images and tasks for the fake sandbox (`tests.fakes.sandbox`): an image in upstream's layout
(`/app/expensify` a git repository, `/app/tests` with `run_tests.yml`, `rewrite_test.py`,
`issues/conftest.py` and one folder per task), whose IC tasks each hold a bug in a file of their
own that the task's `bug_reintroduce.patch` reverses, and whose hidden test passes when that
file holds the fix."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from swelancer.tasks.models import IcTask, ManagerTask
from tests.fakes.sandbox import FakeImage, FakeSandbox, FakeTest
from tests.fakes.sandbox_fs import FakeFS, Node
from tests.fakes.sandbox_upstream import tracked_files, write_index

CWD = "/app/expensify"
FAKE_IMAGE = "fake/swelancer:latest"
"""The image `tests.fakes.runs.attempt_settings` names by default."""
PROGRAM = Node("file", data=b"\x7fELF fake program", mode=0o755)


FAKE_PLAYBOOK = "# upstream's run_tests.yml (its task names), emulated by the fake\n" + "".join(
    "- hosts: localhost\n  tasks:\n" if i == 0 else f"    - name: {name}\n      shell: 'true'\n"
    for i, name in enumerate(["", "Ensure ISSUE_ID environment variable is set",
        "Get the commit ID for the issue", "Read the patch file content",
        "Compile Development Webpack (TypeScript)", "Start npm server in the background",
        "Start mitmdump in the background", "Wait for the Expensify development server to start",
        "Rewrite test file to include required params", "Run pytest tests",
        "Persist pytest exit code for the grader", "Kill all node processes if they exist"])
)  # fmt: skip


def source_of(task_id: str) -> str:
    """The file (relative to the repository) that holds task `task_id`'s bug."""
    return f"src/bug_{task_id}.js"


def fixed_code(task_id: str) -> str:
    return f"export function total_{task_id}(items) {{\n  return sumInCents(items); // FIXED\n}}\n"


def buggy_code(task_id: str) -> str:
    return f"export function total_{task_id}(items) {{\n  return sumInFloats(items); // BUG\n}}\n"


def make_patch(rel: str, old: str, new: str) -> str:
    """A git patch of one text file, as `git diff` writes it."""
    diff = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{rel}", f"b/{rel}"
    )
    return f"diff --git a/{rel} b/{rel}\n" + "".join(diff)


def is_fixed(task_id: str, cwd: str = CWD) -> Callable[[FakeSandbox], bool]:
    """The default verdict: the test passes when the task's file holds the fix."""

    def verdict(box: FakeSandbox) -> bool:
        path = f"{cwd}/{source_of(task_id)}"
        return box.fs.is_file(path) and "// FIXED" in box.fs.text(path)

    return verdict


def hidden_test_source(task_id: str) -> str:
    return (
        "import pytest\nfrom utils.browser import expect, open_app\n\n\n"
        "def test_issue(pytestconfig):\n"
        '    page = open_app(trace=pytestconfig.getoption("--user-tool-trace"))\n'
        f'    expect(page).to_contain_text("the total of report {task_id} keeps its cents")\n'
    )


def task_image(
    name: str = FAKE_IMAGE,
    ic: list[str] | tuple[str, ...] = ("101",),
    managers: list[str] | tuple[str, ...] = (),
    *,
    verdicts: dict[str, Callable[[FakeSandbox], bool | int | None]] | None = None,
    runtime_setup: bool = False,
    setup: str = "run.sh",
    setup_polls: int = 0,
    files: dict[str, bytes | str | Node] | None = None,
) -> FakeImage:
    """An image in upstream's layout holding the IC tasks `ic` (each with a bug in its own
    file, its test folder, and a bug patch that reverses to the fix) and the revisions
    `<commit>^` of the manager commits `managers`; folder `99999` is another task's."""
    tree: dict[str, bytes | str | Node] = {
        "/root/.bashrc": "# ~/.bashrc\nconda activate testbed\n",
        "/etc/hosts": "127.0.0.1 localhost\n",
        "/tmp/": "",
        "/usr/bin/bash": PROGRAM,
        "/usr/bin/git": PROGRAM,
        "/usr/local/bin/ansible-playbook": PROGRAM,
        "/app/run.sh": "#!/bin/bash\n# upstream's runtime_scripts/run.sh, emulated\n",
        f"{CWD}/.git/HEAD": "ref: refs/heads/main\n",
        f"{CWD}/.git/objects/pack/pack-1.pack": "every commit of the history, fixes included\n",
        f"{CWD}/.gitignore": "node_modules/\n*.log\n",
        f"{CWD}/README.md": "# Expensify (fake)\n",
        f"{CWD}/node_modules/left-pad/index.js": "module.exports = pad;\n",
        "/app/tests/run_tests.yml": FAKE_PLAYBOOK,
        "/app/tests/rewrite_test.py": "# upstream's rewrite_test.py, emulated by the fake\n",
        "/app/tests/utils/browser.py": "def open_app(trace=False): ...\n",
        "/app/tests/logs/": "",
        "/app/tests/issues/conftest.py": (
            'def pytest_addoption(parser):\n    parser.addoption("--user-tool-trace", '
            'action="store_true", default=False)\n'
        ),
        "/app/tests/issues/99999/test.py": hidden_test_source("99999"),
    }
    tests = {}
    for task_id in ic:
        folder = f"/app/tests/issues/{task_id}"
        rel = source_of(task_id)
        tree[f"{CWD}/{rel}"] = fixed_code(task_id) if runtime_setup else buggy_code(task_id)
        tree[f"{folder}/test.py"] = hidden_test_source(task_id)
        tree[f"{folder}/commit_id.txt"] = "5af6e72\n"
        tree[f"{folder}/bug_reintroduce.patch"] = make_patch(
            rel, fixed_code(task_id), buggy_code(task_id)
        )
        verdict = (verdicts or {}).get(task_id) or is_fixed(task_id)
        tests[task_id] = FakeTest(verdict)
    tree.update(files or {})
    fs = FakeFS(tree)
    image = FakeImage(
        name, fs, tests=tests, setup=setup, setup_polls=setup_polls, runtime_setup=runtime_setup
    )
    image.revisions = {
        f"{c}^": {"src/manager_base.js": f"// the code before {c}\n"} for c in managers
    }
    write_index(fs, CWD, tracked_files(fs, CWD))
    fs.mark()
    return image


def image_for_tasks(tasks: list, name: str, **options: Any) -> FakeImage:
    """An image holding the given tasks (IC ids and manager commits)."""
    ic = [t.task_id for t in tasks if isinstance(t, IcTask)]
    managers = [t.manager_commit for t in tasks if isinstance(t, ManagerTask) and t.manager_commit]
    return task_image(name, ic, managers, **options)


def ic_task(task_id: str = "101", price: float = 250.0, **fields: Any) -> IcTask:
    fields.setdefault("test_folders", [task_id])
    return IcTask(task_id=task_id, price_usd=price, **fields)


def manager_task(
    task_id: str = "110-manager-0",
    price: float = 8000.0,
    correct: int = 0,
    commit: str = "0df39e7",
    **fields: Any,
) -> ManagerTask:
    return ManagerTask(
        task_id=task_id,
        price_usd=price,
        correct_proposal_id=correct,
        manager_commit=commit,
        **fields,
    )
