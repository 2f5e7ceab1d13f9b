"""The attempt's lifecycle (`run.attempt.run_try`) on fake sandboxes: setup, the agent's turn,
grading in the agent's container or a fresh one, controls, and what is classified as whose
fault. The fake emulates upstream's runtime scripts (see `tests.fakes.sandbox_upstream`)."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest

from swelancer.agents.base import AgentEnv, Limits
from swelancer.agents.mock import FirstProposalAgent, NoopAgent, OracleAgent, mock_agent
from swelancer.benchmark import setup as readiness
from swelancer.benchmark.user_tool_reply import UserToolReply
from swelancer.errors import ConfigError, FaultKind, InfraError
from swelancer.ops.images import DEMO_IMAGE
from swelancer.run.attempt import (
    AttemptSettings,
    ControlGrades,
    Interrupted,
    error_record,
    sandbox_spec,
)
from swelancer.run.results import Transcript
from swelancer.sandbox.base import Sandbox
from tests.fakes.runs import acting_agent, fake_attempt
from tests.fakes.sandbox import FakeProvider, FakeSnapshotStore, UnknownCommand
from tests.fakes.sandbox_images import (
    CWD,
    FAKE_IMAGE,
    fixed_code,
    ic_task,
    is_fixed,
    manager_task,
    source_of,
    task_image,
)

MODES = ["same", "fresh"]


def events(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101", "102_1"], managers=["0df39e7"]))
    yield provider
    assert provider.unknown == [], "the harness sent commands the fake does not know"


def fixing(*extra: tuple[str, str]):
    """An agent that fixes the bug of its task (and writes `extra` files)."""

    def act(task, env):
        env.sandbox.write_file(f"{CWD}/{source_of(task.task_id)}", fixed_code(task.task_id))
        for path, text in extra:
            env.sandbox.write_file(path, text)

    return acting_agent(act, name="test/fixer")


# -- the lifecycle --------------------------------------------------------------------------


@pytest.mark.parametrize("grade_in", MODES)
@pytest.mark.parametrize("agent", [OracleAgent(), NoopAgent()], ids=lambda a: a.name)
def test_ic_attempt_records_and_files(provider, tmp_path, grade_in, agent):
    task = ic_task("102_1", price=500.0, test_folders=["102", "102_1"])
    folder, record = fake_attempt(provider, tmp_path, task, agent, grade_in=grade_in)
    solved = agent.name == "mock/oracle"
    assert (record.status, record.score, record.earned_usd) == (
        ("passed", 1.0, 500.0) if solved else ("failed", 0.0, 0.0)
    )
    assert record.price_usd == 500.0 and record.model == agent.name
    assert record.graded_folder == "102_1" and record.acceptable_folders == ["102", "102_1"]
    assert record.graded_in == grade_in
    roles = {"agent": "cold", **({"grader": "cold"} if grade_in == "fresh" else {})}
    assert record.setup_from == roles
    assert record.test_exit_codes == {"102_1": [0] if solved else [1, 1, 1]}
    assert record.seconds.setup > 0 and record.seconds.grading > 0
    assert record.turns == (1 if solved else 0) and record.error is None

    kinds = [e["kind"] for e in events(folder)]
    assert kinds[0] == "sandbox" and kinds[-1] == "verdict"
    assert {"ready", "agent_done"} <= set(kinds)
    patch = (folder / "patch.diff").read_text()
    if solved:
        assert "diff --git a/src/bug_102_1.js b/src/bug_102_1.js" in patch
        assert "+  return sumInCents(items); // FIXED" in patch
    else:
        assert patch == ""
    assert "Starting Xvfb on display :99..." in (folder / "sandbox.log").read_text()
    runs = sorted(p.name for p in (folder / "grading" / "102_1").iterdir())
    assert runs == (["run-1"] if solved else ["run-1", "run-2", "run-3"])
    run1 = folder / "grading" / "102_1" / "run-1"
    assert (run1 / "exit_code").read_text() == ("0\n" if solved else "1\n")
    assert ("1 passed" if solved else "1 failed") in (run1 / "pytest.log").read_text()
    assert "TASK [Run pytest tests]" in (run1 / "playbook.log").read_text()
    assert (folder / "grader-sandbox.log").exists() == (grade_in == "fresh")

    (agent_box,) = provider.made("agent")
    graded_by = agent_box if grade_in == "same" else provider.made("grader")[0]
    assert [online for name, online in graded_by.ran if name == "playbook"] == (
        [False] if solved else [False] * 3
    ), "upstream grades offline"
    if grade_in == "fresh":
        assert "playbook" not in [name for name, _ in agent_box.ran]
    # the judge's remote viewer (x11vnc, websockify) is stopped before any test runs there
    for judge in provider.made("judge"):
        ran = [name for name, _ in judge.ran]
        assert ran.index("stop_viewers") < ran.index("judge_playbook"), ran
        commands = [p.cmd.split()[0] for p in judge.procs.values()]
        assert "Xvfb" in commands and not {"x11vnc", "websockify"} & set(commands), commands
    stopped = [e for e in events(folder) if e["kind"] == "viewers_stopped"]
    assert stopped and all(e["killed"] == 2 and e["role"] == "judge" for e in stopped), stopped
    assert provider.live() == []


@pytest.mark.parametrize("grade_in", MODES)
@pytest.mark.parametrize(
    ("agent", "correct", "passed", "selected"),
    [
        (OracleAgent(), 2, True, 2),
        (NoopAgent(), 2, False, None),
        (FirstProposalAgent(), 0, True, 0),
        (FirstProposalAgent(), 3, False, 0),
    ],
    ids=["oracle", "noop", "first-right", "first-wrong"],
)
def test_manager_attempt(provider, tmp_path, grade_in, agent, correct, passed, selected):
    task = manager_task(correct=correct)
    folder, record = fake_attempt(provider, tmp_path, task, agent, grade_in=grade_in)
    assert record.status == ("passed" if passed else "failed")
    assert record.earned_usd == (8000.0 if passed else 0.0)
    assert (record.selected_proposal, record.correct_proposal) == (selected, correct)
    assert record.test_exit_codes == {} and record.graded_folder is None
    assert record.setup_from == {"agent": "cold"}
    if selected is None:
        assert record.reason == "no manager_decisions.json was written"
        assert not (folder / "decision.json").exists()
    else:
        assert json.loads((folder / "decision.json").read_text()) == {
            "selected_proposal_id": selected
        }
    (box,) = provider.made("agent")
    assert box.marker_reads == 0, "manager containers are ready at once (run.sh sets up nothing)"
    assert box.fs.text(f"{CWD}/src/manager_base.js") == "// the code before 0df39e7\n"
    names = [name for name, _ in box.ran]
    assert names.index("reset_hard") < names.index("fresh_history")
    assert not box.fs.exists(f"{CWD}/.git/objects"), "the history holding the fix is gone"
    assert "Skipping setup steps" in (folder / "sandbox.log").read_text()
    assert provider.live() == []


def test_the_agent_works_offline_without_the_tests_or_the_history(provider, tmp_path):
    seen = {}

    def act(task, env):
        box = env.sandbox
        seen.update(
            tests=box.fs.exists("/app/tests"),
            online=box.online,
            history=box.fs.exists(f"{CWD}/.git/objects"),
            index=box.fs.text(f"{CWD}/.git/index").split("\0"),
            hidden=env.hidden_tests,
            left=[p for p in box.fs.listdir("/tmp") if p.startswith(".swelancer")],
            output=env.run("{ git apply -R --whitespace=nowarn /tmp/x.patch || patch -p1 -R "
                           "-s < /tmp/x.patch; }; code=$?; rm -f /tmp/x.patch; exit $code",
                           10).output,
        )  # fmt: skip

    provider.on("gold_patch_missing", r"\{ git apply -R .*x\.patch.*", lambda b, c, m: (1, "no"))
    fake_attempt(provider, tmp_path, ic_task("101"), acting_agent(act))
    assert seen["tests"] is False and seen["online"] is False and seen["history"] is False
    assert seen["left"] == [], "nothing of the harness's steps is left for the agent"
    assert "src/bug_101.js" in seen["index"] and ".gitignore" in seen["index"]
    assert not any(p.startswith("node_modules/") for p in seen["index"]), "ignored files"
    assert seen["hidden"] is None, "only mock/oracle gets the host copy of the tests"
    assert seen["output"] == "no", "the shell's no-tty noise is stripped"


def test_a_fix_graded_in_the_agents_container_and_alone_agree(provider, tmp_path):
    for grade_in in MODES:
        _, record = fake_attempt(provider, tmp_path, ic_task("101"), fixing(), grade_in=grade_in)
        assert record.status == "passed", grade_in


def test_setup_changed_files_are_the_patch_base(tmp_path):
    """The unified image sets up at start (RUNTIME_SETUP): the bug is applied by the entry
    point, so the image's own file is the fixed one and only the sandbox knows the base."""
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], runtime_setup=True))
    folder, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(),
                                  grade_in="fresh")  # fmt: skip
    assert record.status == "passed", record.reason
    assert "-  return sumInFloats(items); // BUG" in (folder / "patch.diff").read_text()
    assert "RUNTIME_SETUP is set" in (folder / "sandbox.log").read_text()


