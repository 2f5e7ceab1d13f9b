"""Property-based tests that try to break input handling: manifests, decision files, transcripts
and attempts.jsonl. Each property says what must hold for every input, not just the usual ones.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from swelancer.benchmark.manager import read_decision
from swelancer.errors import ManifestError
from swelancer.records import AttemptRecord
from swelancer.run.results import RunDir, Transcript, read_records
from swelancer.tasks.manifest import is_missing, load_manifest
from swelancer.tasks.models import IC_ID, MANAGER_ID, VARIANTS, IcTask, ManagerTask

CURRENT = [
    "question_id", "variant", "price", "price_limit", "manager_data", "manager_commit",
    "acceptable_folders", "cwd", "set", "title", "description", "proposals",
]  # fmt: skip
OLDER = [
    "question_id", "variant", "price", "price_limit", "prompt", "manager_data",
    "manager_commit", "acceptable_folders", "cwd",
]  # fmt: skip

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------
# Manifests


_SCRATCH: list[Path] = []


@pytest.fixture(autouse=True, scope="module")
def _scratch_root(tmp_path_factory):
    _SCRATCH[:] = [tmp_path_factory.mktemp("examples")]


def _scratch() -> Path:
    """A fresh folder per example (pytest's tmp_path is shared by every example of a test)."""
    return Path(tempfile.mkdtemp(dir=_SCRATCH[0]))


# Text a CSV file can hold (UTF-8: no lone surrogates), biased towards the awkward.
cell_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
SPECIAL_CELLS = [
    "", " ", "nan", "NaN", " nan ", "None", "null", "inf", "-inf", "Infinity", "-0", "-0.0",
    "1e999", "-1e999", "1e-400", "9" * 400, "0x10", "1_000", "٣", "²", "\x00", "\r", "\n",
    "\r\n", '"', '""', "'", "\\", "\\x", "\\u12", "\\N{nope}", "\\ud800", "\u2028", "\ufeff",
    "[", "]", "{", "}", "(", "[" * 300, "{" * 300, "(" * 1000, "[1, 2", "{'a': }", "{[1]: 2}",
    "{{}: 1}", "{1, [2]}", "[{'content': 1}]", "[{'role': 'user'}]", "[1, 'a', None]", "[[]]",
    "{'game': 5}", "{'game': []}", "{'game': {'correct_proposal': 5}}",
    "{'game': {'correct_proposal': {'id': True}}}",
    "{'game': {'correct_proposal': {'id': '1'}}}",
    "{'game': {'correct_proposal': {'id': 1.0}}}",
    "{'game': {'correct_proposal': {'id': 1}, 'all_formal_proposals': 5}}",
    "{'game': {'correct_proposal': {'id': 1}, 'all_formal_proposals': 1.5}}",
    "{'game': {'correct_proposal': {'id': 1}, 'all_formal_proposals': 'abc'}}",
    "{'game': {'correct_proposal': {'id': 1}, 'all_formal_proposals': {'id': 1}}}",
    "{'game': {'correct_proposal': {'id': 1}, 'all_formal_proposals': [{'id': 2}]}}",
    "{'game': {'correct_proposal': {'id': 1}, 'all_formal_proposals': [None, 3, {'id': 1}]}}",
    "{'game': {'correct_proposal': {'id': 10**5}}}",
    "{'game': {'correct_proposal': {'id': 1}}, 'title': b'\\xff', 'html_description': {1: 2}}",
    "{'a': " * 60 + "1" + "}" * 60,
]  # fmt: skip
# Big cells are built when drawn, from (prefix, body, times, suffix), to keep reprs small.
BIG_CELLS = st.sampled_from(
    [
        ("", "[", 300, ""),
        ("", "(", 1000, ""),
        ("", "[", 150, "]" * 150),
        ("", "-", 5000, "1"),
        ("", "not ", 3000, "1"),
        ("'", "x", 100_000, "'"),
        ("[", "1,", 20_000, "]"),
        ("", "9", 400, ""),
    ]
).map(lambda t: t[0] + t[1] * t[2] + t[3])

# Python values written with repr: literal-looking garbage of every type, nested.
# Python values written with repr: literal-looking garbage of every type, nested. `literals`
# are what `ast.literal_eval` reads back; `py_values` add what it cannot (nan, frozenset()).
literal_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.complex_numbers(max_magnitude=1e6, allow_nan=False, allow_infinity=False),
    cell_text,
    st.binary(max_size=10),
)


