"""Model agents end to end: the real `openai` and `anthropic` SDKs, in the `swelancer run`
process, talk to fake model servers in this process; the attempts run in the demo image.

The fake servers answer with a scripted model that reads the conversation it is sent (the
task's prompt, the harness's last reply) and acts as a model would: it runs commands, uses the
user tool, writes the known fix of a demo bug (the reverse of `bug_reintroduce.patch`, written
out here, not read from the hidden tests), picks a proposal, and says it is done.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swelancer.models.base import ToolCall
from tests.fakes import (
    FakeAnthropicServer,
    FakeModelServer,
    FakeOpenAIServer,
    Fault,
    Reply,
    rate_limited,
    server_error,
)

pytestmark = pytest.mark.docker

KEY = "sk-fake-e2e-7d41c9b0a3f2"
"""A distinctive fake API key: it must never reach a file of the run or the container."""

# The known fixes of three demo bugs: the reverse of each task's bug_reintroduce.patch.
FIX_107_1 = """\
from pathlib import Path
path = Path("expenses/server.py")
text = path.read_text()
path.write_text(text.replace("max(1, total // PAGE_SIZE)", "max(1, math.ceil(total / PAGE_SIZE))"))
print("pager fixed" if "math.ceil(total / PAGE_SIZE)" in path.read_text() else "no match")
"""
FIX_104 = """\
from pathlib import Path
path = Path("expenses/views.py")
text = path.read_text()
old = 'href="/expenses?category={escape(name)}"'
new = 'href="{escape(url(category=name, page=1))}"'
path.write_text(text.replace(old, new))
print("filter links fixed" if new in path.read_text() else "no match")
"""
SHOW_ENV = """\
import subprocess
print(subprocess.run(["env"], capture_output=True, text=True).stdout)
print(open("/proc/1/environ", "rb").read().replace(b"\\0", b"\\n").decode())
"""
LOOK_FOR_TESTS = """\
import os, subprocess
print("tests present" if os.path.exists("/app/tests") else "no /app/tests here")
print(subprocess.run("ls /app/tests", shell=True, capture_output=True, text=True).stderr)
"""
PLANT_A_FAKE_TRACE = """\
import os, time
os.makedirs("user_tool/output_planted", exist_ok=True)
for name in ("trace.txt", "trace.json"):
    os.symlink("/proc/self/environ", f"user_tool/output_planted/{name}")
later = time.time() + 3600
os.utime("user_tool/output_planted", (later, later))
print("planted")
"""
SHELL_ENV = "env; tr '\\0' '\\n' < /proc/1/environ"
SHELL_LOOK_FOR_TESTS = "ls /app/tests || echo 'no /app/tests here'"
VERDICT_WORDS = ("assert", "pytest", "passed", "failed", "exit code", "def test_", "PASS", "FAIL")


def decide(proposal: int) -> str:
    return (
        "import json\n"
        f'json.dump({{"selected_proposal_id": {proposal}}}, open("manager_decisions.json", "w"))\n'
        'print(open("manager_decisions.json").read())\n'
    )


def python_block(code: str, words: str = "Next step.") -> str:
    return f"{words}\n\n```python\n{code}```\n"


# -- the scripted model behind the fake servers -------------------------------------------


def _text(content: Any) -> str:
    """The text of a message's content in either provider's shape."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if block.get("type") == "text":
            parts.append(block["text"])
        elif block.get("type") == "tool_result":
            parts.append(_text(block.get("content")))
    return "\n".join(parts)


@dataclass
class Seen:
    """What the model was sent: the first user message, its replies so far, the newest
    output of the harness (every message after its last reply), the tools offered."""

    prompt: str
    turn: int
    last: str
    tools: list[str]


def read_request(body: dict[str, Any]) -> Seen:
    messages = body.get("messages") or []
    prompt = _text(messages[0].get("content")) if messages else ""
    turn = sum(m.get("role") == "assistant" for m in messages)
    after: list[str] = []
    for m in reversed(messages):
        if m.get("role") == "assistant":
            break
        after.insert(0, _text(m.get("content")))
    tools = [t.get("name") or t.get("function", {}).get("name") for t in body.get("tools") or []]
    return Seen(prompt=prompt, turn=turn, last="\n".join(after) if turn else "", tools=tools)


