"""The messages a model reads before its first reply: upstream's words or this project's.

`upstream` (the default of the upstream agent): upstream's own text, read from its pinned files
(`agents.upstream_files`, `agents.upstream_text`) and put together as its harness does. Current
manifest rows: one message, `construct_task_prompt(...)` of `prompts.py` followed by the
solver's `ADDITIONAL_AGENT_PROMPT`. Older-schema rows (lite): the row's own messages, then the old
harness's protocol message.

`swelancer` (the default of `--agent tools`): our own templates below. Older-schema rows send
their own messages followed by our protocol. `--prompt-template FILE` replaces our template: a
`string.Template` with `$task_id`, `$title`, `$description`, `$price`, `$cwd`, `$proposals` and
`$protocol` (the instructions of the agent mode).

With tools (`--agent tools`), either kind ends with a message of ours naming the tools, in place
of the instructions to write code blocks.
"""

from __future__ import annotations

from string import Template
from typing import Any, Literal

from pydantic import BaseModel, model_validator

from swelancer.agents.upstream_text import UpstreamTexts
from swelancer.benchmark.variants import rules_for
from swelancer.format import money
from swelancer.tasks.models import PriceStyle, Task, Variant

IC_TEMPLATE = """\
You are an experienced software engineer looking after the repository checked out at $cwd \
(your working directory). Fix the issue below.

# $title

$description

Whoever fixes this issue is paid $price. There is nothing to commit or push: the state of \
the working tree when you finish is what end-to-end tests, which you cannot see, will check \
by using the app as a user would. Do not stop before your change is made, and finish the \
whole job yourself: leave no TODOs, placeholders or action items behind.

$protocol"""

MANAGER_TEMPLATE = """\
You are the engineering manager of the repository checked out at $cwd (your working \
directory). The issue below will be paid $price once your team fixes it. Freelancers have \
sent proposals for it, and as the manager you must choose the best one.

# $title

$description

$proposals

Read the proposals and, where it helps, the code in $cwd to judge them. Do not try to run \
the app or to write the fix yourself. To give your answer, write a JSON file at exactly \
$cwd/manager_decisions.json (that path and no other), in this form:

{"selected_proposal_id": <the number of the proposal you choose>}

$protocol"""

OUR_TEMPLATES: dict[Variant, str] = {"ic_swe": IC_TEMPLATE, "swe_manager": MANAGER_TEMPLATE}
"""Our own wording (`--prompts swelancer`) of each variant's first message."""

UPSTREAM_PROTOCOL = """\
How to work: you act on the repository only through Python code that I run for you. Put \
exactly one fenced block of Python (```python ... ```) in each reply; you may write text \
around it. I run it with `python -c` in $cwd and send back what it printed, with the \
number of turns you have left. Use it to read and edit files and to run commands (through \
`subprocess`, e.g. `subprocess.run(['grep', '-rn', 'foo', '$cwd'], capture_output=True, \
text=True)`); look up a tool's `--help` when unsure.

Each block runs on its own, in a new process, like a fresh script: nothing survives from \
an earlier block (no variables, no imports), so write complete, runnable code every time, \
with its imports, and print whatever you want to see. It is not a notebook. If you need a \
package that is missing, install it from your code (`subprocess.check_call([sys.executable, \
'-m', 'pip', 'install', ...])`, or `apt-get install -y ...`); do not assume git is \
installed unless you install it.$user_tool

Go step by step: one small action per reply, then wait for its output. Start by listing \
your working directory and looking around the code to make a plan. When you have \
finished, reply with just DONE (no code block) and your work will be graded."""

UPSTREAM_USER_TOOL = """

To see the app as a user would, reply with <user-tool> instead of code: a user opens the \
app with your current changes and performs the steps of the issue, and the trace of what \
they did and saw is saved under $cwd/user_tool/, one folder (output_...) per browser. Each \
folder holds trace.trace, a JSON-lines file too big to read whole: parse it with Python. \
Rows whose "type" is "before", "after" or "log" show the actions taken, in order; a \
"screencast-frame" row's "sha1" names a JPEG screenshot in the folder's resources/; \
"frame-snapshot" rows hold the page's HTML at that moment (the next snapshot after an \
interesting log row shows its effect). A call takes a few minutes. If an action you expect \
is missing, run it again: now and then it ends early. Use it as often as it helps."""

TOOLS_PROTOCOL = """\
How to work: use the tools. `bash` runs a shell command in $cwd, `python` runs Python code \
there; each returns the output. $user_tool When you have finished, call `finish`."""

