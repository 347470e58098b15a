"""`jaxrl tabular`'s run: train every table, measure the greedy policies in Gymnasium, write the run directory,
print the per-grid-point table."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from jaxrl.config import TabularConfig
from jaxrl.host import rundir
from jaxrl.runners import tabular


def run_tabular_command(config: TabularConfig, out_dir: Path, console) -> dict:
    """-> the run's summary (also in `out_dir/summary.json`)."""
    from rich.table import Table
    with console.status(f"training {len(config.grid)} x {config.num_seeds} Q-tables ..."):
        q, metrics, seconds = tabular.run_tabular(config)
    tables = tabular.frozen_lake_tables(config.map_name, config.slippery)
    with console.status("measuring greedy policies in Gymnasium FrozenLake-v1 ..."):
        success = tabular.gymnasium_success_rates(q.argmax(-1).reshape(-1, tables.num_states), config)
    success = success.reshape(len(config.grid), config.num_seeds)
    optimal = tabular.optimal_success_rate(tables, config.max_episode_steps)
    v, pi, _ = tabular.value_iteration(tables, config.gammas[0])
    summary = write_tabular_run_dir(out_dir, config, q, metrics, seconds, success, optimal, np.asarray(v),
                                           np.asarray(pi), tables.desc)
    table = Table(title=f"FrozenLake {config.map_name} {'slippery' if config.slippery else 'deterministic'}, "
                        f"{config.update} update, {config.num_seeds} seeds")
    for col in ("alpha", "gamma", "success rate (mean)", "min", "max", "optimal"):
        table.add_column(col, justify="right")
    for row in summary["grid"]:
        table.add_row(f"{row['alpha']:g}", f"{row['gamma']:g}", f"{row['success_rate']:.3f}",
                      f"{row['success_rate_min']:.3f}", f"{row['success_rate_max']:.3f}", f"{optimal:.3f}")
    console.print(table)
    if config.slippery:
        se = (optimal * (1 - optimal) / config.eval_episodes) ** 0.5
        console.print(f"success rates come from {config.eval_episodes} Gymnasium rollouts per policy (standard error "
                      f"about {se:.3f}): a max above the optimum {optimal:.3f} is rollout noise, not a better policy")
    console.print(f"{summary['updates_per_second']:,.0f} Q-updates/s ({seconds:.2f} s); run directory: {out_dir}")
    return summary


def write_tabular_run_dir(out_dir, config, q, metrics, seconds: float, success: np.ndarray, optimal: float,
                          vi_v: np.ndarray, vi_pi: np.ndarray, desc) -> dict:
    """Tabular run directory: config.json, metrics.csv (per grid point, seed and step bucket: episodes and
    mean return), summary.json (success rate per grid point beside the optimum), q_tables.npy, and
    policy_heatmap.png. `q: [G, S, nS, nA]`, `success: [G, S]`. Returns the summary."""
    out = Path(out_dir)
    grid = config.grid
    episodes, return_sum = np.asarray(metrics.episodes), np.asarray(metrics.return_sum)
    buckets = episodes.shape[-1]
    step_of = lambda b: min(config.total_steps, (b + 1) * -(-config.total_steps // buckets))  # noqa: E731
    with open(out / rundir.METRICS_FILE, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["alpha", "gamma", "seed", "step", "episodes", "mean_return"])
        for g, (alpha, gamma) in enumerate(grid):
            for s in range(config.num_seeds):
                for b in range(buckets):
                    n = int(episodes[g, s, b])
                    w.writerow([alpha, gamma, s, step_of(b), n, float(return_sum[g, s, b]) / n if n else ""])
    updates = len(grid) * config.num_seeds * config.total_steps
    summary = {
        "map": config.map_name, "slippery": config.slippery, "update": config.update,
        "optimal_success_rate": optimal,
        "grid": [{"alpha": a, "gamma": gm, "success_rate": float(success[g].mean()),
                  "success_rate_min": float(success[g].min()), "success_rate_max": float(success[g].max()),
                  "per_seed_success_rate": [float(x) for x in success[g]]}
                 for g, (a, gm) in enumerate(grid)],
        "success_measured_by": f"{config.eval_episodes if config.slippery else 1} rollouts per distinct greedy policy "
                               "in Gymnasium FrozenLake-v1",
        "updates_per_second": updates / seconds, "run_seconds": seconds,
    }
    rundir.write_json(out / rundir.SUMMARY_FILE, summary)
    np.save(out / "q_tables.npy", q)
    plot_policy_heatmap(out / "policy_heatmap.png", config, q, vi_v, vi_pi, desc)
    return summary


def plot_policy_heatmap(path: Path, config, q, vi_v, vi_pi, desc) -> None:
    """One panel per grid point (V = max_a Q averaged over seeds; arrows: the seeds' majority greedy action)
    and one for value iteration's V* and pi*."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxrl.envs.frozen_lake import ACTION_ARROWS

    nrow, ncol = len(desc), len(desc[0])
    panels = [(f"α={a:g} γ={g:.3g}", q[i].max(-1).mean(0),
               np.array([np.bincount(col, minlength=4).argmax() for col in q[i].argmax(-1).T]))
              for i, (a, g) in enumerate(config.grid)]
    panels.append((f"value iteration (γ={config.gammas[0]:.3g})", np.asarray(vi_v), np.asarray(vi_pi)))
    import matplotlib.patheffects as pe

    vmax = max(1e-6, max(float(np.max(v)) for _, v, _ in panels))  # one colour scale for every panel
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels) + 0.8, 3.4), squeeze=False)
    for ax, (title, v, pi) in zip(axes[0], panels):
        image = ax.imshow(v.reshape(nrow, ncol), cmap="viridis", vmin=0, vmax=vmax)
        for s in range(nrow * ncol):
            r, c = divmod(s, ncol)
            cell = desc[r][c]
            label = cell if cell in "HG" else ACTION_ARROWS[int(pi[s])]
            ax.text(c, r, label, ha="center", va="center", color="white", fontsize=11, fontweight="bold",
                    path_effects=[pe.withStroke(linewidth=2.5, foreground="black")])  # readable on any colour
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=list(axes[0]), shrink=0.85, label="V(s) = max_a Q(s, a)")
    fig.suptitle(f"FrozenLake {config.map_name} {'slippery' if config.slippery else 'deterministic'}: V and greedy policy")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
