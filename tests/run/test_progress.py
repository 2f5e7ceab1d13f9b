"""Progress renderers driven as the runner drives them: hooks from many threads at once."""

from __future__ import annotations

import io
import re
import threading
import time
from pathlib import Path

from rich.console import Console

from swelancer.records import AttemptRecord
from swelancer.run.progress import PlainProgress, RichProgress, make_progress
from swelancer.run.tally import Tally, finished_line

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def record(
    task_id: str,
    status: str,
    *,
    price: float = 500.0,
    attempt: int = 1,
    cost: float | None = 0.25,
    tokens: tuple[int, int] = (10_000, 2_000),
    seconds: tuple[float, float, float] = (3.0, 20.0, 9.0),
) -> AttemptRecord:
    return AttemptRecord.model_validate(
        {
            "run_id": "run-1",
            "task_id": task_id,
            "variant": "ic_swe",
            "attempt": attempt,
            "status": status,
            "score": 1.0 if status == "passed" else 0.0,
            "price_usd": price,
            "earned_usd": price if status == "passed" else 0.0,
            "model": "gpt-test",
            "turns": 7,
            "tokens": {"input": tokens[0], "output": tokens[1]},
            "cost_usd": cost,
            "seconds": dict(zip(("setup", "agent", "grading"), seconds, strict=True)),
            "error": {"kind": "docker", "message": "engine hiccup"} if status == "error" else None,
            "started_at": "2026-01-01T00:00:00+00:00",
            "finished_at": "2026-01-01T00:00:32+00:00",
        }
    )


# Twelve attempts: (task, status, price). Passed: 5 ($2,750), failed: 5, errors: 2.
PLAN = [
    ("101", "passed", 500.0),
    ("102", "failed", 250.0),
    ("103", "passed", 1000.0),
    ("104", "error", 4000.0),
    ("105", "failed", 300.0),
    ("106", "passed", 250.0),
    ("107", "failed", 750.0),
    ("108", "passed", 500.0),
    ("109", "error", 125.0),
    ("110", "failed", 1000.0),
    ("111", "passed", 500.0),
    ("112", "failed", 2000.0),
]
EARNED = sum(p for _, s, p in PLAN if s == "passed")  # 2,750
ATTEMPTED = sum(p for _, s, p in PLAN if s != "error")  # 7,050


def drive(sink, plan=PLAN, *, workers: int = 6, hold: tuple[str, ...] = ()) -> threading.Event:
    """Run `plan` through `sink` from `workers` threads, like the runner: phases from the workers,
    `finished` with a running index. Tasks in `hold` stop at `agent turn 7` until the returned
    event is set; this returns once every other attempt has finished."""
    release = threading.Event()
    lock = threading.Lock()
    count = [0]
    queue = list(plan)
    held = threading.Semaphore(0)

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                task_id, status, price = queue.pop(0)
            sink.phase(task_id, 1, "starting")
            sink.phase(task_id, 1, "setup")
            for turn in range(1, 8):
                sink.phase(task_id, 1, f"agent turn {turn}")
            if task_id in hold:
                held.release()
                release.wait(timeout=60)
                continue
            sink.phase(task_id, 1, "grading")
            if status == "error":
                sink.note(f"  {task_id} #1: infrastructure fault (docker); retry 1 of 2")
            with lock:
                count[0] += 1
                sink.finished(record(task_id, status, price=price), 2 + count[0])

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for _ in hold:
        assert held.acquire(timeout=30), "a progress hook blocked"
    deadline = time.monotonic() + 30
    while count[0] < len(plan) - len(hold):
        assert time.monotonic() < deadline, "a progress hook blocked"
        time.sleep(0.01)
    if not hold:
        for thread in threads:
            thread.join(timeout=30)
    return release


def render(progress: RichProgress) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    console.print(progress.renderable())
    return ANSI.sub("", console.file.getvalue())


