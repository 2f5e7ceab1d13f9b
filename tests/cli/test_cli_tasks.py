"""The `tasks` commands as a user runs them: real process, real files."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import pytest
from upstream_data import CURRENT, LITE, need

from swelancer.format import money


def swelancer(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swelancer", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_stats_json_of_the_current_manifest():
    result = swelancer("tasks", "stats", "--manifest", str(need(CURRENT)), "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["total"] == {"tasks": 463, "usd": 453_800}
    assert figures["ic_swe"] == {"tasks": 198, "usd": 189_300}
    assert figures["swe_manager"] == {"tasks": 265, "usd": 264_500}
    assert figures["source"]["sha256"].startswith("b91d9931")
    assert sum(b["tasks"] for b in figures["by_price_bucket"].values()) == 463


def test_stats_table_of_the_lite_manifest():
    result = swelancer("tasks", "stats", "--manifest", str(need(LITE)))
    assert result.returncode == 0, result.stderr
    assert "$175,000" in result.stdout and "$202,000" in result.stdout
    assert "$377,000" in result.stdout and "28ca406a" in result.stdout


def test_list_marks_broken_tasks_and_show_hides_the_answer():
    listed = swelancer("tasks", "list", "--manifest", str(CURRENT), "--variant", "ic_swe", "--json")
    rows = json.loads(listed.stdout)
    assert len(rows) == 198
    assert {r["task_id"] for r in rows if r["broken"]} == {"29854_602", "49523_849", "32236_652"}
    shown = swelancer("tasks", "show", "15193-manager-0", "--manifest", str(CURRENT))
    assert shown.returncode == 0
    assert "proposal 0" in shown.stdout and "correct proposal" not in shown.stdout
    answered = swelancer("tasks", "show", "15193-manager-0", "--manifest", str(CURRENT), "--answer")
    assert "correct proposal: 4" in answered.stdout


def test_bad_manifest_exits_2_with_one_paragraph_and_no_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    with need(CURRENT).open(newline="", encoding="utf-8") as src:
        rows = list(csv.reader(src))[:4]
    rows[3][rows[0].index("price")] = "free"
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    result = swelancer("tasks", "list", "--manifest", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    flat = " ".join(result.stderr.split())
    assert "row 4" in flat and "'price'" in flat and str(path) in flat
    assert result.stderr.strip().count("\n\n") == 0, "one paragraph"


def test_unknown_task_and_missing_file_exit_2():
    unknown = swelancer("tasks", "show", "999999", "--manifest", str(LITE))
    assert unknown.returncode == 2 and "999999" in unknown.stderr
    missing = swelancer("tasks", "list", "--manifest", "/nonexistent/tasks.csv")
    assert missing.returncode == 2 and "/nonexistent/tasks.csv" in missing.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr


def test_help_imports_no_sdk():
    code = (
        "import sys; sys.argv = ['swelancer', '--help']\n"
        "from swelancer.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('openai', 'anthropic', 'docker', 'httpx') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().endswith("[]"), result.stdout + result.stderr
    assert "tasks" in result.stdout


def _table_rows(stdout: str) -> list[list[str]]:
    """The body rows of a rich table, each a list of its cells."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in plain.splitlines()
        if line.startswith("│")
    ]


@pytest.mark.parametrize(
    "env",
    [{"COLUMNS": "80", "FORCE_COLOR": "1"}, {}, {"COLUMNS": "40"}],
    ids=["terminal-80-columns", "piped", "piped-40-columns"],
)
def test_list_never_elides_id_variant_or_price_the_title_gives_way(env):
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    args = ("tasks", "list", "--manifest", str(need(CURRENT)))
    listed = swelancer(*args, env={**base, **env})
    assert listed.returncode == 0, listed.stderr
    if "FORCE_COLOR" in env:
        assert "\x1b[" in listed.stdout, "rich took the pipe for a terminal"
    expected = json.loads(swelancer(*args, "--json").stdout)
    rows = _table_rows(listed.stdout)
    assert [r[:4] for r in rows] == [
        [t["task_id"], t["variant"], money(t["price_usd"]), t["split"]] for t in expected
    ]
    assert not any("…" in cell for row in rows for cell in row[:4])
    assert any(row[4].endswith("…") for row in rows), "long titles are cut"
    lines = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout).splitlines()
    width = max(len(line) for line in lines if line[:1] in "┏┃┡│└")
    assert width == 80 if env.get("COLUMNS") != "40" else width > 40  # wider than 40: not cut
    broken = [row[4] for row in rows if row[0] == "29854_602"]
    assert broken and broken[0].endswith("[broken upstream]")