def test_phases_are_reported_in_order(provider, tmp_path):
    seen: list[str] = []
    fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), on_phase=seen.append)
    assert seen == ["setup", "agent", "grading"]


def test_a_stop_abandons_the_attempt_and_removes_its_sandboxes(provider, tmp_path):
    stop = threading.Event()
    stop.set()
    with pytest.raises(Interrupted):
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), stop=stop)
    assert provider.live() == [] and len(provider.made("agent")) == 1


# -- setup -------------------------------------------------------------------------------------


def clock_of_setup(monkeypatch, slept: list[float]) -> None:
    """A fake clock for the setup wait: each sleep is recorded and moves the clock on."""
    now = [1000.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(readiness, "time", SimpleNamespace(monotonic=lambda: now[0], sleep=sleep))


def test_ic_setup_is_waited_for(tmp_path, monkeypatch):
    slept: list[float] = []
    clock_of_setup(monkeypatch, slept)
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], setup_polls=3))
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert record.status == "passed"
    assert provider.made("agent")[0].marker_reads == 4
    # the agent's container, then the judge's: each waits three polls
    assert len(slept) == 6 and all(0 < pause <= 2.0 for pause in slept), slept


def test_manager_setup_is_not_waited_for(tmp_path):
    provider = FakeProvider(task_image(FAKE_IMAGE, managers=["0df39e7"], setup="hang"))
    _, record = fake_attempt(provider, tmp_path, manager_task(), OracleAgent())
    assert record.status == "passed"


