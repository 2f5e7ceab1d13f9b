"""A hostile manifest controls every field of a task, and a tampered run directory every record:
no value may put a file outside the place it belongs, or reach a host path unchecked."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fakes.runs import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from upstream_data import CURRENT, LITE, OLDER_FULL, REPO, upstream_tasks

from swelancer.errors import ManifestError, SwelancerError
from swelancer.records import AttemptRecord
from swelancer.report.view import load_attempt
from swelancer.run.results import RunDir, Transcript
from swelancer.tasks.manifest import load_manifest
from swelancer.tasks.models import IC_ID, MANAGER_ID, IcTask, ManagerTask
from swelancer.tasks.rows import CELL_LIMIT

HEADER = [
    "question_id", "variant", "price", "price_limit", "manager_data", "manager_commit",
    "acceptable_folders", "cwd", "set", "title", "description", "proposals",
]  # fmt: skip
MANAGER_DATA = repr(
    {"game": {"correct_proposal": {"id": 1}, "all_formal_proposals": [{"id": 1, "content": "p"}]}}
)
DEMO = REPO / "tasks" / "demo" / "manifest.csv"


def _ic(**overrides: str) -> dict[str, str]:
    row = {
        "question_id": "12155_1",
        "variant": "ic_swe",
        "price": "250.0",
        "price_limit": "2000000.0",
        "manager_data": "nan",
        "manager_commit": "nan",
        "acceptable_folders": "['12155_1']",
        "cwd": "/app/expensify",
        "set": "diamond",
        "title": "t",
        "description": "d",
        "proposals": "",
    }
    return {**row, **overrides}


def _manager(**overrides: str) -> dict[str, str]:
    row = _ic(
        question_id="15193-manager-0",
        variant="swe_manager",
        manager_data=MANAGER_DATA,
        manager_commit="0123abcd" * 5,
        acceptable_folders="[]",
    )
    return {**row, **overrides}


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _refused(tmp_path: Path, row: dict[str, str], column: str) -> ManifestError:
    """The manifest with a good row then `row`: refused, naming the file, row 3 and `column`."""
    path = _write(tmp_path / "hostile.csv", [_ic(question_id="1"), row])
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    error = info.value
    assert (error.path, error.row, error.column) == (str(path), 3, column), str(error)
    assert str(path) in str(error) and "row 3" in str(error)
    return error


# -- the real manifests still load --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "total", "ic", "manager"),
    [(CURRENT, 463, 198, 265), (LITE, 174, 61, 113), (OLDER_FULL, 106, 106, 0), (DEMO, 13, 9, 4)],
    ids=["current", "lite", "older", "demo"],
)
def test_every_real_manifest_still_loads_with_its_known_counts(path, total, ic, manager):
    tasks = upstream_tasks(path)
    assert len(tasks) == total
    assert sum(isinstance(t, IcTask) for t in tasks) == ic
    assert sum(isinstance(t, ManagerTask) for t in tasks) == manager


def test_the_edges_of_the_real_id_shapes_load(tmp_path):
    rows = [
        _ic(question_id="12155", acceptable_folders="[12155, '12155_1']"),
        _ic(question_id="28565_1001", acceptable_folders="['28565_1001']", cwd=""),
        _ic(question_id="105", acceptable_folders="", cwd=" nan "),
        _manager(question_id="15193-manager-0", manager_commit="abc1234"),
        _manager(question_id="110-manager-0", manager_commit=""),
        _manager(question_id="49523-manager-12", manager_commit="ABCDEF0" + "1" * 33),
    ]
    tasks = load_manifest(_write(tmp_path / "edges.csv", rows))
    assert [t.task_id for t in tasks] == [
        "12155", "28565_1001", "105", "15193-manager-0", "110-manager-0", "49523-manager-12",
    ]  # fmt: skip
    assert tasks[0].test_folders == ["12155", "12155_1"]
    assert tasks[1].cwd == "/app/expensify" == tasks[2].cwd
    assert tasks[2].test_folders == ["105"]


# -- hostile ids, folders, commits and working directories --------------------------------

BAD_IDS = [
    "../x", "..", ".", "a/b", "12155/..", "/etc", "/tmp/x", "12155\x00", "121\n55", "12155\r_1",
    "12155\t1", "12155 1", "12155_", "_1", "12155_1_2", "x", "12155;rm -rf /", "$(id)", "~",
    "１２１５５", "١٢١٥٥", "12155\u2215x", "12155\u2024\u2024", "12155_1\u200b", "\u202e12155",
    "12155\u00001", "1" * 200, "12155_" + "1" * 100, "9" * 10,
]  # fmt: skip
BAD_MANAGER_IDS = [
    "15193-manager-0/../..", "../15193-manager-0", "15193-manager-", "-manager-0",
    "15193-Manager-0", "15193_manager_0", "15193-manager-0\x00", "15193\u2010manager-0",
    "15193-manager\u2011" + "0", "15193-manager-０", "12155", "1" * 200 + "-manager-0",
]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_a_hostile_ic_task_id_is_refused_when_the_manifest_loads(tmp_path, bad):
    error = _refused(tmp_path, _ic(question_id=bad, acceptable_folders="['1']"), "question_id")
    assert "task id" in error.reason


@pytest.mark.parametrize("bad", BAD_MANAGER_IDS, ids=repr)
def test_a_hostile_manager_task_id_is_refused_when_the_manifest_loads(tmp_path, bad):
    _refused(tmp_path, _manager(question_id=bad), "question_id")


def test_an_ic_row_with_a_manager_id_is_refused(tmp_path):
    _refused(tmp_path, _ic(question_id="15193-manager-0"), "question_id")


BAD_FOLDERS = [
    "['../../../../etc']", "['..']", "['.']", "['a/b']", "['/etc']", "['12155\\x00']",
    "['121\\n55']", "['１２１５５']", "['12155\\u2215x']", "[-1]", "[True]", "[1.5]",
    "['" + "1" * 200 + "']", "['12155', '../x']", "['12155_1\\u202e']", "['']",
]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_FOLDERS)
def test_a_hostile_acceptable_folder_is_refused_when_the_manifest_loads(tmp_path, bad):
    error = _refused(tmp_path, _ic(acceptable_folders=bad), "acceptable_folders")
    assert "folder" in error.reason


@pytest.mark.parametrize(
    "bad",
    ["abc", "abc123", "HEAD", "HEAD~1; rm -rf /", "--upload-pack=touch /tmp/x", "g" * 40,
     "a" * 41, "abc\n1234", "abc 1234", "ａｂｃ１２３４"],
)  # fmt: skip
def test_a_hostile_manager_commit_is_refused(tmp_path, bad):
    _refused(tmp_path, _manager(manager_commit=bad), "manager_commit")


@pytest.mark.parametrize(
    "bad",
    ["app/expensify", "/app/../etc", "/app/./expensify", "/app//expensify", "//app",
     "/app/expensify/", "/app/expensify\x00", "/app/exp\nensify", "/app/$(id)", "/app/a b",
     "/app/..", "~/app", "/app/" + "x" * 300, "/app/\u202eexpensify",
     "/app", "/", "/app/tests", "/app/expensify/src", "/tmp", "/App/Expensify"],
)  # fmt: skip
def test_a_cwd_other_than_the_repository_folder_is_refused(tmp_path, bad):
    """`/app` would put the hidden tests (`/app/tests`) and the bug patch in the agent's git
    history; any folder but the image's repository is refused, saying which one to write."""
    error = _refused(tmp_path, _ic(cwd=bad), "cwd")
    assert "/app/expensify" in error.reason and "leave it empty" in error.reason
    _refused(tmp_path, _manager(cwd=bad), "cwd")


