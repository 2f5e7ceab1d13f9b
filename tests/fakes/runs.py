"""Run directories as the runner leaves them (run.json, attempts.jsonl, per-attempt files), and
the CLI run in-process: shared by the report, comparison, view and safety tests."""

from __future__ import annotations

from pathlib import Path

from swelancer.cli import main
from swelancer.records import AttemptError, AttemptRecord, Tokens
from swelancer.run.results import RunDir, Transcript

LONG_OUTPUT = "\n".join(f"line {i} of the build log" for i in range(1, 201))

TAMPERING = "the verdict file was written by the agent's code, not by pytest"
"""What a `tampered` attempt's record says showed it (a tampered attempt is recorded failed)."""

# (task_id, variant, price, statuses of its attempts: passed, failed, error or tampered)
TASKS = [
    ("100_1", "ic_swe", 100.0, ["passed", "failed"]),
    ("200_2", "ic_swe", 250.0, ["failed", "failed"]),
    ("300_3", "ic_swe", 1000.0, ["passed", "passed"]),
    ("400_4", "ic_swe", 2000.0, ["error", "error"]),
    ("500_5", "ic_swe", 4000.0, ["failed", "error"]),
    ("600-manager-0", "swe_manager", 500.0, ["passed", "passed"]),
    ("700-manager-0", "swe_manager", 1500.0, ["failed", "passed"]),
    ("800-manager-0", "swe_manager", 8000.0, ["failed", "failed"]),
]


def write_transcript(folder: Path, task_id: str, variant: str, status: str, price: float) -> None:
    log = Transcript(folder / "transcript.jsonl")
    log.event("sandbox", name=f"swelancer-{task_id}", image="swelancer/demo:latest")
    log.event("prompt", role="user", content=f"You are working on task {task_id}.\nFix it.")
    log.event(
        "model",
        turn=1,
        content="Let me look at the code.",
        tool_calls=[{"id": "c1", "name": "bash", "arguments": {"command": "cat src/app.js"}}],
        usage={"input_tokens": 1200, "output_tokens": 80, "cached_input_tokens": 0},
        cost_usd=0.0123,
        retries=0,
        seconds=1.5,
        finish_reason="tool_calls",
    )
    log.event(
        "command",
        command="cat src/app.js",
        output=LONG_OUTPUT,
        exit_code=0,
        timed_out=False,
        truncated=False,
        seconds=0.2,
    )
    if variant == "ic_swe":
        log.event("user_tool", output="The user tool finished. Step 1: open the form.", seconds=9)
    else:
        log.event("decision", selected_proposal_id=2)
    log.event("agent_done", stop_reason="done", turns=1)
    if status == "tampered":
        log.event("tampering", note=TAMPERING)
        status = "failed"
    if status != "error":
        log.event("verdict", status=status, earned_usd=price if status == "passed" else 0.0)
    log.close()
    if variant == "ic_swe" and status != "error":
        run = folder / "grading" / task_id / "run-1"
        run.mkdir(parents=True)
        (run / "pytest.log").write_text(
            f"test_{task_id} {'PASSED' if status == 'passed' else 'FAILED'}\n"
        )
        (run / "exit_code").write_text("0\n" if status == "passed" else "1\n")
        (folder / "patch.diff").write_text("--- a/src/app.js\n+++ b/src/app.js\n@@\n-bug\n+fix\n")
    elif variant == "swe_manager":
        (folder / "grading").mkdir()
        (folder / "grading" / "decision.json").write_text('{"selected_proposal_id": 2}')


def make_run(
    root: Path,
    run_id: str = "run-a",
    tasks: list = TASKS,
    *,
    model: str = "test/model",
    status: str = "complete",
    cost: float | None = 0.05,
    skipped: list[str] | None = None,
) -> Path:
    """A run directory as the runner leaves it: run.json, attempts.jsonl, per-attempt files."""
    rd = RunDir(root / run_id)
    rd.create()
    tries = max(len(t[3]) for t in tasks)
    rd.write_run(
        {
            "run_id": run_id,
            "model": model,
            "config": {"tries": tries},
            "status": status,
            "skipped_broken": skipped or [],
            "manifest": {
                "kind": "demo",
                "split": "demo",
                "path": "tasks/demo",
                "sha256": "ab" * 32,
            },
            "started_at": "2026-01-02T03:04:05+00:00",
            "finished_at": "2026-01-02T04:05:06+00:00",
        }
    )
    for task_id, variant, price, statuses in tasks:
        for n, status_n in enumerate(statuses, start=1):
            folder = rd.fresh_attempt_dir(task_id, n)
            write_transcript(folder, task_id, variant, status_n, price)
            score = 1.0 if status_n == "passed" else 0.0
            tampering = TAMPERING if status_n == "tampered" else None
            rd.append(
                AttemptRecord(
                    run_id=run_id,
                    task_id=task_id,
                    variant=variant,
                    attempt=n,
                    status="failed" if tampering else status_n,
                    score=score,
                    price_usd=price,
                    earned_usd=price * score,
                    model=model,
                    turns=1,
                    tokens=Tokens(input=1200, output=80),
                    cost_usd=cost,
                    selected_proposal=2 if variant == "swe_manager" else None,
                    correct_proposal=(2 if status_n == "passed" else 1)
                    if variant == "swe_manager"
                    else None,
                    error=AttemptError(kind="grader", message=f"test of {task_id} exited 4")
                    if status_n == "error"
                    else None,
                    tampering=tampering,
                    reason=f"tampering: {tampering}" if tampering else None,
                    started_at="2026-01-02T03:04:05+00:00",
                    finished_at="2026-01-02T03:09:05+00:00",
                )
            )
    return rd.path


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


# -- attempts in fake sandboxes (tests.fakes.sandbox) ----------------------------------------


def attempt_settings(
    model: str = "mock/oracle",
    image: str = "fake/swelancer:latest",
    *,
    run_id: str = "fake-run",
    setup_timeout_s: float = 60.0,
    **grading,
):
    """AttemptSettings for an attempt in a fake sandbox; `grading` sets GradingSection fields."""
    from swelancer.config import GradingSection, SandboxSection
    from swelancer.run.attempt import AttemptSettings

    return AttemptSettings(
        run_id=run_id,
        model=model,
        image=image,
        sandbox=SandboxSection(setup_timeout_s=setup_timeout_s),
        grading=GradingSection(**grading),
    )


def acting_agent(act, name: str = "test/acting"):
    """An agent whose whole turn is `act(task, env)` (writing files, starting processes, …)
    on the sandbox the attempt gives it; it reports one turn."""
    from types import SimpleNamespace

    from swelancer.agents.base import AgentOutcome

    def solve(task, env, limits, log):
        act(task, env)
        log.event("note", text=f"{name} acted")
        return AgentOutcome(turns=1)

    return SimpleNamespace(name=name, solve=solve, close=lambda: None)


def fake_attempt(provider, root: Path, task, agent, *, attempt: int = 1, controls=None,
                 stop=None, on_phase=None, snapshots=None, **settings):  # fmt: skip
    """Run one attempt of `task` in `provider`'s sandboxes; (its folder, its record)."""
    from swelancer.run.attempt import run_try

    folder = root / f"{task.task_id}-{attempt}-{len(list(root.iterdir()))}"
    folder.mkdir()
    settings.setdefault("model", agent.name)
    record = run_try(
        task,
        attempt,
        attempt_settings(**settings),
        agent,
        folder,
        provider=provider,
        controls=controls,
        stop=stop,
        on_phase=on_phase,
        snapshots=snapshots,
    )
    return folder, record