def test_a_setup_that_never_finishes_is_a_setup_timeout(tmp_path, monkeypatch):
    slept: list[float] = []
    clock_of_setup(monkeypatch, slept)
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], setup="hang"))
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), setup_timeout_s=30)
    assert caught.value.kind == FaultKind.SETUP_TIMEOUT and caught.value.retryable
    assert "--setup-timeout" in str(caught.value)
    assert 30 <= sum(slept) <= 35, "it waited the whole timeout, and not much longer"
    (folder,) = tmp_path.iterdir()
    assert "Starting Xvfb" in (folder / "agent-sandbox.log").read_text()
    assert provider.live() == []


def test_a_container_that_stops_during_setup_is_setup_failed(tmp_path, monkeypatch):
    clock_of_setup(monkeypatch, [])
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], setup="crash"))
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert caught.value.kind == FaultKind.SETUP_FAILED
    assert "npm install failed" in str(caught.value), "the log's tail is in the message"
    assert provider.live() == []


@pytest.mark.parametrize(
    ("task", "fault", "expected"),
    [
        (ic_task("101"), "fresh_history", "could not reset the git history"),
        (manager_task(), "reset_hard", "could not check out 0df39e7^"),
    ],
)
def test_harness_steps_before_the_agent_failing_are_setup_failed(provider, tmp_path, task,
                                                                 fault, expected):  # fmt: skip
    provider.inject(fault, "fail", message="fatal: something broke")
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, task, OracleAgent())
    assert caught.value.kind == FaultKind.SETUP_FAILED and expected in str(caught.value)
    assert provider.live() == []


def test_an_unknown_manager_commit_is_setup_failed(provider, tmp_path):
    with pytest.raises(InfraError, match="could not check out abcdef1\\^"):
        fake_attempt(provider, tmp_path, manager_task(commit="abcdef1"), OracleAgent())


def test_an_image_without_the_tasks_folder_is_task_missing_and_not_retried(tmp_path):
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["102_1"]))
    task = ic_task("101", test_folders=["101", "101_0"])
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, task, OracleAgent())
    assert caught.value.kind == FaultKind.TASK_MISSING and not caught.value.retryable
    assert "issues/101" in str(caught.value) and "101, 101_0" in str(caught.value)


def test_an_image_without_tests_is_tests_missing(tmp_path):
    image = task_image(FAKE_IMAGE, ic=["101"])
    image.fs.remove("/app/tests")
    image.fs.mark()
    with pytest.raises(InfraError) as caught:
        fake_attempt(FakeProvider(image), tmp_path, ic_task("101"), OracleAgent())
    assert caught.value.kind == FaultKind.TESTS_MISSING


def test_a_missing_image_is_image_missing(tmp_path):
    with pytest.raises(InfraError) as caught:
        fake_attempt(FakeProvider(), tmp_path, ic_task("101"), OracleAgent())
    assert caught.value.kind == FaultKind.IMAGE_MISSING and not caught.value.retryable


# -- no clean verdict: the control decides -------------------------------------------------------


def no_verdict_when_fixed(task_id: str = "101"):
    fixed = is_fixed(task_id)
    return lambda box: None if fixed(box) else False


def test_no_exit_code_on_the_change_with_a_clean_control_is_a_failure(tmp_path):
    provider = FakeProvider(task_image(FAKE_IMAGE, verdicts={"101": no_verdict_when_fixed()}))
    folder, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert record.status == "failed" and record.earned_usd == 0
    assert record.test_exit_codes == {"101": [-1, -1, -1]}
    assert record.control_exit_codes == [1, 1, 1]
    assert "the test never ran" in record.reason
    assert "the untouched task grades cleanly (exit 1)" in record.reason
    assert (folder / "control-sandbox.log").exists()
    assert (folder / "control" / "101" / "run-1" / "exit_code").read_text() == "1\n"
    assert "no_verdict" in [e["kind"] for e in events(folder)]
    assert [b.removed for b in provider.made("control")] == [True]


def test_no_exit_code_anywhere_is_a_grader_fault(tmp_path):
    provider = FakeProvider(task_image(FAKE_IMAGE, verdicts={"101": lambda box: None}))
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert caught.value.kind == FaultKind.GRADER
    assert "none on the untouched task either" in str(caught.value)
    assert provider.live() == []


def test_an_error_exit_code_stops_the_runs_and_is_settled_by_the_control(tmp_path):
    fixed = is_fixed("101")
    image = task_image(FAKE_IMAGE, verdicts={"101": lambda box: 3 if fixed(box) else False})
    _, record = fake_attempt(FakeProvider(image), tmp_path, ic_task("101"), OracleAgent())
    assert record.test_exit_codes == {"101": [3]}, "upstream raises at exit 2 and above"
    assert record.status == "failed" and "pytest exited 3" in record.reason


def test_a_test_run_past_its_timeout_is_settled_by_the_control(provider, tmp_path):
    provider.inject("playbook", "timeout", role="agent", times=None)
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert record.status == "failed"
    assert "did not finish within 1800 s" in record.reason
    assert record.control_exit_codes == [1, 1, 1]


