"""`--prompts upstream|swelancer|FOLDER` (with `--agent` and `--prompt-template`) turned into the
`PromptSet` an attempt renders, once per run; and how upstream's prompt writes the price.

Defaults: the upstream agent sends upstream's words; `--agent tools` and `--prompt-template`
send ours. `--agent tools --prompts upstream` sends upstream's task prompt (its words about the
task, reward and code-block scripts) and then our note naming the tools, instead of the solver's
and old harness's instructions to answer in code blocks, which a tool-calling model cannot follow.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from swelancer.agents.prompts import PriceStyle, PromptSet
from swelancer.errors import ConfigError
from swelancer.tasks.sources import sha256_of

_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")


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
    manifest: Path | None = None,
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
    style = price_style(manifest) if manifest is not None else "float"
    record = {
        "kind": "upstream",
        "from": files.origin,
        "files": {key: rec.model_dump() for key, rec in files.records.items()},
        "price": style,
    }
    return PromptSet(
        kind="upstream", upstream=read_texts(files.paths), price_style=style, record=record
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


def price_style(manifest: Path) -> PriceStyle:
    """How pandas types the manifest's price column, as upstream reads it: int64 when every cell
    is an integer (`500`), else float64 (`500.0` in any cell makes every price `500.0`)."""
    from swelancer.tasks.rows import CELL_LIMIT

    csv.field_size_limit(CELL_LIMIT)  # the manifest's loader has read it within this bound
    try:
        with manifest.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
            if "price" not in header:
                return "float"
            column = header.index("price")
            for cells in reader:
                if any(c.strip() for c in cells) and not (
                    column < len(cells) and _INTEGER.fullmatch(cells[column])
                ):
                    return "float"
    except (OSError, UnicodeDecodeError, csv.Error):
        return "float"  # the manifest's loader has already said what is wrong with it
    return "int"
