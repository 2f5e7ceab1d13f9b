"""Whether a container can still be trusted to run the harness's own steps, judged from the
engine's record of what changed in it (nothing runs inside to find out).

After its turn the agent's container is the agent's. Grading in place (upstream's way) runs
upstream's playbook there, which is only sound while the programs it runs are the image's: a
shell, a `rm` or an `ansible-playbook` the agent replaced could hang the harness or forge the
verdict. Such a container is graded in a fresh sandbox instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ADDED, CHANGED, DELETED = 1, 0, 2
_PATH_DIRS = (
    r"/(usr/(local/)?)?s?bin|/root/\.local/bin|/opt/conda(/envs/[^/]+)?/bin"
    r"|/root/\.nvm/versions/[^/]+/[^/]+/bin"
)
_REPLACED = re.compile(
    rf"^({_PATH_DIRS})/[^/]+$"  # a program changed or removed where PATH finds programs
    r"|^/(usr/)?lib(32|64|x32)?/([^/]+-linux-gnu/)?(ld-linux|libc\.|libpthread|libdl)[^/]*$"
    r"|^/etc/(ld\.so\.(preload|conf)|bash\.bashrc|profile|environment)$|^/etc/profile\.d/"
    r"|^/root/\.(bashrc|profile|bash_profile|bash_login)$"
)
_SHADOWING = re.compile(
    r"^(/usr/local/s?bin|/root/\.local/bin|/opt/conda(/envs/[^/]+)?/bin)/[^/]+$"
)
"""Folders that come before /usr/bin on PATH: a program added there shadows the image's."""
_NEW_LOADER_HOOK = re.compile(r"^/etc/(ld\.so\.preload|profile\.d/)")

_TEST_PYTHON = re.compile(
    r"^(/usr(/local)?/lib/python3[^/]*|/opt/conda(/envs/[^/]+)?/lib/python3[^/]*"
    r"|/root/\.local/lib/python3[^/]*)/(site|dist)-packages/"
)
"""Where the Python that runs the tests keeps pytest and its plugins."""


def python_changed(changes: Iterable[tuple[str, int]]) -> list[str]:
    """Files of the Python that runs the tests (pytest, its plugins, anything a `.pth` loads)
    added, changed or removed: a patched pytest can print a passing summary of its own."""
    return sorted(path for path, _kind in changes if _TEST_PYTHON.match(path))


def replaced_tools(changes: Iterable[tuple[str, int]]) -> list[str]:
    """Paths showing that programs, the loader or the shell's startup files were changed (or
    shadowed by a new program earlier on PATH), from the engine's list of changes."""
    return sorted(path for path, kind in changes if _is_replacement(path, kind))


def _is_replacement(path: str, kind: int) -> bool:
    if kind == ADDED:
        return bool(_SHADOWING.match(path) or _NEW_LOADER_HOOK.match(path))
    return bool(_REPLACED.match(path))
