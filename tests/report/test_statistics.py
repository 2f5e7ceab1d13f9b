"""Intervals, paired comparisons and plans on runs whose answers are known: a run against
itself differs by exactly 0 with p = 1; a run that passes what another failed wins with the
exact sign test's p; the same seed gives the same intervals; one task gives no interval and
says why; every format shows the intervals; --plan agrees with its closed form."""

from __future__ import annotations

import json
from math import ceil, comb, sqrt
from statistics import NormalDist

import pytest
from fakes.runs import make_run, run_cli

from swelancer.report.compare import compare_runs, leaderboard
from swelancer.report.metrics import compute
from swelancer.report.models import RunReport
from swelancer.report.paired import pair
from swelancer.report.plan import plan
from swelancer.report.render import render
from swelancer.report.stats import sign_test, wilson

Z95 = NormalDist().inv_cdf(0.975)
PRICES = [250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 500.0, 1000.0, 250.0, 32000.0]


def tasks_with(statuses: list[list[str]]) -> list[tuple[str, str, float, list[str]]]:
    return [(f"{i}_{i}", "ic_swe", PRICES[i % len(PRICES)], s) for i, s in enumerate(statuses, 1)]


# -- paired comparison --------------------------------------------------------------------


def test_a_run_against_itself_differs_by_exactly_zero_with_p_one(tmp_path) -> None:
    run = make_run(tmp_path, "same", tasks_with([["passed"], ["failed"], ["passed"]] * 4))
    report = compute(run)
    found = pair(report, report, report.statistics)
    assert found.tasks == 12 and found.better == found.worse == 0
    assert found.pass_at_1.difference == 0 and found.earned_usd.difference == 0
    assert found.sign_test_p == 1 and found.earned_usd.bootstrap_p == 1
    assert found.pass_at_1.interval is not None and found.pass_at_1.interval.low == 0
    assert found.earned_usd.interval is not None and found.earned_usd.interval.high == 0
    assert not found.pass_at_1.beyond_noise and "within noise" in found.verdict


def test_a_run_that_passes_what_the_other_failed_beats_it_beyond_noise(tmp_path) -> None:
    a = make_run(tmp_path, "a", tasks_with([["failed"]] * 10))
    b = make_run(tmp_path, "b", tasks_with([["passed"]] * 10))
    comparison = compare_runs([a, b])
    (found,) = comparison.paired
    assert (found.better, found.worse) == (10, 0)
    assert found.sign_test_p == pytest.approx(2 / 2**10, abs=1e-4)
    assert found.pass_at_1.difference == 1.0
    assert found.earned_usd.difference == sum(PRICES)
    assert found.earned_usd.beyond_noise and found.verdict.startswith("b beats a beyond noise")
    assert found.drivers[0].task_id == "9_9" and found.drivers[0].earned_difference_usd == 32000


def test_few_discordant_tasks_are_not_beyond_noise_whatever_the_bootstrap_says(tmp_path) -> None:
    """Five wins and no loss in 20 tasks: the bootstrap's interval leaves out 0, but the exact
    sign test's p is 2/32 = 0.0625, so the difference is not called beyond noise."""
    a = make_run(tmp_path, "a", tasks_with([["failed"]] * 5 + [["passed"]] * 15))
    b = make_run(tmp_path, "b", tasks_with([["passed"]] * 20))
    (found,) = compare_runs([a, b]).paired
    assert found.sign_test_p == 0.0625
    assert found.pass_at_1.interval is not None and found.pass_at_1.interval.low > 0
    assert not found.pass_at_1.beyond_noise and not found.earned_usd.beyond_noise


def test_the_sign_test_is_the_exact_binomial_tail() -> None:
    assert sign_test(7, 2) == pytest.approx(2 * (comb(9, 0) + comb(9, 1) + comb(9, 2)) / 2**9)
    assert sign_test(0, 0) == 1.0 and sign_test(5, 5) == 1.0
    assert 0 < sign_test(600, 400) < 1e-9  # big counts stay exact, no overflow


def test_runs_on_different_tasks_are_compared_on_the_common_ones_and_say_so(tmp_path) -> None:
    a = make_run(tmp_path / "r", "a", tasks_with([["passed"], ["failed"], ["passed"]]))
    b = make_run(tmp_path / "r", "b", tasks_with([["passed"], ["passed"], ["error"], ["failed"]]))
    (found,) = compare_runs([a, b]).paired
    assert found.tasks == 2 and found.left_out == 2
    assert any("compared on the 2 task(s) both graded" in n for n in found.notes)
    board = leaderboard(tmp_path / "r", baseline="a")
    assert board.baseline == "a" and [p.run for p in board.paired] == ["b"]
    assert "Paired against a" in render(board, "md")


