"""One attempt as a reader wants it: prompt, turns, commands, user tool, grading, verdict.

`load_attempt` gathers what a run directory holds about one attempt (transcript.jsonl, the
grading logs, decision.json, patch.diff and its AttemptRecord); `attempt_blocks` turns it into
a list of `Block`s that the terminal (`render_terminal`) and the HTML report (`report_html`)
both draw. Damaged transcript lines are skipped and unknown event kinds shown generically.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swelancer.errors import ConfigError
from swelancer.report.metrics import api_money, is_run_dir, money, run_dirs_in
from swelancer.run.results import AttemptRecord, RunDir
from swelancer.textsafe import clean

OUTPUT_FOLD = (20, 10)
"""Lines kept at the head and the tail of a long output."""
PROMPT_FOLD = (40, 10)
LINE_FOLD = (600, 200)
"""Characters kept at the head and the tail of a very long line."""


@dataclass
class Part:
    """A piece of text in a block: what the model said, a command, its output, a log."""

    text: str
    label: str = ""
    style: str = "text"
    """text (prose), code (what was run) or output (what came back)."""
    fold: tuple[int, int] | None = OUTPUT_FOLD
    """(head, tail) lines kept when folded; None never folds."""


@dataclass
class Block:
    kind: str
    title: str
    meta: list[str] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    tone: str = ""
    """good, bad or warn: how the block is coloured."""


@dataclass
class GradingRun:
    folder: str
    run: int
    exit_code: str | None
    log: str
    playbook: str | None = None


@dataclass
class AttemptView:
    run_dir: Path
    task_id: str
    attempt: int
    folder: Path
    events: list[dict[str, Any]]
    skipped_lines: int
    record: AttemptRecord | None
    grading: list[GradingRun]
    decision: str | None
    patch: str | None
    others: list[int]
    """The task's other attempts."""


# -- folding ------------------------------------------------------------------------------


def fold_line(line: str, keep: tuple[int, int] = LINE_FOLD) -> str:
    head, tail = keep
    if len(line) <= head + tail + 40:
        return line
    hidden = len(line) - head - tail
    return f"{line[:head]} … {hidden:,} characters folded … {line[-tail:]}"


def fold(text: str, keep: tuple[int, int] | None = OUTPUT_FOLD) -> tuple[str, int]:
    """The text with its middle folded away, and how many lines were folded (0: whole)."""
    if keep is None:
        return text, 0
    head, tail = keep
    lines = text.splitlines()
    if len(lines) <= head + tail + 3:
        folded = [fold_line(x) for x in lines]
        return "\n".join(folded), 0
    hidden = len(lines) - head - tail
    kept = [fold_line(x) for x in lines[:head]]
    kept.append(f"… {hidden:,} lines folded …")
    kept += [fold_line(x) for x in lines[len(lines) - tail :]]
    return "\n".join(kept), hidden


# -- reading ------------------------------------------------------------------------------


