"""rliable's aggregate statistics (jaxrl.host.stats) against hand-computed values, against the formulas rliable
uses (scipy's trimmed mean and Mann-Whitney U), and the bootstrap against scipy's own percentile bootstrap."""

import numpy as np
import pytest
from scipy import stats as sps

from jaxrl.host import stats


def test_iqm_hand_computed():
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)  # middle half: 3, 4, 5, 6
    assert stats.iqm([0, 0, 0, 10]) == pytest.approx(0.0)  # one dropped from each end
    assert stats.iqm([[1, 100], [2, 200], [3, 300], [4, 400]]) == pytest.approx((3 + 4 + 100 + 200) / 4)  # all tasks


def test_mean_median_optimality_gap_hand_computed():
    s = [100.0, 300.0, 600.0]
    assert stats.mean(s) == pytest.approx(1000 / 3)
    assert stats.median(s) == pytest.approx(300.0)
    assert stats.optimality_gap(s, 475.0) == pytest.approx(475 - (100 + 300 + 475) / 3)
    assert stats.optimality_gap([500.0, 475.0], 475.0) == 0.0


def test_probability_of_improvement_hand_computed_and_as_rliable():
    assert stats.probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert stats.probability_of_improvement([1, 2, 3], [2, 2, 2]) == pytest.approx(0.5)  # 0, 1/2, 1
    assert stats.probability_of_improvement([1, 3], [2]) == pytest.approx(0.5)
    assert stats.probability_of_improvement([5, 5], [5, 5]) == 0.5
    rng = np.random.default_rng(0)
    x, y = rng.normal(1.0, 1.0, (16, 3)).round(1), rng.normal(0.5, 1.0, (12, 3)).round(1)  # ties included
    rliable = np.mean([sps.mannwhitneyu(x[:, t], y[:, t], alternative="greater").statistic / (16 * 12)
                       for t in range(3)])  # rliable.metrics.probability_of_improvement
    assert stats.probability_of_improvement(x, y) == pytest.approx(rliable)
    assert stats.probability_of_improvement(y, x) == pytest.approx(1 - rliable)


def test_interval_is_a_percentile_bootstrap():
    rng = np.random.default_rng(1)
    x = rng.normal(10.0, 2.0, 40)
    ours = stats.interval(x, stats.mean, reps=20_000, seed=3)
    ref = sps.bootstrap((x,), np.mean, method="percentile", n_resamples=20_000, random_state=4).confidence_interval
    width = ref.high - ref.low
    assert abs(ours[0] - ref.low) < 0.05 * width and abs(ours[1] - ref.high) < 0.05 * width
    assert ours[0] < stats.mean(x) < ours[1]
    assert stats.interval(x, stats.mean, seed=7) == stats.interval(x, stats.mean, seed=7)  # reproducible


def test_interval_edge_cases():
    assert stats.interval([5.0, 5.0, 5.0], stats.iqm) == (5.0, 5.0)
    assert stats.interval([5.0], stats.iqm) is None


def test_stratified_resampling_keeps_each_task_apart():
    """Two tasks on very different scales: a resample never mixes runs across tasks, so the per-task means of
    every resample stay within each task's own range."""
    scores = np.stack([np.arange(10.0), 1000 + np.arange(10.0)], axis=1)  # [runs, tasks]
    lo, hi = stats.interval(scores, lambda s: float(s[:, 1].min()), reps=500)
    assert lo >= 1000 and hi <= 1009


def test_aggregates_report_and_explain_missing_intervals():
    one = stats.aggregates([300.0], target=475.0)
    assert one["runs"] == 1 and one["iqm"]["ci"] is None and "at least 2 runs" in one["ci_note"]
    many = stats.aggregates([100.0, 200.0, 300.0, 400.0, float("nan")], target=475.0)
    assert many["runs"] == 4 and many["iqm"]["value"] == pytest.approx(250.0)
    assert many["optimality_gap"]["value"] == pytest.approx(475 - 250)
    assert many["iqm"]["ci"][0] <= 250.0 <= many["iqm"]["ci"][1]
    assert stats.format_ci(many["iqm"]).startswith("250.0 [")
