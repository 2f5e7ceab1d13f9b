"""Agents installed in the task container: real CLIs from their registries, prepared once per
version into a read-only volume, reaching their models only through the model gateway."""

from __future__ import annotations

from swelancer.agents.installed.base import InstalledAgent
from swelancer.agents.installed.claude_code import ClaudeCode

INSTALLED: dict[str, type[InstalledAgent]] = {"claude-code": ClaudeCode}
"""`--agent NAME` of each installed agent."""