def read_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The events of a transcript.jsonl and how many lines were skipped as damaged."""
    if not path.is_file():
        return [], 0
    events: list[dict[str, Any]] = []
    skipped = 0
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                skipped += 1
                continue
            if isinstance(event, dict):
                events.append(_printable(event))
            else:
                skipped += 1
    return events, skipped


def _printable(value: Any) -> Any:
    """The value with lone surrogates (bytes that were not UTF-8) replaced, so it can be
    printed and written."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode(
                "utf-8", "surrogateescape" if _escaped(value) else "replace"
            ).decode("utf-8", "replace")
        return value
    if isinstance(value, dict):
        return {str(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


def _escaped(value: str) -> bool:
    """Whether every surrogate in the text stands for a byte (as surrogateescape writes it)."""
    return all("\udc80" <= c <= "\udcff" for c in value if "\ud800" <= c <= "\udfff")


def _read_text(path: Path, limit: int = 5_000_000) -> str | None:
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    text = data[:limit].decode("utf-8", errors="replace")
    if len(data) > limit:
        text += f"\n… the file is longer than {limit:,} bytes; see {path}"
    return text


def _number(name: str) -> int:
    digits = re.sub(r"\D", "", name)
    return int(digits) if digits else 0


def read_grading(folder: Path) -> list[GradingRun]:
    """`grading/<test folder>/run-<k>/{pytest.log,exit_code,playbook.log}`, in order."""
    grading = folder / "grading"
    runs: list[GradingRun] = []
    if not grading.is_dir():
        return runs
    for test_folder in sorted(p for p in grading.iterdir() if p.is_dir()):
        run_dirs = [p for p in test_folder.iterdir() if p.is_dir() and p.name.startswith("run-")]
        for run_dir in sorted(run_dirs, key=lambda p: _number(p.name)):
            code = _read_text(run_dir / "exit_code")
            runs.append(
                GradingRun(
                    folder=test_folder.name,
                    run=_number(run_dir.name),
                    exit_code=code.strip() if code is not None else None,
                    log=_read_text(run_dir / "pytest.log") or "",
                    playbook=_read_text(run_dir / "playbook.log"),
                )
            )
    return runs


def _attempt_numbers(rd: RunDir, task_id: str, records: list[AttemptRecord]) -> list[int]:
    numbers = {r.attempt for r in records if r.task_id == task_id}
    task_dir = rd.task_dir(task_id)
    if task_dir.is_dir():
        numbers |= {int(p.name) for p in task_dir.iterdir() if p.is_dir() and p.name.isdigit()}
    return sorted(numbers)


def task_ids(rd: RunDir, records: list[AttemptRecord]) -> list[str]:
    ids = {r.task_id for r in records}
    attempts = rd.path / "attempts"
    if attempts.is_dir():
        ids |= {p.name for p in attempts.iterdir() if p.is_dir()}
    return sorted(ids)


def _listing(names: list[str], limit: int = 30) -> str:
    shown = ", ".join(_line(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def resolve_run(run: Path, results_dir: Path) -> Path:
    """A run directory named by its path or by its id under `results_dir`."""
    for candidate in (run, results_dir / run):
        if is_run_dir(candidate):
            return candidate
    runs = [p.name for p in run_dirs_in(results_dir)]
    known = f"runs under {results_dir}: {_listing(runs)}" if runs else f"no run under {results_dir}"
    raise ConfigError(f"{run} is not a run directory (no run.json or attempts.jsonl); {known}.")


def load_attempt(
    run_dir: Path,
    task_id: str,
    attempt: int | None = None,
    records: list[AttemptRecord] | None = None,
) -> AttemptView:
    """What the run directory holds about one attempt (the first when `attempt` is None)."""
    rd = RunDir(run_dir)
    records = rd.records() if records is None else records
    tasks = task_ids(rd, records)
    if task_id not in tasks:
        known = f"its tasks: {_listing(tasks)}" if tasks else "it has no attempt yet"
        raise ConfigError(f"run {rd.run_id} has no task {task_id!r}; {known}.")
    numbers = _attempt_numbers(rd, task_id, records)
    if attempt is None:
        attempt = numbers[0] if numbers else 1
    if attempt not in numbers:
        listed = ", ".join(map(str, numbers)) or "none"
        raise ConfigError(
            f"task {task_id} of run {rd.run_id} has no attempt {attempt}; its attempts: {listed}."
        )
    folder = rd.attempt_dir(task_id, attempt)
    events, skipped = read_events(folder / "transcript.jsonl")
    mine = [r for r in records if r.task_id == task_id and r.attempt == attempt]
    return AttemptView(
        run_dir=run_dir,
        task_id=task_id,
        attempt=attempt,
        folder=folder,
        events=events,
        skipped_lines=skipped,
        record=mine[-1] if mine else None,
        grading=read_grading(folder),
        decision=_read_text(folder / "grading" / "decision.json")
        or _read_text(folder / "decision.json"),
        patch=_read_text(folder / "patch.diff"),
        others=[n for n in numbers if n != attempt],
    )


# -- blocks -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _seconds(value: Any) -> str | None:
    return f"{value:.1f} s" if isinstance(value, int | float) else None


def _usage(usage: Any) -> str | None:
    if not isinstance(usage, dict):
        return None
    tokens_in = usage.get("input_tokens")
    tokens_out = usage.get("output_tokens")
    if tokens_in is None and tokens_out is None:
        return None
    text = f"{tokens_in or 0:,} in / {tokens_out or 0:,} out tokens"
    if usage.get("cached_input_tokens"):
        text += f" ({usage['cached_input_tokens']:,} cached)"
    return text


def _tool_call(call: Any) -> Part:
    if not isinstance(call, dict):
        return Part(_text(call), label="tool call", style="code", fold=None)
    name = str(call.get("name", "?"))
    args = call.get("arguments")
    if isinstance(args, dict) and name == "bash" and set(args) == {"command"}:
        return Part(_text(args["command"]), label="bash", style="code", fold=None)
    if isinstance(args, dict) and name == "python" and set(args) == {"code"}:
        return Part(_text(args["code"]), label="python", style="code", fold=None)
    body = "" if not args else _text(args)
    return Part(body, label=f"tool call: {name}", style="code", fold=None)


def _meta(*items: str | None) -> list[str]:
    return [item for item in items if item]


def event_block(event: dict[str, Any]) -> Block:
    """The block of one transcript event; an unknown kind shows its fields as JSON."""
    kind = str(event.get("kind", "?"))
    get = event.get
    if kind == "sandbox":
        return Block(kind, "sandbox", _meta(f"{get('name', '?')}", f"image {get('image', '?')}"))
    if kind == "prompt":
        role = get("role", "user")
        return Block(
            kind, f"prompt ({role})", parts=[Part(_text(get("content")), fold=PROMPT_FOLD)]
        )
    if kind == "model":
        retries = get("retries")
        meta = _meta(
            _usage(get("usage")),
            api_money(get("cost_usd")) if isinstance(get("cost_usd"), int | float) else None,
            _seconds(get("seconds")),
            f"{retries} retries" if retries else None,
            f"finish: {get('finish_reason')}" if get("finish_reason") else None,
        )
        parts = []
        content = _text(get("content"))
        if content.strip():
            parts.append(Part(content, fold=None))
        calls = get("tool_calls")
        if isinstance(calls, list):
            parts += [_tool_call(c) for c in calls]
        elif calls:
            parts.append(Part(_text(calls), label="tool calls", style="code", fold=None))
        if not parts:
            parts.append(Part("(no text and no tool call)", fold=None))
        return Block(kind, f"model · turn {get('turn', '?')}", meta, parts)
    if kind == "command":
        code = get("exit_code")
        timed_out = bool(get("timed_out"))
        meta = _meta(
            "timed out" if timed_out else (f"exit {code}" if code is not None else None),
            "output truncated by the sandbox" if get("truncated") else None,
            _seconds(get("seconds")),
        )
        output = _text(get("output"))
        command = _text(get("command"))
        parts = [Part(output if output else "(no output)", label="output", style="output")]
        title = f"$ {command}"
        if "\n" in command.strip() or len(command) > 100:
            title = "command"
            parts.insert(0, Part(command, label="command", style="code", fold=PROMPT_FOLD))
        tone = "bad" if timed_out or (isinstance(code, int) and code != 0) else ""
        return Block(kind, title.strip(), meta, parts, tone)
    if kind == "user_tool":
        output = _text(get("output"))
        parts = [Part(output or "(no output)", label="output", style="output")]
        return Block(kind, "user tool", _meta(_seconds(get("seconds"))), parts)
    if kind == "decision":
        return Block(kind, f"decision: proposal {get('selected_proposal_id')}", tone="good")
    if kind == "note":
        return Block(kind, "note", parts=[Part(_text(get("text")), fold=None)])
    if kind == "limit":
        return Block(kind, f"limit reached: {get('reason', '?')}", tone="warn")
    if kind == "trimmed":
        return Block(
            kind, f"context trimmed: {get('dropped', '?')} message(s) left out", tone="warn"
        )
    if kind == "context_window_exceeded":
        meta = _meta(f"kept {get('kept')} message(s)" if get("kept") is not None else None)
        parts = [Part(_text(get("message")), fold=OUTPUT_FOLD)] if get("message") else []
        return Block(kind, "context window exceeded", meta, parts, "warn")
    if kind == "agent_done":
        return Block(
            kind, f"agent done: {get('stop_reason', '?')} after {get('turns', '?')} turn(s)"
        )
    if kind == "verdict":
        status = str(get("status", "?"))
        earned = get("earned_usd")
        title = f"verdict: {status}"
        if isinstance(earned, int | float):
            title += f", earned {money(earned)}"
        return Block(kind, title, tone=_tone(status))
    fields = {k: v for k, v in event.items() if k not in ("t", "kind")}
    parts = [Part(_text(fields), style="output")] if fields else []
    return Block(kind, f"event: {kind}", parts=parts)


def _tone(status: str) -> str:
    return {"passed": "good", "failed": "bad", "error": "warn"}.get(status, "")


def _record_block(view: AttemptView) -> Block:
    r = view.record
    if r is None:
        return Block(
            "record",
            "no record in attempts.jsonl",
            ["the attempt did not finish (interrupted, or still running): nothing was scored"],
            tone="warn",
        )
    title = f"result: {r.status}, earned {money(r.earned_usd)} of {money(r.price_usd)}"
    if r.status == "error":
        title = f"result: error, not counted (a {money(r.price_usd)} task)"
    meta = _meta(
        f"score {r.score:g}",
        f"{r.turns} turn(s)",
        f"stop: {r.stop_reason}" if r.stop_reason else None,
        f"{r.tokens.input:,} in / {r.tokens.output:,} out tokens",
        f"API cost {api_money(r.cost_usd)}",
        f"setup {r.seconds.setup:.0f} s, agent {r.seconds.agent:.0f} s, "
        f"grading {r.seconds.grading:.0f} s",
        f"{r.infra_retries} infrastructure retries" if r.infra_retries else None,
    )
    parts = []
    if r.variant == "swe_manager":
        parts.append(
            Part(
                f"selected proposal: {r.selected_proposal}\n"
                f"correct proposal:  {r.correct_proposal}",
                fold=None,
            )
        )
    if r.test_exit_codes:
        codes = "\n".join(f"{k}: {v}" for k, v in r.test_exit_codes.items())
        parts.append(Part(codes, label="test exit codes", fold=None))
    if r.reason:
        parts.append(Part(r.reason, label="reason", fold=None))
    if r.error:
        parts.append(Part(f"{r.error.kind}: {r.error.message}", label="error", fold=None))
    return Block("record", title, meta, parts, _tone(r.status))


def attempt_blocks(view: AttemptView) -> list[Block]:
    """Everything about the attempt, in the order it happened, then the verdict."""
    r = view.record
    head_meta = _meta(
        f"run {view.run_dir.name}",
        f"files in {view.folder}",
        f"{r.variant}" if r else None,
        f"price {money(r.price_usd)}" if r else None,
        f"model {r.model}" if r else None,
        f"{r.status}, earned {money(r.earned_usd)}" if r else "not finished",
        f"other attempts: {', '.join(map(str, view.others))}" if view.others else None,
    )
    blocks = [Block("header", f"{view.task_id} · attempt {view.attempt}", head_meta)]
    if not view.events:
        blocks.append(Block("note", f"no transcript at {view.folder / 'transcript.jsonl'}"))
    ends = [i for i, e in enumerate(view.events) if e.get("kind") == "verdict"]
    cut = ends[0] if ends else len(view.events)
    blocks += [event_block(e) for e in view.events[:cut]]
    if view.skipped_lines:
        blocks.append(
            Block(
                "note",
                f"{view.skipped_lines} damaged line(s) of transcript.jsonl skipped",
                tone="warn",
            )
        )
    if view.patch is not None:
        blocks.append(
            Block(
                "patch",
                "patch",
                _meta(f"{len(view.patch.splitlines())} lines"),
                [Part(view.patch or "(empty: no change)", style="output")],
            )
        )
    for g in view.grading:
        code = g.exit_code if g.exit_code is not None else "none"
        tone = "good" if code == "0" else ("bad" if code == "1" else "warn")
        parts = [Part(g.log or "(empty pytest.log)", label="pytest.log", style="output")]
        blocks.append(
            Block("grading", f"grading · {g.folder} · run {g.run}", [f"exit {code}"], parts, tone)
        )
    if view.decision is not None:
        blocks.append(
            Block(
                "decision_file",
                "decision.json",
                parts=[Part(view.decision, style="output", fold=OUTPUT_FOLD)],
            )
        )
    blocks += [event_block(e) for e in view.events[cut:]]
    blocks.append(_record_block(view))
    return blocks


# -- the terminal -------------------------------------------------------------------------

TONE_STYLE = {"good": "bold green", "bad": "bold red", "warn": "bold yellow"}
KIND_STYLE = {
    "header": "bold white on blue",
    "prompt": "bold magenta",
    "model": "bold blue",
    "command": "bold cyan",
    "user_tool": "bold magenta",
}
PART_STYLE = {"code": "yellow", "output": "", "text": ""}


def _part_text(part: Part, full: bool) -> str:
    """The part's text, cleaned of what a terminal would act on, then folded."""
    text, _ = fold(clean(part.text), None if full else part.fold)
    return text


def _line(text: str) -> str:
    """A title, label or meta item: cleaned, on one line."""
    return " ".join(clean(text).splitlines())


def plain_text(blocks: list[Block], *, full: bool = False) -> str:
    """The blocks as plain text, for a pipe or a file; nothing in it a terminal acts on."""
    out: list[str] = []
    for block in blocks:
        title = _line(block.title)
        out.append(f"== {title} " + "=" * max(3, 76 - len(title)))
        if block.meta:
            out.append("   " + _line(" · ".join(block.meta)))
        for part in block.parts:
            if part.label:
                out.append(f"--- {_line(part.label)}")
            out.append(_part_text(part, full))
        out.append("")
    return "\n".join(out)


def render_terminal(blocks: list[Block], *, full: bool = False, out: Any = None) -> None:
    """The blocks with rich on a terminal, as plain text otherwise. Text is cleaned of what a
    terminal would act on and drawn as rich `Text`, which reads no markup."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.rule import Rule
    from rich.text import Text

    out = out or Console(highlight=False)
    if not out.is_terminal:
        out.file.write(plain_text(blocks, full=full))
        out.file.flush()
        return
    for block in blocks:
        style = TONE_STYLE[block.tone] if block.tone else KIND_STYLE.get(block.kind, "bold cyan")
        out.print(Rule(Text(_line(block.title), style=style), align="left", style="dim"))
        if block.meta:
            out.print(Text(_line(" · ".join(block.meta)), style="dim"))
        for part in block.parts:
            if part.label:
                out.print(Text(_line(part.label), style="dim italic"))
            text = Text(_part_text(part, full), style=PART_STYLE.get(part.style, ""))
            text.highlight_regex(r"… [\d,]+ (lines|characters) folded …", "reverse")
            out.print(Padding(text, (0, 0, 0, 2)))
        out.print()
