"""Schedule the attempts of a run: a worker pool, retries of infrastructure faults, resume."""

from __future__ import annotations

import contextlib
import platform
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from pydantic import BaseModel

from swelancer import __version__
from swelancer.agents.base import Agent
from swelancer.agents.installed import mounts_for, record_for
from swelancer.agents.loop import RunBudget
from swelancer.agents.prompts import PromptSet
from swelancer.config import RunConfig, new_run_id
from swelancer.errors import ConfigError, SwelancerError
from swelancer.models.retry import resume_waiting, stop_waiting
from swelancer.ops.build_log import BUILD_LOG, BuildProgress
from swelancer.ops.images import DEMO_IMAGE, image_for
from swelancer.records import AttemptRecord, utc_now
from swelancer.run.agent import agent_prompts, make_agent
from swelancer.run.attempt import AttemptSettings, ControlGrades, Interrupted
from swelancer.run.executors import Executor, make_site
from swelancer.run.image_pins import check_resume as check_images_resume
from swelancer.run.image_pins import pins_for
from swelancer.run.job import AttemptJob, Workbench
from swelancer.run.progress import PlainProgress, ProgressSink
from swelancer.run.results import RunDir
from swelancer.sandbox.base import SandboxProvider, SnapshotStore
from swelancer.tasks.catalog import TaskSet, load_tasks
from swelancer.tasks.models import IcTask, ManagerTask

Say = Callable[[str], None]


class RunSummary(BaseModel):
    run_id: str
    path: str
    planned: int
    done_before: int
    recorded: int
    passed: int
    failed: int
    errors: int
    earned_usd: float
    attempted_usd: float


def plan(task_set: TaskSet, tries: int, done: set[tuple[str, int]]):
    """Every (task, attempt number) not yet recorded, in manifest order."""
    return [
        (task, n)
        for task in task_set.tasks
        for n in range(1, tries + 1)
        if (task.task_id, n) not in done
    ]


def _run_metadata(
    config, run_dir, task_set, images, provider, existing, executor_facts, prompts
) -> dict:
    meta = dict(existing or {})
    meta.setdefault("run_id", run_dir.run_id)
    meta.setdefault("created_at", utc_now())
    meta.update(
        {
            "model": config.model,
            "config": config.model_dump(mode="json"),
            "manifest": task_set.source.model_dump(),
            "prompts": prompts.record if prompts is not None else None,
            "installed_agent": record_for(config.agent.mode),
            "tasks": len(task_set.tasks),
            "skipped_broken": task_set.skipped_broken,
            "images": images,
            "grade_in": config.grading.grade_in,
            "executor": executor_facts,
            "versions": {
                "swelancer": __version__,
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "engine": provider.facts(),
            },
            "status": "running",
            "started_at": utc_now(),
        }
    )
    return meta


def _check_resume(existing: dict | None, config: RunConfig, task_set: TaskSet, prompts) -> None:
    if not existing:
        return
    if existing.get("model") != config.model:
        raise ConfigError(
            f"run {config.run_id} was made with model {existing.get('model')!r}, not "
            f"{config.model!r}; resume with the same model or choose another --run-id."
        )
    old_sha = (existing.get("manifest") or {}).get("sha256")
    if old_sha and old_sha != task_set.source.sha256:
        raise ConfigError(
            f"run {config.run_id} was made from a manifest with sha256 {old_sha[:12]}…, but this "
            f"one has {task_set.source.sha256[:12]}…; results would mix task versions. Use "
            "another --run-id."
        )
    before, now = existing.get("prompts"), prompts.record if prompts is not None else None
    if "prompts" in existing and _words(before) != _words(now):
        said = (before or {}).get("kind", "no"), (now or {}).get("kind", "no")
        raise ConfigError(
            f"run {config.run_id} was made with other prompts ({said[0]}) than these "
            f"({said[1]}); results would mix what the model was told. Resume with the same "
            "--prompts, --agent and --prompt-template, or use another --run-id."
        )


def _words(record: dict | None) -> tuple:
    """What a run.json prompts record says the model read: kind, price, files' checksums."""
    record = record or {}
    files = sorted(str(f.get("sha256")) for f in (record.get("files") or {}).values())
    return record.get("kind"), record.get("price"), record.get("sha256"), tuple(files)


