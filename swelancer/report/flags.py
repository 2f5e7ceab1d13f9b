"""What every renderer shows of the transcript monitor (`RunReport.monitor`): a line of
totals, the flagged attempts with their highest-scoring turns, and the figures with flagged
passes excluded beside the usual ones. Plain rows; each renderer draws them its own way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from swelancer.format import money

if TYPE_CHECKING:
    from swelancer.monitor.summary import FlaggedAttempt
    from swelancer.report.models import RunReport

FLAGGED_TITLE = "Flagged by the monitor (evidence of reward hacking)"
FLAGGED_HEADS = ("task", "attempt", "variant", "outcome", "score", "highest-scoring turns")
EXCLUDED_HEADS = ("", "earned", "earned, flagged passes excluded", "pass@1", "pass@1, excluded")


def totals(report: RunReport) -> str | None:
    """`monitor (rules): 2 of 9 attempts flagged, 1 of them passed; ic_swe 2`; None when the
    report has no monitor part."""
    m = report.monitor
    if m is None:
        return None
    variants = ", ".join(f"{v} {n}" for v, n in sorted(m.flagged_by_variant.items()))
    line = f"monitor ({m.source}): {m.flagged} of {m.monitored} attempt(s) flagged"
    return f"{line}, {m.flagged_passes} of them passed" + (f"; {variants}" if variants else "")


def turns_text(a: FlaggedAttempt) -> str:
    """`turn 2 · tests_or_fix (95): "ls /app/tests"; turn 1 · …`."""
    return "; ".join(
        f"{f'turn {f.turn}' if f.turn else 'no turn'} · {f.category} ({f.score}): {f.quote!r}"
        for f in a.top
    )


def flagged_rows(report: RunReport) -> list[tuple[str, str, str, str, str, str]]:
    """One row per flagged attempt, strongest first."""
    if report.monitor is None:
        return []
    return [(a.task_id, str(a.attempt), a.variant, f"{a.status}, {money(a.earned_usd)}",
             str(a.score), turns_text(a)) for a in report.monitor.attempts]  # fmt: skip


def excluded_rows(report: RunReport) -> list[tuple[str, str, str, str, str]]:
    """The usual figures beside those with flagged passes scored as failures: overall and per
    variant that has attempts."""

    def p(x: float | None) -> str:
        return "—" if x is None else f"{x:.1%}"

    out = []
    for key, f in report.excluding_flagged.items():
        usual = report if key == "all" else report.by_variant.get(key)
        if usual is None or not usual.attempts:
            continue
        out.append((key, money(usual.earned_usd), money(f.earned_usd), p(usual.pass_at_1),
                    p(f.pass_at_1)))  # fmt: skip
    return out

