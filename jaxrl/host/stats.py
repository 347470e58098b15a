"""Aggregate statistics over seeds with confidence intervals, as the rliable protocol defines them
(Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021).

    scores: `[runs, tasks]` (one column per env; a jaxrl run is one task, so usually `[seeds, 1]`)

    iqm(scores)                 interquartile mean: the mean of the middle 50% of all scores (25% trimmed mean,
                                `scipy.stats.trim_mean(proportiontocut=0.25)` over the flattened scores)
    optimality_gap(scores, g)   g - mean(min(scores, g)): how far below the target g the runs fall on average
    probability_of_improvement(x, y)
                                P(X > Y) + P(X = Y) / 2 per task (the Mann-Whitney U statistic / (n m)),
                                averaged over tasks; 0.5 for identical samples
    interval(scores, fn)        95% stratified bootstrap CI: runs are resampled with replacement within each task
                                (stratum), `fn` is applied to each resample, the CI is the 2.5 / 97.5 percentiles
                                (rliable's default `method="percentile"`)

These are rliable's definitions, written over numpy/scipy. The `rliable` package itself is not a dependency:
it pulls in `arch` (and with it statsmodels), pandas and seaborn, and ships only as a source distribution, for
what is here a few lines; `tests/test_stats.py` checks these functions against hand-computed values and against
rliable's formulas on the same data.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

REPS = 2000  # bootstrap resamples; the CI ends move by about 1% of their width between seeds of the resampler
CI = 0.95


def _as_runs_by_tasks(scores) -> np.ndarray:
    scores = np.asarray(scores, np.float64)
    return scores[:, None] if scores.ndim == 1 else scores


def iqm(scores) -> float:
    from scipy.stats import trim_mean
    return float(trim_mean(_as_runs_by_tasks(scores), proportiontocut=0.25, axis=None))


def mean(scores) -> float:
    return float(np.mean(_as_runs_by_tasks(scores)))


def median(scores) -> float:
    return float(np.median(_as_runs_by_tasks(scores)))


def optimality_gap(scores, target: float) -> float:
    return float(target - np.mean(np.minimum(_as_runs_by_tasks(scores), target)))


def probability_of_improvement(x, y) -> float:
    """P(a run of X scores above a run of Y), ties counting half, averaged over tasks. `x: [n, T]`, `y: [m, T]`."""
    x, y = _as_runs_by_tasks(x), _as_runs_by_tasks(y)
    per_task = []
    for t in range(x.shape[1]):
        a, b = x[:, t][:, None], y[:, t][None, :]
        per_task.append(float(np.mean((a > b) + 0.5 * (a == b))))
    return float(np.mean(per_task))


def _flat(resampled: np.ndarray) -> np.ndarray:
    return resampled.reshape(resampled.shape[0], -1)


def _iqm_of_each(resampled: np.ndarray) -> np.ndarray:
    from scipy.stats import trim_mean
    return trim_mean(_flat(resampled), proportiontocut=0.25, axis=1)


# `fn` -> its form over a stack of resamples `[R, runs, tasks] -> [R]`: the same numbers as `fn` on each resample
# (the same elements reduced in the same order), in one call instead of R
_OF_EACH = {iqm: _iqm_of_each, mean: lambda r: np.mean(_flat(r), axis=1),
            median: lambda r: np.median(_flat(r), axis=1)}


def interval(scores, fn: Callable[[np.ndarray], float], *, reps: int = REPS, seed: int = 0, ci: float = CI,
             batched: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> Optional[tuple[float, float]]:
    """Stratified bootstrap percentile CI of `fn(scores)`; None for fewer than 2 runs (no spread to resample).
    `batched`: `fn` over all resamples at once (`[R, runs, tasks] -> [R]`); known for `iqm`, `mean` and `median`,
    else `fn` is called on each resample."""
    scores = _as_runs_by_tasks(scores)
    runs = scores.shape[0]
    if runs < 2:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, runs, size=(reps, runs, scores.shape[1]))  # per task (column), its own resample
    resampled = np.take_along_axis(scores[None], idx, axis=1)
    batched = batched or _OF_EACH.get(fn)
    values = np.asarray(batched(resampled), np.float64) if batched else np.array([fn(r) for r in resampled])
    lo, hi = np.percentile(values, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2])
    return float(lo), float(hi)


def interval_pair(x, y, fn: Callable[[np.ndarray, np.ndarray], float], *, reps: int = REPS, seed: int = 0,
                  ci: float = CI) -> Optional[tuple[float, float]]:
    """The same CI for a statistic of two sets of runs (each resampled within its tasks independently)."""
    x, y = _as_runs_by_tasks(x), _as_runs_by_tasks(y)
    if x.shape[0] < 2 or y.shape[0] < 2:
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):
        xi = np.take_along_axis(x, rng.integers(0, x.shape[0], size=x.shape), axis=0)
        yi = np.take_along_axis(y, rng.integers(0, y.shape[0], size=y.shape), axis=0)
        values.append(fn(xi, yi))
    lo, hi = np.percentile(values, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2])
    return float(lo), float(hi)


def aggregates(scores, *, target: Optional[float] = None, reps: int = REPS, seed: int = 0) -> dict:
    """IQM, mean, median (and optimality gap when a `target` is given), each `{"value", "ci": [lo, hi] | None}`,
    plus `runs` and, with fewer than 2 runs, `ci_note` saying why there is no interval."""
    scores = _as_runs_by_tasks(scores)
    scores = scores[np.isfinite(scores).all(axis=1)]
    fns = {"iqm": iqm, "mean": mean, "median": median}
    batched = {}
    if target is not None:
        fns["optimality_gap"] = lambda s: optimality_gap(s, target)
        batched["optimality_gap"] = lambda r: target - np.mean(np.minimum(_flat(r), target), axis=1)
    out = {"runs": int(scores.shape[0])}
    if scores.shape[0] == 0:
        out["ci_note"] = "no runs with a score"
        return out
    for name, fn in fns.items():
        ci = interval(scores, fn, reps=reps, seed=seed, batched=batched.get(name))
        out[name] = {"value": fn(scores), "ci": list(ci) if ci is not None else None}
    if scores.shape[0] < 2:
        out["ci_note"] = "a confidence interval needs at least 2 runs: point estimates only"
    if target is not None:
        out["target"] = target
    return out


def format_ci(entry: dict, digits: int = 1) -> str:
    """`{"value", "ci"}` -> "281.3 [195.2, 370.1]" (or the value alone)."""
    value = f"{entry['value']:.{digits}f}"
    return value if entry.get("ci") is None else f"{value} [{entry['ci'][0]:.{digits}f}, {entry['ci'][1]:.{digits}f}]"
