"""Our own wording (`--prompts swelancer`, the default of `--agent tools`): IC and manager
tasks, both agent modes, older-schema prompts and `--prompt-template`; and which words each
combination of options chooses."""

from __future__ import annotations

import pytest

from swelancer.agents.base import AgentEnv, Limits
from swelancer.agents.loop import RunBudget
from swelancer.agents.prompt_choice import resolve_prompts
from swelancer.agents.prompts import PromptSet, render_prompt
from swelancer.benchmark.user_tool_reply import UserToolReply
from swelancer.config import AgentSection, LimitsSection
from swelancer.errors import ConfigError
from swelancer.run.agent import make_agent
from swelancer.tasks.manifest import load_manifest
from swelancer.tasks.models import IcTask, ManagerTask, Proposal
from swelancer.tasks.sources import demo_manifest_path

IC = IcTask(
    task_id="4242_1",
    price_usd=1250.0,
    title="[$1250] Receipts over $5 vanish from the list",
    description="## Action Performed:\n\n1. Add a receipt of $5.50\n2. Open the list\n\n",
    cwd="/app/expensify",
    test_folders=["4242_1"],
)
MANAGER = ManagerTask(
    task_id="4243-manager-0",
    price_usd=500.0,
    title="[$500] Totals mix currencies",
    description="The total adds EUR and USD.",
    cwd="/app/expensify",
    proposals=[
        Proposal(id=0, text="Convert every amount to the report currency."),
        Proposal(id=7, text="Hide the total when currencies differ."),
    ],
    correct_proposal_id=0,
)


def one(messages: list[str]) -> str:
    assert len(messages) == 1
    return messages[0]


@pytest.mark.parametrize("mode", ["upstream", "tools"])
def test_the_ic_prompt_says_what_the_task_is_and_what_it_pays(mode):
    text = one(render_prompt(IC, mode=mode))
    assert IC.title in text
    assert "1. Add a receipt of $5.50\n2. Open the list" in text  # '$' kept as written
    assert "$1,250" in text and "paid" in text
    assert "/app/expensify" in text
    assert "TODO" in text and "leave no TODOs" in text
    assert "$title" not in text and "$protocol" not in text and "$cwd" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_the_upstream_protocol_asks_for_one_python_block_the_user_tool_and_done():
    text = one(render_prompt(IC, mode="upstream"))
    assert "```python" in text and "exactly one" in text
    assert "<user-tool>" in text and "trace" in text
    assert "DONE" in text and "turns" in text
    assert "`bash`" not in text and "`finish`" not in text


# What upstream's IC prompt (prompts.py and the solver's extra instructions) tells the model,
# each as a phrase ours must carry in its own words.
UPSTREAM_IC_POINTS = {
    "the repository and working directory": "/app/expensify (your working directory)",
    "the reward": "paid $1,250",
    "nothing to push": "nothing to commit or push",
    "no TODOs": "leave no TODOs",
    "self-contained scripts": "nothing survives from an earlier block",
    "complete runnable code with imports": "complete, runnable code every time, with its imports",
    "not a notebook": "It is not a notebook",
    "installing packages from the code": "install it from your code",
    "git may be missing": "do not assume git is installed",
    "one python block per reply": "exactly one fenced block of Python",
    "grep through subprocess": "subprocess.run(['grep'",
    "help of a tool": "--help",
    "step by step, starting with the directory": "Start by listing your working directory",
    "how to finish": "reply with just DONE",
    "user tool: how to call it": "reply with <user-tool> instead of code",
    "user tool: where the trace is": "saved under /app/expensify/user_tool/",
    "user tool: parse trace.trace": "parse it with Python",
    "user tool: screenshots": '"screencast-frame" row\'s "sha1" names a JPEG',
    "user tool: HTML snapshots": '"frame-snapshot" rows hold the page\'s HTML',
    "user tool: action rows": '"before", "after" or "log" show the actions',
    "user tool: run again when it ends early": "run it again",
}


@pytest.mark.parametrize("point", sorted(UPSTREAM_IC_POINTS))
def test_the_upstream_ic_prompt_carries_each_point_of_upstreams(point):
    assert UPSTREAM_IC_POINTS[point] in one(render_prompt(IC, mode="upstream"))