def test_rich_progress_shows_the_run_figures(tmp_path: Path) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    log = tmp_path / "run-1" / "run.log"
    progress = RichProgress(console, log, refresh_per_second=50)
    progress.start(run_id="run-1", planned=16, done_before=2, to_run=14)
    # Two attempts stay running (14 to run, 12 finish).
    plan = [*PLAN, ("201", "passed", 100.0), ("202", "failed", 100.0)]
    release = drive(progress, plan, workers=6, hold=("201", "202"))
    shown = render(progress)

    assert "run run-1" in shown
    assert "14/16" in shown and "88%" in shown
    assert re.search(r"ETA \d+(s|m\d\ds)", shown), shown
    assert f"earned ${EARNED:,.0f} of ${ATTEMPTED:,.0f} attempted this session" in shown
    assert "passed 5" in shown and "failed 5" in shown and "errors 2" in shown
    assert "tokens 120.0k in / 24.0k out" in shown
    assert "API cost $3.00" in shown
    assert "running (2):" in shown
    running = [line for line in shown.splitlines() if re.match(r"\s+20[12]\s+#1\s", line)]
    assert len(running) == 2 and all("agent turn 7" in line for line in running), shown
    assert all(re.search(r"\d+s\s*$", line) for line in running)

    release.set()
    progress.note("a note above the live area")
    progress.close()
    output = ANSI.sub("", screen.getvalue())
    assert "a note above the live area" in output
    assert "infrastructure fault (docker)" in output
    assert re.search(r"\[\d+/16\] 104 #1: error docker, not scored: engine hiccup", output)
    assert f"earned ${EARNED:,.0f} of ${ATTEMPTED:,.0f}" in output  # the final frame and summary

    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith("run run-1: 16 attempts planned, 2 recorded before, 14 to run")
    finished = [line for line in lines if re.search(r"\[\d+/16\]", line)]
    assert len(finished) == 12
    assert sorted(int(re.search(r"\[(\d+)/16\]", line)[1]) for line in finished) == list(
        range(3, 15)
    )
    assert any("101 #1: passed +$500 (setup 3s, agent 20s, grading 9s" in line for line in lines)
    # Phase changes are logged once per kind: not one line per agent turn.
    assert sum(line.endswith(" 101 #1: agent") for line in lines) == 1
    assert not any("agent turn" in line for line in lines)
    assert lines[-1].split(" ", 2)[2].startswith("stopped: 12 of 14 attempts this session")


