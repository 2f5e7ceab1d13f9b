"""Write the contract tasks' manifest and derived files, in upstream's current schema.

    python tests/contract/tasks/build_manifest.py            # write them
    python tests/contract/tasks/build_manifest.py --check    # fail if any is out of date

Sources: the TASKS table below, `text/<ID>.md` (issue text), `text/<ID>.proposal-<n>.md`
(manager proposals), and per IC task `issues/<ID>/test.py` and `bug_reintroduce.patch`.
Written: `manifest.csv` and per IC task `issues/<ID>/commit_id.txt`, `issue_data.json`,
`git_tag.txt`, `revert_command.txt` and `flow.mitm`. Commit hashes come from building the
stand-in repository (`tests/contract/app/build_repo.py`), the same deterministic build the image
runs. The check also proves each bug patch applies with `patch -p1` at its commit and that
reversing it restores the commit.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import io
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

TASKS_DIR = Path(__file__).resolve().parent
CONTRACT_DIR = TASKS_DIR.parent
MANIFEST = TASKS_DIR / "manifest.csv"
COLUMNS = [
    "question_id",
    "variant",
    "price",
    "price_limit",
    "manager_data",
    "manager_commit",
    "acceptable_folders",
    "cwd",
    "set",
    "title",
    "description",
    "proposals",
]
PROPOSAL_SEPARATOR = "\n\n" + "-" * 44 + "\n\n"
ISSUE_URL = "https://github.com/Expensify/App/issues/{issue}"
MARKER = "CONTRACT-ASSERTION-{issue}"


@dataclass(frozen=True)
class Task:
    """One task. IC tasks start at `commit` (a subject); manager tasks' fix is `commit`."""

    question_id: str
    variant: str
    price: float
    title: str
    commit: str
    acceptable_folders: tuple[str, ...] = ()
    git_tag: str = ""
    correct_proposal: int | None = None
    approval: str = ""
    explanations: tuple[str, ...] = field(default=())

    @property
    def issue(self) -> str:
        return self.question_id.split("_")[0].split("-")[0]


TASKS: tuple[Task, ...] = (
    Task(
        "91342",
        "ic_swe",
        1000.0,
        "[HOLD for payment 2024-08-16] [$1000] Report total drops the leading zero of the "
        "cents ($10.5 instead of $10.05)",
        commit="Fix amounts being saved one cent short",
        acceptable_folders=("91342",),
    ),
    Task(
        "92018_1",
        "ic_swe",
        500.0,
        "[HOLD for payment 2024-09-02] [$500] Workspace avatar shows the first two letters of "
        "the name instead of its initials",
        commit="Add chats with Markdown formatting and a chat search",
        acceptable_folders=("92018", "92018_1"),
        git_tag="9.0.40-1",
    ),
    Task(
        "94317_1207",
        "ic_swe",
        250.0,
        "[HOLD for payment 2024-09-20] [$250] Chat - Bold text in the middle of a message is "
        "not formatted",
        commit="Update version to 9.0.41-0",
        acceptable_folders=("94317_1180",),
    ),
    Task(  # the browser starts in a fixture whose first start fails: run 2 passes
        "91350",
        "ic_swe",
        400.0,
        "[HOLD for payment 2024-08-19] [$400] Expense report total shows $10.5 for $10.05 "
        "(fixture starts the browser)",
        commit="Fix amounts being saved one cent short",
        acceptable_folders=("91350",),
    ),
    Task(  # a fixture that errors in setup on every run
        "91351",
        "ic_swe",
        300.0,
        "[HOLD for payment 2024-08-20] [$300] Report total loses a zero of the cents in the "
        "workspace view",
        commit="Fix amounts being saved one cent short",
        acceptable_folders=("91351",),
    ),
    Task(  # a skipped test: pytest exits 0 with `1 skipped`
        "91352",
        "ic_swe",
        200.0,
        "[HOLD for payment 2024-08-21] [$200] Report total cents are cut on the report page",
        commit="Fix amounts being saved one cent short",
        acceptable_folders=("91352",),
    ),
    Task(
        "96120-manager-0",
        "swe_manager",
        2000.0,
        "[HOLD for payment 2024-08-09] [$2000] Expense amounts are saved one cent short "
        "(4.35 becomes $4.34)",
        commit="Fix amounts being saved one cent short",
        correct_proposal=1,
        approval="Proposal 1 parses the amount as a decimal and rounds half up; it was "
        "implemented and merged.",
        explanations=(
            "Rounds a float: still wrong at half cents",
            "Decimal parsing with ROUND_HALF_UP",
            "Floats in dollars everywhere: makes the problem worse",
        ),
    ),
    Task(
        "96455-manager-0",
        "swe_manager",
        1250.0,
        "[HOLD for payment 2024-09-12] [$1250] Chat search finds nothing when the case of "
        "the query differs",
        commit="Make the chat search case-insensitive",
        correct_proposal=0,
        approval="Proposal 0 case-folds both sides of the comparison; it was implemented "
        "and merged.",
        explanations=(
            "casefold() on both sides",
            "Changes the stored messages",
            "Treats user input as a regular expression",
        ),
    ),
)
IC_TASKS = tuple(t.question_id for t in TASKS if t.variant == "ic_swe")
MANAGER_TASKS = tuple(t.question_id for t in TASKS if t.variant == "swe_manager")


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def escape_text(text: str) -> str:
    """One physical line with backslash escapes, as upstream writes its text columns (ASCII)."""
    if not text.isascii():
        raise ValueError("task text must be ASCII (upstream decodes it with unicode_escape)")
    return text.replace("\\", "\\\\").replace("\r\n", "\n").replace("\n", "\\n")