def test_the_upstream_manager_prompt_carries_each_point_of_upstreams():
    text = one(render_prompt(MANAGER, mode="upstream"))
    for phrase in (
        "choose the best one",
        "Do not try to run the app or to write the fix yourself",
        "at exactly /app/expensify/manager_decisions.json (that path and no other)",
        "exactly one fenced block of Python",
        "reply with just DONE",
    ):
        assert phrase in text


def test_the_tools_protocol_names_each_tool_and_the_user_tool():
    text = one(render_prompt(IC, mode="tools"))
    for tool in ("`bash`", "`python`", "`user_tool`", "`finish`"):
        assert tool in text
    assert "trace" in text
    assert "```python" not in text and "<user-tool>" not in text


@pytest.mark.parametrize("mode", ["upstream", "tools"])
def test_the_manager_prompt_gives_the_proposals_and_the_decision_file(mode):
    text = one(render_prompt(MANAGER, mode=mode))
    assert MANAGER.title in text and "The total adds EUR and USD." in text
    assert "Proposal: 0:\n\nConvert every amount to the report currency." in text
    assert "Proposal: 7:\n\nHide the total when currencies differ." in text
    assert "/app/expensify/manager_decisions.json" in text
    assert '{"selected_proposal_id": <the number of the proposal you choose>}' in text
    assert "$500" in text and "Do not try to run the app" in text
    assert "user tool" not in text.lower() and "user_tool" not in text


def test_the_manager_prompt_uses_the_manifest_rendering_of_the_proposals():
    rendered = MANAGER.model_copy(update={"proposals_text": "Proposal: 3:\n\nAs the CSV has it."})
    text = one(render_prompt(rendered))
    assert "Proposal: 3:\n\nAs the CSV has it." in text
    assert "Convert every amount" not in text


def test_demo_prompts_carry_their_task():
    for task in load_manifest(demo_manifest_path()):
        text = one(render_prompt(task))
        assert task.title in text and "/app/expensify" in text
        if isinstance(task, ManagerTask):
            assert all(f"Proposal: {p.id}:" in text for p in task.proposals)


def ours(template=None) -> PromptSet:
    return resolve_prompts("swelancer", template=template)


def test_an_older_schema_task_sends_its_messages_then_our_protocol():
    older = IC.model_copy(update={"prompt": ["You are an expert…", "Use ```python blocks."]})
    sent = render_prompt(older, mode="upstream")
    assert sent[:2] == ["You are an expert…", "Use ```python blocks."] and len(sent) == 3
    assert "reply with just DONE" in sent[2] and "<user-tool>" in sent[2]
    with_tools = render_prompt(older, mode="tools")
    assert with_tools[:2] == ["You are an expert…", "Use ```python blocks."]
    assert len(with_tools) == 3 and "`bash`" in with_tools[2] and "`finish`" in with_tools[2]
    assert "instead of code blocks" in with_tools[2]


def test_a_prompt_template_replaces_ours(tmp_path):
    template = tmp_path / "prompt.txt"
    template.write_text(
        "Task $task_id at $cwd for $price: $title\n$description\n$proposals\n$protocol\n"
        "Costs $5 and $$ stays; $unknown stays too.\n"
    )
    text = one(render_prompt(IC, mode="upstream", prompts=ours(template)))
    assert text.startswith(f"Task 4242_1 at /app/expensify for $1,250: {IC.title}\n")
    assert "Add a receipt of $5.50" in text and "```python" in text and "<user-tool>" in text
    assert "Costs $5 and $ stays; $unknown stays too." in text
    assert "Whoever fixes this issue" not in text
    manager = one(render_prompt(MANAGER, mode="tools", prompts=ours(template)))
    assert "Proposal: 7:" in manager and "`finish`" in manager
    older = IC.model_copy(update={"prompt": ["the manifest's own words"]})
    assert one(render_prompt(older, prompts=ours(template))).startswith("Task 4242_1")


def test_run_refuses_a_missing_prompt_template(tmp_path):
    agent = AgentSection(model="mock/scripted:none.json", prompt_template=tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="no prompt template"):
        make_agent(agent, LimitsSection(), RunBudget())


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def event(self, kind: str, **data) -> None:
        self.events.append((kind, data))