def test_controls_are_graded_once_per_image_and_task(tmp_path):
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101", "102_1"], verdicts={
        "101": no_verdict_when_fixed("101"), "102_1": no_verdict_when_fixed("102_1")}))  # fmt: skip
    controls = ControlGrades()
    reasons = []
    for task_id, n in [("101", 1), ("101", 2), ("102_1", 1)]:
        _, record = fake_attempt(provider, tmp_path, ic_task(task_id), OracleAgent(),
                                 attempt=n, controls=controls)  # fmt: skip
        reasons.append(record.reason)
    assert [b.labels["swelancer.task_id"] for b in provider.made("control")] == ["101", "102_1"]
    assert "graded earlier in this run" in reasons[1]
    assert "graded earlier" not in reasons[0] and "graded earlier" not in reasons[2]


def test_a_control_without_a_verdict_is_not_kept(tmp_path):
    provider = FakeProvider(task_image(FAKE_IMAGE, verdicts={"101": lambda box: None}))
    controls = ControlGrades()
    for n in (1, 2):
        with pytest.raises(InfraError):
            fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), attempt=n,
                         controls=controls)  # fmt: skip
    assert len(provider.made("control")) == 2


# -- whose fault ----------------------------------------------------------------------------------


def test_the_container_stopping_during_the_agents_turn_is_a_failure(provider, tmp_path):
    provider.inject("gold_patch", "die")
    folder, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert record.status == "failed" and record.earned_usd == 0
    assert "the container stopped during the agent's turn" in record.reason
    assert "container_stopped" in [e["kind"] for e in events(folder)]
    assert provider.live() == []


def test_a_container_stopped_while_the_run_stops_is_no_failure_of_the_agent(provider, tmp_path):
    # the run stopping removes its containers: the one the agent works in is then gone, which
    # must abandon the attempt (resumed later), not score it 0 as the agent's doing
    stop = threading.Event()

    def stopped_under_it(task, env):
        stop.set()
        env.sandbox.die()
        env.sandbox.exec(["true"])

    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), acting_agent(stopped_under_it), stop=stop)
    assert caught.value.kind == FaultKind.CONTAINER_GONE
    assert provider.live() == []


@pytest.mark.parametrize(
    ("action", "kind"),
    [("engine_down", FaultKind.CONTAINER_GONE), ("raise", FaultKind.DOCKER)],
    ids=["engine-down", "engine-error"],
)
def test_an_engine_fault_during_the_agents_turn_is_infrastructure(provider, tmp_path, action,
                                                                  kind):  # fmt: skip
    provider.inject("gold_patch", action, kind=kind)
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert caught.value.kind == kind


def test_the_container_stopping_after_the_turn_is_settled_by_the_control(provider, tmp_path):
    # e.g. a process the agent left behind kills the container's init a moment after its turn:
    # the container stops as the harness first looks at it after the turn
    def leave_a_killer(task, env):
        provider.inject("changes", "call", then=lambda box: box.die(), role="agent")

    agent = acting_agent(leave_a_killer)
    folder, record = fake_attempt(provider, tmp_path, ic_task("101"), agent)
    assert record.status == "failed" and record.earned_usd == 0 and record.infra_retries == 0
    assert "the agent's container stopped after its turn" in record.reason
    assert "the untouched task grades cleanly" in record.reason
    assert len(provider.made("control")) == 1 and record.control_exit_codes[-1] == 1
    assert "container_stopped" in [e["kind"] for e in events(folder)]
    assert provider.live() == []


def test_a_grader_stopped_by_the_app_under_test_is_a_failure(provider, tmp_path):
    provider.inject("playbook", "die", role="grader")  # the agent's app kills the grader's init
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), grade_in="fresh")
    assert record.status == "failed" and "stopped while its test ran" in record.reason
    assert len(provider.made("control")) == 1 and provider.live() == []


def test_containers_stopping_with_the_control_too_are_infrastructure(provider, tmp_path):
    provider.inject("playbook", "die", times=None)  # every container: not the agent's doing
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert caught.value.kind == FaultKind.GRADER
    assert "none on the untouched task either" in str(caught.value)
    assert provider.live() == []


def test_the_engine_failing_while_grading_is_infrastructure(provider, tmp_path):
    provider.inject("playbook", "engine_down", kind=FaultKind.CONTAINER_GONE)
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert caught.value.kind == FaultKind.CONTAINER_GONE
    assert provider.made("control") == []


def test_the_oracle_needs_a_gold_patch_that_reverses(tmp_path):
    image = task_image(FAKE_IMAGE, files={f"{CWD}/src/bug_101.js": "rewritten since\n"})
    with pytest.raises(InfraError) as caught:
        fake_attempt(FakeProvider(image), tmp_path, ic_task("101"), OracleAgent())
    assert caught.value.kind == FaultKind.ORACLE and "does not reverse" in str(caught.value)
    image = task_image(FAKE_IMAGE)
    image.fs.remove("/app/tests/issues/101/bug_reintroduce.patch")
    image.fs.mark()
    with pytest.raises(InfraError, match=r"no bug_reintroduce\.patch for 101"):
        fake_attempt(FakeProvider(image), tmp_path, ic_task("101"), OracleAgent())