def _containers(inner):
    return st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(cell_text, st.integers(), st.none()), inner, max_size=4),
    )


literals = st.recursive(literal_scalars, _containers, max_leaves=12)
py_values = st.recursive(
    literal_scalars | st.floats() | st.frozensets(st.integers(), max_size=3),
    _containers,
    max_leaves=12,
)
manager_data_like = st.fixed_dictionaries(
    {
        "game": st.one_of(
            py_values,
            st.fixed_dictionaries({"correct_proposal": py_values}),
            st.fixed_dictionaries(
                {
                    "correct_proposal": st.fixed_dictionaries({"id": st.integers(-2, 2)}),
                    "all_formal_proposals": py_values,
                }
            ),
        )
    },
    optional={"title": py_values, "html_description": py_values},
).map(repr)
# Literal-looking source text built from a grammar, so keys, nesting and operators can be
# anything: `{[1]: 2}`, `{(1, [2])}`, `-'a'`, `[1, 2` and the like.
literal_source = st.recursive(
    st.one_of(
        st.sampled_from(["0", "1", "-1", "1.5", "1e999", "nan", "True", "None", "1j", "...", "x"]),
        st.integers().map(str),
        cell_text.map(repr),
        st.binary(max_size=4).map(repr),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(inner, max_size=3).map(lambda xs: "(" + ", ".join(xs) + ",)"),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: "{" + ", ".join(xs) + "}"),
        st.lists(st.tuples(inner, inner), max_size=3).map(
            lambda kvs: "{" + ", ".join(f"{k}: {v}" for k, v in kvs) + "}"
        ),
        st.tuples(st.sampled_from(["-", "+", "not "]), inner).map("".join),
        st.tuples(inner, st.sampled_from([" + ", " - ", " * "]), inner).map("".join),
        st.tuples(inner, st.integers(0, 40)).map(lambda t: t[0][: t[1]]),  # cut short
    ),
    max_leaves=10,
)
nasty_cell = st.one_of(
    cell_text,
    st.sampled_from(SPECIAL_CELLS),
    BIG_CELLS,
    py_values.map(repr),
    literal_source,
    manager_data_like,
    st.floats().map(repr),
    st.integers().map(str),
)
messages = st.lists(
    st.one_of(st.fixed_dictionaries({"content": py_values, "role": py_values}), py_values),
    max_size=3,
)
nasty_for = {  # garbage aimed at what each column is decoded as
    "manager_data": st.one_of(
        manager_data_like,
        literal_source,
        st.tuples(
            st.sampled_from(
                [
                    "{'game': {'correct_proposal': ",
                    "{'game': {'correct_proposal': {'id': ",
                    "{'game': {'correct_proposal': {'id': 1}, 'all_formal_proposals': ",
                ]
            ),
            literal_source,
        ).map(lambda t: t[0] + t[1] + "}" * t[0].count("{")),
        nasty_cell,
    ),
    "acceptable_folders": st.one_of(
        py_values.map(repr), literal_source, literal_source.map("[{}]".format), nasty_cell
    ),
    "prompt": st.one_of(
        messages.map(repr),
        literal_source.map("[{{'content': {}, 'role': 'user'}}]".format),
        literal_source.map("[{}]".format),
        nasty_cell,
    ),
}
# A row that loads, per column, to corrupt a few cells of: reaches the checks behind the first.
GOOD = {
    "question_id": "1",
    "price": "250.0",
    "price_limit": "2000000.0",
    "manager_data": "{'game': {'correct_proposal': {'id': 1}, "
    "'all_formal_proposals': [{'id': 1, 'content': 'p'}]}, 'title': 't'}",
    "manager_commit": "abc1234",
    "acceptable_folders": "['1']",
    "cwd": "/app/expensify",
    "set": "diamond",
    "title": "t",
    "description": "d",
    "proposals": "p",
    "prompt": "[{'content': 'fix the following issue:\\n\\nTitle', 'role': 'user'}]",
    "canary": "",
}


def good_row(variant: str, number: int = 1) -> dict[str, str]:
    """GOOD for `variant`, with an id of that variant's shape."""
    task_id = str(number) if variant == "ic_swe" else f"{number}-manager-0"
    return {**GOOD, "variant": variant, "question_id": task_id}


