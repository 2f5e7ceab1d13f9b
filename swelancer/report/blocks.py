"""An attempt as a reader wants it: the prompt, each turn, each command and its output, the user
tool, the grading runs, the decision and the verdict, as a list of `Block`s that the terminal
(`view`) and the HTML report (`transcript_html`) both draw. Unknown event kinds are shown
generically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from swelancer.format import api_money, duration, money, number
from swelancer.records import AttemptRecord
from swelancer.report.attempt_dir import AttemptView
from swelancer.report.layout import TAMPERED
from swelancer.report.metrics import status_of, tampered

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
    """text (prose), code (what was run), output (what came back) or diff (a patch)."""
    fold: tuple[int, int] | None = OUTPUT_FOLD
    """(head, tail) lines kept when folded; None never folds."""


@dataclass
class Block:
    """One thing that happened (or one file), with a title, facts and parts."""

    kind: str
    title: str
    meta: list[str] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    tone: str = ""
    """good, bad or warn: how the block is coloured."""


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


# -- blocks -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _seconds(value: Any) -> str | None:
    return duration(value, tenths=True) if isinstance(value, int | float) else None


def _count(value: Any) -> str:
    return number(value) if isinstance(value, int) else str(value or 0)


def _usage(usage: Any) -> str | None:
    if not isinstance(usage, dict):
        return None
    tokens_in = usage.get("input_tokens")
    tokens_out = usage.get("output_tokens")
    if tokens_in is None and tokens_out is None:
        return None
    text = f"{_count(tokens_in)} in / {_count(tokens_out)} out tokens"
    if usage.get("cached_input_tokens"):
        text += f" ({_count(usage['cached_input_tokens'])} cached)"
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
    if kind == "tampering":
        parts = [Part(_text(get("note")), fold=None)] if get("note") else []
        return Block(kind, f"{TAMPERED}: scored as a failure", parts=parts, tone="bad")
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
    flagged = tampered(r)
    status = status_of(r)
    earned = 0.0 if flagged else r.earned_usd
    title = f"result: {status}, earned {money(earned)} of {money(r.price_usd)}"
    if flagged:
        title = f"result: failed ({TAMPERED}), earned $0 of {money(r.price_usd)}"
    if r.status == "error":
        title = f"result: error, not counted (a {money(r.price_usd)} task)"
    meta = _meta(
        f"score {r.score:g}",
        f"{r.turns} turn(s)",
        f"stop: {r.stop_reason}" if r.stop_reason else None,
        f"{number(r.tokens.input)} in / {number(r.tokens.output)} out tokens",
        f"API cost {api_money(r.cost_usd)}",
        f"setup {duration(r.seconds.setup)}, agent {duration(r.seconds.agent)}, "
        f"grading {duration(r.seconds.grading)}",
        f"{r.infra_retries} infrastructure retries" if r.infra_retries else None,
    )
    parts = []
    if r.variant == "swe_manager":
        parts.append(
            Part(
                f"selected proposal: {r.selected_proposal}\n"
                f"correct proposal:  {r.correct_proposal}"
                + (f"\nanswered as:       {r.decision_odd_form}" if r.decision_odd_form else ""),
                fold=None,
            )
        )
    if r.test_exit_codes:
        codes = "\n".join(f"{k}: {v}" for k, v in r.test_exit_codes.items())
        parts.append(Part(codes, label="test exit codes", fold=None))
    if flagged:
        parts.append(Part(r.tampering or "", label="tampering: scored as a failure", fold=None))
    if r.reason and not (flagged and r.reason == f"tampering: {r.tampering}"):
        parts.append(Part(r.reason, label="reason", fold=None))
    if r.error:
        parts.append(Part(f"{r.error.kind}: {r.error.message}", label="error", fold=None))
    return Block("record", title, meta, parts, _tone(status))


def _outcome(r: AttemptRecord) -> str:
    if tampered(r):
        return f"failed ({TAMPERED}), earned $0"
    return f"{r.status}, earned {money(r.earned_usd)}"


def attempt_blocks(view: AttemptView) -> list[Block]:
    """Everything about the attempt, in the order it happened, then the verdict."""
    r = view.record
    head_meta = _meta(
        f"run {view.run_dir.name}",
        f"files in {view.folder}",
        f"{r.variant}" if r else None,
        f"price {money(r.price_usd)}" if r else None,
        f"model {r.model}" if r else None,
        _outcome(r) if r else "not finished",
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
                [
                    Part(
                        view.patch or "(empty: no change)", style="diff" if view.patch else "output"
                    )
                ],
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
    if r is not None:
        blocks += _monitor_block(view, r)
    return blocks


def _monitor_block(view: AttemptView, r: AttemptRecord) -> list[Block]:
    """The monitor's flags on the attempt (`monitor.summary`), when it has any."""
    from swelancer.monitor.summary import attempt_flags, flag_lines

    found = attempt_flags(view.run_dir, r)
    if not found.flagged:
        return []
    title = f"FLAGGED by the monitor: evidence of reward hacking (score {found.score})"
    text = "\n".join(flag_lines(found))
    return [Block("monitor", title, parts=[Part(text, label="flags", fold=None)], tone="warn")]
