"""Manifest loading: real upstream files, hand-written rows, and every kind of bad input."""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

import pytest
from upstream_data import CURRENT, ISSUES, LITE, OLDER_FULL, REPO, need

from swelancer.errors import ManifestError
from swelancer.tasks.manifest import load_manifest, select_tasks
from swelancer.tasks.models import IcTask, ManagerTask
from swelancer.tasks.text import cell_of

HEADER = [
    "question_id", "variant", "price", "price_limit", "manager_data", "manager_commit",
    "acceptable_folders", "cwd", "set", "title", "description", "proposals",
]  # fmt: skip


def _totals(tasks, variant):
    chosen = [t for t in tasks if t.variant == variant]
    return len(chosen), sum(t.price_usd for t in chosen)


def test_current_upstream_manifest_counts():
    tasks = load_manifest(need(CURRENT))
    assert len(tasks) == 463
    assert {t.split for t in tasks} == {"diamond"}
    assert _totals(tasks, "ic_swe") == (198, 189_300)
    assert _totals(tasks, "swe_manager") == (265, 264_500)


def test_lite_manifest_counts():
    tasks = load_manifest(need(LITE))
    assert _totals(tasks, "ic_swe") == (61, 175_000)
    assert _totals(tasks, "swe_manager") == (113, 202_000)
    assert all(t.prompt for t in tasks), "older schema carries the rendered prompt"
    assert all(t.split == "diamond" for t in tasks)


def test_older_full_manifest_with_canary_counts():
    tasks = load_manifest(need(OLDER_FULL))
    assert _totals(tasks, "ic_swe") == (106, 35_300)
    assert _totals(tasks, "swe_manager") == (0, 0)


@pytest.mark.parametrize("path", [CURRENT, LITE])
def test_every_manager_row_has_a_correct_proposal_among_its_own(path):
    managers = [t for t in load_manifest(need(path)) if isinstance(t, ManagerTask)]
    assert managers
    for task in managers:
        assert task.correct_proposal_id in {p.id for p in task.proposals}, task.task_id
        assert task.manager_commit


def test_current_ic_tasks_match_upstream_issue_folders():
    ic = {t.task_id: t for t in load_manifest(need(CURRENT)) if isinstance(t, IcTask)}
    folders = {p.name for p in need(ISSUES).iterdir() if p.is_dir()}
    assert set(ic) == folders
    for task_id in ("12155_1", "14127"):
        data = json.loads((ISSUES / task_id / "issue_data.json").read_text())
        assert ic[task_id].price_usd == data["price"]
        assert ic[task_id].title == data["title"]


def _raw_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["question_id"]: row for row in csv.DictReader(handle)}


def test_text_is_as_written_without_mojibake():
    tasks = {t.task_id: t for t in load_manifest(need(CURRENT))}
    text = tasks["16912_4"].description
    assert "If you haven’t already" in text
    assert "\n___\n" in text and "\\n" not in text
    assert "â\x80" not in "".join(t.description + t.title for t in tasks.values())
    # Upstream's own decoding damages the very same text:
    raw = "If you haven’t already\\n"
    assert raw.encode().decode("unicode_escape") != "If you haven’t already\n"
    # A regex in a description keeps its backslashes.
    assert "[\\w\\.'#%+-]+@" in tasks["17387_1"].description


def test_only_newlines_are_decoded_in_title_description_and_proposals(tmp_path):
    cell = 'a\\nb \\b \\1 \\\\ \\x22 \\t \\ud83d\\udc41 \\u2019 "q" \t tab'
    row = _row(title="t\\nu", description=cell)
    manager = _row(
        question_id="300-manager-0",
        variant="swe_manager",
        manager_data=repr({"game": {"correct_proposal": {"id": 0}}}),
        proposals=cell,
    )
    ic, task = load_manifest(_write(tmp_path / "m.csv", [row, manager]))
    want = 'a\nb \\b \\1 \\\\ \\x22 \\t \\ud83d\\udc41 \\u2019 "q" \t tab'
    assert ic.title == "t\nu" and ic.description == want
    assert task.proposals == [] and task.proposals_text == want


def _formal(row: dict[str, str]) -> list[tuple[int, str]]:
    game = ast.literal_eval(row["manager_data"])["game"]
    return [
        (p["id"], p["content"].replace("\r\n", "\n").replace("\r", ""))
        for p in game["all_formal_proposals"]
    ]


