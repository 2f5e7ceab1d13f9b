"""The app's ports: what the judge reaches of the app's network namespace, declared here (never
read from the app's container), and nothing else of it.

Upstream's runtime (`run_tests.yml`, `replay.py`, the tests): the app is the webpack dev server
on 8082 (`https://dev.new.expensify.com:8082`, which setup_mitmproxy.yml resolves to
127.0.0.1); everything else the test's browser loads goes through mitmdump on 8080, which the
judge's part of the playbook starts, so it is the judge's, with the replayed API, the
pusher-fake and nginx (80, 443, 57003, 57004) and the X display run.sh starts in the judge's
container. The demo image: its dev server on 8082 (the launcher) and the copies of the app the
tests ask it for, on the launcher's `COPY_PORTS`.
"""

from __future__ import annotations

DEV_SERVER_PORT = 8082
DEMO_COPY_PORTS = range(8100, 8164)
"""The demo launcher's `COPY_PORTS` (docker/demo/launcher/launcher.py)."""

APP_PORTS: tuple[int, ...] = (DEV_SERVER_PORT, *DEMO_COPY_PORTS)
"""Every port of the app's a judge reaches; a port nothing listens on is refused, as it is
in upstream's single container."""

JUDGE_PORTS: tuple[int, ...] = (80, 443, 5900, 5901, 8080, 57003, 57004)
"""Ports the judge's own services bind in its own namespace (run.sh, mitmdump): never the
app's."""