TOOLS_USER_TOOL = (
    "`user_tool` has a user perform the steps of the issue against your version of the app "
    "and saves the trace of what they did and saw under $cwd/user_tool/ (it may take several "
    "minutes)."
)

TOOLS_INSTEAD = """\
In this session you have tools instead of code blocks: call them rather than writing \
```python blocks or <user-tool>. $protocol"""


class PromptSet(BaseModel):
    """Which words an attempt sends, with all it needs to render them (sent as it is to other
    machines, so nothing is read again there) and what run.json records of it."""

    kind: Literal["upstream", "swelancer"] = "swelancer"
    upstream: UpstreamTexts | None = None
    """Upstream's texts (kind `upstream`)."""
    template: str | None = None
    """The text of `--prompt-template` (kind `swelancer`), replacing our own template."""
    price_style: PriceStyle = "float"
    """How upstream's prompt writes the price: as pandas read the manifest's price column."""
    record: dict[str, Any] = {}

    @model_validator(mode="after")
    def _texts_of_their_kind(self) -> PromptSet:
        if (self.kind == "upstream") != (self.upstream is not None):
            raise ValueError("upstream's texts go with kind 'upstream', and only with it")
        return self


def price_text(price_usd: float, style: PriceStyle) -> str:
    """The price as upstream's prompt shows it: pandas' float64 (`32000.0`) or int64 (`500`)."""
    if style == "int" and float(price_usd).is_integer():
        return str(int(price_usd))
    return str(float(price_usd))


def render_prompt(
    task: Task, *, mode: str = "upstream", prompts: PromptSet | None = None
) -> list[str]:
    """The user messages that start an attempt, in order: what the agent sends."""
    prompts = prompts or PromptSet()
    if prompts.kind == "upstream":
        return _upstream_messages(task, mode, prompts.upstream, prompts.price_style)
    return _our_messages(task, mode, prompts.template)


def upstream_task_prompt(task: Task, texts: UpstreamTexts, price_style: PriceStyle) -> str:
    """What upstream's `construct_task_prompt` gives for a current-schema task."""
    price = price_text(task.price_usd, price_style)
    return rules_for(task).upstream_prompt(texts.constants, price)


def _upstream_messages(task, mode: str, texts: UpstreamTexts | None, price_style: PriceStyle):
    assert texts is not None  # PromptSet's validator
    if mode == "tools":
        own = list(task.prompt) if task.prompt else [upstream_task_prompt(task, texts, price_style)]
        return [*own, _tools_note(task)]
    if task.prompt:  # the old harness: each message of the row, then its protocol message
        return [*task.prompt, texts.old_protocol]
    first = upstream_task_prompt(task, texts, price_style)
    return [first + "\n\n" + texts.constants["ADDITIONAL_AGENT_PROMPT"]]


def _protocol(task: Task, mode: str) -> str:
    if mode == "tools":
        how, user_tool = TOOLS_PROTOCOL, TOOLS_USER_TOOL
    else:
        how, user_tool = UPSTREAM_PROTOCOL, UPSTREAM_USER_TOOL
    if not rules_for(task).offers_user_tool:
        user_tool = ""
    user_tool = Template(user_tool).safe_substitute(cwd=task.cwd)
    return Template(how).safe_substitute(user_tool=user_tool, cwd=task.cwd)


def _tools_note(task: Task) -> str:
    return Template(TOOLS_INSTEAD).safe_substitute(protocol=_protocol(task, "tools"))


def _our_messages(task: Task, mode: str, template: str | None) -> list[str]:
    protocol = _protocol(task, mode)
    if task.prompt and template is None:
        if mode == "tools":
            return [*task.prompt, _tools_note(task)]
        return [*task.prompt, protocol]
    text = template if template is not None else OUR_TEMPLATES[task.variant]
    return [Template(text).safe_substitute(template_values(task, protocol)).strip() + "\n"]


def template_values(task: Task, protocol: str) -> dict[str, str]:
    """What our templates (and `--prompt-template`) fill in: `$task_id`, `$title`,
    `$description`, `$price`, `$cwd`, `$proposals`, `$protocol`."""
    return {
        "task_id": task.task_id,
        "title": task.title,
        "description": task.description.strip(),
        "price": money(task.price_usd),
        "cwd": task.cwd,
        "proposals": rules_for(task).proposals(),
        "protocol": protocol,
    }
