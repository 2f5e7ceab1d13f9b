"""The judge's remote viewer, stopped once it is set up.

Upstream's `run.sh` starts `x11vnc` on the display the browser under test draws on (no
password, port 5900) and `websockify` in front of it (port 5901), for a person to watch. In a
judge container those ports are on the judge's loopback, and the app's own pages run in the
judge's browser: a page could open `ws://localhost:5901` and type into the display (fluxbox's
run dialog included), as root in the judge. No test uses the viewer, so the judge stops both
before any test runs; the display, the window manager and everything else setup started stay.
"""

from __future__ import annotations

from swelancer.sandbox.base import Sandbox

VIEWERS = ("x11vnc", "websockify")

_STOP = (
    "n=0; for d in /proc/[0-9]*; do "
    'c=$(tr "\\0" " " < "$d/cmdline" 2>/dev/null) || continue; '
    'case " $c" in *[/\\ ]x11vnc\\ *|*[/\\ ]websockify\\ *) '
    'kill -9 "${d#/proc/}" 2>/dev/null && n=$((n+1));; esac; done; echo "$n"'
)
"""Every process whose command names x11vnc or websockify (the program, or the script an
interpreter runs), killed; prints how many."""


def stop_viewers(sandbox: Sandbox) -> int:
    """Kill the remote viewer's processes in `sandbox` (a judge: nothing of the agent's runs
    there); returns how many were killed, -1 when the shell did not say."""
    result = sandbox.exec(["sh", "-c", _STOP], timeout=60)
    last = result.output.strip().splitlines()[-1:] or [""]
    return int(last[0]) if result.ok and last[0].isdigit() else -1
