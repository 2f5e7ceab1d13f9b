"""What a call of the user tool gives the agent (a leaf: the agents and the benchmark's rules
both speak it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class UserToolReply:
    """What a call of the user tool gives the agent: this project's message (`text`), how the
    call ended, so that an agent speaking upstream's words can say what upstream's solver says
    instead, and a `note` that holds whatever way the message is worded."""

    text: str
    outcome: Literal["finished", "timed_out", "not_run"] = "finished"
    """`finished`: the test ran (traces or not); `timed_out`: stopped after `limit_s`;
    `not_run`: it could not start (the reason is in `text`)."""
    limit_s: float = 300.0
    note: str = ""
    """Said after the message in either wording (e.g. that the agent's processes were
    stopped before the user came, with `--user-tool-in same`)."""