def test_a_baseline_that_is_not_in_the_folder_is_refused(tmp_path, capsys) -> None:
    make_run(tmp_path / "r", "a", tasks_with([["passed"]]))
    code, _, err = run_cli("report", str(tmp_path / "r"), "--baseline", "zz", capsys=capsys)
    assert code != 0 and "--baseline 'zz' is not a run" in err and "a" in err


# -- intervals ----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_intervals_and_another_seed_other_draws(tmp_path, capsys):
    run = make_run(tmp_path, "r", tasks_with([["passed", "failed"], ["failed", "failed"]] * 10))
    first = run_cli("report", str(run), "-f", "json", "--seed", "7", capsys=capsys)[1]
    again = run_cli("report", str(run), "-f", "json", "--seed", "7", capsys=capsys)[1]
    other = run_cli("report", str(run), "-f", "json", "--seed", "8", capsys=capsys)[1]
    assert first == again
    a, b = json.loads(first), json.loads(other)
    assert a["statistics"]["seed"] == 7 and a["statistics"]["resamples"] == 2000
    assert a["earned_usd_ci"] != b["earned_usd_ci"]
    assert a["pass_at_1_ci"] == b["pass_at_1_ci"]  # Wilson's draws nothing


def test_one_task_of_one_try_gives_no_interval_and_says_why(tmp_path, capsys) -> None:
    run = make_run(tmp_path, "one", tasks_with([["passed"]]))
    report = compute(run)
    assert report.pass_at_1 == 1.0 and report.pass_at_1_ci is None
    assert report.earned_usd_ci is None
    for fmt in ("table", "md", "html", "json"):
        text = render(report, fmt)
        if fmt != "json":
            assert "too few for an interval to mean anything" in text
    code, out, _ = run_cli("report", str(run), capsys=capsys)
    assert code == 0 and "1 task(s) graded: too few" in out


def test_a_pass_rate_at_0_or_100_percent_keeps_an_interval_of_wilson_width(tmp_path) -> None:
    """pass@1 takes Wilson's width at 0 of 5 and 5 of 5; dollars keep a width too."""
    none = compute(make_run(tmp_path, "none", tasks_with([["failed"]] * 5)))
    every = compute(make_run(tmp_path, "every", tasks_with([["passed"]] * 5)))
    upper = Z95**2 / (5 + Z95**2)  # Wilson's upper end at 0 of 5
    assert none.pass_at_1_ci is not None and every.pass_at_1_ci is not None
    assert none.pass_at_1_ci.low == 0 and none.pass_at_1_ci.high == pytest.approx(upper, abs=1e-4)
    assert every.pass_at_1_ci.low == pytest.approx(1 - upper, abs=1e-4)
    # dollars: no zero-width interval either (the pseudo-residuals), within $0 and available
    assert none.earned_usd_ci is not None and every.earned_usd_ci is not None
    assert none.earned_usd_ci.low == 0 < none.earned_usd_ci.high < none.available_usd
    assert 0 < every.earned_usd_ci.low < every.earned_usd_ci.high == every.available_usd


def test_tries_that_agree_count_once_and_tries_that_vary_count_more(tmp_path) -> None:
    """Ten tasks at 50 %: all-or-nothing tasks are worth 10 tries; half-passed ones, all 40."""
    lumpy = compute(make_run(tmp_path, "l", tasks_with([["passed"] * 4, ["failed"] * 4] * 5)))
    mixed = compute(make_run(tmp_path, "m", tasks_with([["passed", "failed"] * 2] * 10)))
    assert lumpy.pass_at_1 == mixed.pass_at_1 == 0.5
    assert (lumpy.pass_at_1_ci.low, lumpy.pass_at_1_ci.high) == pytest.approx(
        wilson(0.5, 10, 0.95), abs=1e-4
    )
    assert (mixed.pass_at_1_ci.low, mixed.pass_at_1_ci.high) == pytest.approx(
        wilson(0.5, 40, 0.95), abs=1e-4
    )
    assert lumpy.pass_at_k_ci is not None


def test_errors_are_left_out_and_also_counted_as_failures(tmp_path) -> None:
    report = compute(make_run(tmp_path, "e", tasks_with([["passed"], ["error"], ["failed"]])))
    assert report.tasks == 2 and report.pass_at_1 == 0.5
    wrong = report.errors_as_failures
    assert wrong is not None and wrong.tasks == 3
    assert wrong.pass_at_1 == pytest.approx(1 / 3, abs=1e-4)
    assert wrong.earned_usd == 500 and wrong.available_usd == 500 + 1000 + 2000
    assert "With errored attempts scored as failures (3 tasks)" in render(report, "md")


