"""`jaxrl tabular`'s run: train every table, measure the greedy policies in Gymnasium, write the run directory,
print the per-grid-point table."""

from __future__ import annotations

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
    summary = rundir.write_tabular_run_dir(out_dir, config, q, metrics, seconds, success, optimal, np.asarray(v),
                                           np.asarray(pi), tables.desc)
    table = Table(title=f"FrozenLake {config.map_name} {'slippery' if config.slippery else 'deterministic'}, "
                        f"{config.update} update, {config.num_seeds} seeds")
    for col in ("alpha", "gamma", "success rate (mean)", "min", "max", "optimal"):
        table.add_column(col, justify="right")
    for row in summary["grid"]:
        table.add_row(f"{row['alpha']:g}", f"{row['gamma']:g}", f"{row['success_rate']:.3f}",
                      f"{row['success_rate_min']:.3f}", f"{row['success_rate_max']:.3f}", f"{optimal:.3f}")
    console.print(table)
    console.print(f"{summary['updates_per_second']:,.0f} Q-updates/s ({seconds:.2f} s); run directory: {out_dir}")
    return summary
