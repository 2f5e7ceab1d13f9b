"""Write tasks/demo/manifest.csv from the demo task sources, in the current upstream schema.

    python tasks/demo/build_manifest.py            # write manifest.csv
    python tasks/demo/build_manifest.py --check    # fail if manifest.csv is out of date

Sources:
  issues/<ID>/issue.md         IC task: front matter (title, price, optional
                               acceptable_folders) and the issue text; test.py,
                               commit_id.txt and bug_reintroduce.patch sit beside it.
                               Folders without issue.md (the 90001 fixture) are not tasks.
  issues/conftest.py           shared pytest configuration (not a task)
  manager/<ID>/issue.md        manager task: front matter (title, price, fix_patch,
                               correct_proposal, approval) and the issue text
  manager/<ID>/proposal_N.md   proposal N: front matter (author, explanation) and its text

Commit hashes come from building the demo repository from docker/demo/history/ (the same
deterministic build the image runs), so they always match the image. Every IC task's
commit_id.txt must name a commit of that history and its patch must apply there.

`acceptable_folders` (space-separated; default: the task's own folder) is written to the
manifest as given. As upstream's harness does, a harness grades only `issues/<question_id>`,
so the list may name folders that do not exist (upstream's 12155_1 lists a missing `12155`
first; 50357_1124 lists only another, missing folder). Listed folders that do exist are
checked like the task's own.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

DEMO_DIR = Path(__file__).resolve().parent
REPO_ROOT = DEMO_DIR.parent.parent
HISTORY_DIR = REPO_ROOT / "docker" / "demo" / "history"
MANIFEST = DEMO_DIR / "manifest.csv"

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
CWD = "/app/expensify"
SPLIT = "demo"
PRICE_LIMIT = "2000000.0"
ISSUE_URL = "https://example.com/demo/expenses/issues/{issue}"
PROPOSAL_SEPARATOR = "-" * 44


class SourceError(Exception):
    """A task source file is missing or malformed."""


@dataclass
class Document:
    meta: dict[str, str]
    body: str


def read_document(path: Path) -> Document:
    """A markdown file with a `---` front-matter block of `key: value` lines."""
    if not path.is_file():
        raise SourceError(f"{path}: missing")
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    if not match:
        raise SourceError(f"{path}: no front matter")
    meta: dict[str, str] = {}
    for line in match[1].splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise SourceError(f"{path}: bad front matter line {line!r}")
        meta[key.strip()] = value.strip()
    return Document(meta, match[2].strip() + "\n")


def require(doc: Document, key: str, path: Path) -> str:
    if not doc.meta.get(key):
        raise SourceError(f"{path}: front matter needs {key!r}")
    return doc.meta[key]


def escape_text(text: str, where: str) -> str:
    """One physical line with backslash escapes, as upstream writes its text columns.

    Only ASCII is allowed: upstream decodes these columns with `unicode_escape`, which would
    garble anything else.
    """
    if not text.isascii():
        raise SourceError(f"{where}: text must be ASCII")
    text = text.replace("\r\n", "\n").replace("\\", "\\\\")
    return text.replace("\n", "\\n").replace("\t", "\\t")


def sections(markdown: str) -> dict[str, str]:
    """`## Heading:` sections of an issue, by lower-case heading without the colon."""
    found: dict[str, str] = {}
    for block in re.split(r"^## ", markdown, flags=re.MULTILINE)[1:]:
        heading, _, content = block.partition("\n")
        found[heading.strip().rstrip(":").lower()] = content.strip()
    return found


def repro_steps(markdown: str, where: str) -> str:
    parts = sections(markdown)
    try:
        return (
            f"Action performed: {parts['action performed']}\n\n"
            f"Expected result: {parts['expected result']}\n\n"
            f"Actual result: {parts['actual result']}"
        )
    except KeyError as missing:
        raise SourceError(f"{where}: issue has no section {missing}") from None


def proposal_parts(content: str) -> dict[str, str]:
    """Split a proposal written in the usual template into its answers."""
    answers: dict[str, str] = {}
    for block in re.split(r"^### ", content, flags=re.MULTILINE)[1:]:
        question, _, answer = block.partition("\n")
        answers[question.strip().lower()] = answer.strip()

    def answer(start: str) -> str:
        return next((a for q, a in answers.items() if q.startswith(start)), "")

    return {
        "re_stated_problem": answer("please re-state the problem"),
        "root_cause": answer("what is the root cause"),
        "proposed_changes": answer("what changes do you think"),
    }


# The demo repository


def load_build_repo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_repo", HISTORY_DIR / "build_repo.py")
    if spec is None or spec.loader is None:
        raise SourceError(f"cannot load {HISTORY_DIR / 'build_repo.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class History:
    repo: Path
    by_patch: dict[str, str]  # patch file name -> commit
    commits: list[str]  # oldest first
    git: Callable[..., str]

    def check_patch(self, commit: str, patch: Path) -> None:
        self.git(self.repo, "checkout", "-q", "--force", commit)
        if patch.stat().st_size == 0:
            return
        try:
            self.git(self.repo, "apply", "--check", str(patch))
        except subprocess.CalledProcessError as error:
            raise SourceError(f"{patch} does not apply at {commit}: {error.stderr}") from None


def build_history(workdir: Path) -> History:
    build_repo = load_build_repo()
    repo = workdir / "expensify"
    commits = build_repo.build(repo, HISTORY_DIR)
    return History(
        repo=repo,
        by_patch={c["patch"]: c["commit"] for c in commits},
        commits=[c["commit"] for c in commits],
        git=build_repo.git,
    )


# Rows


def ic_row(folder: Path, history: History) -> dict[str, str]:
    doc = read_document(folder / "issue.md")
    where = str(folder / "issue.md")
    acceptable = doc.meta.get("acceptable_folders", folder.name).split()
    if not acceptable:
        raise SourceError(f"{where}: acceptable_folders is empty")
    present = [name for name in acceptable if (folder.parent / name).is_dir()]
    for test_dir in [folder] + [folder.parent / n for n in present if n != folder.name]:
        for required in ("test.py", "commit_id.txt", "bug_reintroduce.patch"):
            if not (test_dir / required).is_file():
                raise SourceError(f"{test_dir}: missing {required}")
        commit = (test_dir / "commit_id.txt").read_text().strip()
        if commit not in history.commits:
            raise SourceError(f"{test_dir}/commit_id.txt: {commit} is not in the demo history")
        history.check_patch(commit, test_dir / "bug_reintroduce.patch")
    return {
        "question_id": folder.name,
        "variant": "ic_swe",
        "price": str(float(require(doc, "price", folder / "issue.md"))),
        "price_limit": PRICE_LIMIT,
        "manager_data": "",
        "manager_commit": "",
        "acceptable_folders": repr(acceptable),
        "cwd": CWD,
        "set": SPLIT,
        "title": escape_text(require(doc, "title", folder / "issue.md"), where),
        "description": escape_text(doc.body, where),
        "proposals": "",
    }


def manager_row(folder: Path, history: History) -> dict[str, str]:
    issue_path = folder / "issue.md"
    issue = read_document(issue_path)
    where = str(issue_path)
    title = require(issue, "title", issue_path)
    price = float(require(issue, "price", issue_path))
    fix_patch = require(issue, "fix_patch", issue_path)
    if fix_patch not in history.by_patch:
        raise SourceError(f"{issue_path}: fix_patch {fix_patch} is not in {HISTORY_DIR}")
    fix_commit = history.by_patch[fix_patch]
    correct = int(require(issue, "correct_proposal", issue_path))
    url = ISSUE_URL.format(issue=folder.name.split("-")[0])

    proposal_paths = sorted(
        folder.glob("proposal_*.md"), key=lambda p: int(p.stem.removeprefix("proposal_"))
    )
    if [int(p.stem.removeprefix("proposal_")) for p in proposal_paths] != list(
        range(len(proposal_paths))
    ):
        raise SourceError(f"{folder}: proposals must be numbered 0, 1, 2, ...")
    if not 0 <= correct < len(proposal_paths):
        raise SourceError(f"{issue_path}: correct_proposal {correct} has no proposal file")

    all_proposals: list[dict[str, str]] = []
    formal: list[dict[str, object]] = []
    for n, path in enumerate(proposal_paths):
        doc = read_document(path)
        content = doc.body.strip()
        comment_url = f"{url}#issuecomment-{n + 1}"
        all_proposals.append(
            {
                "comment_url": comment_url,
                "author": require(doc, "author", path),
                **proposal_parts(content),
                "full_text": content,
            }
        )
        formal.append(
            {
                "id": n,
                "source_url": comment_url,
                "content": content,
                "explanation": require(doc, "explanation", path),
            }
        )

    manager_data = {
        "all_proposals": all_proposals,
        "game": {
            "all_formal_proposals": formal,
            "correct_proposal": {
                "id": correct,
                "approval_comment_url": f"{url}#issuecomment-approval",
                "explanation": require(issue, "approval", issue_path),
            },
        },
        "price": price,
        "title": title,
        "issue_repo_steps": repro_steps(issue.body, where),
        "html_description": issue.body,
        "fix_commit_hash": fix_commit,
    }
    rendered = "".join(
        f"Proposal: {p['id']}:\n\n{p['content']}\n\n{PROPOSAL_SEPARATOR}\n\n" for p in formal
    )
    return {
        "question_id": folder.name,
        "variant": "swe_manager",
        "price": str(price),
        "price_limit": PRICE_LIMIT,
        "manager_data": repr(manager_data),
        "manager_commit": fix_commit,
        "acceptable_folders": "[]",
        "cwd": CWD,
        "set": SPLIT,
        "title": escape_text(title, where),
        "description": escape_text(issue.body, where),
        "proposals": escape_text(rendered + "\n\n---", where),
    }


def task_sort_key(folder: Path) -> tuple[int, str]:
    head = re.match(r"\d+", folder.name)
    return (int(head[0]) if head else 0, folder.name)


def build_rows(demo_dir: Path = DEMO_DIR) -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="swelancer-demo-") as tmp:
        history = build_history(Path(tmp))
        ic_folders = sorted(
            (p for p in (demo_dir / "issues").iterdir() if (p / "issue.md").is_file()),
            key=task_sort_key,
        )
        manager_folders = sorted(
            (p for p in (demo_dir / "manager").iterdir() if (p / "issue.md").is_file()),
            key=task_sort_key,
        )
        rows = [ic_row(folder, history) for folder in ic_folders]
        rows += [manager_row(folder, history) for folder in manager_folders]
    return rows


def render_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the manifest is stale")
    parser.add_argument("--output", type=Path, default=MANIFEST, help="where to write")
    args = parser.parse_args(argv)

    try:
        text = render_csv(build_rows())
    except SourceError as error:
        print(f"build_manifest: {error}", file=sys.stderr)
        return 1
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"build_manifest: {args.output} is out of date; rerun", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({text.count(chr(10)) - 1} tasks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
