"""The HTML report's task table shows each task's API cost, turns, time and why it did not pass,
as its attempts recorded them; the diffs of its transcript pages are coloured line by line,
from the page's own style, with their text escaped."""

from __future__ import annotations

import html
import re

from fakes.runs import make_run, run_cli

from swelancer.format import api_money, duration
from swelancer.records import AttemptError, AttemptRecord, Phases
from swelancer.report.metrics import compute
from swelancer.run.results import RunDir, Transcript


def _record(task_id: str, attempt: int, status: str, **fields) -> AttemptRecord:
    variant = "swe_manager" if "manager" in task_id else "ic_swe"
    return AttemptRecord(run_id="run-a", task_id=task_id, variant=variant, attempt=attempt,
                         status=status, score=1.0 if status == "passed" else 0.0,
                         price_usd=100.0, earned_usd=100.0 if status == "passed" else 0.0,
                         model="test/model", started_at="t", finished_at="t",
                         **fields)  # fmt: skip


RECORDS = [
    _record("2_2", 1, "failed", turns=7, cost_usd=0.25, stop_reason="max_turns",
            seconds=Phases(setup=10, agent=50, grading=3.5),
            test_exit_codes={"issues/2": [1]}, graded_folder="issues/2"),
    _record("3_3", 1, "error", turns=0, cost_usd=None, seconds=Phases(setup=600),
            error=AttemptError(kind="setup_timeout", message="setup took over 600 s")),
    _record("3_3", 2, "passed", turns=4, cost_usd=0.1, seconds=Phases(setup=5, agent=20)),
    _record("4-manager-0", 1, "failed", turns=2, cost_usd=0.01, seconds=Phases(agent=8),
            selected_proposal=1, correct_proposal=2),
    _record("5_5", 1, "failed", turns=1, cost_usd=0.0, reason="<script>alert(1)</script> odd"),
]  # fmt: skip


def _rows(page: str) -> dict[str, dict[str, tuple[str, str]]]:
    """Each task row of the table: {data-key: (text shown, value sorted by)}."""
    rows = {}
    for task, body in re.findall(r'<tr id="task-[^"]*" data-task="([^"]+)".*?>(.*?)</tr>', page):
        cells = {}
        for key, value, text in re.findall(
            r'<td[^>]*data-key="([^"]+)"(?: data-v="([^"]*)")?[^>]*>(.*?)</td>', body
        ):
            cells[key] = (html.unescape(re.sub(r"<[^>]+>", "", text)), html.unescape(value))
        rows[html.unescape(task)] = cells
    return rows


def test_the_task_table_shows_cost_turns_time_and_why_of_each_attempt(tmp_path, capsys):
    run = make_run(tmp_path, tasks=[("1_1", "ic_swe", 100.0, ["passed"])], cost=0.05)
    for record in RECORDS:
        RunDir(run).append(record)
    code, _, err = run_cli("report", str(run), "-f", "html", capsys=capsys)
    assert code == 0, err
    page = (run / "report.html").read_text()
    for head in ("API cost", "turns", "time", "why not passed"):
        assert f">{head}</th>" in page
    rows = _rows(page)
    report = compute(run)
    assert set(rows) == {t.task_id for t in report.per_task}
    for task in report.per_task:  # each attempt's own figures, in attempt order
        cells = rows[task.task_id]
        attempts = task.attempts
        assert cells["turns"][0] == " · ".join(str(a.turns) for a in attempts)
        assert float(cells["turns"][1]) == sum(a.turns for a in attempts)
        assert cells["cost_usd"][0] == " · ".join(api_money(a.cost_usd) for a in attempts)
        assert cells["seconds"][0] == " · ".join(duration(a.seconds or 0) for a in attempts)
    failed = rows["2_2"]
    assert failed["cost_usd"] == ("$0.2500", "0.25") and failed["seconds"] == ("1m04s", "63.5")
    why = "the hidden tests failed (pytest exit 1); the agent stopped: max_turns"
    assert failed["why"][0] == why
    assert rows["1_1"]["why"][0] == "" and rows["1_1"]["turns"] == ("1", "1")
    retried = rows["3_3"]  # an unknown cost is never summed as $0: it sorts as unknown
    assert retried["cost_usd"] == ("unknown · $0.1000", "") and retried["turns"][0] == "0 · 4"
    assert retried["why"][0] == "#1 setup_timeout: setup took over 600 s"
    assert rows["4-manager-0"]["why"][0] == "selected proposal 1; the manager chose 2"
    assert rows["5_5"]["why"][0] == "<script>alert(1)</script> odd"  # shown as text …
    assert "<script>alert(1)" not in page and page.count("<script>") == 1  # … never run
    tries = {t.task_id: t for t in report.per_task}["3_3"].attempts  # and in the JSON
    assert [a.why for a in tries] == ["setup_timeout: setup took over 600 s", None]
    assert [a.seconds for a in tries] == [600.0, 25.0]


def test_diffs_are_coloured_line_by_line_and_stay_text(tmp_path, capsys):
    run = make_run(tmp_path, tasks=[("1_1", "ic_swe", 100.0, ["failed"])])
    folder = RunDir(run).attempt_dir("1_1", 1)
    (folder / "patch.diff").write_text(
        "diff --git a/src/app.js b/src/app.js\nindex 1..2 100644\n--- a/src/app.js\n"
        "+++ b/src/app.js\n@@ -1,3 +1,3 @@ function main()\n keep\n"
        "--- a line that only looks like a header\n"
        "-</pre><img src=x onerror=alert(1)>\n+<script>alert(2)</script>\n"
    )
    log = Transcript(folder / "transcript.jsonl")
    log.event("command", command="git diff", output=(folder / "patch.diff").read_text())
    log.event("command", command="ls", output="+ not a diff\n- nor this\n@@ nor this")
    log.close()
    code, _, err = run_cli("report", str(run), "-f", "html", capsys=capsys)
    assert code == 0, err
    page = (run / "report_files" / "1_1" / "1.html").read_text()
    for shown in (
        '<span class="dh">diff --git a/src/app.js b/src/app.js</span>',
        '<span class="dh">+++ b/src/app.js</span>',
        '<span class="dk">@@ -1,3 +1,3 @@ function main()</span>\n keep\n',
        '<span class="dd">--- a line that only looks like a header</span>',
        '<span class="dd">-&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;</span>',
        '<span class="da">+&lt;script&gt;alert(2)&lt;/script&gt;</span>',
    ):
        assert page.count(shown) == 2, shown  # the patch, and `git diff`'s output
    assert "+ not a diff\n- nor this" in page  # output that is no diff is left plain
    assert "<img" not in page and "<script" not in page
    assert re.search(r"pre\.diff \.da \{[^}]*color:#", page), "the colours are the page's own"
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<link" not in page