@st.composite
def headers(draw) -> list[str]:
    header = list(draw(st.sampled_from([CURRENT, OLDER, [*OLDER, "canary"]])))
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    if draw(st.integers(0, 9)) == 0:  # a column missing
        header.pop(draw(st.integers(0, len(header) - 1)))
    if draw(st.integers(0, 9)) == 0:  # an odd extra column, maybe a duplicate name
        header.append(draw(st.one_of(cell_text, st.sampled_from(header))))
    return header


@st.composite
def manifests(draw) -> tuple[list[str], list[list[str]]]:
    header = draw(headers())
    decoded = [c for c in header if c in nasty_for]  # aimed at more often than the rest
    rows = []
    for number in range(draw(st.integers(0, 4))):
        if draw(st.sampled_from([False] * 7 + [True])):  # garbage in every cell
            row = [draw(nasty_cell) for _ in header]
        else:  # a good row with a few cells replaced
            good = good_row(draw(st.sampled_from(VARIANTS)), number)
            row = [good.get(c, "") for c in header]
            for _ in range(draw(st.integers(0, 3))):
                column = draw(st.sampled_from(header + decoded * 3))
                row[header.index(column)] = draw(nasty_for.get(column, nasty_cell))
        shape = draw(st.sampled_from(["as is"] * 18 + ["long", "short"]))
        if shape == "long":  # too many cells
            row += draw(st.lists(cell_text, min_size=1, max_size=2))
        elif shape == "short":  # too few cells
            row = row[: draw(st.integers(0, len(row)))]
        rows.append(row)
    return header, rows


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _load_or_error(path: Path) -> list | ManifestError:
    """`load_manifest`'s answer: the tasks or the `ManifestError`. Anything else fails the test."""
    try:
        tasks = load_manifest(path)
    except ManifestError as error:
        assert error.path == str(path)
        assert str(path) in str(error)
        return error
    assert isinstance(tasks, list)
    assert all(isinstance(t, IcTask | ManagerTask) for t in tasks)
    return tasks


@SETTINGS
@given(manifests())
@example(
    (
        CURRENT,
        [["1", "swe_manager", "1", "", "{'game': {'correct_proposal': {'id': 1}, "
          "'all_formal_proposals': 5}}", "", "", "", "", "", "", ""]],
    )
)  # fmt: skip
@example((CURRENT, [["1", "ic_swe", "1", "", "", "", "{[1]: 2}", "", "", "", "", ""]]))
def test_any_manifest_row_loads_or_names_file_and_row(manifest):
    header, rows = manifest
    path = _write_csv(_scratch() / "m.csv", header, rows)
    got = _load_or_error(path)
    if isinstance(got, list):
        return
    assert got.row is not None, str(got)
    assert got.row == 1 or 2 <= got.row <= len(rows) + 1, str(got)
    if got.row >= 2:  # the first bad row is named: everything before it loads
        prefix = _write_csv(_scratch() / "prefix.csv", header, rows[: got.row - 2])
        assert isinstance(load_manifest(prefix), list)


def _check_one_bad_cell(header: list[str], variant: str, column: str, value: str) -> None:
    """Every other cell good: the row loads, or the error names row 2 and this very column."""
    row = {**good_row(variant), column: value}
    path = _write_csv(_scratch() / "m.csv", header, [[row.get(c, "") for c in header]])
    got = _load_or_error(path)
    if isinstance(got, ManifestError):
        assert (got.row, got.column) == (2, column), str(got)


@SETTINGS
@given(
    st.sampled_from([CURRENT, OLDER]),
    st.sampled_from(VARIANTS),
    st.sampled_from(sorted(GOOD) + [*nasty_for] * 4),
    st.data(),
)
def test_one_bad_cell_in_a_good_row_is_named(header, variant, column, data):
    value = data.draw(nasty_for.get(column, nasty_cell), label="value")
    _check_one_bad_cell(header, variant, column, value)


@pytest.mark.parametrize(
    ("variant", "column", "value"),
    [
        ("swe_manager", "manager_data",
         "{'game': {'correct_proposal': {'id': 1}, 'all_formal_proposals': 5}}"),
        ("ic_swe", "acceptable_folders", "{[1]: 2}"),
    ],
)  # fmt: skip
def test_bad_cells_found_so_far_are_named(variant, column, value):
    _check_one_bad_cell(CURRENT, variant, column, value)


