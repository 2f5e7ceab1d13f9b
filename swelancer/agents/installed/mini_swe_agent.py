"""mini-swe-agent (PyPI `mini-swe-agent`): a Python CLI, so the volume carries a Python of its
own (Debian's interpreter, standard library and every shared library they and the packages
load, with their loader), run through that loader: nothing of the task image's Python or
libraries is used, and nothing of ours leaks into the commands it runs (no `PYTHONHOME`, no
`LD_LIBRARY_PATH`). Run as `mini` with its default agent and its own `mini.yaml` prompts,
through litellm to the gateway's Chat Completions (or Anthropic Messages) endpoint; its step
limit is `--max-turns`; its trajectory file is its log; its turn ends when it exits."""

from __future__ import annotations

import json
import shlex

from swelancer.agents.installed.base import MOUNT, InstalledAgent
from swelancer.errors import ConfigError
from swelancer.gateway.protocols import Family

VERSION = "2.4.6"
LOG = "/tmp/swelancer-agent/mini.traj.json"
RUNTIME = f"{MOUNT}/runtime"

INSTALL = """\
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-pip ca-certificates >/dev/null
R="$PREFIX/runtime"
mkdir -p "$R/bin" "$R/lib" "$R/so" "$PREFIX/bin"
cp -L /usr/bin/python3.11 "$R/bin/python3.11"
cp -a /usr/lib/python3.11 "$R/lib/"
cert=""; [ -f /etc/ssl/host-ca.crt ] && cert="--cert /etc/ssl/host-ca.crt"
python3.11 -m pip install -q --no-cache-dir --disable-pip-version-check \\
  --break-system-packages $cert --target "$R/site" "mini-swe-agent==$VERSION"
python3.11 -m compileall -q -j 0 "$R/lib/python3.11" "$R/site" >/dev/null || true
# every shared library outside the volume that the interpreter, its modules and the packages
# load, and the loader itself
{ echo "$R/bin/python3.11"; find "$R" -type f -name '*.so*'; } > /tmp/objects
xargs -d '\\n' ldd < /tmp/objects 2>/dev/null | awk -v r="$R" '
  $2 == "=>" && $3 ~ /^\\// && index($3, r) != 1 { print $3 }
  $1 ~ /^\\/.*ld-linux/ { print $1 }' | sort -u > /tmp/libs
while read -r lib; do [ -e "$R/so/${lib##*/}" ] || cp -L "$lib" "$R/so/"; done < /tmp/libs
cp -L "$(grep -m1 ld-linux /tmp/libs)" "$R/so/ld.so"
cat > "$PREFIX/bin/mini" <<'EOF'
#!/bin/sh
R=__RUNTIME__
exec "$R/so/ld.so" --library-path "$R/so" "$R/bin/python3.11" -I -S -B -c \\
  'import sys; sys.path[:0] = [sys.argv.pop(1)]; sys.argv[0] = "mini"
from minisweagent.run.mini import app
app()' "$R/site" "$@"
EOF
sed -i "s|__RUNTIME__|$R|" "$PREFIX/bin/mini"
chmod +x "$PREFIX/bin/mini"
"$PREFIX/bin/mini" --help >/dev/null
"""
"""Debian's Python copied whole into the volume with mini-swe-agent beside it (byte-compiled:
the volume is read-only), and `bin/mini` starting it through its own loader."""


class MiniSweAgent(InstalledAgent):
    name = "mini-swe-agent"
    version = VERSION
    family: Family = "openai"
    log_name = "mini-swe-agent.traj.json"
    log_file = LOG

    def install_script(self) -> str:
        return f"VERSION={self.version}\n{INSTALL}"

    def for_model(self, model: str) -> MiniSweAgent:
        provider, _, rest = model.rpartition("/")
        if provider not in ("", "openai", "anthropic"):
            raise ConfigError(
                f"--agent mini-swe-agent runs OpenAI or Anthropic models through the model "
                f"gateway; --model {model!r} names the provider {provider!r}. Give the model "
                "as openai/NAME or anthropic/NAME (with --base-url for a compatible server)."
            )
        agent = MiniSweAgent()
        claude = provider == "anthropic" or (not provider and rest.startswith("claude"))
        agent.family = "anthropic" if claude else "openai"
        return agent

    def model_arg(self, model: str) -> str:
        """litellm's name: the provider's prefix is how it picks the protocol."""
        return model if "/" in model else f"{self.family}/{model}"

    def argv(self, prompt_path: str, model: str, max_turns: int) -> list[str]:
        cli = [
            f"{MOUNT}/bin/mini", "--model", model, "--agent-class", "default",
            "--environment-class", "local", "-c", "mini.yaml",
            "-c", f"agent.step_limit={max_turns}", "-c", "agent.cost_limit=0", "-o", LOG,
        ]  # fmt: skip
        # its console goes to stderr: the trajectory file is the log
        task = f'--task="$(cat {shlex.quote(prompt_path)})"'
        return ["sh", "-c", f"exec {shlex.join(cli)} {task} 1>&2"]

    def env(self, model: str) -> dict[str, str]:
        return {
            "MSWEA_CONFIGURED": "true",  # no first-run questions
            "MSWEA_SILENT_STARTUP": "1",
            "MSWEA_GLOBAL_CONFIG_DIR": "/tmp/swelancer-agent/mini-config",
            "MSWEA_COST_TRACKING": "ignore_errors",  # the gateway meters every call
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of prices at start
        }

    def session_end(self, log: str) -> tuple[bool, int]:
        """From the trajectory: `LimitsExceeded` is its step limit; its model calls, its turns."""
        try:
            info = json.loads(log).get("info", {})
        except (ValueError, AttributeError):
            return False, 0
        calls = (info.get("model_stats") or {}).get("api_calls")
        return info.get("exit_status") == "LimitsExceeded", calls if isinstance(calls, int) else 0
