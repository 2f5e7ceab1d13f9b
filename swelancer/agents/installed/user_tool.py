"""The `user-tool` command an installed agent runs in its container: it asks the harness,
through the gateway's port, to run the user tool (`gateway.server.USER_TOOL_PATH`), and prints
the harness's message (where the trace is). Written into the container before the agent's
turn; stdlib Python only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from swelancer.gateway.inside import PORT
from swelancer.gateway.server import USER_TOOL_PATH

if TYPE_CHECKING:
    from swelancer.sandbox.base import Sandbox

COMMAND = "/tmp/swelancer-agent/user-tool"

SCRIPT = f'''#!/usr/bin/env python3
"""Have a user try the app with your current changes; prints where the trace is."""
import json, sys, urllib.request
request = urllib.request.Request("http://127.0.0.1:{PORT}{USER_TOOL_PATH}", data=b"{{}}",
                                 headers={{"content-type": "application/json"}})
with urllib.request.urlopen(request, timeout=7200) as answer:
    print(json.load(answer)["reply"])
'''


def install(box: Sandbox) -> None:
    box.write_file(COMMAND, SCRIPT, mode=0o755)


def how_to(cwd: str) -> str:
    """The prompt's line about it."""
    return (
        f"To see the app as a user would, run `{COMMAND}`: a user opens the app with your "
        "current changes and performs the steps of the issue, and the trace of what they did "
        f"and saw is saved under {cwd}/user_tool/ (the command prints where; it takes a few "
        "minutes). Use it as often as it helps."
    )