def test_every_manager_task_carries_each_proposal_exactly_as_in_manager_data():
    raw = _raw_rows(need(CURRENT))
    managers = [t for t in load_manifest(CURRENT) if isinstance(t, ManagerTask)]
    assert len(managers) == 265
    for task in managers:
        formal = _formal(raw[task.task_id])
        assert [(p.id, p.text) for p in task.proposals] == formal, task.task_id
        for pid, text in formal:
            assert f"Proposal: {pid}:\n\n{text}\n\n{'-' * 44}\n\n" in task.proposals_text
        assert task.proposals_text.endswith("\n\n---")


def test_the_proposals_cell_is_the_same_text_but_for_one_row_that_respells_escapes():
    """The cell is the proposals of manager_data with newlines escaped, for 264 of 265 rows. In
    29081-manager-0 the cell writes a JavaScript `\\u{1f1e6}` as `\\U0001f1e6`: the text sent is
    manager_data's, as the proposer wrote it."""
    raw = _raw_rows(need(CURRENT))
    differ = {}
    for task in load_manifest(CURRENT):
        if (
            isinstance(task, ManagerTask)
            and cell_of(task.proposals_text) != (raw[task.task_id]["proposals"])
        ):
            differ[task.task_id] = task
    assert sorted(differ) == ["29081-manager-0"]
    sent = differ["29081-manager-0"].proposals_text
    assert "\\u{1f1e6}-\\u{1f1ff}" in sent and "\\U0001f1e6" not in sent
    respelled = re.sub(r"\\u\{([0-9a-f]+)\}", lambda m: f"\\U{int(m[1], 16):08x}", sent)
    assert cell_of(respelled) == raw["29081-manager-0"]["proposals"]


def test_regexes_in_proposals_survive():
    tasks = {t.task_id: t for t in load_manifest(need(CURRENT))}
    assert "@here\\b/gm" in tasks["18983-manager-0"].proposals_text
    assert "<\\/\\1>" in tasks["28344-manager-0"].proposals_text
    assert "`\\\\[(?:[^\\\\][]*(?:" in tasks["18911-manager-0"].proposals_text
    assert "(?:\\x22?\\x5C[\\x00-\\x7E" in tasks["17387-manager-0"].proposals_text
    assert "`:eye:` -> `\\ud83d\\udc41\\ufe0f `" in tasks["27156-manager-0"].proposals_text


@pytest.mark.parametrize("path", [CURRENT, LITE, OLDER_FULL, REPO / "tasks/demo/manifest.csv"])
def test_no_task_text_holds_a_lone_surrogate(path):
    for task in load_manifest(need(path)):
        texts = [task.title, task.description, *(task.prompt or [])]
        if isinstance(task, ManagerTask):
            texts += [task.proposals_text, *(p.text for p in task.proposals)]
        for text in texts:
            text.encode("utf-8")  # raises on a lone surrogate


def test_broken_tasks_are_known_and_kept():
    tasks = {t.task_id: t for t in load_manifest(need(CURRENT))}
    broken = sorted(t.task_id for t in tasks.values() if t.broken)
    assert broken == ["29854_602", "32236_652", "49523_849"]
    assert "Inspect" in tasks["29854_602"].broken


def _manager_data(correct=1, ids=(0, 1, 2)) -> str:
    game = {
        "all_formal_proposals": [
            {"id": i, "source_url": "u", "content": f"do thing {i}", "explanation": ""} for i in ids
        ],
        "correct_proposal": {"id": correct, "approval_comment_url": "u", "explanation": ""},
    }
    return repr({"all_proposals": [], "game": game, "price": 500.0, "title": "t"})


def _row(**overrides) -> dict[str, str]:
    row = {
        "question_id": "100_1",
        "variant": "ic_swe",
        "price": "250.0",
        "price_limit": "2000000.0",
        "manager_data": "nan",
        "manager_commit": "nan",
        "acceptable_folders": "['100_1']",
        "cwd": "/app/expensify",
        "set": "diamond",
        "title": "A title",
        "description": "line one\\nline two",
        "proposals": "",
    }
    row.update(overrides)
    return row