# Structured-valid rows: what they load to is known exactly.
ic_ids = st.from_regex(IC_ID, fullmatch=True)
manager_ids = st.from_regex(MANAGER_ID, fullmatch=True)
commits = st.just("") | st.from_regex(r"[0-9a-f]{7,40}", fullmatch=True)
cwds = st.sampled_from(["", "nan", " /app/expensify ", "/app/expensify"])
folder_names = st.integers(0, 10**9 - 1) | ic_ids
prices = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
proposal_lists = st.lists(
    st.fixed_dictionaries(
        {"id": st.integers(-(10**30), 10**30), "content": cell_text},
        optional={"source_url": cell_text, "explanation": cell_text},
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda p: p["id"],
)


@st.composite
def valid_rows(draw, schema: str) -> dict[str, str | int | float]:
    variant = draw(st.sampled_from(["ic_swe", "swe_manager"]))
    price = draw(prices)
    split = draw(st.one_of(st.sampled_from(["diamond", "nondiamond", "", "nan"]), cell_text))
    row: dict[str, str | int | float] = {
        "question_id": draw(ic_ids if variant == "ic_swe" else manager_ids),
        "variant": variant,
        "price": repr(price),
        "price_limit": draw(nasty_cell),
        "manager_commit": draw(commits),
        "cwd": draw(cwds),
        "title": draw(cell_text),
        "description": draw(cell_text),
        "proposals": draw(cell_text),
        "expect_price": price,
        "expect_split": "diamond" if schema == "older" or is_missing(split) else split.strip(),
    }
    if schema == "current":
        row["set"] = split
    else:
        content = draw(cell_text)
        row["prompt"] = repr([{"content": content, "role": "user"}])
    if variant == "ic_swe":
        row["acceptable_folders"] = repr(draw(st.lists(folder_names, max_size=3)))
        row["manager_data"] = draw(st.sampled_from(["", "nan", "{}"]))
    else:
        proposals = draw(proposal_lists)
        correct = draw(st.sampled_from(proposals))["id"]
        data = {
            "all_proposals": draw(st.lists(literals, max_size=2)),
            "game": {
                "all_formal_proposals": proposals,
                "correct_proposal": {"id": correct, "explanation": draw(cell_text)},
            },
            "price": price,
            "title": draw(cell_text),
        }
        row["manager_data"] = repr(data)
        row["acceptable_folders"] = draw(st.sampled_from(["[]", "nan", ""]))
        row["expect_correct"] = correct
        row["expect_proposals"] = [p["id"] for p in proposals]
    return row


@st.composite
def valid_manifests(draw) -> tuple[str, list[dict]]:
    schema = draw(st.sampled_from(["current", "older"]))
    rows = draw(
        st.lists(valid_rows(schema), min_size=1, max_size=5, unique_by=lambda r: r["question_id"])
    )
    return schema, rows


@settings(max_examples=100, deadline=None)  # up to five rows each: 300 rows in all, and more
@given(valid_manifests())
def test_structured_valid_rows_load_to_the_right_tasks(manifest):
    schema, rows = manifest
    header = CURRENT if schema == "current" else OLDER
    path = _scratch() / "m.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tasks = load_manifest(path)
    assert len(tasks) == len(rows)
    for task, row in zip(tasks, rows, strict=True):
        assert task.task_id == row["question_id"]
        assert task.variant == row["variant"]
        assert task.price_usd == row["expect_price"]
        assert task.split == row["expect_split"]
        if isinstance(task, ManagerTask):
            assert task.correct_proposal_id == row["expect_correct"]
            assert [p.id for p in task.proposals] == row["expect_proposals"]
        else:
            assert task.test_folders


@st.composite
def damaged_csv_bytes(draw) -> bytes:
    """A good CSV with random bytes written over, inserted into or cut out of it."""
    header = draw(st.sampled_from([CURRENT, OLDER]))
    row = ["1", "ic_swe", "250", "", "nan", "", "['1']", "", "diamond", "t", "d", ""]
    data = bytearray((",".join(header) + "\r\n" + ",".join(row[: len(header)]) + "\r\n").encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        junk = draw(st.binary(min_size=1, max_size=8))
        match draw(st.integers(0, 2)):
            case 0:
                data[at : at + len(junk)] = junk
            case 1:
                data[at:at] = junk
            case _:
                del data[at : at + len(junk)]
    return bytes(data)


@SETTINGS
@given(
    st.one_of(
        st.binary(max_size=300),
        damaged_csv_bytes(),
        st.text(alphabet=",\"'\r\n\x00\\[]{}abc ", max_size=200).map(str.encode),
    )
)
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"\x00" * 10)
@example(b"\xff\xfe" + "question_id".encode("utf-16-le"))
def test_any_file_bytes_load_or_raise_manifest_error(raw):
    path = _scratch() / "m.csv"
    path.write_bytes(raw)
    _load_or_error(path)


# ---------------------------------------------------------------------------------------------
# Decision files


def _upstream(raw: bytes) -> int | None:
    """upstream's `int(list(json.loads(...).values())[0])`, None where it raises."""
    try:
        return int(list(json.loads(raw.decode("utf-8")).values())[0])  # noqa: RUF015
    except Exception:
        return None


def _check_decision(raw: bytes | None) -> int | None:
    decision = read_decision(raw)
    selected, reason = decision.selected, decision.reason
    if selected is None:
        assert isinstance(reason, str) and reason
    else:
        assert type(selected) is int
        assert (reason is None) == (decision.odd_form is None)
    if raw is not None:
        assert selected == _upstream(raw)
    return selected


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**4000), 10**4000)
    | st.floats()
    | st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