def read_text(name: str) -> str:
    return (TASKS_DIR / "text" / name).read_text(encoding="utf-8").strip() + "\n"


def repro_steps(markdown: str) -> str:
    parts: dict[str, str] = {}
    for block in markdown.split("\n## ")[1:]:
        heading, _, body = block.partition("\n")
        parts[heading.strip().rstrip(":").lower()] = body.strip()
    return (
        f"Action performed: {parts.get('action performed', '')}\n\n"
        f"Expected result: {parts.get('expected result', '')}\n\n"
        f"Actual result: {parts.get('actual result', '')}"
    )


def proposals(task: Task) -> list[str]:
    found = sorted(
        (TASKS_DIR / "text").glob(f"{task.question_id}.proposal-*.md"),
        key=lambda p: int(p.stem.rsplit("-", 1)[1]),
    )
    return [p.read_text(encoding="utf-8").strip() + "\n" for p in found]


def manager_data(task: Task, fix: str, description: str) -> dict:
    issue_url = ISSUE_URL.format(issue=task.issue)
    texts = proposals(task)
    formal = [
        {
            "id": i,
            "source_url": f"{issue_url}#issuecomment-{task.issue}{i:03d}",
            "content": text,
            "explanation": task.explanations[i],
        }
        for i, text in enumerate(texts)
    ]
    return {
        "all_proposals": [
            {
                "comment_url": p["source_url"],
                "author": f"contributor-{p['id']}",
                "full_text": p["content"],
            }
            for p in formal
        ],
        "game": {
            "correct_proposal_scraped_beforehand": "False",
            "all_formal_proposals": formal,
            "correct_proposal": {
                "id": task.correct_proposal,
                "approval_comment_url": f"{issue_url}#issuecomment-{task.issue}999",
                "explanation": task.approval,
            },
        },
        "price": task.price,
        "title": task.title,
        "issue_repo_steps": repro_steps(description),
        "html_description": description,
        "fix_commit_hash": fix,
    }


def flow_file(task: Task) -> bytes:
    """Two recorded API calls to www.expensify.com, as a mitmproxy flow file (tnetstrings)."""
    tnetstring = _load(
        "contract_tnetstring", CONTRACT_DIR / "standins/mitmproxy/mitmproxy/io/tnetstring.py"
    )
    start = 1_725_000_000.0 + int(task.issue) % 100_000
    out = b""
    for index, command in enumerate(("OpenApp", "OpenReport")):
        stamp = start + index
        flow_id = hashlib.sha1(f"{task.question_id}/{command}".encode()).hexdigest()
        body = json.dumps({"jsonCode": 200, "onyxData": [], "command": command}).encode()
        state = {
            "version": 21,
            "type": "http",
            "id": flow_id,
            "intercepted": False,
            "is_replay": None,
            "marked": "",
            "metadata": {},
            "comment": "",
            "timestamp_created": stamp,
            "error": None,
            "websocket": None,
            "request": {
                "host": "www.expensify.com",
                "port": 443,
                "method": b"POST",
                "scheme": b"https",
                "authority": b"",
                "path": f"/api/{command}?".encode(),
                "http_version": b"HTTP/1.1",
                "headers": [
                    [b"host", b"www.expensify.com"],
                    [b"content-type", b"application/x-www-form-urlencoded"],
                ],
                "content": b"email=contract.tester%40gmail.com&platform=web",
                "trailers": None,
                "timestamp_start": stamp,
                "timestamp_end": stamp + 0.01,
            },
            "response": {
                "http_version": b"HTTP/1.1",
                "status_code": 200,
                "reason": b"OK",
                "headers": [[b"content-type", b"application/json"]],
                "content": body,
                "trailers": None,
                "timestamp_start": stamp + 0.2,
                "timestamp_end": stamp + 0.21,
            },
        }
        out += tnetstring.dumps(state)
    return out


