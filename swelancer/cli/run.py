"""`swelancer run`, `report`, `images` and `cleanup`: parsing only."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from swelancer.cli.tasks import (
    LimitOpt,
    ManifestOpt,
    SkipBrokenOpt,
    SplitOpt,
    TaskOpt,
    VariantOpt,
    query_from,
)

ResultsOpt = Annotated[Path, typer.Option("--results-dir", help="Where run directories live.")]


def _validation_text(exc) -> str:
    """pydantic's complaints about a run's settings as one line per setting."""
    return "; ".join(
        f"{'.'.join(str(x) for x in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt()


def _say(line: str) -> None:
    from swelancer.textsafe import clean

    print(clean(line), file=sys.stderr, flush=True)


def run(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="gpt-4o, o3-mini, openai/NAME, claude-…, anthropic/NAME, openrouter/NAME; "
            "or mock/oracle (gold answers), mock/noop (nothing), mock/first (manager: "
            "proposal 0), mock/scripted:PATH (replay a JSON list of replies).",
        ),
    ],
    split: SplitOpt = None,
    manifest: ManifestOpt = None,
    variant: VariantOpt = None,
    task: TaskOpt = None,
    limit: LimitOpt = None,
    skip_broken: SkipBrokenOpt = False,
    tries: Annotated[int, typer.Option("--tries", "-k", help="Attempts per task.")] = 1,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-j", help="Attempts at once.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Name of the run; an existing one resumes.")
    ] = None,
    results_dir: ResultsOpt = Path("results"),
    image: Annotated[
        str | None, typer.Option("--image", help="Run every task in this image instead.")
    ] = None,
    per_task_images: Annotated[
        bool,
        typer.Option("--per-task-images", help="Upstream IC tasks in their own images."),
    ] = False,
    image_prefix: Annotated[
        str,
        typer.Option(
            "--image-prefix",
            help="Upstream images are PREFIX_monolith:TAG and PREFIX_<task id>:TAG (e.g. your "
            "registry's copy).",
        ),
    ] = "swelancer/swelancer_x86",
    image_tag: Annotated[str, typer.Option("--image-tag", help="Tag of upstream images.")] = (
        "releasev1"
    ),
    test_runs: Annotated[
        int, typer.Option("--test-runs", help="Runs of a hidden test before it counts failed.")
    ] = 3,
    max_retries: Annotated[
        int, typer.Option("--max-retries", help="Retries of an attempt hit by infra faults.")
    ] = 2,
    setup_timeout: Annotated[
        float, typer.Option("--setup-timeout", help="Seconds allowed for task setup.")
    ] = 2400.0,
    test_timeout: Annotated[
        float, typer.Option("--test-timeout", help="Seconds allowed for one hidden test run.")
    ] = 1800.0,
    user_tool_timeout: Annotated[
        float,
        typer.Option("--user-tool-timeout", help="Seconds per user-tool call (upstream: 300)."),
    ] = 300.0,
    agent: Annotated[
        str,
        typer.Option(
            "--agent",
            help="upstream: one python block per turn, as in the paper (comparable numbers); "
            "tools: native tool calling (bash, python, user_tool, finish).",
        ),
    ] = "upstream",
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="An OpenAI-compatible server (vLLM, a gateway)."),
    ] = None,
    temperature: Annotated[float | None, typer.Option("--temperature")] = None,
    reasoning_effort: Annotated[
        str | None, typer.Option("--reasoning-effort", help="low, medium or high.")
    ] = None,
    max_output_tokens: Annotated[int | None, typer.Option("--max-output-tokens")] = None,
    max_turns: Annotated[int, typer.Option("--max-turns", help="Model turns per attempt.")] = 40,
    command_timeout: Annotated[
        float, typer.Option("--command-timeout", help="Seconds one command may run.")
    ] = 300.0,
    max_agent_seconds: Annotated[
        float | None, typer.Option("--max-agent-seconds", help="Agent time per attempt.")
    ] = None,
    max_cost_usd: Annotated[
        float | None, typer.Option("--max-cost-usd", help="API dollars per attempt.")
    ] = None,
    max_run_cost_usd: Annotated[
        float | None,
        typer.Option("--max-run-cost-usd", help="API dollars for the run; then it stops."),
    ] = None,
    prompt_template: Annotated[
        Path | None,
        typer.Option("--prompt-template", help="A string.Template file replacing our prompt."),
    ] = None,
    grade_in: Annotated[
        str,
        typer.Option(
            "--grade-in",
            help="same: grade in the container the agent used (upstream's way); fresh: apply "
            "the agent's patch in a new container set up from scratch, so tampering with the "
            "environment cannot pass a test.",
        ),
    ] = "same",
    user_tool_in: Annotated[
        str,
        typer.Option(
            "--user-tool-in",
            help="fresh: run the user tool in a new container holding the agent's patch, and "
            "hand back only the trace; same: in the agent's container (upstream's way), after "
            "stopping the processes the agent left running.",
        ),
    ] = "fresh",
    disk: Annotated[
        str | None,
        typer.Option("--disk", help="Cap of each container's disk (50g), where Docker allows."),
    ] = None,
    memory: Annotated[
        str,
        typer.Option(
            "--memory",
            help="Memory limit per container (8g, 512m); 'none' for no limit; 'auto': 8g on the "
            "demo image, none on upstream images (as upstream).",
        ),
    ] = "auto",
    cpus: Annotated[
        float | None, typer.Option("--cpus", help="CPUs per container (default: no limit).")
    ] = None,
    pids_limit: Annotated[
        int, typer.Option("--pids-limit", help="Processes per container; 0 for no limit.")
    ] = 4096,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Plain log lines instead of a live display.")
    ] = False,
    prices: Annotated[
        Path | None,
        typer.Option("--prices", help="TOML of USD per million tokens, over the built-in table."),
    ] = None,
) -> None:
    """Run an agent on tasks in Docker, grade every attempt and record it.

    Examples:

      swelancer run --split demo --model mock/oracle

      swelancer run --split diamond --variant swe_manager --model mock/first -j 4

      swelancer run --split demo --model mock/noop --run-id try1   # run again to resume
    """
    from pydantic import ValidationError

    from swelancer.agents.base import Limits
    from swelancer.config import RunConfig, default_concurrency
    from swelancer.errors import ConfigError
    from swelancer.run.progress import make_progress

    if agent not in ("upstream", "tools"):
        raise ConfigError(f"unknown --agent {agent!r}; choose upstream or tools.")
    for flag, value in (("--grade-in", grade_in), ("--user-tool-in", user_tool_in)):
        if value not in ("same", "fresh"):
            raise ConfigError(f"unknown {flag} {value!r}; choose same or fresh.")
    from swelancer.run.runner import Runner

    try:
        config = RunConfig(
            model=model,
            query=query_from(split, manifest, variant, task, limit, skip_broken),
            run_id=run_id,
            results_dir=results_dir,
            tries=tries,
            concurrency=concurrency or default_concurrency(),
            image=image,
            per_task_images=per_task_images,
            image_prefix=image_prefix,
            image_tag=image_tag,
            test_runs=test_runs,
            max_retries=max_retries,
            setup_timeout_s=setup_timeout,
            test_timeout_s=test_timeout,
            user_tool_timeout_s=user_tool_timeout,
            agent=agent,
            base_url=base_url,
            temperature=temperature,
            reasoning_effort=reasoning_effort,
            max_output_tokens=max_output_tokens,
            limits=Limits(
                max_turns=max_turns,
                command_timeout_s=command_timeout,
                max_agent_seconds=max_agent_seconds,
                max_cost_usd=max_cost_usd,
            ),
            prompt_template=prompt_template,
            prices_file=prices,
            max_run_cost_usd=max_run_cost_usd,
            grade_in=grade_in,
            user_tool_in=user_tool_in,
            disk=disk,
            memory=None if memory.lower() in ("none", "0", "") else memory,
            cpus=cpus,
            pids_limit=pids_limit or None,
        )
    except ValidationError as exc:
        raise ConfigError(_validation_text(exc)) from None
    # Ctrl-C and SIGTERM stop the run cleanly, even when the shell started us with SIGINT
    # ignored (as it does for background jobs).
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    runner = Runner(
        config, say=_say, make_progress=lambda log: make_progress(quiet=quiet, log_path=log)
    )
    try:
        summary = runner.run()
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    from swelancer.format import money

    _say(
        f"done: {summary.passed} passed, {summary.failed} failed, {summary.errors} errors; "
        f"earned {money(summary.earned_usd)} of {money(summary.attempted_usd)} attempted this "
        f"session. See `swelancer report {summary.path}`."
    )


def cleanup(
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Only containers of this run.")
    ] = None,
    results_dir: ResultsOpt = Path("results"),
) -> None:
    """Remove every container the harness left behind (found by label). A run that is still
    going (its directory is locked) is left alone."""
    from swelancer.errors import SwelancerError
    from swelancer.run.results import RunDir
    from swelancer.sandbox.docker import docker_client, remove_containers

    if run_id is not None and (results_dir / run_id).is_dir():
        try:
            RunDir(results_dir / run_id).lock().release()
        except SwelancerError as exc:
            raise SwelancerError(f"{exc} Its containers were left alone.") from None
    removed = remove_containers(docker_client(), run_id=run_id)
    _say(f"removed {len(removed)} container(s)")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("cleanup")(cleanup)
