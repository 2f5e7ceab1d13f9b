"""The commands a fake sandbox understands: the harness's vocabulary, emulated in Python over
the fake file system, faithful to upstream's runtime scripts
(`../shared/upstream/preparedness_51052ce_swelancer/runtime_scripts/`).

Each `Command` matches one command line the harness sends (the whole line: a command that
changes shape is unknown, and an unknown command fails the test loudly). What they emulate:

- `run_tests.yml` (`ansible-playbook ... /app/tests/run_tests.yml`, and the `user-tool` alias
  run.sh defines, which adds `-e trace=true`): reads `commit_id.txt` and
  `bug_reintroduce.patch`, writes `logs/<id>/npm_run_dev.log`, `mitmdump.log`, `ffmpeg.log`,
  runs `rewrite_test.py` on the test in place, runs "pytest" (the task's `verdict` over the
  sandbox), writes `logs/<id>/pytest.log` and `logs/<id>/pytest_exit_code` ("<rc>\\n"), and
  prints Ansible's task blocks (`"rc": N` of a failed pytest task; censored with tracing).
  With tracing, the test (which needs `--user-tool-trace` from `issues/conftest.py`) writes
  a Playwright-like trace folder `<cwd>/user_tool/output_<id>/`.
- git: `git reset --hard REV` (the image's `revisions`), the fresh history, `git ls-files -z`,
  and `git apply` (run by the host's real git on a copy of the files the patch names).
- the harness's own find/rm/touch/tar lines.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

from tests.fakes.sandbox_fs import FakeFS

if TYPE_CHECKING:
    from tests.fakes.sandbox import FakeSandbox

TESTS = "/app/tests"
ALIAS = (
    'alias user-tool=\'ansible-playbook -i "localhost," --connection=local '
    "/app/tests/run_tests.yml -e trace=true'"
)
REWRITTEN_MARK = b"# rewritten by rewrite_test.py\n"
BASH_I_NOISE = (
    "bash: cannot set terminal process group (-1): Inappropriate ioctl for device\n"
    "bash: no job control in this shell\n"
)
CENSORED = (
    '{"censored": "the output has been hidden due to the fact that \'no_log: true\' was '
    'specified for this result", "changed": true}'
)
Result = tuple[int, str]


@dataclass
class Call:
    """One `exec`: the command as a line (the `-c` script of a shell, else the argv joined)."""

    argv: list[str]
    workdir: str
    env: dict[str, str]
    shell: str | None  # "sh", "bash", "bash -i", "bash -l" or None for a plain argv
    line: str


def parse(cmd: str | list[str], workdir: str | None, env: dict[str, str]) -> Call:
    argv = ["bash", "-lc", cmd] if isinstance(cmd, str) else list(cmd)
    shell = None
    if len(argv) >= 3 and argv[0] in ("bash", "sh") and argv[-2] in ("-c", "-lc"):
        flags = [a for a in argv[1:-2] if a.startswith("-")] + (["-l"] if argv[-2] == "-lc" else [])
        shell = " ".join([argv[0], *flags])
        line = argv[-1]
    else:
        line = shlex.join(argv)
    return Call(argv=argv, workdir=workdir or "/", env=env, shell=shell, line=line)


class Command:
    """A command line (a regular expression of the whole line) and its emulation; `shells`
    are the ways it may be run: None for a plain argv, else "sh", "bash" or "bash -i"."""

    def __init__(
        self,
        name: str,
        pattern: str,
        run: Callable[[FakeSandbox, Call, re.Match[str]], Result],
        shells: tuple[str | None, ...],
    ) -> None:
        self.name, self.run, self.shells = name, run, shells
        self.pattern = re.compile(pattern, re.DOTALL)


def _word(text: str) -> str:
    return shlex.split(text)[0]


# -- files ------------------------------------------------------------------------------


def _keep_own(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    """`hide_tests`' deletion of every folder of `issues/` but the task's own."""
    tests, own = m["tests"], m["own"]
    issues = f"{tests}/issues"
    if not box.fs.is_dir(tests):
        return 3, f"sh: 1: cd: can't cd to {tests}\n"
    if not box.fs.is_dir(issues):
        return 4, "sh: 1: cd: can't cd to issues\n"
    if own is not None:
        node = box.fs.node(f"{issues}/{own}")
        if node is None or node.kind != "dir":
            return 5, ""
    for name in box.fs.listdir(issues):
        node = box.fs.node(posixpath.join(issues, name))
        if node is not None and node.kind == "dir" and name != own:
            box.fs.remove(posixpath.join(issues, name))
    return 0, ""


def _stop_viewers(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    """`benchmark.viewers`: every process whose command names x11vnc or websockify, killed."""
    doomed = [
        pid
        for pid, proc in box.procs.items()
        if any(posixpath.basename(w) in ("x11vnc", "websockify") for w in proc.cmd.split())
    ]
    for pid in doomed:
        del box.procs[pid]
    return 0, f"{len(doomed)}\n"


def _rm(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    flags = m["flags"] or ""
    recursive, force = "r" in flags, "f" in flags
    code, out = 0, ""
    for path in shlex.split(m["paths"]):
        path = posixpath.join(call.workdir, path)
        node = box.fs.node(path)
        if node is None:
            if not force:
                code, out = 1, out + f"rm: cannot remove '{path}': No such file or directory\n"
        elif node.kind == "dir" and not recursive:
            code, out = 1, out + f"rm: cannot remove '{path}': Is a directory\n"
        else:
            box.fs.remove(path)
    return code, out


def _touch(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    for path in shlex.split(m["paths"]):
        box.fs.touch(posixpath.join(call.workdir, path))
    return 0, ""


def _delete_tests(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    box.fs.remove(m["dir"])
    for path in m["also"].split():
        box.fs.remove(path)
    return (1, "") if box.fs.exists(m["dir"]) else (0, "")


def _empty_logs(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    """Emptying the logs before a test run; first, when staged, putting the tests in place."""
    if m["stage"]:
        box.fs.remove(m["tests"])
        if not box.fs.is_dir(m["stage"]):
            return 1, f"mv: cannot stat '{m['stage']}': No such file or directory\n"
        box.fs.copy(m["stage"], m["tests"])
        box.fs.remove(m["stage"])
    box.fs.makedirs(m["dir"])
    for name in box.fs.listdir(m["dir"]):
        box.fs.remove(posixpath.join(m["dir"], name))
    return 0, ""


def _prune(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    issues, own = m["issues"], _word(m["own"])
    if not box.fs.is_dir(issues):
        return 2, f"sh: 1: cd: can't cd to {issues}\n"
    for name in box.fs.listdir(issues):
        if box.fs.is_dir(posixpath.join(issues, name)) and name != own:
            box.fs.remove(posixpath.join(issues, name))
    return 0, ""


def _tar_copy(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    """`tar -cf - --null -T LIST | tar -xf - -C DIR` of files of the repository."""
    box.fs.remove(m["dir"])
    box.fs.makedirs(m["dir"])
    code, out = 0, ""
    names = [n for n in box.fs.read(m["list"]).decode("utf-8", "surrogateescape").split("\0") if n]
    for rel in names:
        src = posixpath.join(call.workdir, rel)
        if not box.fs.exists(src):
            code, out = 2, out + f"tar: {rel}: Cannot stat: No such file or directory\n"
            continue
        box.fs.copy(src, posixpath.join(m["dir"], rel))
    box.fs.remove(m["list"])
    return code, out


def _stamped_traces(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    """The user tool's `find -newer START ! -newer END -printf '%f\\0'` of new trace folders."""
    start, end = m["start"], m["end"]
    box.fs.touch(end)
    found = []
    folder = posixpath.join(call.workdir, m["dir"])
    if box.fs.is_file(start) and box.fs.is_dir(folder):
        low, high = box.fs.node(start).mtime, box.fs.node(end).mtime
        for name in box.fs.listdir(folder):
            node = box.fs.node(posixpath.join(folder, name))
            if node.kind == "dir" and fnmatch(name, "output_*") and low < node.mtime <= high:
                found.append(name)
    box.fs.remove(start)
    box.fs.remove(end)
    return 0, "".join(f"{name}\0" for name in found)