Policy = Callable[[Seen], Reply]


class ScriptedModel:
    """Answers each request with the policy of the task named in the prompt, and remembers
    what it was sent and what it answered (for the token and dollar checks)."""

    def __init__(self, policies: dict[str, Policy]) -> None:
        self.policies = policies
        self.seen: dict[str, list[Seen]] = defaultdict(list)
        self.replies: dict[str, list[Reply]] = defaultdict(list)
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply | Fault:
        try:
            seen = read_request(body)
            task = next(k for k in self.policies if k in seen.prompt)
            reply = self.policies[task](seen)
        except Exception as exc:  # a fatal 400 stops the run at once instead of retrying
            return Fault(400, f"the scripted model failed: {exc!r}")
        with self._lock:
            self.seen[task].append(seen)
            self.replies[task].append(reply)
        return reply


def tokens(turn: int, **extra: int) -> dict[str, int]:
    """Distinct token counts per turn, so that sums are checked, not coincidences."""
    return {"input_tokens": 1000 + 37 * turn, "output_tokens": 50 + 3 * turn, **extra}


def call(turn: int, name: str, n: int = 0, **arguments: Any) -> ToolCall:
    return ToolCall(id=f"call_{turn}_{n}", name=name, arguments=arguments)


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(expected_key=KEY, lifetime_s=300) as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(expected_key=KEY, lifetime_s=300) as server:
        yield server


def swelancer(*args: str, env: dict[str, str] | None = None, timeout: float = 240):
    """The CLI in a subprocess, with no provider settings but those given."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and "PROXY" not in k.upper()
    }
    return subprocess.run(
        [sys.executable, "-m", "swelancer", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, "NO_PROXY": "127.0.0.1,localhost", **(env or {})},
    )


def run(results: Path, run_id: str, model: str, tasks: list[str], *extra: str, env=None):
    picks = [arg for task in tasks for arg in ("--task", task)]
    return swelancer(
        "run", "--split", "demo", "--model", model, *picks, "--results-dir", str(results),
        "--run-id", run_id, "-j", "1", "-q", "--test-runs", "1", "--max-retries", "0", *extra,
        env=env,
    )  # fmt: skip


def openai_args(server: FakeModelServer) -> tuple[list[str], dict[str, str]]:
    return ["--base-url", server.base_url], {"OPENAI_API_KEY": KEY}


def anthropic_args(server: FakeModelServer) -> tuple[list[str], dict[str, str]]:
    return [], {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": server.base_url}


def records(run_dir: Path) -> dict[str, dict]:
    path = run_dir / "attempts.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return {r["task_id"]: r for r in map(json.loads, filter(None, lines))}


def transcript(run_dir: Path, task_id: str) -> list[dict]:
    path = run_dir / "attempts" / task_id / "1" / "transcript.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def events(run_dir: Path, task_id: str, kind: str) -> list[dict]:
    return [e for e in transcript(run_dir, task_id) if e["kind"] == kind]


def report_json(run_dir: Path) -> dict:
    shown = swelancer("report", str(run_dir), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def assert_key_nowhere(run_dir: Path) -> None:
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) >= 3
    leaks = [str(p) for p in files if KEY.encode() in p.read_bytes()]
    assert not leaks, f"the API key is written in {leaks}"


def assert_container_env_has_no_key(outputs: list[str], task_id: str) -> None:
    """The recorded output of `env` and of /proc/1/environ, run inside the container."""
    shown = "\n".join(outputs)
    assert f"ISSUE_ID={task_id}" in shown and "PATH=" in shown  # the commands did run
    assert shown.count(f"ISSUE_ID={task_id}") >= 2  # both the shell's and PID 1's environment
    assert KEY not in shown and "API_KEY" not in shown


def assert_trace_only(output: str) -> None:
    """The user tool shows what the user did and saw, never the test's checks or verdict."""
    assert KEY not in output
    assert output.startswith("The user tool finished."), output[:300]
    assert "/app/expensify/user_tool/output_" in output and "trace.trace" in output, output[:1000]
    for word in VERDICT_WORDS:
        assert word not in output, (word, output[:3000])