DEEP_DECISIONS = st.one_of(
    st.sampled_from([b"[", b'{"a":', b'{"a": [']).map(lambda b: b * 100_000),
    st.integers(1, 3000).map(lambda n: b'{"a": ' + b"[" * n + b"]" * n + b"}"),  # near the limit
)
SPECIAL_DECISIONS = [
    b'{"selected_proposal_id": "\xc2\xb2"}',  # '²' is a digit to str.isdigit, not to int()
    b'{"selected_proposal_id": "--5"}',
    b'{"selected_proposal_id": "-"}',
    b'{"selected_proposal_id": "' + b"9" * 50 + b'"}',
    b'{"selected_proposal_id": 1e400}',
    b'{"selected_proposal_id": -1e400}',
    b'{"selected_proposal_id": 1e300}',
    b'{"selected_proposal_id": NaN}',
    b'{"selected_proposal_id": Infinity}',
    b'{"selected_proposal_id": -0.0}',
    b'{"selected_proposal_id": " \xd9\xa3 "}',
    b'\xef\xbb\xbf{"selected_proposal_id": 1}',
    b'{"selected_proposal_id": "\\ud800"}',
    b'{"\\ud800": 1}',
    b"\x00",
    b"",
]


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.sampled_from(SPECIAL_DECISIONS),
        DEEP_DECISIONS,
        st.sampled_from([b'{"selected_proposal_id": "%s"}', b'{"selected_proposal_id": %s}']).map(
            lambda template: template % (b"9" * 5000)  # past int()'s 4300-digit limit
        ),
    )
)
def test_decision_from_any_bytes_is_an_int_or_a_reason(raw):
    _check_decision(raw)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_decision_from_any_json_value_is_an_int_or_a_reason(value):
    _check_decision(json.dumps(value).encode())
    _check_decision(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    _check_decision(json.dumps({"selected_proposal_id": value}).encode())


@settings(max_examples=100, deadline=None)
@given(
    st.integers(-(10**4000), 10**4000),
    st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    st.booleans(),
)
@example(0, {}, False)
@example(-(2**63), {"proposal": 1}, True)
def test_decision_with_selected_proposal_id_first_returns_it(n, others, first):
    data = {"selected_proposal_id": n, **others} if first else {**others, "selected_proposal_id": n}
    got = _check_decision(json.dumps(data).encode())  # upstream's reading, checked in there
    if first or not others:
        assert got == n


@settings(max_examples=100, deadline=None)
@given(
    st.text(max_size=20).filter(lambda k: k != "selected_proposal_id"),
    st.integers(-(10**4000), 10**4000),
    st.dictionaries(st.text(max_size=8), json_values, max_size=3),
)
def test_decision_without_selected_proposal_id_takes_the_first_value(key, n, rest):
    rest = {k: v for k, v in rest.items() if k not in (key, "selected_proposal_id")}
    assert _check_decision(json.dumps({key: n, **rest}).encode()) == n


# ---------------------------------------------------------------------------------------------
# Transcripts and attempts.jsonl

escaped_bytes = st.binary().map(lambda b: b.decode("utf-8", "surrogateescape"))
any_text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=[])),  # lone surrogates included
    escaped_bytes,
    st.sampled_from(["", "\x00", "\u2028", "\u2029", "\r", "\r\n", "\x1b[31m", "\ud800\udc00"]),
)