class Runner:
    """Runs a RunConfig to completion (or interruption), appending each attempt as it finishes."""

    def __init__(
        self,
        config: RunConfig,
        say: Say = print,
        make_progress: Callable[[Path], ProgressSink] | None = None,
        provider: SandboxProvider | None = None,
        make_build: Callable[[Path], BuildProgress] | None = None,
    ) -> None:
        from swelancer.sandbox.factory import docker_provider

        self.config = config
        self.provider: SandboxProvider = provider or docker_provider()
        self.say = say
        self.stop = threading.Event()
        self.budget = RunBudget(config.limits.max_run_cost_usd)
        self.controls = ControlGrades()
        self.snapshots: SnapshotStore | None = None
        self._make_progress = make_progress or (lambda log_path: PlainProgress(log_path=log_path))
        self.progress: ProgressSink | None = None
        self._make_build = make_build or (lambda log_path: BuildProgress(log_path, say))
        self.site = make_site(config, say)
        self.prompts: PromptSet | None = None
        self.pins: dict[str, str] = {}
        """Image name → the id every container of the run starts from (see `image_pins`)."""

    @property
    def run_id(self) -> str:
        """The run's id, fixed by `run()` before anything starts. Never None: a run's
        containers are found by it, and no id would mean every run's."""
        run_id = self.config.run.run_id
        if not run_id:
            raise SwelancerError("the run has no id yet: Runner.run() sets it before it starts")
        return run_id

    def prepare(self, build_log: Path):
        """Everything that can fail before a container starts: tasks, agent, engine, images.
        An image built here keeps its output in `build_log` (the screen shows its progress)."""
        task_set = load_tasks(self.config.selection)
        if not task_set.tasks:
            raise ConfigError("no task matches the selection; see `swelancer tasks list`.")
        self.prompts = agent_prompts(self.config.agent, task_set.price_style)
        agent = make_agent(
            self.config.agent, self.config.limits, self.budget, self.prompts, check_endpoint=True
        )
        images = {t.task_id: self._image(t) for t in task_set.tasks}
        with self._make_build(build_log) as build:
            # a cluster's nodes build their own images; what is said here is about them
            on_line = build.line if self.site.name == "local" else self._indented
            ids = self.site.prepare_images(
                self.provider,
                list(images.values()),
                build_demo=self.config.sandbox.build_missing_demo_image,
                on_line=on_line,
            )
        return task_set, agent, images, ids

    def _indented(self, line: str) -> None:
        self.say(f"  {line}")

    def _image(self, task: IcTask | ManagerTask) -> str:
        config = self.config
        return image_for(
            task,
            override=config.sandbox.image,
            per_task=config.sandbox.per_task_images,
            prefix=config.sandbox.image_prefix,
            tag=config.sandbox.image_tag,
        )

    def run(self) -> RunSummary:
        config = self.config
        resume_waiting()
        config.run.run_id = config.run.run_id or new_run_id(config.model)
        run_dir = RunDir(Path(config.run.results_dir) / self.run_id)
        task_set, agent, images, ids = self.prepare(run_dir.path / BUILD_LOG)
        try:
            with run_dir.lock():  # one process per run directory, for the whole run
                return self._run_locked(run_dir, task_set, agent, images, ids)
        finally:
            agent.close()  # its model gateway's connections, once no attempt runs

    def _run_locked(self, run_dir: RunDir, task_set, agent, images, ids) -> RunSummary:
        config = self.config
        existing = run_dir.read_run()
        _check_resume(existing, config, task_set, self.prompts)
        allow = config.sandbox.allow_image_change
        image_changes = check_images_resume(existing, ids, self.run_id, allow)
        self.pins = pins_for(self.site.name, ids)
        run_dir.create()
        facts = self.site.facts()
        meta = _run_metadata(
            config, run_dir, task_set, ids, self.provider, existing, facts, self.prompts
        )
        if image_changes:
            meta["image_changes"] = image_changes
        if config.sandbox.snapshots and self.site.name == "local":
            self.snapshots = self.provider.snapshot_store(
                self.run_id, config.sandbox.snapshot_budget, config.sandbox.keep_snapshots
            )
        run_dir.write_run(meta)

        earlier = run_dir.records()
        done = {(r.task_id, r.attempt) for r in earlier}
        self.budget.add(sum(r.cost_usd or 0.0 for r in earlier))  # the limit is the run's
        todo = plan(task_set, config.run.tries, done)
        planned = len(task_set.tasks) * config.run.tries
        self.say(
            f"run {config.run_id}: {len(task_set.tasks)} tasks × {config.run.tries} tries with "
            f"{config.model}; {len(done)} already recorded, {len(todo)} to run "
            f"({config.run.concurrency} at a time) → {run_dir.path}"
        )
        if DEMO_IMAGE in images.values():
            self.say(f"image {DEMO_IMAGE} ({ids.get(DEMO_IMAGE, '')[:19]})")

        recorded: list[AttemptRecord] = []
        self.progress = progress = self._make_progress(run_dir.path / "run.log")
        progress.start(run_id=self.run_id, planned=planned, done_before=len(done), to_run=len(todo))
        try:
            self._run_pool(todo, agent, run_dir, images, recorded, progress, len(done))
        except BaseException as exc:
            self.stop.set()
            stop_waiting()  # a model call waiting to retry ends now
            progress.close()
            stopped = "interrupted" if isinstance(exc, KeyboardInterrupt) else "stopped"
            meta.update(status=stopped, finished_at=utc_now(), stopped_by=type(exc).__name__)
            with contextlib.suppress(OSError):  # the disk may be what stopped the run
                run_dir.write_run(meta)
            self.say(f"{stopped}: unfinished attempts were abandoned; run again to resume.")
            raise
        finally:
            self._finish_snapshots()
        progress.close()
        everything = run_dir.records()
        meta.update(
            status="complete" if len(everything) >= planned else "incomplete",
            finished_at=utc_now(),
        )
        if self.budget.exhausted:
            meta["stopped_by"] = "max_run_cost_usd"
            self.say(
                f"the run's API cost limit (${config.limits.max_run_cost_usd:,.2f}) was reached; "
                "attempts not started were left for a later resume."
            )
        run_dir.write_run(meta)
        passed = sum(r.status == "passed" for r in recorded)
        errors = sum(r.status == "error" for r in recorded)
        return RunSummary(
            run_id=self.run_id,
            path=str(run_dir.path),
            planned=planned,
            done_before=len(done),
            recorded=len(recorded),
            passed=passed,
            failed=len(recorded) - passed - errors,
            errors=errors,
            earned_usd=sum(r.earned_usd for r in recorded),
            attempted_usd=sum(r.price_usd for r in recorded if r.status != "error"),
        )

    def _run_pool(
        self, todo, agent, run_dir, images, recorded, progress: ProgressSink, done_before: int
    ) -> None:
        if not todo:
            return
        executor = self._executor(agent, run_dir, progress)
        futures: dict[Future, tuple] = {}
        try:
            for task, n in todo:
                futures[executor.submit(self._job(task, n, images[task.task_id]))] = (task, n)
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in finished:
                    try:
                        record = fut.result()
                    except Interrupted:
                        continue
                    except OSError as exc:
                        raise SwelancerError(
                            f"could not write the attempt's files under {run_dir.path} "
                            f"({exc.strerror or exc}). The run stopped; free space and run the "
                            "same command again to resume."
                        ) from None
                    run_dir.append(record)
                    recorded.append(record)
                    progress.finished(record, done_before + len(recorded))
        except BaseException:
            self.stop.set()
            stop_waiting()
            executor.stop()
            for fut in futures:
                fut.cancel()
            self._remove_containers()  # so that running attempts end quickly
            executor.close()
            self._remove_containers()  # and whatever they started while ending
            self._forget_run()
            raise
        executor.close()
        self._remove_containers()  # those an attempt could not remove (the engine restarted)
        self._forget_run()

    def _forget_run(self) -> None:
        """Stop the provider's reading of the run's engine events (its attempts are over)."""
        try:
            self.provider.forget_run(self.run_id)
        except Exception as exc:  # best effort: a daemon thread, ended with the process
            self.say(f"could not stop reading the engine's events ({exc})")

    def _executor(self, agent: Agent, run_dir: RunDir, progress: ProgressSink) -> Executor:
        bench = Workbench(
            agent=agent,
            provider=self.provider,
            stop=self.stop,
            budget=self.budget,
            controls=self.controls,
            snapshots=self.snapshots,
            on_phase=lambda task_id, n, name: progress.phase(task_id, n, name),
            note=lambda line: progress.note(line),
        )
        return self.site.executor(bench, run_dir)

    def _job(self, task: IcTask | ManagerTask, n: int, image: str) -> AttemptJob:
        config = self.config
        settings = AttemptSettings(
            run_id=self.run_id,
            model=config.model,
            image=self.pins.get(image, image),
            image_name=image,
            sandbox=config.sandbox,
            grading=config.grading,
            limits=config.limits,
            run_dir=str((Path(config.run.results_dir) / self.run_id).resolve()),
            mounts=mounts_for(config.agent.mode),
        )
        retries = config.run.max_retries
        return AttemptJob(task=task, attempt=n, settings=settings, max_retries=retries)

    def _finish_snapshots(self) -> None:
        """Remove the snapshots this run made, unless kept (`swelancer cleanup` remains)."""
        if self.snapshots is None:
            return
        for note in self.snapshots.notes:
            self.say(f"snapshots: {note}")
        try:
            self.snapshots.finish()
        except Exception as exc:  # best effort
            self.say(f"could not remove the run's snapshots ({exc}); run `swelancer cleanup`.")

    def _remove_containers(self) -> None:
        """Stop the run's containers at once, so that running attempts end quickly."""
        try:
            self.provider.remove_run(self.run_id)
        except Exception as exc:  # best effort; `swelancer cleanup` remains
            self.say(f"could not remove every container ({exc}); run `swelancer cleanup`.")