def expected_usage(replies: list[Reply]) -> dict[str, int]:
    return {
        "input": sum(r.input_tokens for r in replies),
        "cached": sum(r.cached_tokens for r in replies),
        "output": sum(r.output_tokens for r in replies),
    }


def gpt_4o_cost(replies: list[Reply]) -> float:
    """USD at gpt-4o's list price: $2.50 / M input, $1.25 / M cached input, $10 / M output."""
    return sum(
        ((r.input_tokens - r.cached_tokens) * 2.50 + r.cached_tokens * 1.25 + r.output_tokens * 10)
        / 1e6
        for r in replies
    )


def sonnet_4_5_cost(replies: list[Reply]) -> float:
    """USD at claude-sonnet-4-5's list price: $3 / M input, $0.30 / M cache reads, $3.75 / M
    cache writes, $15 / M output."""
    return sum(
        (
            (r.input_tokens - r.cached_tokens - r.cache_write_tokens) * 3.00
            + r.cached_tokens * 0.30
            + r.cache_write_tokens * 3.75
            + r.output_tokens * 15
        )
        / 1e6
        for r in replies
    )


def assert_usage_recorded(record: dict, replies: list[Reply], cost: float | None) -> None:
    want = expected_usage(replies)
    got = record["tokens"]
    assert (got["input"], got["cached"], got["output"]) == (
        want["input"],
        want["cached"],
        want["output"],
    )
    assert record["turns"] == len(replies)
    if cost is None:
        assert record["cost_usd"] is None
    else:
        assert record["cost_usd"] == pytest.approx(cost, rel=1e-9, abs=1e-12)


# -- the upstream protocol ----------------------------------------------------------------


def upstream_fixer(seen: Seen) -> Reply:
    """Task 107_1 in the upstream protocol: look at the environment, plant a fake trace (a
    link to the environment of whoever reads it, dated in the future), use the user tool,
    check that the tests are gone, fix the pager, say DONE."""
    usage = tokens(seen.turn, cached_tokens=400 if seen.turn else 0)
    if seen.turn == 0:
        assert "Turns left" not in seen.prompt and "```python" in seen.prompt
        return Reply(python_block(SHOW_ENV, "First, the environment."), **usage)
    if seen.turn == 1:
        assert "PATH=" in seen.last and "Turns left: " in seen.last
        return Reply(python_block(PLANT_A_FAKE_TRACE, "A trace of my own."), **usage)
    if seen.turn == 2:
        return Reply("Let me see the app as a user would.\n<user-tool>", **usage)
    if seen.turn == 3:
        if not seen.last.startswith(upstream_user_tool_reply()):
            return Reply("DONE", **usage)  # a model that saw no trace gives up: no fix
        return Reply(python_block(LOOK_FOR_TESTS, "Can I read the tests now?"), **usage)
    if seen.turn == 4:
        return Reply(python_block(FIX_107_1, "The page count rounds down; fix it."), **usage)
    assert "pager fixed" in seen.last
    return Reply("DONE", **usage)  # upstream's rule: a reply that is just DONE


def upstream_manager(seen: Seen) -> Reply:
    """111-manager-0 in the upstream protocol: read the proposals, write proposal 2, DONE."""
    if seen.turn == 0:
        assert "Proposal: 2" in seen.prompt and "manager_decisions.json" in seen.prompt
        return Reply(python_block(decide(2), "Proposal 2 lowers both sides."), **tokens(0))
    assert '"selected_proposal_id": 2' in seen.last
    return Reply("DONE", **tokens(1))


