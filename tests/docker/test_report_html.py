"""The HTML report in a real headless browser: the charts draw, the script runs under the page's
Content-Security-Policy, and what a model wrote never runs.

No Docker engine is needed; the test lives here because it needs an outside program, Chromium
(`apt-get install chromium`). Without it the test skips, or fails when CI is set.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from fakes.runs import make_run

from swelancer.report.html import write_run_html
from swelancer.report.metrics import compute
from swelancer.run.results import RunDir, Transcript
from swelancer.tasks.models import PRICE_BUCKETS


def browse(chromium: str, page: Path, profile: Path, *extra: str) -> str:
    """Open a page in headless Chromium and return its DOM after the scripts ran."""
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def report(tmp_path):
    run = make_run(tmp_path / "results")
    folder = RunDir(run).attempt_dir("100_1", 1)
    log = Transcript(folder / "transcript.jsonl")
    log.event("model", turn=2, content="<script>document.title = 'pwned'</script>")
    log.event("command", command="echo hi", output='<img src=x onerror="document.title=1">')
    log.close()
    target = tmp_path / "share" / "report.html"
    write_run_html(compute(run), run, target)
    return run, target


def test_the_charts_draw_and_the_script_runs(chromium, report, tmp_path):
    run, target = report
    dom = browse(chromium, target, tmp_path / "profile", "--dump-dom")
    figures = compute(run)
    assert 'data-ready="yes"' in dom, "the inline script ran (its CSP hash matches)"
    assert re.search(r'id="shown"[^>]*>8 of 8 tasks<', dom)
    assert len(re.findall(r'<rect class="bar earned" data-group="', dom)) == 3 + len(PRICE_BUCKETS)
    assert len(re.findall(r'<rect class="bar available" data-group="', dom)) == 3 + len(
        PRICE_BUCKETS
    )
    drawn = re.search(r'<path class="cumulative earned" d="([^"]+)" data-value="([^"]+)"', dom)
    assert drawn and float(drawn.group(2)) == pytest.approx(figures.earned_usd, abs=0.01)
    graded = sum(t.pass_at_1 is not None for t in figures.per_task)
    assert drawn.group(1).count("L") == graded, "one point per graded task"
    assert len(re.findall(r'<tr id="task-', dom)) == len(figures.per_task)
    for key in ("cost_usd", "turns", "seconds", "why"):  # each task's row, as drawn
        assert len(re.findall(rf'<td[^>]*data-key="{key}"', dom)) == len(figures.per_task)


def test_a_transcript_page_shows_model_output_as_text(chromium, report, tmp_path):
    _, target = report
    page = target.parent / "report_files" / "100_1" / "1.html"
    dom = browse(chromium, page, tmp_path / "profile", "--dump-dom")
    assert "<title>100_1 · attempt 1 · swelancer</title>" in dom
    assert "&lt;script&gt;document.title = 'pwned'&lt;/script&gt;" in dom
    assert "<img" not in dom
    assert 'class="fold"' in dom and "170 lines folded" in dom
    assert '<pre class="output diff"><span class="dh">--- a/src/app.js</span>' in dom
    assert '<span class="dd">-bug</span>\n<span class="da">+fix</span>' in dom


def test_a_screenshot_is_drawn(chromium, report, tmp_path):
    _, target = report
    shot = tmp_path / "report.png"
    browse(
        chromium,
        target,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,2400",
        "--hide-scrollbars",
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2400)
    assert len(data) > 50_000, "a page with charts and tables, not a blank one"


def test_a_tampered_attempt_is_drawn_flagged(chromium, tmp_path):
    run = make_run(
        tmp_path / "results", "run-t", [("1_1", "ic_swe", 500.0, ["tampered", "passed"])]
    )
    target = tmp_path / "share" / "report.html"
    write_run_html(compute(run), run, target)
    dom = browse(chromium, target, tmp_path / "profile", "--dump-dom")
    assert 'data-ready="yes"' in dom, "the script still runs under the page's policy"
    assert re.search(r'<a class="att failed tampered"[^>]*>1</a>', dom)
    assert '<span class="flag">tampered</span>' in dom and '<table class="tampered">' in dom
