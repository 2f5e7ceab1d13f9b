"""Running commands in a container: bounded output, timeouts that kill the whole process group,
and helpers bounded on the host side (the container may be the agent's)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.base import ExecResult
from swelancer.sandbox.docker.client import TIMEOUT_EXIT_CODE, _infra_error, _sdk_errors
from swelancer.sandbox.docker.core import ContainerCore
from swelancer.sandbox.docker.streams import _BoundedOutput, _close_socket, _StreamReader

_MARKER_ENV = "SWELANCER_EXEC_ID"

# A command with a timeout runs as `sh -c _LAUNCHER _WRAPPER <pgid file> <argv...>`. The launcher
# starts the wrapper in a new session (so a new process group) and silences `setsid`'s own note
# about a killed child; the wrapper writes its pgid to the file and runs the command.
_LAUNCHER = (
    "command -v setsid >/dev/null 2>&1 || "
    '{ echo "setsid (util-linux) is needed to run a command with a timeout" >&2; exit 127; }; '
    'exec setsid -w /bin/sh -c "$0" "$@" 2>/dev/null'
)
# Only shell builtins after the command: nothing found through the container's PATH (which the
# agent may have filled with look-alikes) runs on the harness's behalf.
_WRAPPER = '{ echo $$ >"$0"; } 2>/dev/null; exec 2>&1; "$@"'

# Kills what one timed-out command started: $1 = pgid file, $2 = marker, $3 = grace tenths.
_KILLER = r"""
f=$1; m=$2; n=$3; i=0
while [ ! -s "$f" ] && [ "$i" -lt 10 ]; do sleep 0.1; i=$((i+1)); done
g=$(cat "$f" 2>/dev/null)
pids() {
  grep -lsaF "$m" /proc/[0-9]*/environ 2>/dev/null | sed -n 's,^/proc/\([0-9]*\)/environ$,\1,p'
}
hit() {
  [ -n "$g" ] && kill -s "$1" -- "-$g" 2>/dev/null
  p=$(pids); [ -n "$p" ] && kill -s "$1" $p 2>/dev/null
}
alive() { [ -n "$(pids)" ] || { [ -n "$g" ] && kill -0 -- "-$g" 2>/dev/null; }; }
hit TERM
i=0
while [ "$i" -lt "$n" ] && alive; do sleep 0.1; i=$((i+1)); done
hit KILL
exit 0
"""


class CommandsMixin(ContainerCore):
    """`exec` and the helpers of `DockerSandbox`."""

    # -- commands -------------------------------------------------------------------------------

    def exec(
        self,
        cmd: str | list[str],
        *,
        timeout: float | None = None,
        workdir: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run `cmd` (a string under `bash -lc`, a list as is) and wait for it.

        Output is stdout and stderr interleaved, decoded as UTF-8 (bad bytes replaced); beyond
        `max_output_bytes` only the head and tail are kept, around a `[... N bytes truncated ...]`
        note. When `timeout` seconds pass, every process the command started is killed and the
        result has `timed_out=True` and `exit_code=124`.
        """
        argv = ["bash", "-lc", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        env = dict(env or {})
        token = ""
        if timeout is not None:
            token = secrets.token_hex(8)
            env[_MARKER_ENV] = token
            argv = ["/bin/sh", "-c", _LAUNCHER, _WRAPPER, self._pgid_file(token), *argv]
        started = time.monotonic()
        exec_id, sock = self._exec_start(argv, workdir=workdir, env=env)
        output = _BoundedOutput(self.max_output_bytes)
        reader = _StreamReader(sock, output)
        reader.start()
        reader.join(timeout)
        timed_out = reader.is_alive()
        if timed_out:
            self._kill_exec(token)
            reader.join(self.kill_grace + 5)
            # A process that escaped both the group and the marker may still hold the output
            # open: stop listening to it.
            _close_socket(sock, shutdown=reader.is_alive())
            reader.join(5)
        else:
            _close_socket(sock)
        if reader.error is not None and not timed_out:
            raise _infra_error(reader.error, f"Lost the output of a command in {self.name}")
        exit_code = TIMEOUT_EXIT_CODE if timed_out else self._exit_code(exec_id)
        text, truncated = output.text()
        return ExecResult(
            exit_code=exit_code,
            output=text,
            timed_out=timed_out,
            truncated=truncated,
            seconds=time.monotonic() - started,
        )

    def _pgid_file(self, token: str) -> str:
        return f"/tmp/.swelancer-exec-{token}.pgid"

    def _exec_start(
        self, argv: list[str], *, workdir: str | None, env: dict[str, str]
    ) -> tuple[str, Any]:
        api = self.client.api
        try:
            created = api.exec_create(
                self.id,
                argv,
                stdout=True,
                stderr=True,
                tty=False,
                environment=env or None,
                workdir=workdir,
            )
            exec_id = created["Id"]
            return exec_id, api.exec_start(exec_id, tty=False, socket=True)
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not run a command in {self.name}") from err

    def _exit_code(self, exec_id: str) -> int:
        """The exit code once the engine has it (it may lag the end of the output a moment)."""
        deadline = time.monotonic() + 10
        pause = 0.002
        try:
            while True:
                info = self.client.api.exec_inspect(exec_id)
                if not info.get("Running") or time.monotonic() > deadline:
                    break
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        except _sdk_errors() as err:
            doing = f"Could not read the exit code of a command in {self.name}"
            raise _infra_error(err, doing) from err
        code = info.get("ExitCode")
        if code is None or code >= 128:
            self._check_alive()
        return -1 if code is None else int(code)

    def _check_alive(self, wait: float = 0.5) -> None:
        """`InfraError(kind=FaultKind.CONTAINER_GONE)` if the container stops within `wait` seconds.

        Called when a command died of a signal: the engine reports a killed container as
        running for a moment after its processes are gone, hence the short wait.
        """
        deadline = time.monotonic() + wait
        while True:
            state = self.status()
            if state != "running":
                raise InfraError(
                    f"Container {self.name} is {state}: it stopped while a command ran in it.",
                    kind=FaultKind.CONTAINER_GONE,
                )
            if time.monotonic() >= deadline:
                return
            time.sleep(0.05)

    def _kill_exec(self, token: str) -> None:
        """SIGTERM, then SIGKILL, every process of a timed-out command (see `_KILLER`)."""
        tenths = str(max(1, round(self.kill_grace * 10)))
        argv = ["/bin/sh", "-c", _KILLER, "sh", self._pgid_file(token), f"{_MARKER_ENV}={token}",
                tenths]  # fmt: skip
        self._run(argv, doing="Could not kill a timed-out command", timeout=self.kill_grace + 15)

    def _run(self, argv: list[str], *, doing: str, timeout: float = 60.0) -> tuple[int, str]:
        """Run a short helper command to its end; its exit code and output. Bounded on this
        side: when `timeout` passes, stop listening (whatever runs inside may be hostile and
        never end) and give `TIMEOUT_EXIT_CODE` with the output so far."""
        exec_id, sock = self._exec_start(argv, workdir=None, env={})
        output = _BoundedOutput(256_000)
        reader = _StreamReader(sock, output)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            _close_socket(sock, shutdown=True)
            reader.join(5)
            return TIMEOUT_EXIT_CODE, output.text()[0]
        _close_socket(sock)
        if reader.error is not None:
            raise _infra_error(reader.error, f"{doing} in {self.name}")
        return self._exit_code(exec_id), output.text()[0]