def upstream_user_tool_reply() -> str:
    """What upstream's solver says after a user-tool call that ran (`--prompts upstream`, the
    upstream agent's default), read from the shared copy of its solver.py."""
    from swelancer.agents.prompt_choice import resolve_prompts

    texts = resolve_prompts("upstream", show_progress=False).upstream
    assert texts is not None
    return texts.turns.user_tool_done


def test_upstream_protocol_fixes_a_bug_and_picks_a_proposal_through_the_cli(
    demo_image, openai_server, tmp_path
):
    """`swelancer run --model gpt-4o --base-url …` in the upstream protocol: the IC fix earns
    its price, the manager answer is graded right, tokens and dollars are what the server
    said, the user tool shows a trace and nothing else, and the key is nowhere."""
    model = ScriptedModel({"pager stops": upstream_fixer, "Merchant search": upstream_manager})
    openai_server.answer_with(model)
    flags, env = openai_args(openai_server)
    done = run(tmp_path, "upstream", "gpt-4o", ["107_1", "111-manager-0"], *flags, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "upstream"
    got = records(run_dir)

    ic, manager = got["107_1"], got["111-manager-0"]
    assert ic["status"] == "passed" and ic["earned_usd"] == 50.0, ic
    assert ic["test_exit_codes"] == {"107_1": [0]} and ic["stop_reason"] == "done"
    assert "math.ceil(total / PAGE_SIZE)" in (run_dir / "attempts/107_1/1/patch.diff").read_text()
    assert manager["status"] == "passed" and manager["earned_usd"] == 250.0, manager
    assert manager["selected_proposal"] == 2 == manager["correct_proposal"]

    # Tokens and dollars: what the server reported, priced at gpt-4o's rates.
    ic_replies, manager_replies = model.replies["pager stops"], model.replies["Merchant search"]
    assert len(ic_replies) == 6 and len(manager_replies) == 2
    assert_usage_recorded(ic, ic_replies, gpt_4o_cost(ic_replies))
    assert_usage_recorded(manager, manager_replies, gpt_4o_cost(manager_replies))
    report = report_json(run_dir)
    both = ic_replies + manager_replies
    assert report["earned_usd"] == 300.0
    assert report["input_tokens"] == expected_usage(both)["input"]
    assert report["output_tokens"] == expected_usage(both)["output"]
    assert report["cost_usd"] == pytest.approx(gpt_4o_cost(both), abs=1e-6)
    for variant, replies in (("ic_swe", ic_replies), ("swe_manager", manager_replies)):
        figures = report["by_variant"][variant]
        assert figures["input_tokens"] == expected_usage(replies)["input"]
        assert figures["output_tokens"] == expected_usage(replies)["output"]
        assert figures["cost_usd"] == pytest.approx(gpt_4o_cost(replies), abs=1e-6)
    table = swelancer("report", str(run_dir))
    assert table.returncode == 0, table.stderr
    assert "$300" in table.stdout and "API cost" in table.stdout
    assert f"${report['cost_usd']:,.4f}" in table.stdout
    for row, key in (("input tokens", "input_tokens"), ("output tokens", "output_tokens")):
        (line,) = [x for x in table.stdout.splitlines() if row in x]
        assert f"{report[key]:,}" in line, line

    # Every python block ran in the container, in the repository.
    commands = events(run_dir, "107_1", "command")
    # upstream's pattern takes a block up to the newline before its closing fence
    blocks = [SHOW_ENV, PLANT_A_FAKE_TRACE, LOOK_FOR_TESTS, FIX_107_1]
    assert [c["command"] for c in commands] == [b.removesuffix("\n") for b in blocks]
    assert_container_env_has_no_key([commands[0]["output"]], "107_1")

    # The user tool: a trace of what the user saw, no checks, no verdict; then no tests.
    (used,) = events(run_dir, "107_1", "user_tool")
    assert_trace_only(used["output"])
    kept = [p for p in (run_dir / "attempts/107_1/1/user_tool").rglob("*") if p.is_file()]
    assert any(b"Page 1 of 2" in p.read_bytes() for p in kept)  # the bug, as the user saw it
    # what the model was sent: upstream's own reply to a call that ran (the transcript keeps
    # this project's fuller message beside it)
    assert model.seen["pager stops"][3].last.startswith(upstream_user_tool_reply())
    assert "no /app/tests here" in commands[2]["output"]
    assert "No such file or directory" in commands[2]["output"]
    (saved,) = (run_dir / "attempts/107_1/1/user_tool").rglob("trace.trace")
    assert saved.parent.name.startswith("output_") and saved.parent.name != "output_planted"
    assert "output_planted" not in used["output"]  # not written by this run of the user tool

    # The key went to the server, and nowhere else.
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in openai_server.requests)
    assert_key_nowhere(run_dir)
    assert KEY not in done.stderr + done.stdout