# -- git ------------------------------------------------------------------------------------


def tracked_files(fs: FakeFS, repo: str) -> list[str]:
    """What `git add -A` stages: every file below `repo` but `.git` and what the top
    `.gitignore` ignores."""
    ignore = repo + "/.gitignore"
    patterns = fs.text(ignore).split("\n") if fs.is_file(ignore) else []
    patterns = [p.strip() for p in patterns if p.strip() and not p.startswith("#")]
    out = []
    for rel, _data in sorted(fs.files(repo).items()):
        if rel.split("/", 1)[0] == ".git" or _ignored(rel, patterns):
            continue
        out.append(rel)
    return out


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pattern in patterns:
        bare = pattern.strip("/")
        if "/" in bare:
            if fnmatch(rel, bare) or rel.startswith(bare + "/"):
                return True
        elif any(fnmatch(part, bare) for part in parts[:-1] if pattern.endswith("/")) or (
            not pattern.endswith("/") and any(fnmatch(part, bare) for part in parts)
        ):
            return True
    return False


def write_index(fs: FakeFS, repo: str, paths: list[str]) -> None:
    fs.write(f"{repo}/.git/index", "\0".join(paths).encode())


def _no_repo(box: FakeSandbox, repo: str) -> bool:
    return not box.fs.is_dir(f"{repo}/.git")


