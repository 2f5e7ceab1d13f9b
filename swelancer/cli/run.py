"""`swelancer run`: parsing only; the options become a RunConfig (see `swelancer.config`)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from swelancer.cli.common import say
from swelancer.cli.tasks import (
    LimitOpt,
    ManifestOpt,
    SplitOpt,
    TaskOpt,
    VariantOpt,
)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt()


Opt = typer.Option

# Each option of `run` and where it goes in RunConfig (section, key). Defaults live in the
# config's models: an option that is not given leaves the file's (or the model's) value.
ROUTES: dict[str, tuple[str, str]] = {
    "model": ("agent", "model"),
    "agent": ("agent", "mode"),
    "base_url": ("agent", "base_url"),
    "temperature": ("agent", "temperature"),
    "reasoning_effort": ("agent", "reasoning_effort"),
    "max_output_tokens": ("agent", "max_output_tokens"),
    "prompts": ("agent", "prompts"),
    "prompt_template": ("agent", "prompt_template"),
    "prices": ("agent", "prices_file"),
    "max_unreachable_seconds": ("agent", "max_unreachable_s"),
    "split": ("selection", "split"),
    "manifest": ("selection", "manifest"),
    "variant": ("selection", "variant"),
    "task": ("selection", "task_ids"),
    "limit": ("selection", "limit"),
    "skip_broken": ("selection", "skip_broken"),
    "run_id": ("run", "run_id"),
    "results_dir": ("run", "results_dir"),
    "tries": ("run", "tries"),
    "concurrency": ("run", "concurrency"),
    "max_retries": ("run", "max_retries"),
    "executor": ("run", "executor"),
    "ray_address": ("run", "ray_address"),
    "max_turns": ("limits", "max_turns"),
    "command_timeout": ("limits", "command_timeout_s"),
    "max_agent_seconds": ("limits", "max_agent_seconds"),
    "max_cost_usd": ("limits", "max_cost_usd"),
    "max_run_cost_usd": ("limits", "max_run_cost_usd"),
    "image": ("sandbox", "image"),
    "image_prefix": ("sandbox", "image_prefix"),
    "image_tag": ("sandbox", "image_tag"),
    "per_task_images": ("sandbox", "per_task_images"),
    "allow_image_change": ("sandbox", "allow_image_change"),
    "setup_timeout": ("sandbox", "setup_timeout_s"),
    "memory": ("sandbox", "memory"),
    "cpus": ("sandbox", "cpus"),
    "pids_limit": ("sandbox", "pids_limit"),
    "disk": ("sandbox", "disk"),
    "snapshots": ("sandbox", "snapshots"),
    "snapshot_budget": ("sandbox", "snapshot_budget"),
    "keep_snapshots": ("sandbox", "keep_snapshots"),
    "grade_in": ("grading", "grade_in"),
    "test_runs": ("grading", "test_runs"),
    "test_timeout": ("grading", "test_timeout_s"),
    "user_tool_in": ("grading", "user_tool_in"),
    "user_tool_timeout": ("grading", "user_tool_timeout_s"),
}


def flag_names() -> dict[tuple[str, str], str]:
    """(section, key) → the flags that set it, as `--concurrency/-j`."""
    import typing

    hints = typing.get_type_hints(run, include_extras=True)
    names = {}
    for option, where in ROUTES.items():
        decls = [
            d
            for m in getattr(hints[option], "__metadata__", ())
            for d in (getattr(m, "default", None), *(getattr(m, "param_decls", ()) or ()))
            if isinstance(d, str)
        ]
        names[where] = "/".join(d for d in decls if d.startswith("-")) or option
    return names


def overrides(options: dict) -> dict[str, dict]:
    """The options given (not None, not an empty list), by config section."""
    found: dict[str, dict] = {}
    for name, (section, key) in ROUTES.items():
        value = options.get(name)
        if value is not None and value != []:
            found.setdefault(section, {})[key] = value
    return found


def run(
    model: Annotated[
        str | None,
        Opt(
            "--model",
            help="gpt-4o, o3-mini, openai/NAME, claude-…, anthropic/NAME, openrouter/NAME; "
            "or mock/oracle (gold answers), mock/noop (nothing), mock/first (manager: "
            "proposal 0), mock/scripted:PATH (replay a JSON list of replies).",
        ),
    ] = None,
    config_file: Annotated[
        Path | None, Opt("--config", help="A TOML file of settings; options override it.")
    ] = None,
    print_config: Annotated[
        bool, Opt("--print-config", help="Print the resolved settings as TOML and exit.")
    ] = False,
    split: SplitOpt = None,
    manifest: ManifestOpt = None,
    variant: VariantOpt = None,
    task: TaskOpt = None,
    limit: LimitOpt = None,
    skip_broken: Annotated[
        bool | None, Opt("--skip-broken", help="Leave out tasks known to be broken upstream.")
    ] = None,
    tries: Annotated[int | None, Opt("--tries", "-k", help="Attempts per task (1).")] = None,
    concurrency: Annotated[
        int | None,
        Opt("--concurrency", "-j", help="Attempts at once (with --executor ray: on the cluster)."),
    ] = None,
    executor: Annotated[
        str | None,
        Opt(
            "--executor",
            help="local (default): attempts in threads on this machine's Docker engine; ray: "
            "each attempt a Ray task on a node with the docker_slots resource (needs "
            "`pip install 'swelancer[ray]'`, the run's images on every such node, and the "
            "same swelancer there; see docs/SCALING.md).",
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        Opt(
            "--ray-address",
            help="The Ray cluster for --executor ray: HEAD:6379, or auto (default) for the "
            "cluster this machine joined with `ray start`.",
        ),
    ] = None,
    run_id: Annotated[
        str | None, Opt("--run-id", help="Name of the run; an existing one resumes.")
    ] = None,
    results_dir: Annotated[
        Path | None, Opt("--results-dir", help="Where run directories live (results).")
    ] = None,
    image: Annotated[str | None, Opt("--image", help="Run every task in this image.")] = None,
    per_task_images: Annotated[
        bool | None, Opt("--per-task-images", help="Upstream IC tasks in their own images.")
    ] = None,
    allow_image_change: Annotated[
        bool | None,
        Opt(
            "--allow-image-change",
            help="Resume even though an image's name now gives another image than the run "
            "started from (run.json and each record say which one every attempt ran).",
        ),
    ] = None,
    image_prefix: Annotated[
        str | None,
        Opt(
            "--image-prefix",
            help="Upstream images are PREFIX_monolith:TAG and PREFIX_<task id>:TAG "
            "(swelancer/swelancer_x86; e.g. your registry's copy).",
        ),
    ] = None,
    image_tag: Annotated[str | None, Opt("--image-tag", help="Their tag (releasev1).")] = None,
    test_runs: Annotated[
        int | None, Opt("--test-runs", help="Runs of a hidden test before it counts failed (3).")
    ] = None,
    max_retries: Annotated[
        int | None, Opt("--max-retries", help="Retries of an attempt hit by infra faults (2).")
    ] = None,
    setup_timeout: Annotated[
        float | None, Opt("--setup-timeout", help="Seconds allowed for task setup (2400).")
    ] = None,
    test_timeout: Annotated[
        float | None, Opt("--test-timeout", help="Seconds per hidden test run (1800).")
    ] = None,
    user_tool_timeout: Annotated[
        float | None, Opt("--user-tool-timeout", help="Seconds per user-tool call (300).")
    ] = None,
    agent: Annotated[
        str | None,
        Opt(
            "--agent",
            help="upstream (default): one python block per turn, as in the paper (comparable "
            "numbers); tools: native tool calling (bash, python, user_tool, finish); "
            "claude-code: the Claude Code CLI inside the task container, its model calls "
            "through the run's model gateway on this host; codex: the Codex CLI, the same way; "
            "mini-swe-agent: mini-swe-agent on a Python of its own (openai/NAME or "
            "anthropic/NAME models).",
        ),
    ] = None,
    base_url: Annotated[
        str | None, Opt("--base-url", help="An OpenAI-compatible server (vLLM, a gateway).")
    ] = None,
    temperature: Annotated[float | None, Opt("--temperature")] = None,
    reasoning_effort: Annotated[
        str | None, Opt("--reasoning-effort", help="low, medium or high.")
    ] = None,
    max_output_tokens: Annotated[int | None, Opt("--max-output-tokens")] = None,
    max_unreachable_seconds: Annotated[
        float | None,
        Opt(
            "--max-unreachable-seconds",
            help="Seconds the model endpoint may refuse connections or not answer, in a row, "
            "before the run stops (120); it resumes when run again.",
        ),
    ] = None,
    max_turns: Annotated[
        int | None, Opt("--max-turns", help="Model turns per attempt (40).")
    ] = None,
    command_timeout: Annotated[
        float | None, Opt("--command-timeout", help="Seconds one command may run (300).")
    ] = None,
    max_agent_seconds: Annotated[
        float | None, Opt("--max-agent-seconds", help="Agent time per attempt.")
    ] = None,
    max_cost_usd: Annotated[
        float | None, Opt("--max-cost-usd", help="API dollars per attempt.")
    ] = None,
    max_run_cost_usd: Annotated[
        float | None, Opt("--max-run-cost-usd", help="API dollars for the run; then it stops.")
    ] = None,
    prompts: Annotated[
        str | None,
        Opt(
            "--prompts",
            help="upstream: upstream's own prompts, read from its pinned files (default of "
            "--agent upstream); swelancer: this project's wording (default of --agent tools); "
            "or a folder holding copies of upstream's files (prompts.py, solver.py, "
            "swelancer_agent.py). SWELANCER_PROMPTS may name such a folder or a mirror URL.",
        ),
    ] = None,
    prompt_template: Annotated[
        Path | None,
        Opt("--prompt-template", help="A string.Template file replacing our own wording."),
    ] = None,
    grade_in: Annotated[
        str | None,
        Opt(
            "--grade-in",
            help="same (default): grade in the container the agent used (upstream's way); "
            "fresh: apply the agent's patch in a new container, so tampering with the "
            "environment cannot pass a test.",
        ),
    ] = None,
    user_tool_in: Annotated[
        str | None,
        Opt(
            "--user-tool-in",
            help="fresh (default): run the user tool in a new container holding the agent's "
            "patch, and hand back only the trace; same: in the agent's container (upstream's "
            "way), after stopping the processes the agent left running.",
        ),
    ] = None,
    snapshots: Annotated[
        bool | None,
        Opt(
            "--snapshots/--no-snapshots",
            help="Set each IC task up once and start its later containers from a snapshot "
            "(default on).",
        ),
    ] = None,
    snapshot_budget: Annotated[
        str | None,
        Opt("--snapshot-budget", help="Disk snapshots may take (50g; a quarter of free disk)."),
    ] = None,
    keep_snapshots: Annotated[
        bool | None, Opt("--keep-snapshots", help="Keep the run's snapshots for later runs.")
    ] = None,
    disk: Annotated[
        str | None,
        Opt("--disk", help="Cap of each container's disk (20g; none), where Docker allows."),
    ] = None,
    memory: Annotated[
        str | None,
        Opt(
            "--memory",
            help="Memory per container (8g, 512m), none, or auto (default): 8g on the demo "
            "image, none on upstream images (as upstream).",
        ),
    ] = None,
    cpus: Annotated[float | None, Opt("--cpus", help="CPUs per container (no limit).")] = None,
    pids_limit: Annotated[
        int | None, Opt("--pids-limit", help="Processes per container (4096); 0 for no limit.")
    ] = None,
    quiet: Annotated[
        bool, Opt("--quiet", "-q", help="Plain log lines instead of a live display.")
    ] = False,
    prices: Annotated[
        Path | None,
        Opt("--prices", help="TOML of USD per million tokens, over the built-in table."),
    ] = None,
) -> None:
    """Run an agent on tasks in Docker, grade every attempt and record it.

    Examples:

      swelancer run --split demo --model mock/oracle

      swelancer run --split diamond --variant swe_manager --model mock/first -j 4

      swelancer run --split demo --model mock/noop --run-id try1   # run again to resume

      swelancer run --config run.toml --print-config   # the settings a run would use

      swelancer run --split diamond --model gpt-4o -j 16 --executor ray --ray-address HEAD:6379
    """
    from swelancer import config as settings
    from swelancer.cli.tasks import check_query
    from swelancer.run.progress import make_progress

    given = overrides(locals())
    config = settings.load(config_file, given, flag_names())
    check_query(config.selection)
    if print_config:
        typer.echo(settings.to_toml(config), nl=False)
        return
    from swelancer.ops.build_log import build_progress
    from swelancer.run.runner import Runner

    # Ctrl-C and SIGTERM stop the run cleanly, even when the shell started us with SIGINT
    # ignored (as it does for background jobs).
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    runner = Runner(
        config,
        say=say,
        make_progress=lambda log: make_progress(quiet=quiet, log_path=log),
        make_build=lambda log: build_progress(log, say, quiet=quiet),
    )
    try:
        summary = runner.run()
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    from swelancer.format import money

    say(
        f"done: {summary.passed} passed, {summary.failed} failed, {summary.errors} errors; "
        f"earned {money(summary.earned_usd)} of {money(summary.attempted_usd)} attempted this "
        f"session. See `swelancer report {summary.path}`."
    )


def register(app: typer.Typer) -> None:
    app.command("run")(run)
