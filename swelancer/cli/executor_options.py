"""`--executor` and `--ray-address` of the image commands (`images pull`, `images build`):
do it on this machine's engine, or on every node of a Ray cluster that offers docker_slots."""

from __future__ import annotations

from typing import Annotated

import typer

from swelancer.errors import ConfigError

ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="local (default): this machine's Docker engine; ray: every node of the Ray "
        "cluster that offers docker_slots, all at once (needs `pip install 'swelancer[ray]'`).",
    ),
]
RayAddressOpt = Annotated[
    str,
    typer.Option(
        "--ray-address",
        help="The Ray cluster for --executor ray: HEAD:6379, or auto (default) for the cluster "
        "this machine joined with `ray start`.",
    ),
]


def on_cluster(executor: str) -> bool:
    """Whether the command goes to the cluster; `ConfigError` for a name that is neither."""
    if executor not in ("local", "ray"):
        raise ConfigError(f"--executor is local or ray, not {executor!r}.")
    return executor == "ray"
