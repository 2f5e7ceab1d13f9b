"""The `swelancer` command: typer wiring and one module per command group (parsing only)."""

from swelancer.cli.app import app, main

__all__ = ["app", "main"]