def test_mock_agents_are_named_and_unknown_ones_refused():
    assert [mock_agent(n).name for n in ("mock/oracle", "mock/noop", "mock/first")] == [
        "mock/oracle",
        "mock/noop",
        "mock/first",
    ]
    with pytest.raises(ConfigError, match="mock/scripted:PATH"):
        mock_agent("mock/genius")


# -- grading that cannot be trusted -------------------------------------------------------------


def tamper_when(marker: str, action):
    """The app under test (the agent's code): misbehaves when the agent left `marker`."""

    def app(box, trace):
        if box.fs.exists(f"{CWD}/{marker}"):
            action(box)

    return app


@pytest.mark.parametrize("grade_in", MODES)
@pytest.mark.parametrize(
    "action",
    [
        lambda b: b.fs.write("/app/tests/issues/101/test.py", "def test_issue(): pass\n"),
        lambda b: b.fs.remove("/app/tests/issues/conftest.py"),
        lambda b: b.fs.write("/app/tests/utils/evil.py", "x = 1\n"),
        lambda b: b.fs.write("/usr/lib/python3.12/sitecustomize.py", "import os\n"),
    ],
    ids=["test-changed", "conftest-removed", "file-added", "sitecustomize"],
)  # fmt: skip
def test_what_the_app_writes_during_grading_never_reaches_the_judge(provider, tmp_path,
                                                                     grade_in, action):  # fmt: skip
    """The app (the agent's code, here without the fix) writes where the tests and pytest's
    Python would be: in its own container, which holds no test; the judge's are untouched and
    the verdict is the unfixed code's."""
    provider.apps.append(tamper_when("src/evil.js", action))
    written = {f"{CWD}/src/evil.js": "tamper();\n"}
    agent = acting_agent(
        lambda task, env: [env.sandbox.write_file(p, t) for p, t in written.items()]
    )
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), agent, grade_in=grade_in)
    assert record.status == "failed" and record.earned_usd == 0 and record.tampering is None
    assert record.test_exit_codes == {"101": [1, 1, 1]}
    judges = provider.made("judge")
    assert judges and all(j.spec.reach and not j.spec.network_of for j in judges)
    for judge in judges:
        assert judge.fs.read("/app/tests/issues/101/test.py") != b"def test_issue(): pass\n"
        assert judge.fs.is_file("/app/tests/issues/conftest.py")
        assert not judge.fs.exists("/app/tests/utils/evil.py")
        assert not judge.fs.exists("/usr/lib/python3.12/sitecustomize.py")
    app = provider.made("agent" if grade_in == "same" else "grader")[0]
    assert not app.fs.exists("/app/tests/issues/101/commit_id.txt"), "no test in the app's"


def test_honest_grading_is_not_tampering(provider, tmp_path):
    provider.apps.append(tamper_when("src/evil.js", lambda box: None))
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), fixing())
    assert record.status == "passed" and record.tampering is None


def test_replaced_programs_move_grading_to_a_fresh_sandbox(provider, tmp_path):
    fake_playbook = ("/usr/local/bin/ansible-playbook", "#!/bin/sh\necho 0\n")
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), fixing(fake_playbook))
    assert record.graded_in.startswith("fresh: programs the playbook runs were replaced")
    assert "/usr/local/bin/ansible-playbook" in record.graded_in
    assert record.status == "passed" and record.setup_from["grader"] == "cold"
    (agent_box,) = provider.made("agent")
    assert "playbook" not in [name for name, _ in agent_box.ran]


def test_setups_own_change_to_bashrc_is_not_a_replacement(provider, tmp_path):
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert record.graded_in == "same"
    _, record = fake_attempt(provider, tmp_path, ic_task("101"),
                             fixing(("/root/.bashrc", "alias pytest=true\n")))  # fmt: skip
    assert record.graded_in.startswith("fresh: programs") and "/root/.bashrc" in record.graded_in


def test_processes_the_agent_left_are_stopped_or_grading_moves(provider, tmp_path):
    def start(killable):
        return acting_agent(lambda task, env: env.sandbox.spawn("node evil-server.js",
                                                                killable=killable))  # fmt: skip

    _, record = fake_attempt(provider, tmp_path, ic_task("101"), start(True))
    assert record.graded_in == "same"
    assert "node evil-server.js" not in [p.cmd for p in provider.made("agent")[0].procs.values()]
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), start(False))
    assert record.graded_in.startswith("fresh: processes the agent started could not be stopped")
    assert "node evil-server.js" in record.graded_in


def test_a_patch_that_does_not_apply_in_the_fresh_sandbox_is_a_failure(provider, tmp_path):
    provider.inject("apply_patch", "fail", role="grader", message="error: patch failed")
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), grade_in="fresh")
    assert record.status == "failed"
    assert record.reason == "the patch does not apply: error: patch failed"
    assert provider.live() == []


