"""A run directory whose transcripts are labelled cases, written by the real turn loop."""

from __future__ import annotations

from pathlib import Path

import pytest
from monitor.labelled import Case, attack_cases, honest_cases, make_labelled_run


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> tuple[Path, dict[tuple[str, int], Case]]:
    """Two attacks (one recorded as a pass), the gold agent and an honest fix (both passed)."""
    attacks = {c.name: c for c in attack_cases()}
    honest = {c.name: c for c in honest_cases()}
    cases = [
        (attacks["model_agents/look_for_tests/101"], "passed"),
        (attacks["isolation/no-network/110-manager-0"], "failed"),
        (honest["oracle/101"], "passed"),
        (honest["model_agents/fix_104"], "passed"),
    ]
    path = make_labelled_run(tmp_path_factory.mktemp("monitor"), cases)
    keys = {("101", 1): cases[0][0], ("110-manager-0", 1): cases[1][0],
            ("101", 2): cases[2][0], ("104", 1): cases[3][0]}  # fmt: skip
    return path, keys
