"""Steps of an attempt that wait on the engine and do not depend on each other, run side by
side: each costs the engine's round trip (tens of milliseconds), not work of this process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def together(*steps: Callable[[], Any]) -> list[Any]:
    """Run `steps` at once and wait for all of them; their results in order. When steps
    raised, the first of them (in the order given) raises, once every step has ended."""
    with ThreadPoolExecutor(max_workers=len(steps), thread_name_prefix="swelancer-step") as pool:
        futures = [pool.submit(step) for step in steps]
    return [future.result() for future in futures]