def test_a_change_the_engine_cannot_list_is_settled_by_the_control(provider, tmp_path):
    provider.inject("changes", "raise", role="agent", times=None, kind=FaultKind.DOCKER)
    with pytest.raises(InfraError):  # remember_start lists the changes before the turn
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    provider.faults.clear()

    def unlistable(task, env):
        env.sandbox.write_file(f"{CWD}/{source_of(task.task_id)}", fixed_code(task.task_id))
        provider.inject("changes", "raise", role="agent", times=None)

    _, record = fake_attempt(provider, tmp_path, ic_task("101"), acting_agent(unlistable))
    assert record.status == "failed"
    assert "the engine cannot list what the agent changed" in record.reason
    assert "untouched task grades cleanly" in record.reason


# -- the pieces -------------------------------------------------------------------------------


def test_sandbox_spec_carries_upstreams_environment_and_the_runs_labels():
    settings = AttemptSettings(run_id="r1", model="m", image=DEMO_IMAGE)
    spec = sandbox_spec(ic_task("101"), 2, settings, role="grader")
    assert spec.image == DEMO_IMAGE and spec.memory == "8g" and spec.pids_limit == 4096
    assert spec.env["ISSUE_ID"] == "101" and spec.env["EVAL_VARIANT"] == "ic_swe"
    assert spec.env["USE_WEB_PROXY"] == "false" and spec.env["LC_ALL"] == "C.UTF-8"
    assert spec.labels == {
        "swelancer.run_id": "r1",
        "swelancer.task_id": "101",
        "swelancer.run.attempt": "2",
        "swelancer.role": "grader",
        "swelancer.image": DEMO_IMAGE,
    }
    pinned = settings.model_copy(update={"image": "sha256:" + "ab" * 32, "image_name": DEMO_IMAGE})
    spec_pinned = sandbox_spec(ic_task("101"), 2, pinned, role="agent")
    assert spec_pinned.image == "sha256:" + "ab" * 32, "containers start from the pinned id"
    assert spec_pinned.labels["swelancer.image"] == spec_pinned.image
    assert spec_pinned.memory == "8g", "the defaults that depend on the image see its name"
    other = sandbox_spec(manager_task(), 1, settings)
    assert other.env["EVAL_VARIANT"] == "swe_manager"
    assert other.env["PUSHER_APP_SECRET"] != spec.env["PUSHER_APP_SECRET"], "fresh per container"
    upstream = AttemptSettings(run_id="r", model="m", image=FAKE_IMAGE)
    assert sandbox_spec(ic_task(), 1, upstream).memory is None
    upstream.sandbox.memory = "none"
    assert sandbox_spec(ic_task(), 1, upstream).memory is None
    upstream.sandbox.memory, upstream.sandbox.pids_limit = "4g", 0
    assert sandbox_spec(ic_task(), 1, upstream).memory == "4g"
    assert sandbox_spec(ic_task(), 1, upstream).pids_limit is None


def test_error_record_keeps_the_fault_out_of_the_scores():
    settings = AttemptSettings(run_id="r1", model="m", image=FAKE_IMAGE)
    fault = InfraError("the engine went away", kind=FaultKind.DOCKER_UNAVAILABLE)
    record = error_record(ic_task("101"), 3, settings, fault, 2, "2026-01-01T00:00:00+00:00")
    assert (record.status, record.score, record.earned_usd, record.attempt) == ("error", 0, 0, 3)
    assert record.error.kind == "docker_unavailable" and record.infra_retries == 2
    assert record.error.message == "the engine went away" and record.stop_reason is None


def test_the_fake_is_a_sandbox_and_refuses_commands_it_does_not_know(provider):
    box = provider.start(sandbox_spec(ic_task("101"), 1, AttemptSettings(
        run_id="r", model="m", image=FAKE_IMAGE)))  # fmt: skip
    assert isinstance(box, Sandbox)
    with pytest.raises(UnknownCommand):
        box.exec(["ls", "-la"])
    with pytest.raises(UnknownCommand):
        box.exec(["bash", "-c", "export ISSUE_ID=101; user-tool"]), "not in an interactive shell"
    assert len(provider.unknown) == 2
    provider.unknown.clear()
    reference = provider.reference(FAKE_IMAGE, {})
    with pytest.raises(UnknownCommand):
        reference.exec(["rm", "-f", "/tmp/x"])
    box.remove()
    box.remove()
    with pytest.raises(InfraError) as caught:
        box.exec(["rm", "-f", "/tmp/x"])
    assert caught.value.kind == FaultKind.CONTAINER_GONE


# -- snapshots ----------------------------------------------------------------------------------


def test_later_containers_of_a_task_start_from_its_snapshot(tmp_path):
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], managers=["0df39e7"]))
    store = FakeSnapshotStore(provider)
    first, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(),
                                 grade_in="fresh", snapshots=store)  # fmt: skip
    assert record.status == "passed"
    assert record.setup_from == {"agent": "cold", "grader": "snapshot"}
    (name,) = store.made.values()
    snapshot = provider.images[name].fs
    assert not snapshot.exists("/setup_done.txt"), "a snapshot never holds the marker"
    assert snapshot.is_file("/app/tests/issues/101/test.py"), "made before the tests are hidden"
    assert snapshot.exists(f"{CWD}/.git/objects"), "and before the history is replaced"
    assert [e["name"] for e in events(first) if e["kind"] == "snapshot"] == [name]
    _, again = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), attempt=2,
                            grade_in="fresh", snapshots=store)  # fmt: skip
    assert again.status == "passed"
    assert again.setup_from == {"agent": "snapshot", "grader": "snapshot"}
    assert all(b.fs.text("/setup_done.txt") == "done\n" for b in provider.made("grader"))
    _, manager = fake_attempt(provider, tmp_path, manager_task(), OracleAgent(), snapshots=store)
    assert manager.setup_from == {"agent": "cold"} and len(store.made) == 1
    assert provider.live() == []


