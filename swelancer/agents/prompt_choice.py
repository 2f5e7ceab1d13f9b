"""`--prompts upstream|swelancer|FOLDER` (with `--agent` and `--prompt-template`) turned into the
`PromptSet` an attempt renders, once per run (with how the manifest's loader found upstream's
prompt writes the price: `TaskSet.price_style`).

Defaults: the upstream agent sends upstream's words; `--agent tools` and `--prompt-template`
send ours. `--agent tools --prompts upstream` sends upstream's task prompt (its words about the
task, reward and code-block scripts) and then our note naming the tools, instead of the solver's
and old harness's instructions to answer in code blocks, which a tool-calling model cannot follow.
"""

from __future__ import annotations

from pathlib import Path

from swelancer.agents.prompts import PromptSet
from swelancer.errors import ConfigError
from swelancer.tasks.models import PriceStyle
from swelancer.tasks.sources import sha256_of


def choose_kind(choice: str | None, mode: str, template: Path | None) -> str:
    """`upstream`, `swelancer`, or a folder of upstream's files, for the given options."""
    if choice is None or not choice.strip():
        return "swelancer" if template is not None or mode == "tools" else "upstream"
    if choice != "swelancer" and template is not None:
        raise ConfigError(
            f"--prompt-template replaces this project's own wording, so it cannot be combined "
            f"with --prompts {choice}; drop one of them (or give --prompts swelancer)."
        )
    return choice


def resolve_prompts(
    choice: str | None,
    *,
    mode: str = "upstream",
    template: Path | None = None,
    price_style: PriceStyle = "float",
    show_progress: bool = True,
) -> PromptSet:
    """The prompts the options name, read (and fetched into the cache if need be) now."""
    kind = choose_kind(choice, mode, template)
    if kind == "swelancer":
        return _ours(template)
    from swelancer.agents.upstream_files import locate
    from swelancer.agents.upstream_text import read_texts

    folder = None if kind == "upstream" else Path(kind).expanduser()
    files = locate(folder, show_progress=show_progress)
    record = {
        "kind": "upstream",
        "from": files.origin,
        "files": {key: rec.model_dump() for key, rec in files.records.items()},
        "price": price_style,
    }
    return PromptSet(
        kind="upstream", upstream=read_texts(files.paths), price_style=price_style, record=record
    )


def _ours(template: Path | None) -> PromptSet:
    if template is None:
        return PromptSet(kind="swelancer", record={"kind": "swelancer", "template": None})
    try:
        text = template.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"no prompt template at {template} that can be read ({exc}).") from None
    record = {"kind": "swelancer", "template": str(template), "sha256": sha256_of(template)}
    return PromptSet(kind="swelancer", template=text, record=record)
