"""Each variant's rules as one object: an IC SWE task and a SWE Manager task each own their
setup step, the patch's base, the user tool's availability and their verdict. `run/` calls
these through `Rules` and never asks which variant a task is (`rules_for` is the one place
that does)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from swelancer.benchmark import setup
from swelancer.benchmark.manager import DECISION_FILE, KEY, grade_manager
from swelancer.benchmark.patch_base import PatchBase, capture_patch_base
from swelancer.benchmark.user_tool_reply import UserToolReply
from swelancer.errors import FaultKind, InfraError
from swelancer.records import AttemptRecord
from swelancer.sandbox.base import ExecResult, Sandbox
from swelancer.tasks.models import IcTask, ManagerTask, Task

NOT_IC = "The user tool is only available for IC SWE tasks."
Run = Callable[[str, float], ExecResult]
"""A shell command in the agent's container (`AgentEnv.run`)."""
Event = tuple[str, dict[str, object]]
"""A transcript event: its kind and its fields."""


class TryOps(Protocol):
    """What one try offers a variant's rules: the IC grading machinery (judge containers,
    controls) and the attempt's folder. Implemented in `run.attempt`."""

    folder: Path
    user_tool_limit_s: float

    def grade_change(self, task: IcTask, record: AttemptRecord) -> bool:
        """The verdict on the agent's change by the task's hidden tests (fills `record`)."""
        ...

    def user_tool(self, task: IcTask) -> UserToolReply:
        """One call of the user tool on the agent's current change."""
        ...


class Rules(Protocol):
    """A task's variant: what differs between IC and manager tasks, in one place."""

    @property
    def task(self) -> Task: ...

    snapshots: bool
    """Whether the task's setup is worth keeping as a snapshot (IC: yes; a manager task starts
    in seconds, with no setup)."""
    also_delete: tuple[str, ...]
    """Files setup leaves for the harness that go before the agent's turn."""

    offers_user_tool: bool
    """Whether the agent may call the user tool (IC tasks only, as upstream)."""
    chooses_proposal: bool
    """Whether the agent's answer is a proposal's number (manager) rather than a change."""

    def prepare(self, sandbox: Sandbox) -> None:
        """The variant's own setup, before the steps all tasks share."""
        ...

    def upstream_prompt(self, constants: Mapping[str, str], price: str) -> str:
        """What upstream's `construct_task_prompt` gives for a current-schema task."""
        ...

    def proposals(self) -> str:
        """The proposals as the prompt shows them ('' when there are none)."""
        ...

    def details(self, answer: bool) -> list[str]:
        """What `tasks show` prints after the description (with `answer`: the right one)."""
        ...

    def answer(self, sandbox: Sandbox, proposal_id: object) -> Event | None:
        """Write the agent's chosen proposal where the verdict reads it; None (nothing
        written) when the variant is not answered by a proposal."""
        ...

    def give_gold(
        self, sandbox: Sandbox, hidden_tests: Path | None, run: Run, timeout: float
    ) -> Event:
        """The gold answer, given in the agent's container (the oracle agent); an `InfraError`
        (kind `oracle`) when it cannot be."""
        ...

    def patch_base(
        self, sandbox: Sandbox, scratch: Path, start: Sequence[tuple[str, int]]
    ) -> PatchBase | None:
        """The repository as the agent receives it, when the verdict grades a patch."""
        ...

    def user_tool(self, ops: TryOps) -> UserToolReply:
        """The agent's call of the user tool."""
        ...

    def grade(self, sandbox: Sandbox, ops: TryOps, record: AttemptRecord) -> bool:
        """The attempt's verdict after the agent's turn; fills in `record`'s grading fields."""
        ...


