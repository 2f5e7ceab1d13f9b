"""The user tool with the judge apart: the app (the agent's current change) is served from an app
container that holds no test (a fresh one holding its patch, or with `--user-tool-in same` the
agent's own once its processes are stopped), the traced test runs in a judge container sharing
only its network, and what comes back into the agent's container is the session's trace (the
judge's `user_tool/output_*` folders), bounded and scrubbed. Nothing the app starts survives
the call: a fresh app container is removed, the agent's own has every process the app started
killed."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from swelancer.benchmark.judged import AppUnplaced, Pair, run_split
from swelancer.benchmark.patch import PatchTooLarge, PatchUnreadable, apply_patch
from swelancer.benchmark.scrub import needles
from swelancer.benchmark.shell import TESTS_DIR
from swelancer.benchmark.user_tool import (
    STAMP,
    USER_TOOL_DIR,
    Collected,
    call_dir_for,
    collect_traces,
    reply_for,
)
from swelancer.benchmark.user_tool_reply import UserToolReply
from swelancer.errors import InfraError
from swelancer.run.judge import playbook_parts, remove_judge, start_judge
from swelancer.run.state import TryState, save_logs
from swelancer.sandbox.base import Sandbox
from swelancer.tasks.models import IcTask

STOPPED = "(Processes you had left running were stopped before the user came.)"


def call(state: TryState, task: IcTask) -> UserToolReply:
    """The user tool for the agent; a fault the agent caused (e.g. a folder too deep for the
    engine to list) is told to the model, one of the engine is raised."""
    limit = state.settings.grading.user_tool_timeout_s
    try:
        return user_tool(state, task)
    except InfraError as exc:
        assert state.sandbox is not None
        if not state.sandbox.alive():  # raises when the engine itself does not answer
            raise
        state.check_outside(str(exc))  # a container of the call stopped from outside
        state.log.event("user_tool_fault", message=str(exc))
        return UserToolReply(f"The user tool could not run: {exc}", "not_run", limit)


def user_tool(state: TryState, task: IcTask) -> UserToolReply:
    """One call of the user tool; what the model reads back."""
    assert state.sandbox is not None and state.hidden is not None
    timeout = state.settings.grading.user_tool_timeout_s
    same = state.settings.grading.user_tool_in == "same"
    app_keep: set[int] | None
    if same:
        state.stop_agent_processes()
        app, app_keep = state.sandbox, state.keep
    else:
        try:
            patch = state.patch()
        except (PatchTooLarge, PatchUnreadable) as exc:
            return UserToolReply(
                f"The user tool could not start: your changes cannot be read ({exc}).",
                "not_run",
                timeout,
            )
        app = state.fresh("user-tool")
        app_keep = state.keeps.get(app.name)
    try:
        if not same:
            problem = apply_patch(app, task.cwd, patch)
            if problem is not None:
                return UserToolReply(
                    "The user tool could not start: your changes do not apply to a fresh copy "
                    f"of the repository ({problem[:500]}).",
                    "not_run",
                    timeout,
                )
        got, call_dir = _traced_run(state, task, app, app_keep, timeout)
    finally:
        if same:  # nothing the app started outlives the call, nor its logs folder
            with contextlib.suppress(InfraError):
                app.kill_processes_except(state.keep)
                app.exec(["rm", "-rf", TESTS_DIR], timeout=120)
        else:
            save_logs(app, state.folder / "user-tool-sandbox.log")
            app.remove()
    for name in got.names:
        where = f"{task.cwd}/{USER_TOOL_DIR}/{name}"
        if same:
            state.sandbox.exec(["rm", "-rf", where], timeout=120)
        state.sandbox.copy_in(call_dir / name, where)
    reply = reply_for(task, got, timeout)
    return UserToolReply(reply.text, reply.outcome, timeout, note=STOPPED if same else "")


def _traced_run(
    state: TryState, task: IcTask, app: Sandbox, app_keep: set[int] | None, timeout: float
) -> tuple[Collected, Path]:
    """The traced test against `app`, in a judge container of its own; its trace folders,
    copied to the host and scrubbed."""
    hidden = state.hidden
    assert hidden is not None
    call_dir = call_dir_for(state.folder)

    def start() -> tuple[Sandbox, set[int]]:
        judge, keep = start_judge(state, task, app, role="user-tool-judge")
        judge.exec(["touch", f"{STAMP}.start"], timeout=60)
        return judge, keep

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="swelancer-judge") as pool:
        starting = pool.submit(start)  # while the app's part builds
        try:
            pair = Pair(app, app_keep, starting)
            try:
                result = run_split(pair, task, playbook_parts(state), timeout, trace=True)
                log, timed_out = result.log, result.timed_out
            except AppUnplaced:
                log, timed_out = "", False
            got = Collected(timed_out=timed_out, marks=needles(hidden, (log,)))
            collect_traces(pair.judge, task.cwd, got, call_dir)
        finally:
            remove_judge(state, starting, "user-tool")
    return got, call_dir
