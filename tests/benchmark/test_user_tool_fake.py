"""The user tool (`benchmark.user_tool`) on fake sandboxes, called by a scripted model through
the real turn loop: in a fresh sandbox holding the agent's patch, or in the agent's own
container; the trace comes back scrubbed of the hidden test, and nothing else does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swelancer.agents.loop import ModelAgent
from swelancer.models.scripted import ScriptedChatModel
from tests.fakes.runs import fake_attempt
from tests.fakes.sandbox import FakeProvider
from tests.fakes.sandbox_images import (
    CWD,
    FAKE_IMAGE,
    fixed_code,
    ic_task,
    manager_task,
    source_of,
    task_image,
)

LEAKED_LINE = 'expect(page).to_contain_text("the total of report 101 keeps its cents")'


@pytest.fixture
def provider():
    provider = FakeProvider(task_image(FAKE_IMAGE, ic=["101"], managers=["0df39e7"]))
    yield provider
    assert provider.unknown == []


def scripted(tmp_path: Path, *replies: str) -> ModelAgent:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(list(replies)))
    return ModelAgent(ScriptedChatModel(script), name=f"mock/scripted:{script}")


def tool_events(folder: Path) -> list[dict]:
    lines = (folder / "transcript.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["kind"] == "user_tool"]


def tool_outputs(folder: Path) -> list[str]:
    return [e["output"] for e in tool_events(folder)]


def traces_in(box) -> dict[str, dict[str, bytes]]:
    root = f"{CWD}/user_tool"
    return {name: box.fs.files(f"{root}/{name}") for name in box.fs.listdir(root)}


def fix_first(provider: FakeProvider) -> None:
    """The agent's first command (a python block) fixes the bug."""

    def run(box, call, match):
        box.fs.write(f"{CWD}/{source_of('101')}", fixed_code("101"))
        return 0, "fixed\n"

    provider.on("agent_fix", r"python -c .*fix it.*", run)


@pytest.mark.parametrize("mode", ["fresh", "same"])
def test_the_user_tool_gives_a_scrubbed_trace_and_no_test(provider, tmp_path, mode):
    fix_first(provider)
    after_call = []
    provider.on(
        "agent_look",
        r"python -c .*look.*",
        lambda box, call, m: after_call.append(box.fs.exists("/app/tests")) or (0, ""),
    )
    agent = scripted(
        tmp_path,
        "```python\nprint('fix it')\n```",
        "<user-tool>",
        "```python\nprint('look')\n```",
        "DONE",
    )
    folder, record = fake_attempt(provider, tmp_path, ic_task("101"), agent, user_tool_in=mode)
    assert after_call == [False], "the tests are hidden again after the call"
    assert record.status == "passed" and record.tampering is None
    (output,) = tool_outputs(folder)
    assert output.startswith("The user tool finished. Its trace is in:")
    (agent_box,) = provider.made("agent")
    traces = traces_in(agent_box)
    (name,) = traces
    assert f"{CWD}/user_tool/{name}/" in output
    files = traces[name]
    assert set(files) == {"trace.trace", "trace.network", "resources/frame-1.jpeg"}
    assert LEAKED_LINE.encode() not in files["trace.trace"], "rows with the test's text go"
    rows = [json.loads(r) for r in files["trace.trace"].decode().splitlines()]
    assert [r["type"] for r in rows] == ["before", "screencast-frame", "after"]
    assert list((folder / "user_tool").glob(f"call-*/{name}/trace.trace")), "kept on the host"
    assert "user_tool" not in (folder / "patch.diff").read_text(), "traces are not the change"
    assert "judge_playbook" not in [n for n, _ in agent_box.ran], "never the test"
    assert len(provider.made("user-tool")) == (1 if mode == "fresh" else 0)
    (judge,) = provider.made("user-tool-judge")
    assert "judge_playbook" in [n for n, _ in judge.ran]
    app = agent_box if mode == "same" else provider.made("user-tool")[0]
    assert judge.spec.reach is not None and judge.spec.reach.of == app.name
    assert judge.spec.network_of is None
    (event,) = tool_events(folder)
    assert event["outcome"] == "finished"
    stopped = "(Processes you had left running were stopped before the user came.)"
    assert event["note"] == (stopped if mode == "same" else "")
    assert provider.live() == []


