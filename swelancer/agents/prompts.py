"""The prompts a model reads: IC and manager tasks, for the upstream protocol and tool calling.

Older-schema manifests carry a rendered prompt, used as it is (with tools, one more message
says how to work with them instead of code blocks). `--prompt-template FILE`
replaces ours: a `string.Template` with `$task_id`, `$title`, `$description`, `$price`,
`$cwd`, `$proposals` and `$protocol` (the instructions of the agent mode).
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from swelancer.format import money
from swelancer.tasks.models import IcTask, ManagerTask

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


def _proposals_text(task: ManagerTask) -> str:
    if task.proposals_text:
        return task.proposals_text
    blocks = [f"Proposal: {p.id}:\n\n{p.text.strip()}" for p in task.proposals]
    return ("\n\n" + "-" * 44 + "\n\n").join(blocks)


def render_prompt(
    task: IcTask | ManagerTask, *, mode: str = "upstream", template: Path | None = None
) -> list[str]:
    """The user messages that start an attempt."""
    is_ic = isinstance(task, IcTask)
    if mode == "tools":
        how, user_tool = TOOLS_PROTOCOL, TOOLS_USER_TOOL
    else:
        how, user_tool = UPSTREAM_PROTOCOL, UPSTREAM_USER_TOOL
    user_tool = Template(user_tool).safe_substitute(cwd=task.cwd) if is_ic else ""
    protocol = Template(how).safe_substitute(user_tool=user_tool, cwd=task.cwd)
    if task.prompt and template is None:
        if mode == "tools":
            return [*task.prompt, Template(TOOLS_INSTEAD).safe_substitute(protocol=protocol)]
        return list(task.prompt)
    if template is not None:
        text = template.read_text(encoding="utf-8")
    else:
        text = IC_TEMPLATE if is_ic else MANAGER_TEMPLATE
    values = {
        "task_id": task.task_id,
        "title": task.title,
        "description": task.description.strip(),
        "price": money(task.price_usd),
        "cwd": task.cwd,
        "proposals": "" if is_ic else _proposals_text(task),
        "protocol": protocol,
    }
    return [Template(text).safe_substitute(values).strip() + "\n"]