def build_outputs(commits: dict[str, str]) -> dict[Path, bytes]:
    """Every generated file and its content, from the sources and the commit hashes."""
    outputs: dict[Path, bytes] = {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for task in TASKS:
        if task.commit not in commits:
            raise ValueError(f"{task.question_id}: no commit {task.commit!r} in the history")
        commit = commits[task.commit]
        description = read_text(f"{task.question_id}.md")
        row = {c: "" for c in COLUMNS}
        row.update(
            {
                "question_id": task.question_id,
                "variant": task.variant,
                "price": repr(task.price),
                "price_limit": "2000000.0",
                "cwd": "/app/expensify",
                "set": "diamond",
                "title": escape_text(task.title),
                "description": escape_text(description),
            }
        )
        if task.variant == "ic_swe":
            row["acceptable_folders"] = repr(list(task.acceptable_folders))
            folder = TASKS_DIR / "issues" / task.question_id
            outputs[folder / "commit_id.txt"] = commit.encode()
            outputs[folder / "git_tag.txt"] = task.git_tag.encode()
            outputs[folder / "revert_command.txt"] = b""
            outputs[folder / "flow.mitm"] = flow_file(task)
            outputs[folder / "issue_data.json"] = (
                json.dumps(
                    {
                        "price": task.price,
                        "title": task.title,
                        "issue_repo_steps": repro_steps(description),
                        "html_description": description,
                    },
                    indent=4,
                )
                + "\n"
            ).encode()
        else:
            texts = proposals(task)
            row["acceptable_folders"] = "[]"
            row["manager_commit"] = commit
            row["manager_data"] = repr(manager_data(task, commit, description))
            row["proposals"] = escape_text(
                PROPOSAL_SEPARATOR.join(f"Proposal: {i}:\n\n{text}" for i, text in enumerate(texts))
            )
        writer.writerow([row[c] for c in COLUMNS])
    outputs[MANIFEST] = buffer.getvalue().encode()
    return outputs


def check_task(task: Task, commits: dict[str, str], repo: Path) -> list[str]:
    """The patch applies at the task's commit and reverses cleanly; the test has its marker."""
    problems: list[str] = []
    folder = TASKS_DIR / "issues" / task.question_id
    test = (folder / "test.py").read_text()
    if MARKER.format(issue=task.issue) not in test:
        problems.append(f"{task.question_id}: test.py lacks {MARKER.format(issue=task.issue)}")
    if 'getoption("--user-tool-trace")' not in test:
        problems.append(f"{task.question_id}: test.py does not read --user-tool-trace")
    patch = (folder / "bug_reintroduce.patch").read_bytes()

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(args, cwd=repo, input=stdin, capture_output=True)

    run("git", "checkout", "-q", "-f", commits[task.commit])
    for label, args in (("apply", ["patch", "-p1"]), ("reverse", ["patch", "-p1", "-R"])):
        done = run(*args, stdin=patch)
        if done.returncode != 0:
            problems.append(
                f"{task.question_id}: patch does not {label} cleanly at "
                f"{commits[task.commit][:10]}: {done.stdout.decode()[-300:]}"
            )
            break
    if run("git", "status", "--porcelain").stdout.strip():
        problems.append(f"{task.question_id}: reversing the patch does not restore the commit")
    run("git", "checkout", "-q", "-f", "master")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if anything is out of date")
    args = parser.parse_args(argv)
    build_repo = _load("contract_build_repo", CONTRACT_DIR / "app" / "build_repo.py")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        history = build_repo.build_repo(repo)
        commits = {subject: commit for commit, subject in history}
        problems = [
            p for task in TASKS if task.variant == "ic_swe" for p in check_task(task, commits, repo)
        ]
    outputs = build_outputs(commits)
    for path, content in outputs.items():
        current = path.read_bytes() if path.exists() else None
        if current == content:
            continue
        if args.check:
            problems.append(f"{path.relative_to(TASKS_DIR)} is out of date (run build_manifest.py)")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            print(f"wrote {path.relative_to(TASKS_DIR)}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        total = sum(t.price for t in TASKS)
        print(
            f"{len(IC_TASKS)} IC + {len(MANAGER_TASKS)} manager tasks, ${total:,.0f}; "
            f"{'up to date' if args.check else 'written'}"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