# -- tool calling, on both providers ------------------------------------------------------


def tools_fixer(seen: Seen) -> Reply:
    """Task 104 with tools: the environment, the user tool, then (in one reply) a look for
    the tests and the fix, then finish."""
    assert seen.tools == ["bash", "python", "user_tool", "finish"]
    usage = tokens(seen.turn, cached_tokens=300 * seen.turn, cache_write_tokens=200)
    if seen.turn == 0:
        calls = [call(0, "bash", 0, command=SHELL_ENV), call(0, "bash", 1, cmd="ls")]
        return Reply("Looking around.", calls, **usage)
    if seen.turn == 1:
        assert "PATH=" in seen.last and "`bash` needs the argument 'command'" in seen.last
        return Reply(tool_calls=[call(1, "user_tool")], **usage)
    if seen.turn == 2:
        if "The user tool finished" not in seen.last:
            return Reply(tool_calls=[call(2, "finish")], **usage)
        calls = [
            call(2, "bash", 0, command=SHELL_LOOK_FOR_TESTS),
            call(2, "python", 1, code=FIX_104),
        ]
        return Reply("Two things at once.", calls, **usage)
    assert "no /app/tests here" in seen.last and "filter links fixed" in seen.last
    return Reply("Fixed.", [call(3, "finish")], **usage)


