#!/usr/bin/env node
"""`npx` stand-in (installed as `lib/node_modules/npm/bin/npx-cli.js`; `bin/npx` links to it).

`npx <command> [args]` runs `node_modules/.bin/<command>` of the nearest project. Like npx
without a registry, it fails when the project has not installed the command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def find_bin(command: str, start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "node_modules" / ".bin" / command
        if candidate.exists():
            return candidate
    return None


def main() -> int:
    args = [a for a in sys.argv[1:] if a not in ("-y", "--yes", "--no-install", "--")]
    if not args:
        print("npm error npx needs a command to run", file=sys.stderr)
        return 1
    command, rest = args[0], args[1:]
    found = find_bin(command, Path.cwd())
    if found is None:
        print(
            f"npm error could not determine executable to run\nnpm error (the contract "
            f"stand-in has no registry: install the project's packages so that "
            f"node_modules/.bin/{command} exists)",
            file=sys.stderr,
        )
        return 1
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(found.parent), env.get("PATH", "")])
    os.execve(str(found), [str(found), *rest], env)
    return 127


if __name__ == "__main__":
    sys.exit(main())
