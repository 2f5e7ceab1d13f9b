"""`inspect view` serves an exported log, and a headless Chromium shows its samples, scores,
errors and the run's dollars.

Inspect's viewer is a script-built page that fetches the log after it loads, so the page is
driven over the Chrome DevTools protocol (aiohttp's websocket client, which inspect-ai brings)
and read once the samples are shown. Without Chromium (`apt-get install chromium`) the test
skips, or fails when CI is set.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.runs import run_cli
from interop_runs import DEMO_TASKS, demo_like_run

from swelancer.report.metrics import compute

pytest.importorskip("inspect_ai")
aiohttp = pytest.importorskip("aiohttp")

WAIT_S = 120
"""How long the page may take to show the log (a bound on a wait, not a speed assertion)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return bytes(answer.read())
    except OSError:
        return None


def _until(probe, what: str):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"{what} did not answer within {WAIT_S} s")


def _started(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def served(tmp_path, capsys) -> Iterator[tuple[Path, str]]:
    run = demo_like_run(tmp_path / "results")
    code, _, err = run_cli("export", str(run), "--format", "inspect", capsys=capsys)
    assert code == 0, err
    port = _free_port()
    inspect = Path(sys.executable).with_name("inspect")
    view = _started(
        [str(inspect), "view", "--log-dir", str(run / "inspect"), "--host", "127.0.0.1",
         "--port", str(port)],
        tmp_path / "view.log",
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        listing = _until(lambda: _get(f"{base}/api/logs"), "inspect view")
        assert "ours.eval" in json.loads(listing)["files"][0]["name"]
        yield run, f"{base}/#/logs/ours.eval"
    finally:
        _stop(view)


async def _page_text(chromium: str, url: str, profile: Path, ready) -> str:
    port = _free_port()
    browser = _started(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--remote-debugging-port={port}", "about:blank"],
        profile.with_suffix(".log"),
    )  # fmt: skip
    try:
        targets = _until(lambda: _get(f"http://127.0.0.1:{port}/json"), "chromium")
        page = next(t for t in json.loads(targets) if t["type"] == "page")
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws,
        ):
            sent = 0

            async def call(method: str, **params):
                nonlocal sent
                sent += 1
                await ws.send_json({"id": sent, "method": method, "params": params})
                while True:
                    message = await ws.receive_json()
                    if message.get("id") == sent:
                        return message["result"]

            await call("Page.navigate", url=url)
            deadline = time.monotonic() + WAIT_S
            text = ""
            while time.monotonic() < deadline:
                got = await call("Runtime.evaluate", expression="document.body.innerText",
                                 returnByValue=True)  # fmt: skip
                text = got["result"].get("value") or ""
                if ready(text):
                    break
                await asyncio.sleep(0.5)
            return text
    finally:
        _stop(browser)


def test_inspect_view_shows_the_exported_run(chromium, served, tmp_path):
    run, url = served
    report = compute(run)

    def ready(text: str) -> bool:
        return "EARNED_USD" in text and "111-manager-0" in text

    text = asyncio.run(_page_text(chromium, url, tmp_path / "profile", ready))
    assert ready(text), text[-2000:]
    lines = text.splitlines()
    earned = lines[next(i for i, line in enumerate(lines) if line.startswith("EARNED_USD")) + 1]
    assert float(earned) == report.earned_usd
    for task_id, *_ in DEMO_TASKS:
        assert task_id in text
    assert "grader: test of 102_1 exited 4" in text, "an error is shown as an error"
    assert f"{len(DEMO_TASKS)} x 2 samples" in text
    assert "swelancer" in text and "test/model" in text
