"""The judge's container: the untouched task (its post-setup snapshot, else the image set up
again), in a network namespace of its own that reaches only the app's declared ports (nothing
else of the app's container), to run the judge's part of the playbook (`benchmark.judged`)
and be removed after."""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor

from swelancer.benchmark import setup
from swelancer.benchmark.app_ports import APP_PORTS
from swelancer.benchmark.grading import IcGrade
from swelancer.benchmark.judged import STOP_TIMEOUT_S, Pair, grade_split
from swelancer.benchmark.playbook_split import SplitPlaybook, split_playbook
from swelancer.benchmark.viewers import stop_viewers
from swelancer.errors import FaultKind, InfraError
from swelancer.run.spec import sandbox_spec
from swelancer.run.state import TryState, save_logs
from swelancer.sandbox.base import Reach, Sandbox
from swelancer.tasks.models import IcTask


def playbook_parts(state: TryState) -> SplitPlaybook:
    """The image's `run_tests.yml` split, read from the harness's copy of the image's tests
    (taken before the agent's turn, never from the agent's container)."""
    assert state.hidden is not None
    if state.playbook is None:
        state.playbook = split_playbook(state.hidden.root / "run_tests.yml")
    return state.playbook


def judge_deadline_s(state: TryState) -> float:
    """How long a judge may need its forwarder at most: its setup, then every test run with
    the app's stop after it (the judge is removed sooner; this bounds a harness that died)."""
    settings = state.settings
    runs = settings.grading.test_runs * (settings.grading.test_timeout_s + STOP_TIMEOUT_S + 300)
    return settings.sandbox.setup_timeout_s + max(runs, settings.grading.user_tool_timeout_s)


def start_judge(
    state: TryState, task: IcTask, app: Sandbox, role: str = "judge"
) -> tuple[Sandbox, set[int]]:
    """A judge container for `app`: from the task's snapshot when there is one (the task as
    setup left it, tests pristine), else the image set up by its own entry point; in a network
    namespace of its own, it reaches the app's declared ports (`benchmark.app_ports`) and
    nothing else of the app's. Once ready, the display's remote viewer is stopped
    (`benchmark.viewers`: the app's pages run in the judge's browser); its processes then are
    returned to keep."""
    settings = state.settings
    spec = sandbox_spec(task, state.attempt, settings, role)
    env = state.envs.get(app.name)
    reach = Reach(of=app.name, ports=APP_PORTS, deadline_s=judge_deadline_s(state))
    spec = spec.model_copy(update={"reach": reach, **({"env": env} if env else {})})
    store = state.snapshots
    snapshot = store.find(settings.image, task.task_id) if store is not None else None
    box = None
    if snapshot is not None:
        try:
            box = state.provider.start(spec.model_copy(update={"image": snapshot}))
        except InfraError as exc:
            if exc.kind != FaultKind.IMAGE_MISSING:
                raise
            state.log.event("snapshot_gone", role=role, name=snapshot)
    if box is None:
        box = state.provider.start(spec)
    state.log.event("sandbox", role=role, name=box.name, image=snapshot or settings.image,
                    reaches=app.name)  # fmt: skip
    try:
        setup.wait_until_ready(box, task, settings.sandbox.setup_timeout_s)
        state.log.event("viewers_stopped", role=role, killed=stop_viewers(box))
        return box, box.process_ids()
    except BaseException:
        save_logs(box, state.folder / f"{role}-sandbox.log")
        box.remove()
        raise


def judged(state: TryState, task: IcTask, app: Sandbox, out: str) -> IcGrade:
    """The hidden test's runs on `app` (the agent's container, or a fresh one holding its
    patch), judged in a container of its own that is removed afterwards."""
    parts = playbook_parts(state)
    app_keep = state.keep if app is state.sandbox else state.keeps.get(app.name)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="swelancer-judge") as pool:
        starting = pool.submit(start_judge, state, task, app)  # while the app's part builds
        try:
            return grade_split(
                Pair(app, app_keep, starting),
                task,
                parts,
                test_runs=state.settings.grading.test_runs,
                timeout_s=state.settings.grading.test_timeout_s,
                out_dir=state.folder / out,
            )
        finally:
            remove_judge(state, starting, out)


def remove_judge(state: TryState, starting: Future, out: str) -> None:
    """Keep the judge's log and remove it, once its start has ended (a start that failed
    was cleaned up by `start_judge`, and raised where the judge was needed)."""
    try:
        judge, _ = starting.result()
    except BaseException:
        return
    save_logs(judge, state.folder / f"{out}-judge-sandbox.log")
    with contextlib.suppress(InfraError):
        judge.remove()
