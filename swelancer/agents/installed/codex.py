"""Codex (npm `@openai/codex`): its npm package launches a static (musl) native binary with
node; the binary is linked as `bin/codex-native` at install and run directly, so nothing of
node is needed in the task container. Run as `codex exec --json` (events on stdout) against
the gateway's OpenAI Responses endpoint; its turn ends when it exits."""

from __future__ import annotations

import shlex

from swelancer.agents.installed.base import MOUNT, InstalledAgent, npm_install
from swelancer.gateway.server import PLACEHOLDER_KEY

VERSION = "0.171.0"

LINK_NATIVE = """\
arch=$(uname -m); case "$arch" in aarch64|arm64) arch=aarch64;; *) arch=x86_64;; esac
native=$(find "$PREFIX/lib/node_modules/@openai" -path "*$arch-unknown-linux-musl*" \\
  -name codex -type f | head -n 1)
[ -n "$native" ] || { echo "no native codex binary for $arch in the package" >&2; exit 1; }
ln -sf "$native" "$PREFIX/bin/codex-native"
"""

CONFIG = (
    'model_provider = "swelancer"\nweb_search = "disabled"\n'
    '[model_providers.swelancer]\nname = "swelancer gateway"\n'
    'base_url = "%s"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\n'
)
"""Its config: one provider, the gateway's port (`OPENAI_BASE_URL`), over HTTP and SSE (its
built-in provider would try api.openai.com and a WebSocket); no provider web search (the
gateway would refuse the call)."""


class Codex(InstalledAgent):
    name = "codex"
    version = VERSION
    family = "openai"
    log_name = "codex.jsonl"

    def install_script(self) -> str:
        return npm_install("@openai/codex", self.version) + LINK_NATIVE

    def argv(self, prompt_path: str, model: str, max_turns: int) -> list[str]:
        cli = [
            f"{MOUNT}/bin/codex-native", "exec", "--json", "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox", "-m", model, "-",
        ]  # fmt: skip
        run = f"exec {shlex.join(cli)} < {shlex.quote(prompt_path)}"
        return ["sh", "-c", f'mkdir -p "$CODEX_HOME" && printf {shlex.quote(CONFIG)} '
                f'"$OPENAI_BASE_URL" > "$CODEX_HOME/config.toml" && {run}']  # fmt: skip

    def env(self, model: str) -> dict[str, str]:
        return {
            "CODEX_HOME": "/tmp/swelancer-agent/codex-home",
            "CODEX_API_KEY": PLACEHOLDER_KEY,  # what `codex exec` reads; the gateway drops it
        }