def test_in_a_fresh_sandbox_the_tool_runs_the_agents_current_patch(provider, tmp_path):
    seen = []
    provider.apps.append(lambda box, trace: seen.append(box.fs.text(f"{CWD}/src/bug_101.js")))
    fix_first(provider)
    agent = scripted(tmp_path, "```python\nprint('fix it')\n```", "<user-tool>", "DONE")
    fake_attempt(provider, tmp_path, ic_task("101"), agent, grade_in="fresh")
    assert [("FIXED" in code) for code in seen] == [True, True], "user tool, then grading"
    (runner,) = provider.made("user-tool")
    assert [online for name, online in runner.ran if name == "playbook"] == [False]
    assert not runner.fs.exists("/app/tests/issues"), "no test in the app's container"


@pytest.mark.parametrize("mode", ["fresh", "same"])
def test_the_app_finds_no_test_to_copy_during_a_call(provider, tmp_path, mode):
    """The app runs while the traced test runs, but in a container without the tests (the
    test runs in the judge's): there is nothing for it to copy where the agent can read."""
    found = []

    def copying_app(box, trace):
        if trace:
            found.append(box.fs.exists("/app/tests/issues/101/test.py"))

    provider.apps.append(copying_app)
    fix_first(provider)
    agent = scripted(tmp_path, "```python\nprint('fix it')\n```", "<user-tool>", "DONE")
    _, record = fake_attempt(provider, tmp_path, ic_task("101"), agent, user_tool_in=mode)
    assert found == [False]
    assert record.status == "passed" and record.tampering is None


def test_what_the_app_starts_during_a_call_does_not_outlive_it(provider, tmp_path):
    provider.apps.append(lambda box, trace: trace and box.spawn("node leftover.js"))
    after = []
    provider.on(
        "agent_look",
        r"python -c .*look.*",
        lambda box, call, m: after.append([p.cmd for p in box.procs.values()]) or (0, ""),
    )
    agent = scripted(tmp_path, "<user-tool>", "```python\nprint('look')\n```", "DONE")
    fake_attempt(provider, tmp_path, ic_task("101"), agent, user_tool_in="same")
    assert after and not any("leftover" in cmd for cmd in after[0])


def test_processes_the_agent_left_are_stopped_before_the_tests_come_back(provider, tmp_path):
    alive_during_call = []

    def start_watcher(box, call, match):
        box.spawn("python watch_tests.py")
        return 0, ""

    provider.on("agent_watch", r"python -c .*watch.*", start_watcher)
    provider.apps.append(
        lambda box, trace: alive_during_call.append(
            any("watch_tests" in p.cmd for p in box.procs.values())
        )
    )
    agent = scripted(tmp_path, "```python\nprint('watch')\n```", "<user-tool>", "DONE")
    fake_attempt(provider, tmp_path, ic_task("101"), agent, user_tool_in="same")
    assert alive_during_call[0] is False


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({"on": "judge_playbook", "action": "timeout"}, "did not finish within 300 seconds"),
        ({"on": "playbook", "action": "fail", "times": 0}, "it left no trace"),
        ({"on": "start", "role": "user-tool"}, "The user tool could not run: injected fault"),
        ({"on": "apply_patch", "action": "fail", "role": "user-tool", "message": "no fit"},
         "your changes do not apply to a fresh copy of the repository (no fit)"),
    ],
    ids=["timeout", "no-trace", "start-fault", "patch-does-not-apply"],
)  # fmt: skip
def test_a_user_tool_call_that_fails_tells_the_model(provider, tmp_path, fault, expected):
    if fault["on"] == "playbook":  # without the conftest, pytest refuses --user-tool-trace
        image = provider.images[FAKE_IMAGE]
        image.fs.remove("/app/tests/issues/conftest.py")
        image.fs.mark()
    else:
        provider.inject(**fault)
    fix_first(provider)
    agent = scripted(tmp_path, "```python\nprint('fix it')\n```", "<user-tool>", "DONE")
    folder, _ = fake_attempt(provider, tmp_path, ic_task("101"), agent)
    (output,) = tool_outputs(folder)
    assert expected in output, output
    assert provider.live() == []


def test_the_user_tool_is_for_ic_tasks_only(provider, tmp_path):
    agent = scripted(tmp_path, "<user-tool>", "DONE")
    folder, record = fake_attempt(provider, tmp_path, manager_task(), agent)
    assert tool_outputs(folder) == ["The user tool is only available for IC SWE tasks."]
    assert record.status == "failed" and provider.made("user-tool") == []