def _as_json_reads(text: str) -> str:
    """A high surrogate then a low one is, to JSON, the character they encode: `"\\ud800\\udc00"`
    reads back as U+10000. Every other string, lone surrogates included, reads back as written."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _transcript_lines(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data[:-1].split(b"\n")]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(any_text, any_text), min_size=1, max_size=5))
def test_transcript_round_trips_any_text(events):
    path = _scratch() / "transcript.jsonl"
    seen: list[tuple[str, dict]] = []
    log = Transcript(path, on_event=lambda kind, data: seen.append((kind, data)))
    for kind, text in events:
        log.event(kind, text=text, nested={"list": [text, text[:3]]})
    log.close()
    lines = _transcript_lines(path)
    expected = [(_as_json_reads(kind), _as_json_reads(text)) for kind, text in events]
    assert [(e["kind"], e["text"]) for e in lines] == expected
    assert all(e["nested"]["list"][0] == e["text"] for e in lines)
    assert [kind for kind, _ in seen] == [kind for kind, _ in events]


@settings(max_examples=150, deadline=None)
@given(escaped_bytes)
def test_transcript_round_trips_undecodable_output_exactly(text):
    """What `bytes.decode("utf-8", "surrogateescape")` makes comes back as the same string, and
    so as the same bytes."""
    path = _scratch() / "transcript.jsonl"
    log = Transcript(path)
    log.event("tool_result", output=text)
    log.close()
    (entry,) = _transcript_lines(path)
    assert entry["output"] == text
    assert entry["output"].encode("utf-8", "surrogateescape") == text.encode(
        "utf-8", "surrogateescape"
    )


@settings(max_examples=3, deadline=None)
@given(st.sampled_from(["x\x00\u2028\udcff\r\n", "é" * 7, "\U0001f600"]))
def test_transcript_takes_megabytes_of_output(chunk):
    text = chunk * (3_000_000 // len(chunk))
    path = _scratch() / "transcript.jsonl"
    log = Transcript(path)
    log.event("tool_result", output=text)
    log.event("after", output="ok")
    log.close()
    big, after = _transcript_lines(path)
    assert big["output"] == text and after["output"] == "ok"


# Record text must be UTF-8-encodable: pydantic cannot write lone surrogates as JSON.
record_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
records = st.builds(
    AttemptRecord,
    run_id=record_text,
    task_id=record_text,
    variant=st.sampled_from(["ic_swe", "swe_manager"]),
    attempt=st.integers(1, 10),
    status=st.sampled_from(["passed", "failed", "error"]),
    price_usd=st.floats(0, 1e6),
    model=record_text,
    reason=st.none() | record_text,
    started_at=record_text,
    finished_at=record_text,
)


@pytest.fixture(scope="module")
def _memory_folder(tmp_path_factory):
    """A folder in memory (tmpfs) where there is one: appends there still go through `write`
    and `fsync`, but the fsync costs nothing. This test is about what a cut leaves, not about
    the disk; an fsync per cut per example had made it the suite's slowest."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path_factory.mktemp("appends")
        return
    folder = Path(tempfile.mkdtemp(prefix="swelancer-test-", dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=25, deadline=None)
@given(st.lists(records, min_size=1, max_size=3), records, st.data())
def test_attempts_survive_a_cut_anywhere_in_the_file(_memory_folder, written, later, data):
    """A crash may cut the file anywhere: the cuts that matter are tried every time (every record
    boundary, with and without its newline, one byte into each line, inside the first multi-byte
    character), and a few others drawn anywhere. Records whole before the cut are read back, and
    appends after it stand alone."""
    rd = RunDir(Path(tempfile.mkdtemp(dir=_memory_folder)) / "run")
    for record in written:
        rd.append(record)
    full = rd.attempts_file.read_bytes()
    ends = [i + 1 for i, byte in enumerate(full) if byte == ord("\n")]  # after each newline
    assert len(ends) == len(written)
    cuts = {0, *ends, *(end - 1 for end in ends), *(end + 1 for end in [0, *ends[:-1]])}
    cuts |= {next((i for i, byte in enumerate(full) if 0x80 <= byte < 0xC0), 0)}
    cuts |= set(data.draw(st.lists(st.integers(0, len(full)), max_size=4), label="more cuts"))
    for cut in sorted(cuts):
        rd.attempts_file.write_bytes(full[:cut])
        # A record is whole once every byte of its JSON is on disk (only the newline lost).
        whole = [r for r, end in zip(written, ends, strict=True) if cut >= end - 1]
        assert read_records(rd.attempts_file) == whole, cut
        rd.append(later)
        assert read_records(rd.attempts_file) == [*whole, later], cut
        rd.append(later)
        assert rd.records() == [*whole, later, later], cut
