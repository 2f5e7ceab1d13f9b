"""One session of an installed agent in a task container: the prompt written in, the CLI run
in the task's directory against the gateway's loopback port (`gateway.inside.open_port`)
until it exits or its wall time is up, its native log (stdout, or its `log_file`) and its
stderr kept in the attempt folder.

Faults apart: a CLI that cannot start (exit 126/127, or no output at all with a failing exit)
is an infrastructure error; one that ran and exited is the agent's own end, whatever its code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from swelancer.agents.installed.base import InstalledAgent
from swelancer.errors import FaultKind, InfraError

if TYPE_CHECKING:
    from swelancer.sandbox.base import Sandbox

PROMPT = "/tmp/swelancer-agent/prompt.md"
OUT = "/tmp/swelancer-agent/stdout"
ERR = "/tmp/swelancer-agent/stderr"
MAX_LOG_BYTES = 64 * 1024 * 1024


class Session(BaseModel):
    """How the CLI's session ended."""

    exit_code: int
    timed_out: bool
    seconds: float
    log: Path
    stderr_tail: str


def run_session(
    box: Sandbox,
    agent: InstalledAgent,
    prompt: str,
    *,
    model: str,
    max_turns: int,
    wall_s: float,
    cwd: str,
    gateway_env: dict[str, str],
    folder: Path,
) -> Session:
    """Run `agent` on `prompt` in `box`; its log goes to `folder/agent.log_name`."""
    box.exec(["mkdir", "-p", str(Path(PROMPT).parent)], timeout=30)
    box.write_file(PROMPT, prompt)
    argv = agent.argv(PROMPT, model, max_turns)
    wrapped = ["sh", "-c", f'exec "$@" > {OUT} 2> {ERR} < /dev/null', "sh", *argv]
    got = box.exec(wrapped, timeout=wall_s, workdir=cwd, env={**gateway_env, **agent.env(model)})
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / agent.log_name
    out = _read(box, agent.log_file or OUT)
    err = _read(box, ERR)
    log.write_bytes(out)
    (folder / f"{agent.name}.stderr").write_bytes(err)
    tail = err[-2000:].decode("utf-8", "replace")
    if got.exit_code in (126, 127) or (not got.timed_out and got.exit_code != 0 and not out):
        raise InfraError(
            f"{agent.name} {agent.version} did not start in {box.name} "
            f"(exit {got.exit_code}): {tail or got.output[-2000:]!r}",
            kind=FaultKind.AGENT_START,
        )
    return Session(exit_code=got.exit_code, timed_out=got.timed_out, seconds=got.seconds,
                   log=log, stderr_tail=tail)  # fmt: skip


def _read(box: Sandbox, path: str) -> bytes:
    try:
        return box.read_file(path, limit=MAX_LOG_BYTES)
    except FileNotFoundError:
        return b""