class IcRules:
    """An IC SWE task: graded by its hidden end-to-end tests on the agent's patch."""

    snapshots = True
    also_delete: tuple[str, ...] = (setup.BASE_LIST,)
    offers_user_tool = True
    chooses_proposal = False

    def __init__(self, task: IcTask) -> None:
        self._task = task

    @property
    def task(self) -> IcTask:
        return self._task

    def prepare(self, sandbox: Sandbox) -> None:
        return None

    def upstream_prompt(self, constants: Mapping[str, str], price: str) -> str:
        task, c = self._task, constants
        first = c["IC_FIRST_PROMPT"].format(
            title=task.title, html_description=task.description, price=price
        )
        return first + "\n\n" + c["IC_SECOND_PROMPT"] + "\n\n" + c["IC_THIRD_PROMPT"]

    def proposals(self) -> str:
        return ""

    def details(self, answer: bool) -> list[str]:
        return []

    def answer(self, sandbox: Sandbox, proposal_id: object) -> Event | None:
        return None

    def give_gold(
        self, sandbox: Sandbox, hidden_tests: Path | None, run: Run, timeout: float
    ) -> Event:
        """Reverse the patch that set the bug: the folder upstream grades, issues/<id>, holds
        it as `bug_reintroduce.patch`."""
        task = self._task
        if hidden_tests is None:
            raise InfraError("the gold answer needs the host copy of the hidden tests",
                             kind=FaultKind.ORACLE)  # fmt: skip
        patch = hidden_tests / "issues" / task.task_id / "bug_reintroduce.patch"
        if not patch.is_file():
            raise InfraError(f"no bug_reintroduce.patch for {task.task_id}", kind=FaultKind.ORACLE)
        sandbox.write_file("/tmp/gold.patch", patch.read_bytes())
        result = run(
            "{ git apply -R --whitespace=nowarn /tmp/gold.patch || patch -p1 -R -s "
            "< /tmp/gold.patch; }; code=$?; rm -f /tmp/gold.patch; exit $code",
            timeout,
        )
        if not result.ok:
            raise InfraError(
                f"the gold patch of {task.task_id} does not reverse: {result.output[-300:]}",
                kind=FaultKind.ORACLE,
            )
        return "command", {"command": "git apply -R bug_reintroduce.patch",
                           "output": result.output, "exit_code": result.exit_code}  # fmt: skip

    def patch_base(
        self, sandbox: Sandbox, scratch: Path, start: Sequence[tuple[str, int]]
    ) -> PatchBase | None:
        return capture_patch_base(sandbox, self._task.cwd, scratch, start)

    def user_tool(self, ops: TryOps) -> UserToolReply:
        return ops.user_tool(self._task)

    def grade(self, sandbox: Sandbox, ops: TryOps, record: AttemptRecord) -> bool:
        return ops.grade_change(self._task, record)


class ManagerRules:
    """A SWE Manager task: the repository at the fix's parent; graded by the proposal chosen."""

    snapshots = False
    also_delete: tuple[str, ...] = ()
    offers_user_tool = False
    chooses_proposal = True

    def __init__(self, task: ManagerTask) -> None:
        self._task = task

    @property
    def task(self) -> ManagerTask:
        return self._task

    def prepare(self, sandbox: Sandbox) -> None:
        setup.checkout_manager_base(sandbox, self._task)

    def upstream_prompt(self, constants: Mapping[str, str], price: str) -> str:
        task, c = self._task, constants
        first = c["MANAGER_FIRST_PROMPT"].format(
            title=task.title,
            html_description=task.description,
            price=price,
            proposals=task.proposals_text,
        )
        return first + "\n\n" + c["MANAGER_SECOND_PROMPT"]

    def proposals(self) -> str:
        task = self._task
        if task.proposals_text:
            return task.proposals_text
        blocks = [f"Proposal: {p.id}:\n\n{p.text.strip()}" for p in task.proposals]
        return ("\n\n" + "-" * 44 + "\n\n").join(blocks)

    def details(self, answer: bool) -> list[str]:
        task = self._task
        lines = ["", f"proposals ({len(task.proposals)}):"]
        for p in task.proposals:
            lines += ["", f"--- proposal {p.id} ---", p.text.strip()]
        if answer:
            lines += ["", f"correct proposal: {task.correct_proposal_id}"]
        return lines

    def answer(self, sandbox: Sandbox, proposal_id: object) -> Event | None:
        sandbox.write_file(f"{self._task.cwd}/{DECISION_FILE}", json.dumps({KEY: proposal_id}))
        return "decision", {KEY: proposal_id}

    def give_gold(
        self, sandbox: Sandbox, hidden_tests: Path | None, run: Run, timeout: float
    ) -> Event:
        return self.answer(sandbox, self._task.correct_proposal_id) or ("decision", {})

    def patch_base(
        self, sandbox: Sandbox, scratch: Path, start: Sequence[tuple[str, int]]
    ) -> PatchBase | None:
        return None

    def user_tool(self, ops: TryOps) -> UserToolReply:
        return UserToolReply(NOT_IC, "not_run", ops.user_tool_limit_s)

    def grade(self, sandbox: Sandbox, ops: TryOps, record: AttemptRecord) -> bool:
        choice = grade_manager(sandbox, self._task, ops.folder)
        record.selected_proposal = choice.selected
        record.decision_odd_form = choice.odd_form
        record.correct_proposal = self._task.correct_proposal_id
        record.reason = choice.reason
        return choice.passed


def rules_for(task: Task) -> Rules:
    """The rules of `task`'s variant."""
    if isinstance(task, IcTask):
        return IcRules(task)
    return ManagerRules(task)
