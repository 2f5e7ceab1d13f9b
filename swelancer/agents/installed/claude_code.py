"""Claude Code (npm `@anthropic-ai/claude-code`): a native binary per platform, so nothing of
node is needed in the task container. Run headless (`-p`), its session as stream-JSON on
stdout; its turn ends when it exits."""

from __future__ import annotations

import json
import shlex

from swelancer.agents.installed.base import MOUNT, InstalledAgent, npm_install

VERSION = "2.1.332"


class ClaudeCode(InstalledAgent):
    name = "claude-code"
    version = VERSION
    family = "anthropic"
    log_name = "claude-code.jsonl"

    def install_script(self) -> str:
        return npm_install("@anthropic-ai/claude-code", self.version)

    def argv(self, prompt_path: str, model: str, max_turns: int) -> list[str]:
        cli = [
            f"{MOUNT}/bin/claude", "-p", "--output-format", "stream-json", "--verbose",
            "--model", model, "--max-turns", str(max_turns), "--dangerously-skip-permissions",
        ]  # fmt: skip
        return ["sh", "-c", f"exec {shlex.join(cli)} < {shlex.quote(prompt_path)}"]

    def env(self, model: str) -> dict[str, str]:
        return {
            "IS_SANDBOX": "1",  # the container is the sandbox: skip-permissions as root
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,  # its side calls use the run's model
            "ANTHROPIC_SMALL_FAST_MODEL": model,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
        }

    def session_end(self, log: str) -> tuple[bool, int]:
        """From the last stream-JSON `result` event: `error_max_turns`, and its `num_turns`."""
        result: dict[str, object] = {}
        for line in log.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("type") == "result":
                result = event
        turns = result.get("num_turns")
        return result.get("subtype") == "error_max_turns", turns if isinstance(turns, int) else 0
