"""Nothing a container holds stops the run or exhausts this host: odd names in the folders the
harness reads, a million files, gigabytes on the container's stdout. Scripted agents on the
demo split do it for real; the harness runs as a process whose peak memory is measured."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runs import own_peak_rss_kb

from swelancer.benchmark.user_tool import STAMP, Collected, collect_traces
from swelancer.sandbox.docker import DockerSandbox, remove_containers

pytestmark = pytest.mark.docker

RSS_LIMIT_MB = 200
FILES = 1_200_000
LOG_BYTES = 2_000_000_000


def python_block(code: str) -> str:
    return f"```python\n{code}\n```"


def app_hook(body: str) -> str:
    """Source appended to the demo app's package: runs `body` whenever the app is imported
    (by the hidden test the user tool runs), never breaking the import."""
    return (
        f"\n\ntry:\n    exec(compile({body!r}, '<planted>', 'exec'), {{'__name__': 'p'}})\n"
        "except BaseException:\n    pass\n"
    )


ODD_FOLDERS = r"""
import os
top = b"/app/expensify/user_tool/"
os.makedirs(top, exist_ok=True)
for name in (b"output_a\nb", b"output_\xff\xfe", b"output_" + b"y" * 240, b"output_ok"):
    os.makedirs(top + name, exist_ok=True)
    with open(top + name + b"/trace.trace", "w") as f:
        f.write("{}\n")
os.symlink("/", top + b"output_link")
os.mkfifo(top + b"output_fifo")
deep = top + b"output_deep"
for _ in range(300):
    deep += b"/d"
os.makedirs(deep)
many = top + b"output_many"
os.makedirs(many)
for n in range(120_000):
    open(many + b"/f%06d" % n, "w").close()
"""

INSTALL = (
    "import pathlib\ninit = pathlib.Path('expenses/__init__.py')\n"
    f"init.write_text(init.read_text() + {app_hook(ODD_FOLDERS)!r})\n"
    "exec(" + repr(ODD_FOLDERS) + ")\nprint('odd folders made')\n"
)

MANY_FILES = f"""
import os
os.makedirs("/tmp/many")
for i in range({FILES}):
    if i % 60000 == 0:  # ext4 takes 65,000 links of one file
        src = f"/tmp/many/f{{i}}"
        open(src, "w").close()
    os.link(src, f"/tmp/many/l{{i:07d}}")