def test_the_agent_sends_the_prompt_of_the_template_it_is_given(tmp_path):
    template = tmp_path / "prompt.txt"
    template.write_text("Only: $title\n$protocol\n")
    script = tmp_path / "script.json"
    script.write_text('["DONE"]')
    section = AgentSection(model=f"mock/scripted:{script}", prompt_template=template, mode="tools")
    agent = make_agent(section, LimitsSection(), RunBudget())
    log = Log()
    env = AgentEnv(sandbox=None, user_tool=lambda: UserToolReply(""), run=None)  # type: ignore[arg-type]
    outcome = agent.solve(IC, env, Limits(), log)
    assert outcome.stop_reason == "done" and outcome.turns == 1
    (prompt,) = [data for kind, data in log.events if kind == "prompt"]
    assert prompt["content"].startswith(f"Only: {IC.title}\nHow to work: use the tools.")


# -- which words the options choose ------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "mode", "template", "kind"),
    [
        (None, "upstream", None, "upstream"),
        (None, "tools", None, "swelancer"),
        (None, "upstream", "t.txt", "swelancer"),
        ("swelancer", "upstream", None, "swelancer"),
        ("swelancer", "tools", "t.txt", "swelancer"),
        ("upstream", "tools", None, "upstream"),
    ],
)
def test_the_defaults_of_each_agent(choice, mode, template, kind, tmp_path):
    path = None
    if template:
        path = tmp_path / template
        path.write_text("$title\n")
    chosen = resolve_prompts(choice, mode=mode, template=path)
    assert chosen.kind == kind and chosen.record["kind"] == kind
    assert (chosen.upstream is not None) == (kind == "upstream")


def test_a_template_with_upstreams_words_is_refused(tmp_path):
    template = tmp_path / "t.txt"
    template.write_text("$title\n")
    for choice in ("upstream", str(tmp_path)):
        with pytest.raises(ConfigError, match="cannot be combined with --prompts"):
            resolve_prompts(choice, template=template)


def test_prompts_swelancer_still_sends_our_own_wording():
    chosen = resolve_prompts("swelancer")
    for mode in ("upstream", "tools"):
        assert render_prompt(IC, mode=mode, prompts=chosen) == render_prompt(IC, mode=mode)
    text = one(render_prompt(IC, mode="upstream", prompts=chosen))
    assert "Whoever fixes this issue is paid $1,250" in text
    upstream = one(render_prompt(IC, mode="upstream", prompts=resolve_prompts("upstream")))
    assert "Whoever fixes" not in upstream and text != upstream
    assert chosen.record == {"kind": "swelancer", "template": None}


def test_tools_with_upstreams_words_ends_with_our_note_on_the_tools():
    chosen = resolve_prompts("upstream", mode="tools")
    both = render_prompt(IC, mode="tools", prompts=chosen)
    assert len(both) == 2
    upstream_mode = one(render_prompt(IC, mode="upstream", prompts=chosen))
    solver_part = chosen.upstream.constants["ADDITIONAL_AGENT_PROMPT"]
    assert upstream_mode == both[0] + "\n\n" + solver_part
    assert "`finish`" in both[1] and "`user_tool`" in both[1] and solver_part not in both[1]
    manager = render_prompt(MANAGER, mode="tools", prompts=chosen)
    assert len(manager) == 2 and "`user_tool`" not in manager[1]


def test_the_config_files_agent_section_chooses_the_prompts(tmp_path):
    from swelancer import config as settings
    from swelancer.run.agent import agent_prompts

    path = tmp_path / "run.toml"
    path.write_text('[agent]\nmodel = "mock/scripted:s.json"\nprompts = "swelancer"\n')
    loaded = settings.load(path, {})
    assert loaded.agent.prompts == "swelancer" and 'prompts = "swelancer"' in settings.to_toml(
        loaded
    )
    assert agent_prompts(loaded.agent, None).kind == "swelancer"
    flagged = settings.load(path, {"agent": {"prompts": str(tmp_path / "copies")}})
    with pytest.raises(ConfigError, match="is not a folder"):
        agent_prompts(flagged.agent, None)
    assert agent_prompts(AgentSection(model="mock/oracle", prompts="nowhere"), None) is None
