"""DQN vs Rainbow learning curves over many seeds, one vmapped program per algorithm.

    python -m benchmarks.rainbow_curves --env CartPole-v1 --seeds 16 --steps 100000
    python -m benchmarks.rainbow_curves --env Breakout-MinAtar --seeds 16 --steps 50000

`dqn` is the `cartpole` preset, `rainbow` the `rainbow` preset (double + dueling + PER + 3-step + C51); for
MinAtar both get the same env settings (`MINATAR`: MLP 256-256 on the flattened 10x10x4 frame, replay 100k,
5k warm-up, target period 1000, epsilon decay 10k, C51 support [0, 20]). Writes
`benchmarks/results/rainbow-vs-dqn-<env>.png` and `.json` (per-seed final/best returns, run seconds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from jaxrl.config import get_preset

MINATAR = dict(network="mlp", hidden_sizes=(256, 256), buffer_size=100_000, learning_starts=5_000,
               target_update_frequency=1_000, egreedy_decay=10_000.0, batch_size=64, learning_rate=3e-4)


def configs(env: str, seeds: int, steps: int) -> dict:
    extra = {"env_id": env, "num_seeds": seeds, "total_steps": steps}
    if "MinAtar" in env:
        extra.update(MINATAR)
    out = {"dqn": get_preset("cartpole").replace(**extra), "rainbow": get_preset("rainbow").replace(**extra)}
    if "MinAtar" in env:
        out["rainbow"] = out["rainbow"].replace(v_min=0.0, v_max=20.0)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rainbow_curves", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--window", type=int, default=20)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    import os

    from jaxrl.host.devices import force_host_devices
    force_host_devices(os.cpu_count() or 1)  # one XLA host device per core, as `jaxrl train` does (see jaxrl.runners.grid)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.common import machine_info
    from jaxrl.host.rundir import curves_on_grid, rolling_mean
    from jaxrl.host.sweep import per_seed_returns, run_sweep

    out = args.out or Path("benchmarks/results") / f"rainbow-vs-dqn-{args.env.lower()}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"machine": machine_info(), "command": "python -m benchmarks.rainbow_curves " + " ".join(
        argv if argv is not None else __import__("sys").argv[1:]), "window": args.window, "runs": {}}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (name, cfg), color in zip(configs(args.env, args.seeds, args.steps).items(), ("tab:blue", "tab:red")):
        t0 = time.time()
        result = run_sweep(cfg, progress=False)
        returns = per_seed_returns(result.episodes, cfg.num_seeds)
        grid, curves = curves_on_grid(result.episodes, cfg.num_seeds, cfg.total_steps, args.window)
        with np.errstate(all="ignore"):
            mean, std = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        ax.plot(grid, mean, color=color, lw=2, label=f"{name} (mean of {cfg.num_seeds} seeds)")
        ax.fill_between(grid, mean - std, mean + std, color=color, alpha=0.2)
        doc["runs"][name] = {
            "config": cfg.to_dict(), "run_seconds": result.run_seconds, "wall_seconds": time.time() - t0,
            "env_steps_per_second": result.aggregate_steps_per_second,
            "final_mean_return": [float(r[-args.window:].mean()) if len(r) else None for r in returns],
            "best_mean_return": [float(rolling_mean(r, args.window).max()) if len(r) >= args.window else None
                                 for r in returns],
            "curve_steps": grid.tolist(), "curve_mean": np.nan_to_num(mean, nan=-1).tolist()}
        print(f"{name}: final mean return {np.mean([x for x in doc['runs'][name]['final_mean_return'] if x is not None]):.1f}"
              f" ({result.run_seconds:.0f} s, {result.aggregate_steps_per_second:,.0f} env steps/s)", flush=True)
    ax.set_xlabel("env steps per seed")
    ax.set_ylabel(f"episode return (rolling mean of {args.window})")
    ax.set_title(f"{args.env}: DQN vs Rainbow, {args.seeds} seeds (mean ± std)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
