"""Per-seed summaries (one definition for gymnax and Atari runs) and the closing lines of a gymnax run: the
per-seed table, the per-grid-point table and the aggregate line."""

from __future__ import annotations

from typing import Optional

import numpy as np

from jaxrl.host.rundir import rolling_mean


def per_seed_summary(returns, window: int) -> list[dict]:
    """For each seed's episode returns (in order): `seed_index`, `episodes`, `final_mean_return` (mean of the
    last `window` episodes) and `best_mean_return` (the best `window`-episode rolling mean); None without
    episodes."""
    out = []
    for s, r in enumerate(returns):
        r = np.asarray(r, np.float64)
        rolling = rolling_mean(r, window)
        out.append({"seed_index": s, "episodes": int(len(r)),
                    "final_mean_return": float(r[-window:].mean()) if len(r) else None,
                    "best_mean_return": float(rolling.max()) if len(rolling) else None})
    return out


def run_summary(config, returns, window: int, *, run_seconds: float, compile_seconds: float,
                steps_per_second: float | None, greedy_eval: dict | None = None) -> dict:
    """The part of summary.json every run writes, gymnax and Atari alike: per seed (`returns`: each seed's episode
    returns, in order) its episodes and final / best `window`-episode means (`per_seed_summary`), their aggregates,
    the env's "solved" threshold (`jaxrl.config.solved`) and the seeds whose best mean reached it, the greedy
    evaluations (`GreedyEvals.summary()`), timings and devices. Each family adds its own fields to the dict."""
    import jax

    from jaxrl.config.solved import solve_threshold
    threshold = solve_threshold(config.env_id)
    per_seed = per_seed_summary(returns, window)
    finals = [s["final_mean_return"] for s in per_seed if s["final_mean_return"] is not None]
    summary = {
        "env_id": config.env_id, "window_episodes": window, "num_seeds": len(per_seed),
        "env_steps_per_seed": config.total_steps, "per_seed": per_seed,
        "mean_final_return": float(np.mean(finals)) if finals else None,
        "solve_threshold": threshold, "aggregates": seed_aggregates(per_seed, threshold),
        "aggregate_steps_per_second": steps_per_second, "run_seconds": run_seconds,
        "compile_seconds": compile_seconds, "devices": [str(d) for d in jax.devices()],
    }
    if threshold is not None:
        summary["seeds_reaching_threshold"] = sum(reached_threshold(s, threshold) for s in per_seed)
    if greedy_eval is not None:
        summary["greedy_eval"] = greedy_eval
    return summary


def reached_threshold(seed: dict, threshold: Optional[float]) -> bool:
    """Whether a seed's best `window`-episode mean reached `threshold` (False without one or without episodes)."""
    return threshold is not None and seed["best_mean_return"] is not None and seed["best_mean_return"] >= threshold


def seed_aggregates(seeds: list[dict], target: Optional[float]) -> dict:
    """rliable's IQM, mean, median (and optimality gap to `target`) with 95% bootstrap CIs, over the seeds'
    final and best `window`-episode means (`jaxrl.host.stats`)."""
    from jaxrl.host.stats import aggregates
    nan = float("nan")
    return {kind: aggregates([s[f"{kind}_mean_return"] if s[f"{kind}_mean_return"] is not None else nan
                              for s in seeds], target=target) for kind in ("final", "best")}


def print_summary(summary: dict, console) -> None:
    from rich.table import Table

    w = summary["window_episodes"]
    table = Table(title="per-seed summary")
    for col in ("seed", "episodes", f"final mean return (last {w})", f"best {w}-episode mean", "final loss"):
        table.add_column(col, justify="right")
    fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    fmt_loss = lambda v: "-" if v is None else f"{v:#.4g}"  # noqa: E731  (4 significant digits throughout)
    for s in summary["per_seed"]:
        table.add_row(str(s["seed_index"]), str(s["episodes"]), fmt(s["final_mean_return"]),
                      fmt(s["best_mean_return"]), fmt_loss(s["final_loss"]))
    console.print(table)
    if "per_point" in summary:
        grid = Table(title="per grid point (mean over its seeds)")
        names = [k for k in summary["per_point"][0] if k not in ("point", "seeds", "mean_final_return",
                                                                 "seeds_reaching_threshold", "aggregates")]
        for col in ("point", *names, "seeds", f"final mean return (last {w})", "IQM [95% CI]", "seeds >= threshold"):
            grid.add_column(col, justify="right")
        from jaxrl.host.stats import format_ci
        for p in summary["per_point"]:
            iqm = p["aggregates"]["final"].get("iqm")
            grid.add_row(str(p["point"]), *[f"{p[k]:g}" for k in names], str(p["seeds"]), fmt(p["mean_final_return"]),
                         format_ci(iqm) if iqm else "-", str(p.get("seeds_reaching_threshold", "-")))
        console.print(grid)
    line = (f"aggregate: {summary['aggregate_steps_per_second']:,.0f} env steps/s over {summary['num_seeds']} "
            f"seeds ({summary['run_seconds']:.1f} s run, {summary['compile_seconds']:.1f} s compile, "
            f"{', '.join(summary['devices'])})")
    final = summary.get("aggregates", {}).get("final", {})
    if "iqm" in final:
        from jaxrl.host.stats import format_ci
        ci = "95% CI" if final["iqm"]["ci"] else "no CI: one seed"
        console.print(f"final return over {final['runs']} seeds ({ci}, stratified bootstrap): IQM "
                      f"{format_ci(final['iqm'])}, mean {format_ci(final['mean'])}, median {format_ci(final['median'])}")
    if "seeds_reaching_threshold" in summary:
        line += (f"; {summary['seeds_reaching_threshold']}/{summary['num_seeds']} seeds reached a "
                 f"{w}-episode mean >= {summary['solve_threshold']:g}")
    console.print(line)