@pytest.mark.parametrize(
    "bad", ["1e308", "inf", "-inf", "1e6000", "-1", "1000000.01", "2e6", "-0.5"]
)
def test_a_price_that_is_not_a_sane_amount_is_refused(tmp_path, bad):
    error = _refused(tmp_path, _ic(price=bad), "price")
    assert "from 0 to 1,000,000" in error.reason and "Fix the price cell" in error.reason


def test_prices_at_the_edges_of_the_range_load(tmp_path):
    rows = [_ic(question_id="1", price="0"), _ic(question_id="2", price="1000000")]
    assert [t.price_usd for t in load_manifest(_write(tmp_path / "m.csv", rows))] == [0, 1e6]
    with pytest.raises(ValidationError):
        IcTask(task_id="1", price_usd=1e308)


def test_the_report_of_a_manifest_with_a_huge_price_never_runs(tmp_path, capsys):
    """1e308 once gave `$inf` figures and an OverflowError in `report -f html`: it is refused
    before anything runs, with a one-paragraph error."""
    path = _write(tmp_path / "m.csv", [_ic(price="1e308")])
    code, out, err = run_cli("tasks", "list", "--manifest", str(path), capsys=capsys)
    assert code != 0 and "Traceback" not in out + err
    err = " ".join(err.split())
    assert "row 2, column 'price'" in err and "Fix the price cell" in err and "inf" not in out


