"""Live progress across processes: workers post what their attempts do (started, each phase, a
note) to a small Ray actor on the driver's node; the driver takes the posts a few times a second
and shows them. Best effort by design: a post that is lost only leaves a display behind, never
an attempt (records travel with the task's result, not here)."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

MAX_WAITING = 10_000
"""Posts kept while the driver does not take them (the oldest go first)."""


class Post(NamedTuple):
    kind: Literal["started", "phase", "note"]
    task_id: str
    attempt: int
    node: str
    """The node's label (`ip/id`)."""
    text: str = ""


class Board:
    """The actor's class (made remote by `open_board`)."""

    def __init__(self) -> None:
        self._posts: list[Post] = []

    def put(self, post: Post) -> None:
        self._posts.append(post)
        del self._posts[:-MAX_WAITING]

    def take(self) -> list[Post]:
        posts, self._posts = self._posts, []
        return posts


def open_board(ray: Any) -> Any:
    """The board actor, placed on the driver's node when it can be (it lives as long as the
    driver: Ray ends it with the driver's job); None when it cannot be made."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    try:
        here = ray.get_runtime_context().get_node_id()
        actor = ray.remote(num_cpus=0, max_restarts=0)(Board)
        return actor.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True)
        ).remote()
    except Exception:
        return None


def post(board: Any, item: Post) -> None:
    """Post without waiting; never raises (the board may be gone)."""
    if board is None:
        return
    try:
        board.put.remote(item)
    except Exception:
        return


def take(ray: Any, board: Any, timeout: float = 2.0) -> list[Post] | None:
    """What was posted since the last take; None when there is no board or it does not answer
    in time (then stop asking it)."""
    if board is None:
        return None
    try:
        return list(ray.get(board.take.remote(), timeout=timeout))
    except Exception:
        return None
