"""`jaxrl compare RUN [RUN ...]`: runs (or the grid points inside one run) on the same env, side by side with
rliable's statistics (`jaxrl.host.stats`).

    groups      one per run, or one per grid point of a grid run; a group's scores are its seeds'
    scores      final: the mean return of each seed's last `window` episodes (as the run's summary);
                best: each seed's best `window`-episode rolling mean
    compare.json, compare.png (IQM over env steps with 95% CI bands; performance profiles of the final scores)

Problems are `ValueError`s with one line: runs on different envs, a run without episodes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import numpy as np

from jaxrl.host import rundir, stats
from jaxrl.host.metrics import read_episodes
from jaxrl.host.summary import per_seed_summary

COMPARE_JSON = "compare.json"
COMPARE_PNG = "compare.png"


@dataclasses.dataclass
class Group:
    label: str
    env_id: str
    total_steps: int
    episodes: dict  # seed (0..n-1 within the group), step, return, length
    num_seeds: int


def load_groups(runs, window: int) -> list[Group]:
    groups = []
    for run, run_label in zip(map(Path, runs), unique_labels(runs)):
        try:
            meta, config = rundir.read_dqn_config(run)
            config = config.to_dict()
        except FileNotFoundError as e:
            raise ValueError(f"{run}: not a jaxrl DQN run ({e})") from None
        path = run / rundir.METRICS_FILE
        if not path.is_file():
            raise ValueError(f"{run}: no {rundir.METRICS_FILE} (the run wrote no episodes)")
        episodes = read_episodes(path)
        if not len(episodes["seed"]):
            raise ValueError(f"{run}: the run has no finished episodes to compare")
        name = meta.get("preset") or run.name
        points = _grid_points(config)
        seeds = config["num_seeds"]
        for p, point in enumerate(points):
            mine = (episodes["seed"] >= p * seeds) & (episodes["seed"] < (p + 1) * seeds)
            ep = {k: v[mine] for k, v in episodes.items()}
            ep["seed"] = ep["seed"] - p * seeds
            label = run_label + (" " + " ".join(f"{k}={v:g}" for k, v in point.items()) if point else "")
            groups.append(Group(label if len(runs) > 1 or point else name, config["env_id"], config["total_steps"],
                                ep, seeds))
    envs = sorted({g.env_id for g in groups})
    if len(envs) > 1:
        raise ValueError(f"runs on different envs cannot be compared: {', '.join(envs)}")
    return groups


def _grid_points(config: dict) -> list[dict]:
    if not config.get("grid"):
        return [{}]
    from jaxrl.config import DQNConfig
    return DQNConfig.from_dict(config).grid_points()


def seed_scores(group: Group, window: int) -> tuple[np.ndarray, np.ndarray]:
    """-> (final, best) `[seeds]` (NaN for a seed without episodes)."""
    returns = [group.episodes["return"][group.episodes["seed"] == s] for s in range(group.num_seeds)]
    per_seed = per_seed_summary(returns, window)
    nan = float("nan")
    final = np.array([s["final_mean_return"] if s["final_mean_return"] is not None else nan for s in per_seed])
    best = np.array([s["best_mean_return"] if s["best_mean_return"] is not None else nan for s in per_seed])
    return final, best


def compare(runs, out: Optional[Path], *, window: int = 10, reps: int = stats.REPS) -> dict:
    """The comparison as a dict (also `out/compare.json` and `out/compare.png` when `out` is given)."""
    result, groups, finals = analyse(runs, window=window, reps=reps)
    if out is not None:
        write_compare(out, result, groups, finals, window, reps)
    return result


def analyse(runs, *, window: int = 10, reps: int = stats.REPS):
    """-> (the comparison as a dict, the groups, each group's final scores): nothing written."""
    from jaxrl.config.atari_scores import human_normalized_score
    from jaxrl.config.solved import solve_threshold
    groups = load_groups(runs, window)
    env_id = groups[0].env_id
    target = solve_threshold(env_id)  # the optimality gap's target
    rows, finals = [], {}
    for g in groups:
        final, best = seed_scores(g, window)
        finals[g.label] = final[np.isfinite(final)]
        rows.append({"group": g.label, "seeds": g.num_seeds,
                     "final": stats.aggregates(final, target=target, reps=reps),
                     "best": stats.aggregates(best, target=target, reps=reps)})
        if human_normalized_score(env_id, 0.0) is not None:  # an Atari-57 game: its human-normalized score too
            hns = np.array([human_normalized_score(env_id, float(x)) for x in final])
            rows[-1]["final_hns"] = stats.aggregates(hns, target=1.0, reps=reps)
    pairs = []
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            x, y = finals[a.label], finals[b.label]
            ci = stats.interval_pair(x, y, stats.probability_of_improvement, reps=min(reps, 1000))
            pairs.append({"x": a.label, "y": b.label, "probability_of_improvement":
                          stats.probability_of_improvement(x, y) if len(x) and len(y) else None,
                          "ci": list(ci) if ci else None})
    result = {"env_id": groups[0].env_id, "window_episodes": window, "score": "final / best mean return over "
              f"{window} episodes per seed", "target": target, "groups": rows, "probability_of_improvement": pairs,
              "ci": "95% stratified bootstrap (percentile), rliable's definitions"}
    return result, groups, finals


def write_compare(out: Path, result: dict, groups, finals, window: int, reps: int = stats.REPS) -> None:
    """compare.json and compare.png into `out`, each written to a temporary file first and both renamed at the
    end, so an interrupted or failed write leaves the previous files (or none), never half of one."""
    import os
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp_json, tmp_png = out / (COMPARE_JSON + ".tmp"), out / ("tmp-" + COMPARE_PNG)
    try:
        rundir.write_json(tmp_json, result)
        plot_compare(tmp_png, groups, finals, window, reps=min(reps, 300))
        os.replace(tmp_json, out / COMPARE_JSON)
        os.replace(tmp_png, out / COMPARE_PNG)
    finally:
        tmp_json.unlink(missing_ok=True)
        tmp_png.unlink(missing_ok=True)


def unique_labels(runs) -> list[str]:
    """Each run's label: its directory's name, with as many parent folders as it takes to tell runs of the same
    name apart (`x/run`, `y/run`). Raises `ValueError` for a run given twice."""
    paths = [Path(r).resolve() for r in runs]
    if len(set(paths)) < len(paths):
        twice = next(p for p in paths if paths.count(p) > 1)
        raise ValueError(f"{twice} is given twice: each run is one group")
    depth = {p: 1 for p in paths}
    while True:
        labels = ["/".join(p.parts[-depth[p]:]) for p in paths]
        clash = [p for p, label in zip(paths, labels) if labels.count(label) > 1]
        if not clash:
            return labels
        for p in clash:
            depth[p] += 1


def iqm_curve(group: Group, window: int, points: int = 60, reps: int = 300):
    """IQM over seeds of the rolling mean return on a step grid, with a 95% bootstrap band: (steps, iqm, lo, hi)."""
    steps, curves = rundir.curves_on_grid(group.episodes, group.num_seeds, group.total_steps, window, points)
    iqm, lo, hi = (np.full(points, np.nan) for _ in range(3))
    for j in range(points):
        col = curves[:, j][np.isfinite(curves[:, j])]
        if len(col):
            iqm[j] = stats.iqm(col)
            ci = stats.interval(col, stats.iqm, reps=reps)
            lo[j], hi[j] = ci if ci else (iqm[j], iqm[j])
    return steps, iqm, lo, hi


def plot_compare(path: Path, groups: list[Group], finals: dict, window: int, reps: int = 300) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, prof) = plt.subplots(1, 2, figsize=(12, 4.2))
    for g in groups:
        steps, iqm, lo, hi = iqm_curve(g, window, reps=reps)
        line, = ax.plot(steps, iqm, lw=2, label=f"{g.label} ({g.num_seeds} seeds)")
        ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.2)
    ax.set(xlabel="env steps per seed", ylabel=f"IQM of the {window}-episode mean return",
           title=f"{groups[0].env_id}: IQM over seeds, 95% bootstrap CI")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    everything = np.concatenate([v for v in finals.values() if len(v)] or [np.zeros(1)])
    taus = np.linspace(everything.min(), everything.max(), 200)
    for label, scores in finals.items():
        if len(scores):
            prof.plot(taus, [(scores > t).mean() for t in taus], lw=2, label=label)
    prof.set(xlabel="final score τ", ylabel="fraction of seeds with score > τ", title="performance profile")
    prof.grid(alpha=0.3)
    prof.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_compare(result: dict, out: Optional[Path] = None, console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    console = console or Console()

    table = Table(title=f"{result['env_id']}: {result['score']}; 95% CIs")
    for col in ("group", "seeds", "IQM (final)", "mean (final)", "median (final)", "IQM (best)"):
        table.add_column(col, justify="right")
    for row in result["groups"]:
        f, b = row["final"], row["best"]
        cell = lambda agg, k: stats.format_ci(agg[k]) if k in agg else "-"  # noqa: E731
        table.add_row(row["group"], str(row["seeds"]), cell(f, "iqm"), cell(f, "mean"), cell(f, "median"),
                      cell(b, "iqm"))
    console.print(table)
    for row in result["groups"]:
        if row["final"].get("ci_note"):
            console.print(f"{row['group']}: {row['final']['ci_note']}")
        if "final_hns" in row and "iqm" in row["final_hns"]:
            console.print(f"{row['group']}: IQM human-normalized score (final) {stats.format_ci(row['final_hns']['iqm'], 2)}")
    for p in result["probability_of_improvement"]:
        if p["probability_of_improvement"] is not None:
            ci = f" [{p['ci'][0]:.2f}, {p['ci'][1]:.2f}]" if p["ci"] else " (no CI: fewer than 2 seeds)"
            console.print(f"P({p['x']} > {p['y']}) = {p['probability_of_improvement']:.2f}{ci}")
    if out is not None:
        console.print(f"wrote {Path(out) / COMPARE_JSON} and {Path(out) / COMPARE_PNG}")
