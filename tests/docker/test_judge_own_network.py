"""The judge's services and names are its own: on the contract image (upstream's run.sh and
run_tests.yml, verbatim), an agent fixes its task (91342, the gold fix) and its app, whenever
the toolchain imports it (the build and the dev server), takes every port the judge's side
uses (mitmdump's 8080, pusher-fake's 57003/57004, nginx's 80/443, x11vnc's 5900, websockify's
5901) wherever they are free, answers garbage on them, and points the names the test's
traffic uses (`dev.new.expensify.com`, `ws-mt1.pusher.com`, `localhost`) at an address
that goes nowhere in its `/etc/hosts`.

With one network namespace for both (and so one /etc/hosts) the judge's browser went through
the app's "proxy" and its mitmdump resolved the dev server to nowhere: the fix failed. In a
namespace of its own the judge's mitmdump has its own 8080, its names resolve in its own
/etc/hosts, and it reaches the app's 8082 alone: the fix earns its price.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from contract.build import IMAGE_PREFIX, IMAGE_TAG, MANIFEST

pytestmark = pytest.mark.docker

SQUAT = r"""
import os, socket
PORTS = (8080, 57003, 57004, 80, 443, 5900, 5901)
if os.path.exists("/tmp/.squatted"):  # the dev server's import: say it in its log
    print(open("/tmp/.squatted").read(), flush=True)
else:
    open("/tmp/.squatted", "w").write("")
    held = []
    for port in PORTS:
        try:
            server = socket.create_server(("0.0.0.0", port))
        except OSError:
            continue  # a service of the app's own container holds it already
        held.append((port, server))
    hosts = open("/etc/hosts").read()
    open("/etc/hosts", "w").write(
        "10.255.255.1 dev.new.expensify.com ws-mt1.pusher.com localhost\n" + hosts
    )
    said = f"SQUATTED {[p for p, _ in held]}"
    open("/tmp/.squatted", "w").write(said)
    print(said, flush=True)
    if held and os.fork() == 0:
        os.setsid()
        if os.fork() == 0:  # holds no output of the build's open
            quiet = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(quiet, fd)
            import selectors
            picker = selectors.DefaultSelector()
            for _, server in held:
                picker.register(server, selectors.EVENT_READ)
            while True:
                for key, _ in picker.select():
                    conn, _ = key.fileobj.accept()
                    try:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsquat!\n")
                    finally:
                        conn.close()
        os._exit(0)
"""

AGENT = r"""
import json, pathlib
PARAMS = json.loads(PARAMS_JSON)
currency = pathlib.Path("/app/expensify/src/libs/CurrencyUtils.py")
text = currency.read_text()
assert "{minor}\"" in text, "the bug is where the task says"
currency.write_text(text.replace("{minor}\"", "{minor:02d}\""))
entry = pathlib.Path("/app/expensify/src/index.py")
entry.write_text(entry.read_text() + "\ntry:\n    exec(compile(" + repr(PARAMS["hook"])
                 + ", '<planted>', 'exec'), {'__name__': 'planted'})\nexcept OSError:\n    pass\n")
print("fixed and planted")
"""


def test_the_app_squatting_the_judges_ports_and_names_changes_no_verdict(
    contract_images, tmp_path: Path
):
    code = AGENT.replace("PARAMS_JSON", repr(json.dumps({"hook": SQUAT})))
    script = tmp_path / "script.json"
    script.write_text(json.dumps([f"```python\n{code}\n```", "DONE"]))
    run_id = "own-network"
    done = subprocess.run(
        [sys.executable, "-m", "swelancer", "run", "--manifest", str(MANIFEST),
         "--model", f"mock/scripted:{script}", "--image-prefix", IMAGE_PREFIX,
         "--image-tag", IMAGE_TAG, "--per-task-images", "--task", "91342", "--grade-in", "same",
         "--test-runs", "1", "--results-dir", str(tmp_path), "--run-id", run_id, "--quiet"],
        capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = (tmp_path / run_id / "attempts.jsonl").read_text().splitlines()
    record = json.loads(line)
    run1 = tmp_path / run_id / "attempts/91342/1/grading/91342/run-1"
    served = (run1 / "app.log").read_text()
    assert "SQUATTED [8080" in served, served[-3000:]  # the app did take mitmdump's port
    assert (record["status"], record["earned_usd"], record["error"]) == ("passed", 1000, None), (
        record,
        (run1 / "pytest.log").read_text()[-3000:],
    )
    assert record["test_exit_codes"] == {"91342": [0]} and record["tampering"] is None
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=swelancer.run_id={run_id}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    volumes = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"label=swelancer.run_id={run_id}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert (left, volumes) == ([], [])