def test_unknown_cost_is_shown_as_unknown_never_zero(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    progress = RichProgress(console, tmp_path / "run.log")
    progress.start(run_id="r", planned=2, done_before=0, to_run=2)
    progress.finished(record("1", "passed", cost=0.5), 1)
    progress.finished(record("2", "failed", cost=None), 2)
    shown = render(progress)
    progress.close()
    assert "API cost unknown" in shown and "$0.50" not in shown and "$0.00" not in shown
    log = (tmp_path / "run.log").read_text(encoding="utf-8")
    assert "[2/2] 2 #1: failed ($500) (setup 3s, agent 20s, grading 9s; 7 turns, " in log
    assert "API cost unknown" in log.splitlines()[2]
    assert log.splitlines()[-1].endswith("API cost unknown")

    stream = io.StringIO()
    plain = PlainProgress(stream, tmp_path / "plain.log")
    plain.start(run_id="r", planned=1, done_before=0, to_run=1)
    plain.finished(record("3", "passed", cost=None), 1)
    plain.close()
    assert "API cost unknown" in stream.getvalue() and "$0.00" not in stream.getvalue()


def test_plain_progress_writes_one_line_per_event_and_the_log(tmp_path: Path) -> None:
    stream = io.StringIO()
    log = tmp_path / "run.log"
    progress = PlainProgress(stream, log)
    progress.start(run_id="run-1", planned=14, done_before=2, to_run=12)
    drive(progress, workers=4)
    progress.close()

    shown = stream.getvalue().splitlines()
    stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ "
    assert all(re.match(stamp, line) for line in shown)
    texts = [line.split(" ", 2)[2] for line in shown]
    assert texts[0] == "run run-1: 14 attempts planned, 2 recorded before, 12 to run"
    finished = [t for t in texts if t.startswith("[")]
    assert len(finished) == 12
    assert any(
        re.fullmatch(
            r"\[\d+/14\] 103 #1: passed \+\$1,000 \(setup 3s, agent 20s, grading 9s; 7 turns, "
            r"10\.0k in / 2\.0k out, \$0\.25\)",
            t,
        )
        for t in finished
    ), finished
    assert any(re.fullmatch(r"\[\d+/14\] 102 #1: failed \(\$250\) \(.*\)", t) for t in finished)
    assert sum("error docker, not scored: engine hiccup" in t for t in finished) == 2
    assert sum("infrastructure fault" in t for t in texts) == 2
    assert not any(t.endswith((": setup", ": agent", ": grading")) for t in texts)  # no phases
    assert texts[-1] == (
        "finished: 12 of 12 attempts this session (5 passed, 5 failed, 2 errors); "
        f"earned ${EARNED:,.0f} of ${ATTEMPTED:,.0f} attempted; tokens 120.0k in / 24.0k out; "
        "API cost $3.00"
    )

    logged = log.read_text(encoding="utf-8").splitlines()
    assert [line for line in logged if not re.search(r"#1: (starting|setup|agent|grading)$", line)]
    assert set(shown) <= set(logged)
    for task_id, _, _ in PLAN:
        phases = [line.rsplit(": ", 1)[1] for line in logged if f" {task_id} #1: " in line]
        assert phases[:4] == ["starting", "setup", "agent", "grading"]


def test_plain_progress_can_show_phases(tmp_path: Path) -> None:
    stream = io.StringIO()
    progress = PlainProgress(stream, tmp_path / "run.log", phases=True)
    progress.start(run_id="r", planned=1, done_before=0, to_run=1)
    for phase in ("setup", "agent turn 1", "agent turn 2", "grading"):
        progress.phase("7", 1, phase)
    progress.finished(record("7", "passed"), 1)
    progress.close()
    texts = [line.split(" ", 2)[2] for line in stream.getvalue().splitlines()]
    assert texts[1:4] == ["7 #1: setup", "7 #1: agent", "7 #1: grading"]


def test_eta_comes_from_finished_durations_and_parallelism() -> None:
    tally = Tally()
    tally.begin("r", planned=10, done_before=0, to_run=10)
    assert tally.eta_seconds() is None
    tally.enter("a", 1, "setup")
    tally.enter("b", 1, "setup")  # two at once
    tally.add(record("a", "passed", seconds=(10, 15, 5)), 1)
    tally.add(record("b", "failed", seconds=(10, 15, 5)), 2)
    assert tally.eta_seconds() == 8 * 30 / 2
    assert finished_line(record("a", "passed"), 1, 10).startswith("[1/10] a #1: passed +$500 (")


def test_log_lines_written_before_the_path_is_known_are_kept(tmp_path: Path) -> None:
    progress = PlainProgress(io.StringIO(), None)
    progress.note("checking images")
    progress.attach_log(tmp_path / "later" / "run.log")
    progress.note("started")
    progress.close()
    logged = (tmp_path / "later" / "run.log").read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 2)[2] for line in logged][:2] == ["checking images", "started"]


def test_make_progress_picks_rich_only_on_a_terminal(tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    log = tmp_path / "run.log"
    assert isinstance(make_progress(quiet=False, log_path=log, stream=Terminal()), RichProgress)
    assert isinstance(make_progress(quiet=True, log_path=log, stream=Terminal()), PlainProgress)
    assert isinstance(make_progress(quiet=False, log_path=log, stream=io.StringIO()), PlainProgress)


def test_rich_display_survives_heavy_concurrent_use(tmp_path: Path) -> None:
    """A fast refresh thread and notes from workers at once: no deadlock, every figure adds up."""
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    progress = RichProgress(console, tmp_path / "run.log", refresh_per_second=200)
    progress.start(run_id="r", planned=400, done_before=0, to_run=400)
    lock = threading.Lock()
    count = [0]

    def work(worker: int) -> None:
        for i in range(50):
            task_id = f"{worker}-{i}"
            for phase in ("setup", "agent turn 1", "agent turn 2", "grading"):
                progress.phase(task_id, 1, phase)
            progress.note(f"note {task_id}")
            with lock:
                count[0] += 1
                progress.finished(record(task_id, "passed", price=1.0), count[0])

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "deadlock between hooks and the refresh thread"
    shown = render(progress)
    progress.close()
    assert "400/400" in shown and "earned $400 of $400 attempted" in shown
    assert "passed 400" in shown and "running" not in shown
