#!/usr/bin/python3
"""`node` stand-in, installed by the nvm stand-in as `versions/node/v<X>/bin/node`.

It runs the toolchain's own scripts: the npm, npx and webpack stand-ins are Python files with
`.js` names (`#!/usr/bin/env node`), so every toolchain process has `node` on its command line,
as upstream's `pkill -f node` expects. It cannot run JavaScript.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path


def version() -> str:
    """`v20.15.1`, from the directory nvm installed this file into."""
    for part in reversed(Path(__file__).resolve().parts):
        if part.startswith("v") and part[1:2].isdigit():
            return part
    return "v20.15.1"


def main() -> int:
    args = sys.argv[1:]
    while args and args[0].startswith("--") and args[0] not in ("--version", "--eval", "--print"):
        args.pop(0)  # runtime flags such as --max-old-space-size=8192
    if not args:
        print("node (contract stand-in): no REPL; give a script", file=sys.stderr)
        return 9
    if args[0] in ("-v", "--version"):
        print(version())
        return 0
    if args[0] in ("-e", "--eval", "-p", "--print"):
        print("node (contract stand-in): cannot evaluate JavaScript", file=sys.stderr)
        return 1
    script = Path(args[0])
    if not script.exists() and script.with_suffix(".js").exists():
        script = script.with_suffix(".js")
    if not script.is_file():
        print(
            f"node:internal/modules/cjs/loader\n  throw err;\n\nError: Cannot find module "
            f"'{script.resolve()}'",
            file=sys.stderr,
        )
        return 1
    sys.argv = [str(script), *args[1:]]
    sys.path[0] = str(script.resolve().parent)
    os.environ.setdefault("NODE", str(Path(__file__).resolve()))
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SyntaxError as exc:
        print(f"{script}:{exc.lineno}\nSyntaxError: {exc.msg}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
