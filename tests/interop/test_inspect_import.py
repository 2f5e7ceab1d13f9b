"""`swelancer import`: a log shaped as the `inspect_evals` SWE-Lancer task writes it (inspect_evals
0.26.0, `src/inspect_evals/swe_lancer/`: sample id the manifest's question_id, one epoch per try,
scorer `swe_lancer_scorer` with `earned`/`available` metadata, an IC score's `pytest_log` and
`patch_content`), made here with inspect_ai's own API, becomes a run `swelancer report` reads and
compares with ours; and a run exported by swelancer comes back with the same figures."""

from __future__ import annotations

import json

import pytest
from fakes.runs import run_cli
from interop_runs import demo_like_run, log_figures

from swelancer.report.metrics import compute
from swelancer.run.results import RunDir

inspect_log = pytest.importorskip("inspect_ai.log")
from inspect_ai.model import (  # noqa: E402
    ChatMessageAssistant,
    ChatMessageTool,
    ChatMessageUser,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.scorer import Score  # noqa: E402
from inspect_ai.tool import ToolCall  # noqa: E402

# (sample id, variant, price in the log, epochs' outcomes: 1.0, 0.0 or "error")
THEIRS = [
    ("101", "ic_swe", 250.0, [1.0, 0.0]),
    ("102_1", "ic_swe", 500.0, [0.0, 0.0]),
    ("103", "ic_swe", 999.0, [1.0, "error"]),  # the log's price is not the manifest's $1,000
    ("110-manager-0", "swe_manager", 8000.0, [0.0, 1.0]),
    ("111-manager-0", "swe_manager", 250.0, ["error", "error"]),
]
PYTEST_FAILED = "===== 1 failed, 2 passed in 3.21s =====\n"
PYTEST_PASSED = "===== 3 passed in 2.10s =====\n"


def _score(variant: str, price: float, value: float, task_id: str) -> Score:
    meta = {"variant": variant, "issue_id": task_id, "available": price, "earned": price * value}
    if variant == "ic_swe":
        meta |= {
            "pytest_log": PYTEST_PASSED if value else PYTEST_FAILED,
            "patch_content": f"diff --git a/src/{task_id}.js b/src/{task_id}.js\n",
        }
        answer = "All tests passed" if value else "Some tests failed"
    else:
        meta["correct_option"] = 2
        answer = "Correct proposal selected" if value else "Incorrect proposal selected"
    return Score(value=value, answer=answer, explanation="No limits exceeded", metadata=meta)


def _error():
    return inspect_log.EvalError(
        message="RuntimeError: sandbox died", traceback="tb", traceback_ansi="tb"
    )


def _sample(task_id: str, variant: str, price: float, epoch: int, outcome: float | str):
    prompt = ChatMessageUser(content=f"Fix issue {task_id}.", source="input")
    call = ToolCall(id="t1", function="bash", arguments={"cmd": "ls"})
    messages = [
        prompt,
        ChatMessageAssistant(content="Looking.", tool_calls=[call], model="openai/gpt-4o"),
        ChatMessageTool(content="src\n", tool_call_id="t1", function="bash"),
        ChatMessageAssistant(content="Done.", model="openai/gpt-4o"),
    ]
    failed = outcome == "error"
    return inspect_log.EvalSample(
        id=task_id,
        epoch=epoch,
        input=[prompt],
        target="",
        messages=messages,
        output=ModelOutput.from_content(model="openai/gpt-4o", content="Done."),
        scores=None if failed else {"swe_lancer_scorer": _score(variant, price, outcome, task_id)},
        error=_error() if failed else None,
        metadata={
            "price": price,
            "variant": variant,
            "issue_id": task_id,
            "correct_proposal_id": 2 if variant == "swe_manager" else None,
            "set": "diamond",
        },
        model_usage={
            "openai/gpt-4o": ModelUsage(
                input_tokens=1000, output_tokens=100, total_tokens=1100, total_cost=0.01
            )
        },
        working_time=12.5,
    )


def inspect_evals_log(path, rows=THEIRS):
    samples = [
        _sample(task_id, variant, price, n, outcome)
        for task_id, variant, price, outcomes in rows
        for n, outcome in enumerate(outcomes, start=1)
    ]
    log = inspect_log.EvalLog(
        status="success",
        eval=inspect_log.EvalSpec(
            created="2026-01-05T10:00:00+00:00",
            task="inspect_evals/swe_lancer",
            task_id="abc",
            task_version="2-B",
            dataset=inspect_log.EvalDataset(name="swelancer_task_all"),
            model="openai/gpt-4o",
            config=inspect_log.EvalConfig(epochs=2),
            packages={"inspect_ai": "0.3.285", "inspect_evals": "0.26.0"},
        ),
        samples=samples,
    )
    inspect_log.write_eval_log(log, str(path))
    return log


def _import(capsys, log_path, results, *more):
    return run_cli("import", str(log_path), "--split", "demo", "--results-dir", str(results),
                   *more, capsys=capsys)  # fmt: skip


def test_an_inspect_evals_log_becomes_a_run_with_the_manifests_prices(tmp_path, capsys):
    results = tmp_path / "results"
    log = inspect_evals_log(tmp_path / "swe-lancer.eval")
    code, out, err = _import(capsys, tmp_path / "swe-lancer.eval", results)
    assert code == 0, err
    run = results / "imported-swe-lancer"
    assert out.strip() == str(run)
    assert "103: $999.00 in the log, $1,000.00 in the manifest" in err
    report = compute(run)
    theirs = log_figures(log)
    assert report.errors == theirs["errors"] == 3
    assert report.pass_at_1 == theirs["pass_at_1"]
    assert (report.input_tokens, report.output_tokens) == (10_000, 1_000)
    assert report.cost_usd == pytest.approx(0.1)
    # prices from the manifest: 103 is $1,000 here, $999 in the log
    assert report.earned_usd == round(250 * 0.5 + 1000 * 1.0 + 8000 * 0.5, 2)
    assert report.available_usd == 250 + 500 + 1000 + 8000
    assert report.errored_usd == 250
    failed = next(t for t in report.per_task if t.task_id == "102_1").attempts[0]
    assert failed.status == "failed" and "Some tests failed" in failed.why
    attempt = RunDir(run).attempt_dir("101", 1)
    assert (attempt / "grading" / "101" / "run-1" / "pytest.log").read_text() == PYTEST_PASSED
    assert (attempt / "patch.diff").read_text().startswith("diff --git a/src/101.js")
    code, out, err = run_cli("view", str(run), "101", capsys=capsys)
    assert code == 0 and "Fix issue 101." in out and "Looking." in out


def test_report_compares_it_with_ours_and_names_the_grading_differences(tmp_path, capsys):
    results = tmp_path / "results"
    ours = demo_like_run(results)
    inspect_evals_log(tmp_path / "theirs.eval")
    assert _import(capsys, tmp_path / "theirs.eval", results, "--run-id", "theirs")[0] == 0
    code, out, err = run_cli("report", str(ours), str(results / "theirs"), "--format", "json",
                             capsys=capsys)  # fmt: skip
    assert code == 0, err
    comparison = json.loads(out)
    assert [r["run_id"] for r in comparison["runs"]] == ["ours", "theirs"]
    assert comparison["tasks_in_common"] == 5  # 101, 102_1, 103, 110-manager-0, 111-manager-0
    notes = " ".join(comparison["notes"])
    assert "theirs was imported from the Inspect log" in notes
    assert "graded by inspect_evals 0.26.0: IC verdicts are read from the text of pytest" in notes
    assert "103: $999.00 in the log" in notes
    by_task = {d["task_id"]: d for d in comparison["differences"] + comparison["only_in_some"]}
    assert by_task["103"]["price_usd"] == 1000.0
    assert notes.count("103: $999.00 in the log") == 1, "once, though both epochs said it"
    code, out, _ = run_cli("report", str(ours), str(results / "theirs"), "--format", "md",
                           capsys=capsys)  # fmt: skip
    assert code == 0 and "graded by inspect_evals" in out
    code, out, _ = run_cli("report", str(results), "--format", "json", capsys=capsys)
    assert code == 0
    board = json.loads(out)
    assert board["kind"] == "leaderboard" and len(board["runs"]) == 2
    assert any("graded by inspect_evals" in note for note in board["notes"])


def test_our_own_export_imports_back_to_the_same_figures(tmp_path, capsys):
    ours = demo_like_run(tmp_path / "results")
    assert run_cli("export", str(ours), "-o", str(tmp_path / "ours.eval"), capsys=capsys)[0] == 0
    code, _, err = _import(capsys, tmp_path / "ours.eval", tmp_path / "back")
    assert code == 0, err
    before, after = compute(ours), compute(tmp_path / "back" / "imported-ours")
    for name in ("pass_at_1", "pass_at_k", "earned_usd", "available_usd", "errored_usd",
                 "passed", "failed", "tampered", "errors", "input_tokens", "output_tokens",
                 "cost_usd", "tries"):  # fmt: skip
        assert getattr(after, name) == getattr(before, name), name
    assert [t.model_dump(exclude={"attempts"}) for t in after.per_task] == [
        t.model_dump(exclude={"attempts"}) for t in before.per_task
    ]
    assert RunDir(tmp_path / "back" / "imported-ours").read_run()["grading_differences"] == []


def test_a_sample_the_manifest_lacks_stops_the_import_naming_it(tmp_path, capsys):
    rows = [("101", "ic_swe", 250.0, [1.0]), ("99999_9", "ic_swe", 100.0, [0.0])]
    inspect_evals_log(tmp_path / "odd.eval", rows)
    code, _, err = _import(capsys, tmp_path / "odd.eval", tmp_path / "results")
    assert code == 2
    assert "99999_9" in err and "--manifest" in " ".join(err.split())
    assert not (tmp_path / "results" / "imported-odd" / "attempts.jsonl").exists()


def test_a_file_that_is_not_a_log_and_a_taken_run_id_are_refused(tmp_path, capsys):
    junk = tmp_path / "junk.eval"
    junk.write_text("not a zip")
    code, _, err = _import(capsys, junk, tmp_path / "results")
    assert code == 2 and "could not be read as an Inspect log" in " ".join(err.split())
    inspect_evals_log(tmp_path / "a.eval")
    assert _import(capsys, tmp_path / "a.eval", tmp_path / "results")[0] == 0
    code, _, err = _import(capsys, tmp_path / "a.eval", tmp_path / "results")
    assert code == 2 and "already a run directory" in " ".join(err.split())


def test_a_json_log_imports_as_its_eval_twin_does(tmp_path, capsys):
    inspect_evals_log(tmp_path / "twin.eval")
    inspect_evals_log(tmp_path / "twin.json")
    assert (tmp_path / "twin.json").read_text().lstrip().startswith("{")
    assert _import(capsys, tmp_path / "twin.eval", tmp_path / "a")[0] == 0
    assert _import(capsys, tmp_path / "twin.json", tmp_path / "b")[0] == 0
    a, b = compute(tmp_path / "a" / "imported-twin"), compute(tmp_path / "b" / "imported-twin")
    assert a.per_task == b.per_task and a.earned_usd == b.earned_usd