NOT_A_REPO = (128, "fatal: not a git repository (or any of the parent directories): .git\n")


def _reset_hard(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    rev = _word(m["rev"])
    if _no_repo(box, call.workdir):
        return NOT_A_REPO
    files = box.image.revisions.get(rev)
    if files is None:
        return 128, f"fatal: ambiguous argument '{rev}': unknown revision or path\n"
    for rel, data in files.items():
        path = posixpath.join(call.workdir, rel)
        box.fs.remove(path) if data is None else box.fs.write(path, data)
    return 0, f"HEAD is now at {rev[:7]} the base of the accepted fix\n"


def _fresh_history(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    repo = call.workdir
    box.fs.remove(f"{repo}/.git")
    box.fs.write(f"{repo}/.git/HEAD", "ref: refs/heads/main\n")
    write_index(box.fs, repo, [])
    if m["commit"]:
        paths = tracked_files(box.fs, repo)
        write_index(box.fs, repo, paths)
        box.fs.write(f"{repo}/.git/refs/heads/main", f"{abs(hash(tuple(paths))):040x}"[:40])
        if m["out"]:
            box.fs.write(m["out"], "".join(f"{p}\0" for p in paths).encode())
    return 0, ""


def _ls_files(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    box.fs.write(m["out"], b"")  # the shell's redirection makes the file first
    if _no_repo(box, call.workdir):
        return NOT_A_REPO
    index = box.fs.read(f"{call.workdir}/.git/index").decode().split("\0")
    box.fs.write(m["out"], "".join(f"{p}\0" for p in index if p).encode())
    return 0, ""


def git_apply(fs: FakeFS, repo: str, patch: bytes, *, reverse: bool = False) -> Result:
    """Apply a git patch to the files of `repo` with the host's real `git apply`, on a copy of
    the files the patch names."""
    names = re.findall(rb"^diff --git a/(\S+) b/(\S+)$", patch, re.MULTILINE)
    paths = sorted({n.decode("utf-8", "surrogateescape") for pair in names for n in pair})
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LC_ALL": "C",
    }
    with tempfile.TemporaryDirectory(prefix="fake-git-apply-") as tmp:
        work = Path(tmp) / "repo"
        work.mkdir()
        env["GIT_CEILING_DIRECTORIES"] = tmp  # outside any repository: git apply as `patch`
        before = {}
        for rel in paths:
            full = posixpath.join(repo, rel)
            if fs.is_file(full):
                before[rel] = fs.read(full)
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                (work / rel).write_bytes(before[rel])
        (Path(tmp) / "p.diff").write_bytes(patch)
        args = ["git", "apply", *(["-R"] if reverse else []), "--binary", "--whitespace=nowarn"]
        done = subprocess.run(
            [*args, str(Path(tmp) / "p.diff")], cwd=work, capture_output=True, env=env
        )
        if done.returncode != 0:
            return done.returncode, done.stderr.decode("utf-8", "replace")
        for rel in paths:
            host, full = work / rel, posixpath.join(repo, rel)
            if host.is_file():
                mode = 0o755 if host.stat().st_mode & 0o111 else 0o644
                node = fs.node(full)
                if before.get(rel) != host.read_bytes() or (node and node.mode != mode):
                    fs.write(full, host.read_bytes(), mode)
            elif rel in before:
                fs.remove(full)
    return 0, ""


def _apply_patch(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    code, out = git_apply(box.fs, call.workdir, box.fs.read(m["patch"]))
    box.fs.remove(m["patch"])
    return code, out


def _gold_patch(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    """`git apply -R ... || patch -p1 -R ...`: both fail alike on a patch that does not fit."""
    code, out = git_apply(box.fs, call.workdir, box.fs.read(m["patch"]), reverse=True)
    if code:
        out += "1 out of 1 hunk FAILED -- saving rejects\n"
    box.fs.remove(m["patch"])
    return code, out


# -- the tests --------------------------------------------------------------------------------


def rewrite(test: bytes) -> bytes:
    """What the fake image's `rewrite_test.py` does to a test (idempotent, like upstream's)."""
    return test if test.startswith(REWRITTEN_MARK) else REWRITTEN_MARK + test


def _rewrite_copy(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    tests, src, dst = m["tests"], m["src"], m["dst"]
    if not box.fs.is_file(f"{tests}/rewrite_test.py"):
        return 3, ""
    if not box.fs.is_file(posixpath.join(tests, src)):
        return 1, f"cp: cannot stat '{src}': No such file or directory\n"
    box.fs.write(dst, rewrite(box.fs.read(posixpath.join(tests, src))))
    return 0, ""


def _user_tool(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    bashrc = box.fs.text("/root/.bashrc") if box.fs.is_file("/root/.bashrc") else ""
    if ALIAS not in bashrc:
        return 127, "bash: user-tool: command not found\n"
    return playbook(box, _word(m["id"]), call, trace=True)


def _playbook(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    if m["yml"] != f"{TESTS}/run_tests.yml" or not box.fs.is_file(m["yml"]):
        return 1, f"ERROR! the playbook: {m['yml']} could not be found\n"
    return playbook(box, _word(m["id"]), call, trace=False)


def playbook(box: FakeSandbox, issue: str, call: Call, *, trace: bool) -> Result:
    """upstream's run_tests.yml, step by step (see the module's docstring)."""
    fs = box.fs
    out = ["", "PLAY [localhost] ****", "", "TASK [Gathering Facts] ****", "ok: [localhost]"]

    def task(name: str, *lines: str) -> None:
        out.extend(["", f"TASK [{name}] ****", *lines])

    def fail(name: str, message: str) -> Result:
        failed = json.dumps({"changed": True, "msg": message})
        task(name, f"fatal: [localhost]: FAILED! => {failed}")
        out.extend(["", "PLAY RECAP ****", "localhost : ok=3 changed=1 failed=1 ignored=0", ""])
        return 2, "\n".join(out)

    folder, logs = f"{TESTS}/issues/{issue}", f"{TESTS}/logs/{issue}"
    task("Ensure ISSUE_ID environment variable is set", "ok: [localhost]")
    if not fs.is_file(f"{folder}/commit_id.txt"):
        return fail("Get the commit ID for the issue", f"cat: {folder}/commit_id.txt: No such file")
    task("Get the commit ID for the issue", "changed: [localhost]")
    if not fs.is_file(f"{folder}/bug_reintroduce.patch"):
        return fail("Read the patch file content", f"no {folder}/bug_reintroduce.patch")
    task("Read the patch file content", "ok: [localhost]")
    task("Compile Development Webpack (TypeScript)", "skipping: [localhost]")
    if not fs.is_dir(logs):
        return fail("Start npm server in the background", f"cannot create {logs}/npm_run_dev.log")
    fs.write(f"{logs}/npm_run_dev.log", "> new.expensify@1.0.0 web\n")
    task("Start npm server in the background", "changed: [localhost]")
    for app in list(box.provider.apps):  # the dev server (the agent's code) runs from here on
        app(box, trace)
    if not fs.is_dir(logs):  # the app removed it: the later steps cannot write there
        return fail("Start mitmdump in the background", f"cannot create {logs}/mitmdump.log")
    fs.write(f"{logs}/mitmdump.log", "")
    test = box.image.tests.get(issue)
    verdict = test.verdict(box) if test is not None else False
    if verdict is None:
        return fail("Wait for the Expensify development server to start", "Timeout when waiting")
    if fs.is_file(f"{folder}/test.py") and fs.is_file(f"{TESTS}/rewrite_test.py"):
        fs.write(f"{folder}/test.py", rewrite(fs.read(f"{folder}/test.py")))
    task("Rewrite test file to include required params", "changed: [localhost]")
    fs.write(f"{logs}/ffmpeg.log", "")
    code = (1 - verdict) if isinstance(verdict, bool) else int(verdict)
    code, log = pytest(box, issue, code, call, trace=trace)
    fs.write(f"{logs}/pytest.log", log)
    if code == 0:
        task("Run pytest tests", "changed: [localhost]")
    elif trace:  # no_log: "{{ trace }}"
        task("Run pytest tests", f"fatal: [localhost]: FAILED! => {CENSORED}", "...ignoring")
    else:
        rc = f'{{"changed": true, "cmd": "pytest issues/{issue}/test.py", "rc": {code}}}'
        task("Run pytest tests", f"fatal: [localhost]: FAILED! => {rc}", "...ignoring")
    fs.write(f"{logs}/pytest_exit_code", f"{code}\n")
    task("Persist pytest exit code for the grader", "changed: [localhost]")
    task("Kill all node processes if they exist", "changed: [localhost]")
    box.kill_matching("node")
    out.extend(["", "PLAY RECAP ****", "localhost : ok=14 changed=8 failed=0 ignored=1", ""])
    return 0, "\n".join(out)


def _split_part(box: FakeSandbox, call: Call, m: re.Match[str]) -> Result:
    """A part of run_tests.yml as `benchmark.judged` runs it: the app's start (`app`) or stop
    (`stop`) in an app container, the judge's (`judge`) in a judge container."""
    if not box.fs.is_file(m["yml"]):
        return 1, f"ERROR! the playbook: {m['yml']} could not be found\n"
    issue, trace = _word(m["id"]), bool(m["trace"])
    if m["part"] == "app":
        return app_part(box, issue, trace=trace)
    if m["part"] == "stop":
        box.kill_matching("node")
        return 0, "\nTASK [Kill all node processes if they exist] ****\nchanged: [localhost]\n"
    return judge_part(box, issue, call, trace=trace)


def _out() -> tuple[list[str], Callable[..., None], Callable[[str, str], Result]]:
    out = ["", "PLAY [localhost] ****", "", "TASK [Gathering Facts] ****", "ok: [localhost]"]

    def task(name: str, *lines: str) -> None:
        out.extend(["", f"TASK [{name}] ****", *lines])

    def fail(name: str, message: str) -> Result:
        failed = json.dumps({"changed": True, "msg": message})
        task(name, f"fatal: [localhost]: FAILED! => {failed}")
        out.extend(["", "PLAY RECAP ****", "localhost : ok=3 changed=1 failed=1 ignored=0", ""])
        return 2, "\n".join(out)

    return out, task, fail


def app_part(box: FakeSandbox, issue: str, *, trace: bool) -> Result:
    """The app's tasks before the test: build, dev server (the agent's code runs), its wait."""
    out, task, fail = _out()
    logs = f"{TESTS}/logs/{issue}"
    task("Compile Development Webpack (TypeScript)", "skipping: [localhost]")
    if not box.fs.is_dir(logs):
        return fail("Start npm server in the background", f"cannot create {logs}/npm_run_dev.log")
    box.fs.write(f"{logs}/npm_run_dev.log", "> new.expensify@1.0.0 web\n")
    task("Start npm server in the background", "changed: [localhost]")
    for app in list(box.provider.apps):  # the dev server (the agent's code) runs from here on
        app(box, trace)
    test = box.image.tests.get(issue)
    box.verdict_now = test.verdict(box) if test is not None else False  # what the test will find
    if box.verdict_now is None:
        return fail("Wait for the Expensify development server to start", "Timeout when waiting")
    task("Wait for the Expensify development server to start", "ok: [localhost]")
    out.extend(["", "PLAY RECAP ****", "localhost : ok=5 changed=1 failed=0", ""])
    return 0, "\n".join(out)


def judge_part(box: FakeSandbox, issue: str, call: Call, *, trace: bool) -> Result:
    """The judge's tasks: the test against the app of the container whose network it shares."""
    out, task, fail = _out()
    fs = box.fs
    folder, logs = f"{TESTS}/issues/{issue}", f"{TESTS}/logs/{issue}"
    if not fs.is_file(f"{folder}/commit_id.txt"):
        return fail("Get the commit ID for the issue", f"cat: {folder}/commit_id.txt: No such file")
    task("Get the commit ID for the issue", "changed: [localhost]")
    if not fs.is_file(f"{folder}/bug_reintroduce.patch"):
        return fail("Read the patch file content", f"no {folder}/bug_reintroduce.patch")
    if not fs.is_dir(logs):
        return fail("Start mitmdump in the background", f"cannot create {logs}/mitmdump.log")
    fs.write(f"{logs}/mitmdump.log", "")
    reached = box.spec.reach.of if box.spec.reach is not None else box.spec.network_of
    app = box.provider.by_name(reached) if reached else None
    verdict = getattr(app, "verdict_now", False) if app is not None else False
    if fs.is_file(f"{folder}/test.py") and fs.is_file(f"{TESTS}/rewrite_test.py"):
        fs.write(f"{folder}/test.py", rewrite(fs.read(f"{folder}/test.py")))
    task("Rewrite test file to include required params", "changed: [localhost]")
    code = (1 - verdict) if isinstance(verdict, bool) else int(verdict or 0)
    code, log = pytest(box, issue, code, call, trace=trace)
    fs.write(f"{logs}/pytest.log", log)
    if code == 0:
        task("Run pytest tests", "changed: [localhost]")
    elif trace:  # no_log: "{{ trace }}"
        task("Run pytest tests", f"fatal: [localhost]: FAILED! => {CENSORED}", "...ignoring")
    else:
        rc = f'{{"changed": true, "cmd": "pytest issues/{issue}/test.py", "rc": {code}}}'
        task("Run pytest tests", f"fatal: [localhost]: FAILED! => {rc}", "...ignoring")
    fs.write(f"{logs}/pytest_exit_code", f"{code}\n")
    task("Persist pytest exit code for the grader", "changed: [localhost]")
    out.extend(["", "PLAY RECAP ****", "localhost : ok=9 changed=5 failed=0 ignored=1", ""])
    return 0, "\n".join(out)


def pytest(box: FakeSandbox, issue: str, code: int, call: Call, *, trace: bool) -> Result:
    """`pytest [--user-tool-trace] issues/<id>/test.py`: its exit code and log."""
    fs, test_py = box.fs, f"{TESTS}/issues/{issue}/test.py"
    head = "============================= test session starts ==============================\n"
    if not fs.is_file(test_py):
        return 4, f"{head}ERROR: file or directory not found: issues/{issue}/test.py\n\n" + (
            "============================ no tests ran in 0.01s ============================\n"
        )
    conftest = f"{TESTS}/issues/conftest.py"
    if trace and (not fs.is_file(conftest) or b"--user-tool-trace" not in fs.read(conftest)):
        return 4, "ERROR: usage: pytest [options] [file_or_dir]\n" + (
            "pytest: error: unrecognized arguments: --user-tool-trace\n"
        )
    if "PYTHONDONTWRITEBYTECODE" not in call.env:
        fs.write(f"{TESTS}/issues/{issue}/__pycache__/test.cpython-312-pytest-8.3.4.pyc", b"\x00")
    if trace:
        write_trace(box, issue, call.workdir)
    body = {
        0: "issues/{i}/test.py::test_issue PASSED\n\n===== 1 passed in 4.20s =====\n",
        1: "issues/{i}/test.py::test_issue FAILED\n\n===== 1 failed in 4.20s =====\n",
        3: "!!!!! _pytest.outcomes.Exit: simulated grader fault !!!!!\n"
        "===== no tests ran in 0.05s =====\n",
    }.get(code, "issues/{i}/test.py::test_issue ERROR\n\n===== 1 error in 0.05s =====\n")
    test = box.image.tests.get(issue)
    if test is not None and test.log is not None:
        return code, head + f"collected 1 item\n\n{test.log(box, code)}"
    return code, head + f"collected 1 item\n\n{body.format(i=issue)}"


def write_trace(box: FakeSandbox, issue: str, cwd: str) -> str:
    """A Playwright-like trace folder, as the demo's tests write with `--user-tool-trace`: its
    rows hold a line of the test (upstream's traces leak the test's source), and
    `resources/src@…` a copy of the source."""
    name = f"output_{box.provider.next_id():08x}"
    folder = f"{cwd}/user_tool/{name}"
    source = box.fs.read(f"{TESTS}/issues/{issue}/test.py")
    leaked = next(
        (line.strip() for line in source.decode().splitlines() if "expect(" in line), "nothing"
    )
    rows = [
        {"type": "before", "callId": "call@1", "method": "goto", "params": {"url": "/"}},
        {"type": "screencast-frame", "sha1": "frame-1.jpeg", "width": 800, "height": 600},
        {"type": "log", "callId": "call@2", "message": leaked},
        {"type": "after", "callId": "call@1"},
    ]
    box.fs.write(f"{folder}/trace.trace", "".join(json.dumps(r) + "\n" for r in rows))
    box.fs.write(f"{folder}/trace.network", '{"type": "resource-snapshot"}\n')
    box.fs.write(f"{folder}/resources/frame-1.jpeg", b"\xff\xd8\xff fake jpeg")
    box.fs.write(f"{folder}/resources/src@0123abcd.txt", source)
    return folder


KEEP_OWN = (
    r"cd (?P<tests>/\S+) 2>/dev/null \|\| exit 3; cd issues 2>/dev/null \|\| exit 4; "
    r"(\[ -d (?P<own>[0-9_]+) \] && \[ ! -L (?P=own) \] \|\| exit 5; )?"
    r"find \. -mindepth 1 -maxdepth 1 -type d (! -name (?P=own) )?-exec rm -rf -- \{\} \+"
)
RM = r"rm (?P<flags>-[rf]+ )?(-- )?(?P<paths>.+)"
TOUCH = r"touch (?P<paths>\S+)"
DELETE_TESTS = r"rm -rf (?P<dir>\S+)(?P<also>(?: /\S+)*) && test ! -e (?P=dir)"
EMPTY_LOGS = (
    r"(?:rm -rf (?P<tests>/\S+) && mv -T (?P<stage>/\S+) (?P=tests) && )?"
    r"mkdir -p (?P<dir>\S+) && rm -rf (?P=dir)/\*"
)
PRUNE = (
    r'cd (?P<issues>\S+) && for d in \*/; do d="\$\{d%/\}"; '
    r'\[ "\$d" = (?P<own>\S+) \] \|\| rm -rf -- "\$d"; done'
)
RESET_HARD = r"git reset --hard (?P<rev>\S+)"
FRESH_HISTORY = (
    r"rm -rf \.git && git init -q(?P<commit> && git add -A && git -c user\.name=\S+ "
    r"-c user\.email=\S+ commit -q --no-verify -m 'Initial commit'"
    r"(?: && git ls-files -z > (?P<out>/\S+))?)?"
)
LS_FILES = r"git ls-files -z > (?P<out>/\S+)"
TAR_COPY = (
    r"rm -rf (?P<dir>/\S+) && mkdir -p (?P=dir) && tar -cf - --null -T (?P<list>/\S+) \| "
    r"tar -xf - -C (?P=dir); code=\$\?; rm -f (?P=list); exit \$code"
)
APPLY = (
    r"git apply --binary --whitespace=nowarn (?P<patch>/\S+); code=\$\?; "
    r"rm -f (?P=patch); exit \$code"
)
TRACE_FOLDERS = (
    r"touch (?P<end>/\S+); find (?P<dir>\S+) -mindepth 1 -maxdepth 1 -type d "
    r"-name 'output_\*' -newer (?P<start>/\S+) ! -newer (?P=end) -printf '%f\\0' 2>/dev/null "
    r"\| head -c 1000000; rm -f (?P=start) (?P=end)"
)
REWRITE = (
    r"\[ -f (?P<tests>/\S+)/rewrite_test\.py \] \|\| exit 3; cd (?P=tests) && "
    r"cp (?P<src>\S+) (?P<dst>/\S+) && python3\.12 rewrite_test\.py (?P=dst)"
)
PLAYBOOK = (
    r'export ISSUE_ID=(?P<id>\S+); ansible-playbook -i "localhost," --connection=local '
    r"(?P<yml>\S+)"
)
SPLIT_PART = (
    r'export ISSUE_ID=(?P<id>\S+); ansible-playbook -i "localhost," --connection=local '
    r"(?P<yml>/tmp/\.swelancer-(?P<part>app|stop|judge)-[0-9a-f]+\.yml)(?P<trace> -e trace=true)?"
)
USER_TOOL = r"export ISSUE_ID=(?P<id>\S+); user-tool"
STOP_VIEWERS = re.escape(
    "n=0; for d in /proc/[0-9]*; do "
    'c=$(tr "\\0" " " < "$d/cmdline" 2>/dev/null) || continue; '
    'case " $c" in *[/\\ ]x11vnc\\ *|*[/\\ ]websockify\\ *) '
    'kill -9 "${d#/proc/}" 2>/dev/null && n=$((n+1));; esac; done; echo "$n"'
)
GOLD = (
    r"\{ git apply -R --whitespace=nowarn (?P<patch>/\S+) \|\| "
    r"patch -p1 -R -s < (?P=patch); \}; code=\$\?; rm -f (?P=patch); exit \$code"
)
ARGV, SH, BASH, BASH_I = (None,), ("sh",), ("bash",), ("bash -i",)

COMMANDS = [
    Command("keep_own", KEEP_OWN, _keep_own, SH),
    Command("rm", RM, _rm, ARGV),
    Command("touch", TOUCH, _touch, ARGV),
    Command("delete_tests", DELETE_TESTS, _delete_tests, SH),
    Command("empty_logs", EMPTY_LOGS, _empty_logs, SH),
    Command("prune", PRUNE, _prune, SH),
    Command("reset_hard", RESET_HARD, _reset_hard, BASH),
    Command("fresh_history", FRESH_HISTORY, _fresh_history, BASH),
    Command("ls_files", LS_FILES, _ls_files, SH),
    Command("tar_copy", TAR_COPY, _tar_copy, SH),
    Command("apply_patch", APPLY, _apply_patch, SH),
    Command("trace_folders", TRACE_FOLDERS, _stamped_traces, SH),
    Command("rewrite_test", REWRITE, _rewrite_copy, BASH_I),
    Command("playbook", SPLIT_PART.replace("app|stop|judge", "app"), _split_part, BASH_I),
    Command("app_stop", SPLIT_PART.replace("app|stop|judge", "stop"), _split_part, BASH_I),
    Command("judge_playbook", SPLIT_PART.replace("app|stop|judge", "judge"), _split_part, BASH_I),
    Command("playbook", PLAYBOOK, _playbook, BASH_I),
    Command("user_tool", USER_TOOL, _user_tool, BASH_I),
    Command("gold_patch", GOLD, _gold_patch, BASH_I),
    Command("stop_viewers", STOP_VIEWERS, _stop_viewers, SH),
]
"""The harness's vocabulary; each pattern must match a whole command line."""