print("files made")
"""


def run_harness(tmp_path: Path, run_id: str, replies: list[str], *args: str):
    """`swelancer run` on the demo split as a process: (exit code, stderr, the harness's own
    peak RSS in MB)."""
    script = tmp_path / f"{run_id}.json"
    script.write_text(json.dumps(replies))
    command = [
        sys.executable, "-m", "swelancer", "run", "--split", "demo", "--model",
        f"mock/scripted:{script}", "--results-dir", str(tmp_path / "results"), "--run-id", run_id,
        "--quiet", "--test-runs", "1", *args,
    ]  # fmt: skip
    with (tmp_path / f"{run_id}.err").open("wb") as err:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 1500
    peak_kb = 0
    while True:
        peak_kb = max(peak_kb, own_peak_rss_kb(proc.pid))
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGTERM)
            deadline += 60
        time.sleep(0.25)
    stderr = (tmp_path / f"{run_id}.err").read_text(errors="replace")
    return os.waitstatus_to_exitcode(status), stderr, peak_kb / 1024


def records(tmp_path: Path, run_id: str) -> list[dict]:
    path = tmp_path / "results" / run_id / "attempts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_odd_names_left_by_the_agent_are_not_reported_and_the_run_finishes(
    demo_image, docker_client, docker_run_id, tmp_path
):
    """Trace folders named with a newline, with bytes that are not UTF-8, 247 bytes long, 300
    deep, holding 120,000 files, a link to / and a FIFO: made by the agent in its container and
    by its app while the user tool runs. The app runs apart from the judge, so none reaches the
    judge's trace folder: the reply names only the one trace the judge's browser wrote. The
    folders left for grading cost the agent the attempt, recorded once; the run, and its resume,
    finish."""
    run_id = f"{docker_run_id}-odd"
    replies = [python_block(INSTALL), "A user, please.\n<user-tool>", "DONE"]
    try:
        code, stderr, _ = run_harness(tmp_path, run_id, replies, "--task", "101")
        assert code == 0 and "Traceback" not in stderr, stderr[-3000:]
        (record,) = records(tmp_path, run_id)
        assert record["status"] == "failed" and record["error"] is None, record
        transcript = tmp_path / "results" / run_id / "attempts" / "101" / "1" / "transcript.jsonl"
        told = [json.loads(line) for line in transcript.read_text().splitlines()]
        said = next(e["output"] for e in told if e.get("kind") == "user_tool")
        named = re.findall(r"user_tool/(output_[^/\s]*)/", said)
        assert len(named) == 1 and re.fullmatch(r"output_[0-9a-f]{32}", named[0]), said
        assert "output_ok" not in said, said
        again, stderr, _ = run_harness(tmp_path, run_id, replies, "--task", "101")
        assert again == 0 and "Traceback" not in stderr, stderr[-3000:]
        assert len(records(tmp_path, run_id)) == 1
    finally:
        remove_containers(docker_client, run_id)


def test_odd_trace_folder_names_are_left_out_and_said(demo_image, docker_run_id, tmp_path):
    """The judge's trace folder read with odd names in it (should anything ever write them
    there): only the plain one is copied, the others are counted in the note, and the copy is
    not fooled by a link, a FIFO, a deep tree or a hundred thousand files."""
    labels = {"swelancer.run_id": docker_run_id}
    with DockerSandbox.start(demo_image, labels=labels, command=["sleep infinity"]) as box:
        assert box.exec(["touch", f"{STAMP}.start"], timeout=60).ok
        time.sleep(1.1)  # the folders are newer than the stamp, whatever the clock's grain
        made = box.exec(["python3", "-c", ODD_FOLDERS], timeout=600)
        assert made.ok, made.output[-2000:]
        got = Collected()
        collect_traces(box, "/app/expensify", got, tmp_path / "traces")
    # a link and a FIFO are not folders; a newline, bytes not UTF-8, 247 bytes: not plain
    assert got.names == ["output_deep", "output_many", "output_ok"], got
    assert got.notes.startswith("3 trace folders past the first"), got.notes
    assert "names are not plain" in got.notes, got.notes
    assert (tmp_path / "traces" / "output_ok" / "trace.trace").read_text() == "{}\n"
    assert "output_deep/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d" in got.notes
    assert "output_many: more than 100,000 entries: the rest was left out" in got.notes


def test_a_million_files_cost_the_harness_little_and_are_the_agents_failure(
    demo_image, docker_client, docker_run_id, tmp_path
):
    """1.2 million files outside the repository (hard links: quick to make): the harness's
    peak memory stays under 200 MB and the attempt is the agent's failure, too many changes
    to list, recorded once."""
    run_id = f"{docker_run_id}-many"
    try:
        code, stderr, rss_mb = run_harness(
            tmp_path, run_id, [python_block(MANY_FILES), "DONE"], "--task", "101",
            "--command-timeout", "1200",
        )  # fmt: skip
        assert code == 0 and "Traceback" not in stderr, stderr[-3000:]
        (record,) = records(tmp_path, run_id)
        assert record["status"] == "failed" and record["error"] is None, record
        assert "too many changes" in (record["reason"] or ""), record
        assert 0 < rss_mb < RSS_LIMIT_MB, f"the harness held {rss_mb:.0f} MB; {stderr[-200:]}"
    finally:
        remove_containers(docker_client, run_id)


def test_gigabytes_on_a_containers_stdout_leave_a_few_mb_on_this_host(demo_image, docker_run_id):
    """2 GB written to the container's main output: the engine keeps at most two files of
    2 MB of it, and the harness's copy (`sandbox.log`) is cut at its cap."""
    labels = {"swelancer.run_id": docker_run_id}
    with DockerSandbox.start(demo_image, labels=labels, command=["sleep infinity"]) as box:
        write = f"yes $(head -c 4000 /dev/zero | tr '\\0' x) | head -c {LOG_BYTES} > /proc/1/fd/1"
        assert box.exec(["sh", "-c", write], timeout=900).ok
        log_path = Path(box.client.api.inspect_container(box.id)["LogPath"])
        logs = [p for p in log_path.parent.iterdir() if p.name.startswith(log_path.name)]
        held = sum(p.stat().st_size for p in logs)
        assert logs and held <= 5_000_000, [(p.name, p.stat().st_size) for p in logs]
        assert len(box.logs().encode()) <= box.max_output_bytes + 1000