def _write(path: Path, rows: list[dict[str, str]], header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_hand_written_rows_load_to_the_right_objects(tmp_path):
    header = list(reversed(HEADER))  # odd column order: columns are read by name
    rows = [
        _row(),
        _row(question_id="200", set="nondiamond", acceptable_folders="['200', '200_1']"),
        _row(
            question_id="300-manager-0",
            variant="swe_manager",
            price="1000",
            manager_data=_manager_data(correct=2),
            manager_commit="abc1234",
            acceptable_folders="[]",
            proposals="Proposal: 0:\\n\\nfirst",
        ),
        _row(
            question_id="400-manager-0",
            variant="swe_manager",
            manager_data=_manager_data(correct=0),
            proposals="",
            description="nan",
        ),
    ]
    tasks = load_manifest(_write(tmp_path / "m.csv", rows, header))
    ic, nondiamond, manager, empty = tasks
    assert isinstance(ic, IcTask)
    assert ic.description == "line one\nline two"
    assert ic.test_folders == ["100_1"]
    assert nondiamond.split == "nondiamond"
    assert nondiamond.test_folders == ["200", "200_1"]
    assert isinstance(manager, ManagerTask)
    assert manager.correct_proposal_id == 2
    assert [p.id for p in manager.proposals] == [0, 1, 2]
    assert manager.proposals_text.startswith("Proposal: 0:\n\ndo thing 0\n\n---")
    assert "Proposal: 2:\n\ndo thing 2" in manager.proposals_text  # manager_data's, not the cell
    assert manager.manager_commit == "abc1234"
    assert isinstance(empty, ManagerTask)
    assert empty.proposals_text.startswith("Proposal: 0:") and empty.correct_proposal_id == 0
    assert select_tasks(tasks, split="nondiamond") == [nondiamond]
    assert select_tasks(tasks, variant="swe_manager") == [manager, empty]


BAD_ROWS = [
    ("variant", _row(variant="ic_swe_x"), "unknown variant"),
    ("price", _row(price="lots"), "not a number"),
    ("price", _row(price="-5"), "from 0 to"),
    ("acceptable_folders", _row(acceptable_folders="['a', "), "not a Python literal"),
    (
        "manager_data",
        _row(
            question_id="100-manager-0",
            variant="swe_manager",
            manager_data="{'game': {'all_formal_proposals': []}}",
        ),
        "no correct proposal",
    ),
    (
        "manager_data",
        _row(question_id="100-manager-0", variant="swe_manager", manager_data="nan"),
        "no manager_data",
    ),
    (
        "manager_data",
        _row(
            question_id="100-manager-0",
            variant="swe_manager",
            manager_data=_manager_data(correct=7),
        ),
        "not one of its proposals",
    ),
]


@pytest.mark.parametrize(("column", "bad", "reason"), BAD_ROWS)
def test_bad_rows_name_file_row_and_column(tmp_path, column, bad, reason):
    path = _write(tmp_path / "bad.csv", [_row(question_id="1"), _row(question_id="2"), bad])
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    error = info.value
    assert (error.row, error.column) == (4, column)
    assert reason in str(error)
    assert str(path) in str(error) and "row 4" in str(error)


def test_missing_column_and_duplicate_id(tmp_path):
    header = [c for c in HEADER if c != "price"]
    with pytest.raises(ManifestError) as info:
        load_manifest(_write(tmp_path / "a.csv", [_row()], header))
    assert (info.value.row, info.value.column) == (1, "price")
    with pytest.raises(ManifestError) as info:
        load_manifest(_write(tmp_path / "b.csv", [_row(), _row(question_id="101"), _row()]))
    assert (info.value.row, info.value.column) == (4, "question_id")
    assert "duplicate" in str(info.value) and "row 2" in str(info.value)


def test_multiline_cells_count_as_one_spreadsheet_row(tmp_path):
    rows = [_row(question_id="1", description="real\nnewlines\ninside"), _row(price="x")]
    with pytest.raises(ManifestError) as info:
        load_manifest(_write(tmp_path / "m.csv", rows))
    assert info.value.row == 3


def test_unknown_task_id_is_named():
    tasks = load_manifest(need(LITE))
    with pytest.raises(ManifestError, match="nope-1"):
        select_tasks(tasks, task_ids=["nope-1"])


@pytest.mark.parametrize("cut", ["inside a quoted cell", "between cells"])
def test_a_manifest_whose_last_row_is_cut_short_is_refused(tmp_path, cut):
    """A download or copy cut short mid-row is a ManifestError naming the row, never a task
    with a truncated description."""
    text = need(CURRENT).read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines(keepends=True)))
    last_start = text.rindex("\n" + rows[-1][0] + ",") + 1  # the last row begins here
    row_text = text[last_start:]
    if cut == "inside a quoted cell":
        end = last_start + row_text.index('"') + 200  # within the first quoted cell
    else:
        end = last_start + len(",".join(rows[-1][:3]))  # after its third cell
    path = tmp_path / "cut.csv"
    path.write_text(text[:end], encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert str(caught.value).startswith(f"{path}, row {len(rows)}: ")
    assert "cut short" in str(caught.value)