def tools_manager(seen: Seen) -> Reply:
    """113-manager-0 with tools: finish with proposal 1."""
    assert seen.tools == ["bash", "python", "finish"]
    return Reply(tool_calls=[call(0, "finish", selected_proposal_id=1)], **tokens(0))


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_tool_calling_fixes_a_bug_and_picks_a_proposal_on_each_provider(
    demo_image, provider, request, tmp_path
):
    """`--agent tools` with native tool calls through each SDK: bash, python, user_tool and
    finish work, two calls in one reply are both answered, the IC fix earns its price, the
    manager's `finish` answer is graded right, and tokens and dollars match the server."""
    server = request.getfixturevalue(f"{provider}_server")
    model = ScriptedModel(
        {"Meals & Entertainment": tools_fixer, "after it was approved": tools_manager}
    )
    server.answer_with(model)
    name, args, price = {
        "openai": ("gpt-4o", openai_args, gpt_4o_cost),
        "anthropic": ("claude-sonnet-4-5", anthropic_args, sonnet_4_5_cost),
    }[provider]
    flags, env = args(server)
    done = run(
        tmp_path, provider, name, ["104", "113-manager-0"], "--agent", "tools", *flags, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / provider
    got = records(run_dir)

    ic, manager = got["104"], got["113-manager-0"]
    assert ic["status"] == "passed" and ic["earned_usd"] == 150.0, ic
    assert manager["status"] == "passed" and manager["earned_usd"] == 2000.0, manager
    assert manager["selected_proposal"] == 1 and manager["stop_reason"] == "done"
    assert json.loads((run_dir / "attempts/113-manager-0/1/decision.json").read_text()) == {
        "selected_proposal_id": 1
    }
    ic_replies = model.replies["Meals & Entertainment"]
    manager_replies = model.replies["after it was approved"]
    assert len(ic_replies) == 4 and len(manager_replies) == 1
    if provider == "openai":  # OpenAI reports no cache writes: they are plain input
        for r in ic_replies:
            r.cache_write_tokens = 0
    assert_usage_recorded(ic, ic_replies, price(ic_replies))
    assert_usage_recorded(manager, manager_replies, price(manager_replies))
    report = report_json(run_dir)
    assert report["earned_usd"] == 2150.0
    assert report["cost_usd"] == pytest.approx(price(ic_replies + manager_replies), abs=1e-6)

    commands = events(run_dir, "104", "command")
    assert [c["command"] for c in commands] == [SHELL_ENV, SHELL_LOOK_FOR_TESTS, FIX_104]
    assert_container_env_has_no_key([commands[0]["output"]], "104")
    (refused,) = events(run_dir, "104", "tool_error")
    assert refused["tool"] == "bash" and "'command'" in refused["message"]
    (used,) = events(run_dir, "104", "user_tool")
    assert_trace_only(used["output"])
    kept = (run_dir / "attempts" / "104" / "1" / "user_tool").rglob("*")
    assert any(p.is_file() and b"Meals & Entertainment" in p.read_bytes() for p in kept)
    assert "No such file or directory" in commands[1]["output"]

    # The tool results went back to the model in the provider's own shape.
    last = server.bodies[-2]["messages"]  # the fixer's last request (the manager's is last)
    if provider == "openai":
        results = [m for m in last if m["role"] == "tool"]
        assert [m["tool_call_id"] for m in results][-2:] == ["call_2_0", "call_2_1"]
    else:
        blocks = [b for m in last if m["role"] == "user" and isinstance(m["content"], list)
                  for b in m["content"] if b.get("type") == "tool_result"]  # fmt: skip
        assert [b["tool_use_id"] for b in blocks][-2:] == ["call_2_0", "call_2_1"]
    assert_key_nowhere(run_dir)


# -- faults of the model API --------------------------------------------------------------


def test_rate_limits_and_server_errors_are_retried_and_the_attempt_succeeds(
    demo_image, openai_server, tmp_path
):
    """429, 500 and 502 are retried inside the model call; the attempt is graded as usual.
    The model here has no known price: its tokens are counted and its cost is unknown."""
    openai_server.push(
        rate_limited(retry_after=0.2),
        server_error(500),
        Reply(python_block(decide(3)), input_tokens=900, output_tokens=40),
        server_error(502),
        Reply("DONE", input_tokens=950, output_tokens=2),
    )
    flags, env = openai_args(openai_server)
    done = run(tmp_path, "retry", "local-model", ["112-manager-0"], *flags, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "retry"
    record = records(run_dir)["112-manager-0"]
    assert record["status"] == "passed" and record["earned_usd"] == 1000.0, record
    assert record["turns"] == 2 and record["tokens"]["input"] == 1850
    assert record["tokens"]["output"] == 42 and record["cost_usd"] is None
    assert [e["retries"] for e in events(run_dir, "112-manager-0", "model")] == [2, 1]
    chats = [r for r in openai_server.requests if r.path != "/v1/models"]  # the preflight's
    assert len(chats) == 5
    report = report_json(run_dir)
    assert report["cost_usd"] is None and report["input_tokens"] == 1850
    assert report["by_variant"]["swe_manager"]["cost_usd"] is None
    assert "HTTP 429" in done.stderr and "HTTP 500" in done.stderr
    assert_key_nowhere(run_dir)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_rejected_key_stops_the_run_with_a_clear_message(
    demo_image, docker_client, provider, request, tmp_path
):
    """401: the run stops at once, exit code 1, one paragraph that names the variable to
    fix, no traceback, and no attempt recorded (it was not the model's failure): the
    preflight's one request finds it before the run begins."""
    server = request.getfixturevalue(f"{provider}_server")
    server.expected_key = "sk-the-right-key"
    server.answer_with(lambda body: Reply("DONE"))
    name, args, variable = {
        "openai": ("gpt-4o", openai_args, "OPENAI_API_KEY"),
        "anthropic": ("claude-sonnet-4-5", anthropic_args, "ANTHROPIC_API_KEY"),
    }[provider]
    flags, env = args(server)
    run_id = f"bad-key-{provider}-{os.getpid()}"
    done = run(tmp_path, run_id, name, ["112-manager-0", "113-manager-0"], *flags, env=env)
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr
    assert "HTTP 401" in done.stderr and variable in done.stderr, done.stderr
    assert KEY not in done.stderr + done.stdout
    assert len(server.requests) == 1  # not retried, and the second task never started
    run_dir = tmp_path / run_id
    assert records(run_dir) == {}
    assert not (run_dir / "run.json").exists()  # refused before the run began
    from swelancer.sandbox.docker import find_containers

    assert find_containers(docker_client, run_id) == []
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(KEY.encode() not in p.read_bytes() for p in written), written


def test_a_cost_limit_needs_a_known_price(docker_client, openai_server, tmp_path):
    """A cost limit on a model without a price could not be enforced: refused at once."""
    flags, env = openai_args(openai_server)
    for limit in ("--max-cost-usd", "--max-run-cost-usd"):
        done = run(tmp_path, "unpriced", "local-model", ["112-manager-0"], limit, "5", *flags,
                   env=env)  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "no price is known for model 'local-model'" in done.stderr
        assert "--prices" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "unpriced").exists() and openai_server.requests == []
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."local-model"]\ninput = 1.0\noutput = 2.0\n')
    openai_server.push(
        Reply(python_block(decide(3)), input_tokens=1000, output_tokens=100), Reply("DONE")
    )
    done = run(tmp_path, "priced", "local-model", ["112-manager-0"], "--max-cost-usd", "5",
               "--prices", str(prices), *flags, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    record = records(tmp_path / "priced")["112-manager-0"]
    assert record["status"] == "passed"
    assert record["cost_usd"] == pytest.approx((1012 * 1.0 + 107 * 2.0) / 1e6)


# -- limits -------------------------------------------------------------------------------


def keeps_going(seen: Seen) -> Reply:
    """111-manager-0: answers at once, then keeps working until the turn limit."""
    code = decide(2) if seen.turn == 0 else "print('still checking')\n"
    return Reply(python_block(code), **tokens(seen.turn))


def slow_fixer(seen: Seen) -> Reply:
    """107_1: fixes the bug, then runs a command longer than the agent's time."""
    code = FIX_107_1 if seen.turn == 0 else "import time\ntime.sleep(60)\n"
    return Reply(python_block(code), **tokens(seen.turn))


def expensive(seen: Seen) -> Reply:
    """113-manager-0: every call costs $1.25 of input at gpt-4o's price; never decides."""
    return Reply(python_block("print('thinking hard')\n"), input_tokens=500_000, output_tokens=9)


def test_turn_time_and_cost_limits_end_attempts_that_are_still_graded(
    demo_image, openai_server, tmp_path
):
    """--max-turns, --max-agent-seconds and --max-cost-usd each end an attempt with its own
    stop_reason; each attempt is graded on what the agent left."""
    model = ScriptedModel(
        {
            "pager stops": slow_fixer,
            "Merchant search": keeps_going,
            "after it was approved": expensive,
        }
    )
    openai_server.answer_with(model)
    flags, env = openai_args(openai_server)
    limits = ["--max-turns", "4", "--max-agent-seconds", "6", "--max-cost-usd", "1"]
    tasks = ["107_1", "111-manager-0", "113-manager-0"]
    done = run(tmp_path, "limits", "gpt-4o", tasks, *limits, *flags, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "limits"
    got = records(run_dir)

    turns = got["111-manager-0"]
    assert (turns["stop_reason"], turns["turns"], turns["status"]) == ("max_turns", 4, "passed")
    seconds = got["107_1"]
    assert (seconds["stop_reason"], seconds["turns"], seconds["status"]) == (
        "max_seconds",
        2,
        "passed",
    )
    assert 5 <= seconds["seconds"]["agent"] < 30 and seconds["test_exit_codes"] == {"107_1": [0]}
    (sleep,) = [c for c in events(run_dir, "107_1", "command") if "sleep" in c["command"]]
    assert sleep["timed_out"]
    cost = got["113-manager-0"]
    assert (cost["stop_reason"], cost["turns"], cost["status"]) == ("max_cost", 1, "failed")
    assert cost["cost_usd"] == pytest.approx(1.25 + 9 * 10 / 1e6)
    assert "no manager_decisions.json" in cost["reason"]
    for task_id, record in got.items():
        assert events(run_dir, task_id, "limit")[0]["reason"] == record["stop_reason"]
        assert events(run_dir, task_id, "verdict")


def test_the_run_cost_limit_stops_starting_attempts(demo_image, openai_server, tmp_path):
    """--max-run-cost-usd: once the run has spent it, the attempt in progress stops (and is
    graded) and no new attempt starts; a later run with a higher limit resumes."""

    def decide_then_done(body: dict[str, Any]) -> Reply:
        text = "DONE" if read_request(body).turn else python_block(decide(0))
        return Reply(text, input_tokens=500_000, output_tokens=10)

    openai_server.answer_with(decide_then_done)
    flags, env = openai_args(openai_server)
    tasks = ["110-manager-0", "111-manager-0"]
    done = run(tmp_path, "budget", "gpt-4o", tasks, "--max-run-cost-usd", "1", *flags, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / "budget"
    got = records(run_dir)
    assert list(got) == ["110-manager-0"]
    first = got["110-manager-0"]
    assert first["status"] == "passed" and first["turns"] == 1
    assert first["stop_reason"] == "max_run_cost"
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "incomplete" and meta["stopped_by"] == "max_run_cost_usd"
    assert "cost limit" in done.stderr
    assert len([r for r in openai_server.requests if r.path != "/v1/models"]) == 1

    again = run(tmp_path, "budget", "gpt-4o", tasks, "--max-run-cost-usd", "10", *flags, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    got = records(run_dir)
    assert list(got) == ["110-manager-0", "111-manager-0"]  # only the missing one ran
    assert got["111-manager-0"]["selected_proposal"] == 0 and got["111-manager-0"]["turns"] == 2
    assert json.loads((run_dir / "run.json").read_text())["status"] == "complete"


# -- mock/scripted ------------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["upstream", "tools"])
def test_a_scripted_model_replays_its_replies_through_the_loop(demo_image, agent, tmp_path):
    """mock/scripted:PATH: each reply of the JSON list goes through the same loop, and each
    command really runs in the container."""
    probe = "import os\nprint('cwd', os.getcwd())\nprint(open('/etc/hostname').read())\n"
    if agent == "upstream":
        script = [python_block(probe), python_block(FIX_104), "DONE"]
    else:
        script = [
            {
                "content": "Looking.",
                "tool_calls": [{"name": "python", "arguments": {"code": probe}}],
            },
            {"tool_calls": [{"name": "python", "arguments": {"code": FIX_104}}]},
            {"tool_calls": [{"name": "finish"}]},
        ]
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    done = run(tmp_path, agent, f"mock/scripted:{path}", ["104"], "--agent", agent)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = tmp_path / agent
    record = records(run_dir)["104"]
    assert record["status"] == "passed" and record["earned_usd"] == 150.0, record
    assert record["turns"] == 3 and record["stop_reason"] == "done"
    commands = events(run_dir, "104", "command")
    ran = [probe, FIX_104]
    if agent == "upstream":  # upstream's pattern stops at the newline before the fence
        ran = [code.removesuffix("\n") for code in ran]
    assert [c["command"] for c in commands] == ran
    assert commands[0]["output"].startswith("cwd /app/expensify\n")
    hostname = commands[0]["output"].splitlines()[1].strip()
    assert hostname and hostname != socket.gethostname()  # the container's, not ours
    assert commands[1]["output"].strip() == "filter links fixed"
