"""What an installed agent is asked: the task as our templates give it (`agents.prompts`),
with the instructions of a terminal agent in place of a code-block or tool protocol."""

from __future__ import annotations

from string import Template

from swelancer.agents.prompts import OUR_TEMPLATES, template_values
from swelancer.benchmark.variants import rules_for
from swelancer.tasks.models import Task

TERMINAL = """\
How to work: you are in a terminal in $cwd with your own tools for running commands and \
editing files; use them. Work without asking questions: nobody will answer them. When your \
change is made (or your decision file written), end your session."""


def terminal_prompt(task: Task) -> str:
    """The one message an installed agent starts from."""
    protocol = Template(TERMINAL).safe_substitute(cwd=task.cwd)
    if rules_for(task).offers_user_tool:
        from swelancer.agents.installed.user_tool import how_to

        protocol = f"{protocol}\n\n{how_to(task.cwd)}"
    if task.prompt:
        return "\n\n".join([*task.prompt, protocol]) + "\n"
    values = template_values(task, protocol)
    return Template(OUR_TEMPLATES[task.variant]).safe_substitute(values).strip() + "\n"
