"""Learning curves of config variants, many seeds and root seeds each: `jaxrl train` per variant and root seed (one
vmapped program of `--seeds` agents), then `jaxrl compare` over every run.

    python -m benchmarks.variants --name precision --env Breakout-MinAtar --seeds 16 --steps 50000 \\
        --variant float32= --variant bfloat16=--compute-dtype=bfloat16
    python -m benchmarks.variants --name grad-clip --env CartPole-v1 --seeds 16 --root-seeds 0 1 \\
        --variant none=--grad-clip=none --variant element=--grad-clip=element \\
        --variant global-norm=--grad-clip=global-norm

A variant is `NAME=FLAGS` (`jaxrl train` flags, one string, split like a shell line) on top of `--preset` (default
cartpole-course), `--base-flags` and, for MinAtar, the settings of `benchmarks.rainbow_curves.MINATAR` (MLP 256-256,
replay 100k, ...).
Writes `benchmarks/results/<name>-<env>-<machine>-<date>/`: `compare.json`, `compare.png` (one group per run,
`<variant>-root<seed>`), `variants.json` (the commands, the machine with its CPU model, each run's wall seconds and
env steps/s, and each seed's final and best scores, while training and greedy: `scores`); the run directories
under `runs/` are git-ignored.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from pathlib import Path

from benchmarks.rainbow_curves import MINATAR, flags
from jaxrl.config import get_preset


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.variants", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--name", required=True, help="the benchmark's name (the results folder's prefix)")
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--preset", default="cartpole-course")
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=None, help="env steps per agent (default: the preset's)")
    p.add_argument("--root-seeds", type=int, nargs="+", default=[0])
    p.add_argument("--variant", action="append", required=True, help="NAME=FLAGS (repeatable)")
    p.add_argument("--base-flags", default="", help="`jaxrl train` flags for every variant, one string")
    p.add_argument("--window", type=int, default=20, help="episodes per seed score in compare (default 20)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    from benchmarks.common import cpu_model, machine_info, machine_slug
    from jaxrl.cli import main as jaxrl

    variants = {}
    for spec in args.variant:
        name, sep, rest = spec.partition("=")
        if not sep or not name or name in variants:
            p.error(f"--variant {spec!r}: expected NAME=FLAGS with a new NAME")
        variants[name] = shlex.split(rest)
    from jaxrl.host.devices import force_host_devices
    force_host_devices(min(os.cpu_count() or 1, args.seeds))  # as `jaxrl train` shards a sweep, before JAX starts
    info = machine_info()
    out = args.out or Path("benchmarks/results") / (f"{args.name}-{args.env.lower()}-{machine_slug(info)}-"
                                                    f"{time.strftime('%Y-%m-%d')}")
    base = get_preset(args.preset)
    cfg = base.replace(env_id=args.env, num_seeds=args.seeds, **({"total_steps": args.steps} if args.steps else {}),
                       **(MINATAR if "MinAtar" in args.env else {}))
    common = ["--preset", args.preset, *flags(cfg, base), *shlex.split(args.base_flags), "--no-progress"]
    record = {"machine": {**info, "cpu": cpu_model()}, "command": "python -m benchmarks.variants "
              + shlex.join(argv if argv is not None else __import__("sys").argv[1:]), "runs": {}}
    runs = []
    for name, extra in variants.items():
        for root in args.root_seeds:
            run = out / "runs" / f"{name}-root{root}"
            train = ["train", *common, "--seed", str(root), *extra, "--out-dir", str(run)]
            t0 = time.time()
            code = jaxrl(train)
            if code:
                return code
            summary = json.loads((run / "summary.json").read_text())
            record["runs"][run.name] = {
                "command": "jaxrl " + shlex.join(train), "wall_seconds": time.time() - t0,
                "env_steps_per_second": summary.get("aggregate_steps_per_second"),
                **scores(summary)}
            print(f"{run.name}: {time.time() - t0:.0f} s wall", flush=True)
            runs.append(run)
    out.mkdir(parents=True, exist_ok=True)
    (out / "variants.json").write_text(json.dumps(record, indent=2) + "\n")
    return jaxrl(["compare", *map(str, runs), "--out", str(out), "--window", str(args.window)])


def scores(summary: dict) -> dict:
    """Each seed's scores from a run's summary.json: the mean of its last episodes while training
    (`final_mean_return`, exploring) and its best rolling mean; with greedy evaluations on, the last and the best
    greedy evaluation (`greedy_final`, `greedy_best`: `eval_episodes` episodes each, epsilon 0)."""
    out = {"final_mean_return": [s["final_mean_return"] for s in summary["per_seed"]],
           "best_mean_return": [s.get("best_mean_return") for s in summary["per_seed"]]}
    greedy = summary.get("greedy_eval") or {}
    if greedy.get("per_seed_last") is not None:
        out.update(greedy_final=greedy["per_seed_last"], greedy_best=greedy["per_seed_best"])
    return out


if __name__ == "__main__":
    raise SystemExit(main())