# -- cells bounded in size before parsing ---------------------------------------------------


@pytest.mark.parametrize(
    ("column", "make"),
    [
        ("manager_data", lambda n: "{'game': " + "[" * 10 + "1" * n + "]" * 10 + "}"),
        ("description", lambda n: "d" * n),
        ("description", lambda n: '"quoted" and,commas\n' * (n // 20 + 1)),
        ("proposals", lambda n: "line\n" * (n // 5 + 1)),
        ("title", lambda n: "t" * n),
    ],
    ids=["manager_data", "description", "description-quoted", "proposals-lines", "title"],
)
def test_a_cell_past_the_bound_is_refused_naming_it(tmp_path, column, make):
    big = make(CELL_LIMIT + 1)
    row = _manager(**{column: big}) if column in ("manager_data", "proposals") else _ic()
    row = row if column in ("manager_data", "proposals") else _ic(**{column: big})
    error = _refused(tmp_path, row, column)
    assert f"{CELL_LIMIT:,} characters" in error.reason and "84,508" in error.reason


def test_a_cell_just_within_the_bound_loads(tmp_path):
    path = _write(tmp_path / "m.csv", [_ic(description="d" * CELL_LIMIT)])
    assert len(load_manifest(path)[0].description) == CELL_LIMIT


def _peak_refused(path: Path) -> tuple[ManifestError, int]:
    """The error loading `path` raises, and the peak of memory allocated while loading."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ManifestError) as info:
            load_manifest(path)
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_14_mb_cell_is_refused_before_anything_parses_it(tmp_path):
    """A 14 MB cell once made `tasks list` take 2.2 GB (parsing it); now it is refused as it is
    read, at the cost of reading its line (twice its size at most), naming it."""
    cell = "{'game': [" + "[1], " * 2_800_000 + "]}"
    path = _write(tmp_path / "m.csv", [_ic(question_id="1"), _manager(manager_data=cell)])
    error, peak = _peak_refused(path)
    assert (error.row, error.column) == (3, "manager_data")
    assert peak < 2.5 * len(cell), peak


def test_one_line_of_many_megabytes_stops_at_the_line_bound(tmp_path):
    """A single line longer than any row of bounded cells could be is refused once that much
    of it is read, however long it is; its millions of cells past the header's are not walked
    (that took 10 s), and no column is named for them."""
    path = tmp_path / "m.csv"
    path.write_text(",".join(HEADER) + "\n" + "1," * 40_000_000 + "\n", encoding="utf-8")
    error, peak = _peak_refused(path)
    assert error.row == 2 and error.column is None and f"{CELL_LIMIT:,}" in str(error)
    line_bound = len(HEADER) * (2 * CELL_LIMIT + 3) + 2
    assert peak < 2.5 * line_bound < 80_000_000, peak


def test_a_lone_surrogate_in_manager_data_is_refused_at_load(tmp_path):
    data = repr(
        {
            "game": {
                "correct_proposal": {"id": 1},
                "all_formal_proposals": [{"id": 1, "content": "eye \ud83d"}],
            }
        }
    )
    error = _refused(tmp_path, _manager(manager_data=data), "manager_data")
    assert "lone surrogate" in error.reason and "U+D83D" in error.reason


ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@PROPERTY
@given(task_id=ANY_TEXT | st.from_regex(IC_ID, fullmatch=True), folder=ANY_TEXT)
def test_any_ic_id_and_folder_load_as_safe_names_or_are_named(tmp_path_factory, task_id, folder):
    """Whatever the cells hold: a task whose id and folders are plain names, or an error that
    names the very cell."""
    tmp = tmp_path_factory.mktemp("m")
    path = _write(tmp / "m.csv", [_ic(question_id=task_id, acceptable_folders=repr([folder]))])
    try:
        (task,) = load_manifest(path)
    except ManifestError as error:
        assert error.row == 2 and error.column in ("question_id", "acceptable_folders"), error
        return
    assert IC_ID.fullmatch(task.task_id) and all(IC_ID.fullmatch(f) for f in task.test_folders)
    rd = RunDir(tmp / "run")
    assert rd.attempt_dir(task.task_id, 1).resolve().is_relative_to((tmp / "run").resolve())


@PROPERTY
@given(task_id=ANY_TEXT | st.from_regex(MANAGER_ID, fullmatch=True))
def test_any_manager_id_loads_as_a_safe_name_or_is_named(tmp_path_factory, task_id):
    tmp = tmp_path_factory.mktemp("m")
    path = _write(tmp / "m.csv", [_manager(question_id=task_id)])
    try:
        (task,) = load_manifest(path)
    except ManifestError as error:
        assert (error.row, error.column) == (2, "question_id"), error
        return
    assert MANAGER_ID.fullmatch(task.task_id)


def test_the_older_schema_is_checked_too(tmp_path):
    header = ["question_id", "variant", "price", "prompt", "manager_data", "manager_commit",
              "acceptable_folders", "cwd"]  # fmt: skip
    prompt = repr([{"content": "fix the following issue:\n\nTitle", "role": "user"}])
    path = tmp_path / "older.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(["12155_1", "ic_swe", "100", prompt, "", "", "['12155_1']", ""])
        writer.writerow(["12155_2", "ic_swe", "100", prompt, "", "", "['../../../../etc']", ""])
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert (info.value.row, info.value.column) == (3, "acceptable_folders")


def test_a_task_built_in_code_is_checked_too():
    with pytest.raises(ValidationError):
        IcTask(task_id="../x", price_usd=1.0)
    with pytest.raises(ValidationError):
        IcTask(task_id="1", price_usd=1.0, test_folders=["../../../../etc"])
    with pytest.raises(ValidationError):
        IcTask(task_id="1", price_usd=1.0, cwd="/app/../etc")
    with pytest.raises(ValidationError):
        ManagerTask(task_id="1-manager-0", price_usd=1.0, correct_proposal_id=0, manager_commit="x")
    assert IcTask(task_id="12155_1", price_usd=1.0).cwd == "/app/expensify"


# -- host paths built from a task id stay under their root --------------------------------

ESCAPING_IDS = ["../../../outside", "..", "<absolute>", "a/b", "12155\x00", ""]


@pytest.mark.parametrize("bad", ESCAPING_IDS, ids=repr)
def test_an_attempt_folder_never_leaves_the_run_directory(tmp_path, bad):
    absolute = tmp_path / "absolute"
    bad = str(absolute) if bad == "<absolute>" else bad
    victim = tmp_path / "outside" / "1"
    victim.mkdir(parents=True)
    (victim / "precious.txt").write_text("keep me")
    rd = RunDir(tmp_path / "results" / "run")
    rd.create()
    with pytest.raises(SwelancerError, match=r"outside|task id"):
        rd.fresh_attempt_dir(bad, 1)
    with pytest.raises(SwelancerError):
        rd.attempt_dir(bad, 1)
    assert (victim / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in victim.parent.iterdir()) == ["1"], "nothing renamed or added"
    assert not absolute.exists()


def test_a_symlinked_task_folder_pointing_outside_is_refused(tmp_path):
    outside = tmp_path / "outside"
    (outside / "1").mkdir(parents=True)
    rd = RunDir(tmp_path / "run")
    (rd.path / "attempts").mkdir(parents=True)
    (rd.path / "attempts" / "12155").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SwelancerError, match="outside"):
        rd.fresh_attempt_dir("12155", 1)
    assert sorted(p.name for p in outside.iterdir()) == ["1"]


def _tampered_run(tmp_path: Path) -> tuple[Path, str]:
    """A run whose attempts.jsonl names a task id that climbs out to a planted transcript."""
    secret = tmp_path / "outside" / "1"
    secret.mkdir(parents=True)
    log = Transcript(secret / "transcript.jsonl")
    log.event("note", text="SECRET-OUTSIDE-THE-RUN")
    log.close()
    rd = RunDir(tmp_path / "results" / "run")
    rd.create()
    (rd.path / "attempts").mkdir()
    rd.write_run({"run_id": "run", "model": "m"})
    bad = "../../../outside"
    record = AttemptRecord(
        run_id="run", task_id="ok", variant="ic_swe", attempt=1, status="failed",
        price_usd=1.0, model="m", started_at="t", finished_at="t",
    )  # fmt: skip
    line = record.model_dump_json().replace('"task_id":"ok"', f'"task_id":{json.dumps(bad)}')
    rd.attempts_file.write_text(line + "\n")
    assert rd.records()[0].task_id == bad
    return rd.path, bad


def test_view_refuses_a_tampered_record_that_climbs_out(tmp_path, capsys):
    run, bad = _tampered_run(tmp_path)
    with pytest.raises(SwelancerError, match="outside"):
        load_attempt(run, bad, 1)
    code, out, err = run_cli("view", str(run), bad, capsys=capsys)
    assert code != 0
    assert "SECRET-OUTSIDE-THE-RUN" not in out + err
    assert "outside" in err