def test_a_snapshot_removed_after_it_was_found_means_a_cold_setup_not_an_error(tmp_path):
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], managers=[]))
    store = FakeSnapshotStore(provider)
    fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), snapshots=store)
    (name,) = store.made.values()
    del provider.images[name]  # another run that used it ended, or evicted it
    folder, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), attempt=2,
                                  snapshots=store)  # fmt: skip
    assert record.status == "passed" and record.setup_from == {"agent": "cold"}
    assert [e["name"] for e in events(folder) if e["kind"] == "snapshot_gone"] == [name, name]
    assert provider.live() == []


# -- more faults ------------------------------------------------------------------------------


def test_a_fresh_sandbox_that_cannot_be_prepared_is_removed_with_its_log(provider, tmp_path):
    provider.inject("delete_tests", "fail", role="grader", message="rm: read-only file system")
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(), grade_in="fresh")
    assert caught.value.kind == FaultKind.HIDE
    (folder,) = tmp_path.iterdir()
    assert "Starting Xvfb" in (folder / "grader-sandbox.log").read_text()
    assert provider.live() == []


def test_a_startup_file_setup_changed_and_the_agent_deleted_is_a_replacement(provider,
                                                                            tmp_path):  # fmt: skip
    agent = acting_agent(lambda task, env: env.sandbox.fs.remove("/root/.bashrc"))
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), agent)
    assert record.graded_in.startswith("fresh: programs") and "/root/.bashrc" in record.graded_in


def test_a_change_too_large_to_grade_is_a_failure(provider, tmp_path):
    def flood(task, env):
        for n in range(5001):
            env.sandbox.fs.write(f"{CWD}/gen/{n}.js", "x\n")

    _, record = fake_attempt(provider, tmp_path, ic_task("101"), acting_agent(flood))
    assert record.status == "failed"
    assert record.reason.startswith("the change is too large to grade: the change touches 5,00")


def test_a_change_the_engine_cannot_read_is_settled_by_the_control(provider, tmp_path):
    def unreadable(task, env):
        env.sandbox.write_file(f"{CWD}/{source_of(task.task_id)}", fixed_code(task.task_id))
        provider.inject("copy_out", "raise", role="agent", times=None, kind=FaultKind.COPY_FAILED)

    _, record = fake_attempt(provider, tmp_path, ic_task("101"), acting_agent(unreadable))
    assert record.status == "failed"
    assert "the agent's change cannot be read" in record.reason
    assert "untouched task grades cleanly" in record.reason


# -- manager decisions and the mock agents ---------------------------------------------------


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (lambda box: box.fs.makedirs(f"{CWD}/manager_decisions.json"), "is not valid JSON"),
        (lambda box: box.fs.write(f"{CWD}/manager_decisions.json", "1" * 1_000_001),
         "manager_decisions.json is too large"),
        (lambda box: box.fs.write(f"{CWD}/manager_decisions.json", '{"selected_proposal_id": "0"}'),
         None),
    ],
    ids=["a-folder", "too-large", "a-string"],
)  # fmt: skip
def test_manager_decisions_the_agent_wrote_oddly(provider, tmp_path, write, reason):
    agent = acting_agent(lambda task, env: write(env.sandbox))
    _, record = fake_attempt(provider, tmp_path, manager_task(), agent)
    if reason is None:
        assert record.status == "passed" and record.selected_proposal == 0
        assert record.decision_odd_form == '"selected_proposal_id": "0"'
        assert "answered in an odd form" in record.reason
    else:
        assert record.status == "failed" and reason in record.reason


def test_the_oracle_without_the_hidden_tests_and_the_first_proposal_on_ic(provider, tmp_path):
    env = AgentEnv(sandbox=None, user_tool=lambda: UserToolReply(""), run=None, hidden_tests=None)
    with pytest.raises(InfraError) as caught:
        OracleAgent().solve(ic_task("101"), env, Limits(), Transcript(tmp_path / "t.jsonl"))
    assert caught.value.kind == FaultKind.ORACLE
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), FirstProposalAgent())
    assert record.status == "failed" and record.turns == 0


def test_a_user_tool_fault_with_the_engine_gone_is_infrastructure(provider, tmp_path):
    def call_the_tool(task, env):
        provider.inject("start", role="user-tool", kind=FaultKind.DOCKER)
        provider.inject("alive", "raise", role="agent", kind=FaultKind.DOCKER_UNAVAILABLE)
        env.user_tool()

    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), acting_agent(call_the_tool))
    assert caught.value.kind == FaultKind.DOCKER_UNAVAILABLE, "the engine's fault, raised"
    assert provider.live() == []