@pytest.mark.parametrize("fmt", ["table", "md", "html"])
def test_every_format_shows_earned_and_pass_at_1_with_their_interval(tmp_path, fmt) -> None:
    run = make_run(tmp_path / "r", "r", tasks_with([["passed", "failed"], ["failed"] * 2] * 6))
    report = compute(run)
    ci = report.earned_usd_ci
    assert ci is not None and report.pass_at_1_ci is not None
    text = render(report, fmt).replace("&#x27;", "'")
    low, high = f"${ci.low:,.0f}", f"${ci.high:,.0f}"
    assert f"Earned ${report.earned_usd:,.0f} (95% CI {low}–{high})" in text
    assert f"pass@1 25.0% (95% CI {report.pass_at_1_ci.low:.1%}–" in text
    words = " ".join(text.split())  # the table wraps long notes
    assert "residual task bootstrap" in words and "seed 0" in words
    board = render(leaderboard(tmp_path / "r"), fmt)
    assert "earned 95% CI" in board and f"{low}–{high}" in board


def test_the_json_reads_back_with_its_intervals(tmp_path) -> None:
    report = compute(make_run(tmp_path, "r", tasks_with([["passed"], ["failed"]] * 3)))
    again = RunReport.model_validate_json(render(report, "json"))
    assert again.earned_usd_ci == report.earned_usd_ci and again.statistics == report.statistics


# -- plans --------------------------------------------------------------------------------


def test_the_plan_is_the_closed_form_of_the_run_spread(tmp_path) -> None:
    """Tasks tried twice: half pass both, a quarter one of two, a quarter neither."""
    shapes = [["passed", "passed"]] * 8 + [["passed", "failed"]] * 4 + [["failed"] * 2] * 4
    report = compute(make_run(tmp_path, "p", tasks_with(shapes)))
    found = plan(report, width=0.4, difference=0.3, power=0.8)
    means = [1.0] * 8 + [0.5] * 4 + [0.0] * 4
    n, p = 16, sum(means) / 16
    total = sum((m - p) ** 2 for m in means) / (n - 1)
    within = (4 * 0.5) / 16  # a half-passed task's two tries vary by 0.5; the others by 0
    between = total - within / 2
    assert found.within_measured
    assert found.within_variance == pytest.approx(within, abs=1e-6)
    assert found.between_variance == pytest.approx(between, abs=1e-6)
    row = {r.tries: r for r in found.rows}
    assert row[3].pass_at_1_width == pytest.approx(2 * Z95 * sqrt((between + within / 3) / n), 1e-3)
    budget = n * (0.4 / (2 * Z95)) ** 2
    assert found.tries_for_width == ceil(within / (budget - between)) == 3
    zb = NormalDist().inv_cdf(0.8)
    assert n * 0.3**2 / (2 * (Z95 + zb) ** 2) < between  # no number of tries detects 30 points
    assert found.tries_for_difference is None
    assert found.floor_difference == pytest.approx((Z95 + zb) * sqrt(2 * between / n), abs=1e-4)
    assert found.floor_width == pytest.approx(2 * Z95 * sqrt(between / n), abs=1e-4)


def test_a_width_the_tasks_cannot_reach_says_so(tmp_path, capsys) -> None:
    run = make_run(tmp_path, "p", tasks_with([["passed"] * 2, ["failed"] * 2] * 5))
    code, out, _ = run_cli("report", str(run), "--plan", "--width", "0.05", capsys=capsys)
    assert code == 0 and "more than these 10 tasks allow at any number of tries" in out
    code, out, _ = run_cli("report", str(run), "--plan", "-f", "json", capsys=capsys)
    assert code == 0 and json.loads(out)["kind"] == "plan"


def test_runs_on_different_prompts_say_the_difference_is_model_and_prompt(tmp_path) -> None:
    a = make_run(tmp_path, "a", tasks_with([["passed"], ["failed"]]))
    b = make_run(tmp_path, "b", tasks_with([["passed"], ["passed"]]))
    meta = json.loads((b / "run.json").read_text())
    (b / "run.json").write_text(json.dumps({**meta, "prompts": {"kind": "custom"}}))
    (found,) = compare_runs([a, b]).paired
    assert compute(b).prompts == "custom" and compute(a).prompts is None
    assert any("different prompts (unrecorded in a, custom in b)" in n for n in found.notes)


def test_a_paired_interval_stays_within_what_a_difference_can_be(tmp_path) -> None:
    """Nine wins and a tie: stretched draws would pass +100 %; the interval stops there."""
    a = make_run(tmp_path, "a", tasks_with([["failed"]] * 9 + [["passed"]]))
    b = make_run(tmp_path, "b", tasks_with([["passed"]] * 10))
    (found,) = compare_runs([a, b]).paired
    rate, dollars = found.pass_at_1.interval, found.earned_usd.interval
    assert rate is not None and rate.high == 1.0 and rate.low > 0
    assert dollars is not None and dollars.high <= found.available_usd
