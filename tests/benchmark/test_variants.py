"""Each variant's rules in one object (`benchmark.variants`): what the agent may do, how its
answer is written and read back, and that no code outside `benchmark/` and `tasks/` asks which
variant a task is."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import swelancer
from swelancer.benchmark.manager import grade_manager
from swelancer.benchmark.variants import IcRules, ManagerRules, rules_for
from swelancer.errors import FaultKind, InfraError
from swelancer.records import AttemptRecord
from swelancer.run.attempt import sandbox_spec
from tests.fakes.runs import attempt_settings
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import CWD, FAKE_IMAGE, ic_task, manager_task, task_image

PACKAGE = Path(swelancer.__file__).resolve().parent
VARIANT_CLASSES = {"IcTask", "ManagerTask"}


def variant_checks(source: str) -> list[int]:
    """Lines of `isinstance(x, IcTask | ManagerTask | (IcTask, …))` in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance"):
            continue
        if (
            len(node.args) == 2
            and {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)} & VARIANT_CLASSES
        ):
            found.append(node.lineno)
    return found


def test_the_finder_sees_a_variant_check():
    assert variant_checks("isinstance(t, IcTask)\nisinstance(t, (int, ManagerTask))") == [1, 2]
    assert variant_checks("isinstance(t, dict)") == []


def test_only_the_benchmark_and_the_tasks_ask_which_variant_a_task_is():
    outside = {}
    for path in PACKAGE.rglob("*.py"):
        part = path.relative_to(PACKAGE).parts[0]
        if part in {"benchmark", "tasks"}:
            continue
        lines = variant_checks(path.read_text(encoding="utf-8"))
        if lines:
            outside[str(path.relative_to(PACKAGE))] = lines
    assert outside == {}


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], managers=["0df39e7"]))
    yield provider
    assert provider.unknown == []


def test_each_task_gets_its_variants_rules():
    assert isinstance(rules_for(ic_task("101")), IcRules)
    assert isinstance(rules_for(manager_task()), ManagerRules)
    ic, manager = rules_for(ic_task("101")), rules_for(manager_task())
    assert (ic.offers_user_tool, ic.snapshots, ic.chooses_proposal) == (True, True, False)
    assert (manager.offers_user_tool, manager.snapshots, manager.chooses_proposal) == (
        False,
        False,
        True,
    )


@pytest.mark.parametrize("chosen, passed", [(2, True), (1, False)])
def test_a_managers_answer_is_read_back_by_the_verdict(provider, tmp_path, chosen, passed):
    task = manager_task(correct=2)
    box = provider.start(sandbox_spec(task, 1, attempt_settings()))
    event = rules_for(task).answer(box, chosen)
    assert event == ("decision", {"selected_proposal_id": chosen})
    written = json.loads(box.fs.read(f"{CWD}/manager_decisions.json"))
    assert written == {"selected_proposal_id": chosen}
    assert grade_manager(box, task, tmp_path).passed is passed


def test_an_ic_task_takes_no_proposal_and_writes_nothing(provider):
    task = ic_task("101")
    box = provider.start(sandbox_spec(task, 1, attempt_settings()))
    assert rules_for(task).answer(box, 0) is None
    assert not box.fs.exists(f"{CWD}/manager_decisions.json")


def test_the_gold_answer_of_a_manager_task_passes_its_verdict(provider, tmp_path):
    task = manager_task(correct=3)
    box = provider.start(sandbox_spec(task, 1, attempt_settings()))
    rules_for(task).give_gold(box, None, lambda command, timeout: None, 60)  # type: ignore[arg-type,return-value]
    grade = grade_manager(box, task, tmp_path)
    assert grade.passed and grade.selected == 3


def test_the_gold_answer_of_an_ic_task_needs_the_hidden_tests(provider, tmp_path):
    task = ic_task("101")
    box = provider.start(sandbox_spec(task, 1, attempt_settings()))
    with pytest.raises(InfraError) as no_tests:
        rules_for(task).give_gold(box, None, lambda command, timeout: None, 60)  # type: ignore[arg-type,return-value]
    with pytest.raises(InfraError) as no_patch:
        rules_for(task).give_gold(box, tmp_path, lambda command, timeout: None, 60)  # type: ignore[arg-type,return-value]
    assert no_tests.value.kind == no_patch.value.kind == FaultKind.ORACLE
    assert "bug_reintroduce.patch for 101" in str(no_patch.value)


def test_a_manager_verdict_fills_the_record(provider, tmp_path):
    task = manager_task(correct=1)
    box = provider.start(sandbox_spec(task, 1, attempt_settings()))
    rules_for(task).answer(box, "1")  # an odd form: upstream's int() reads it

    class Ops:
        folder = tmp_path
        user_tool_limit_s = 300.0

        def grade_change(self, task, record):
            raise AssertionError("a manager task has no change to grade")

        def user_tool(self, task):
            raise AssertionError("a manager task has no user tool")

    record = AttemptRecord(
        run_id="r", task_id=task.task_id, variant=task.variant, attempt=1, status="failed",
        price_usd=task.price_usd, model="m", started_at="", finished_at="",
    )  # fmt: skip
    assert rules_for(task).grade(box, Ops(), record) is True
    assert (record.selected_proposal, record.correct_proposal) == (1, 1)
    assert record.decision_odd_form == '"selected_proposal_id": "1"'
    reply = rules_for(task).user_tool(Ops())
    assert reply.outcome == "not_run" and "only available for IC" in reply.text


def test_tasks_show_details_name_the_proposals_and_only_on_request_the_answer():
    from swelancer.tasks.models import Proposal

    task = manager_task(correct=1, proposals=[Proposal(id=0, text="a"), Proposal(id=1, text="b")])
    shown = "\n".join(rules_for(task).details(answer=False))
    assert "--- proposal 0 ---" in shown and "--- proposal 1 ---" in shown
    assert "correct proposal" not in shown
    assert "correct proposal: 1" in "\n".join(rules_for(task).details(answer=True))
    assert rules_for(ic_task("101")).details(answer=True) == []