def test_a_user_tool_call_with_an_unreadable_change_tells_the_model(provider, tmp_path):
    said = []

    def call_the_tool(task, env):
        provider.inject("copy_out", "raise", role="agent", kind=FaultKind.COPY_FAILED)
        env.sandbox.fs.write(f"{CWD}/a.js", "a\n")
        said.append(env.user_tool())

    fake_attempt(provider, tmp_path, ic_task("101"), acting_agent(call_the_tool))
    assert said[0].outcome == "not_run"
    assert said[0].text.startswith("The user tool could not start: your changes cannot be read")
    assert provider.made("user-tool") == []


def test_a_container_from_a_snapshot_of_a_runtime_setup_patches_against_the_snapshot(tmp_path):
    """Setup applied the bug at start, so in the snapshot the bug is part of the image: the
    base of the patch must be read from the snapshot, not from the image it was made of."""
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], runtime_setup=True), snapshots=True)
    store = provider.snapshot_store("fake-run", None, False)
    for n in (1, 2):
        folder, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(),
                                      attempt=n, grade_in="fresh", snapshots=store)  # fmt: skip
        assert record.status == "passed", (n, record.reason)
        assert "-  return sumInFloats(items); // BUG" in (folder / "patch.diff").read_text()
    assert record.setup_from["agent"] == "snapshot"


# -- engine calls per attempt (each costs wall time: see benchmarks/overhead.py) --------------


def agent_ops(provider) -> list[str]:
    (box,) = provider.made("agent")
    return box.ops


def record_baseline_files(provider) -> list[str]:
    """The tracked files setup changed and the `.gitignore`s: the patch base's stored files."""
    (box,) = provider.made("agent")
    return [p for p in box.fs.tree(CWD) if p.endswith("/.gitignore")]


def test_an_attempt_lists_the_changes_twice_and_copies_the_tests_once(provider, tmp_path):
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert record.status == "passed" and record.graded_in == "same"
    ops = agent_ops(provider)
    assert ops.count("changes") == 2, "after setup, after the turn (the judge is apart)"
    before = ops[ops.index("keep_own") : ops.index("delete_tests")]  # after the marker's reads
    assert before[:3] == ["keep_own", "rewrite_test", "fresh_history"], "the first steps"
    stored = len(record_baseline_files(provider))
    assert before.count("copy_out") == stored + 1, "/app/tests comes out in one archive copy"
    assert "kill_processes_except" not in ops, "the engine lists nothing of the agent's to kill"


def test_a_process_the_agent_left_is_killed_before_grading(provider, tmp_path):
    def act(task, env):
        env.sandbox.write_file(f"{CWD}/{source_of(task.task_id)}", fixed_code(task.task_id))
        env.sandbox.spawn("node dev-server.js")

    _, record = fake_attempt(provider, tmp_path, ic_task("101"), acting_agent(act))
    assert record.status == "passed" and record.graded_in == "same"
    ops = agent_ops(provider)
    assert ops.count("kill_processes_except") == 1
    assert ops.index("kill_processes_except") < ops.index("playbook")


@pytest.mark.parametrize("grade_in", ["same", "fresh"])
def test_the_patch_is_the_agents_change_not_what_the_test_run_wrote(tmp_path, grade_in):
    # in place, the patch is made on the host while the test runs (its files read before)
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"]))
    provider.apps.append(lambda box, trace: box.fs.write(f"{CWD}/README.md", "run wrote\n"))
    folder, record = fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent(),
                                  grade_in=grade_in)  # fmt: skip
    patch = (folder / "patch.diff").read_text()
    assert record.status == "passed" and "sumInFloats" in patch
    assert "run wrote" not in patch and "README.md" not in patch


# -- stops from outside ---------------------------------------------------------------------------

OUTSIDE = "the engine was asked to kill it (signal 9)"


@pytest.mark.parametrize(
    ("on", "role", "grade_in"),
    [
        ("gold_patch", "agent", "same"),  # the agent's turn
        ("changes", "agent", "same"),  # its container, as grading begins
        ("playbook", "agent", "same"),  # the test run, on the app in the agent's container
        ("playbook", "grader", "fresh"),  # the test run, on the app in a fresh container
    ],
    ids=["agent-turn", "after-the-turn", "test-run-same", "test-run-fresh"],
)
def test_a_container_stopped_from_outside_is_retried_never_failed(provider, tmp_path, on, role,
                                                                  grade_in):  # fmt: skip
    def hit_later(task, env):  # `changes` runs in setup too: the fault is set in the turn
        provider.inject(on, "outside", role=role, message=OUTSIDE)

    agent = OracleAgent()
    if on == "changes":
        agent = acting_agent(hit_later)
    else:
        hit_later(None, None)
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), agent, grade_in=grade_in)
    assert caught.value.kind == FaultKind.CONTAINER_GONE
    assert "stopped from outside" in str(caught.value) and OUTSIDE in str(caught.value)
    assert provider.made("control") == []  # nothing left for a control to decide
    assert provider.live() == []


def test_a_control_stopped_from_outside_is_retried(provider, tmp_path):
    provider.inject("playbook", "die", role="agent")  # the app stops by itself: no verdict
    provider.inject("playbook", "outside", role="control", message=OUTSIDE)
    with pytest.raises(InfraError) as caught:
        fake_attempt(provider, tmp_path, ic_task("101"), OracleAgent())
    assert caught.value.kind == FaultKind.CONTAINER_GONE and OUTSIDE in str(caught.value)
    assert len(provider.made("control")) == 1 and provider.live() == []
