"""How commands run in a task image: in its interactive shell, as upstream runs them."""

from __future__ import annotations

import re
import shlex

TESTS_DIR = "/app/tests"
BASH_I_NOISE = re.compile(
    r"bash: (cannot set terminal process group \(-?\d+\): Inappropriate ioctl for device"
    r"|no job control in this shell)\r?"
)


def interactive(command: str) -> list[str]:
    """`command` in the image's interactive shell, as upstream runs its commands (`bash -i -c`):
    root's `.bashrc` is read, which activates the conda `testbed` env and defines `user-tool`."""
    return ["bash", "-i", "-c", command]


def steps(*parts: tuple[list[str], str]) -> list[str]:
    """Several commands (each an argv, such as `interactive(...)`, run as is) as one: each
    followed by what to do when it fails (`exit $?` to stop there). One exec instead of
    several: each costs the engine a round trip, the commands themselves milliseconds."""
    lines = [f"{shlex.join(argv)} || {on_failure}" for argv, on_failure in parts]
    return ["sh", "-c", "\n".join(lines)]


def without_shell_noise(output: str) -> str:
    """Output of an interactive shell without the two lines bash prints when it has no tty."""
    lines = output.split("\n")
    while lines and BASH_I_NOISE.fullmatch(lines[0]):
        lines.pop(0)
    return "\n".join(lines)
