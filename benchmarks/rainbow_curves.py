"""DQN vs Rainbow learning curves over many seeds, one vmapped program per algorithm.

    python -m benchmarks.rainbow_curves --env CartPole-v1 --seeds 16 --steps 100000
    python -m benchmarks.rainbow_curves --env Breakout-MinAtar --seeds 16 --steps 50000

`dqn` is the `cartpole-course` preset (the defaults' learner), `rainbow` the `rainbow` preset (double + dueling +
PER + 3-step + C51); for MinAtar both get the same env settings (`MINATAR`: MLP 256-256 on the flattened 10x10x4
frame, replay 100k, 5k warm-up, target period 1000, epsilon decay 10k, C51 support [0, 20]). A thin call of
`jaxrl train` (twice) and `jaxrl compare`: writes `benchmarks/results/rainbow-vs-dqn-<env>/` with both run
directories and compare.json / compare.png (IQM with 95% CIs, probability of improvement, performance profiles).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jaxrl.config import get_preset

MINATAR = dict(network="mlp", hidden_sizes=(256, 256), buffer_size=100_000, learning_starts=5_000,
               target_update_frequency=1_000, egreedy_decay=10_000.0, batch_size=64, learning_rate=3e-4)


def configs(env: str, seeds: int, steps: int) -> dict:
    extra = {"env_id": env, "num_seeds": seeds, "total_steps": steps}
    if "MinAtar" in env:
        extra.update(MINATAR)
    out = {"dqn": get_preset("cartpole-course").replace(**extra), "rainbow": get_preset("rainbow").replace(**extra)}
    if "MinAtar" in env:
        out["rainbow"] = out["rainbow"].replace(v_min=0.0, v_max=20.0)
    return out


def flags(cfg, base) -> list[str]:
    """`jaxrl train` flags that turn preset `base` into `cfg`."""
    out = []
    for name, value in cfg.to_dict().items():
        if value == getattr(base, name):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, (list, tuple)):
            out += [flag, *map(str, value)]
        else:
            out += [flag, str(value)]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.rainbow_curves", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--window", type=int, default=20)
    p.add_argument("--out", type=Path, default=None, help="directory of the two runs and compare.json/png")
    args = p.parse_args(argv)
    from jaxrl.cli import main as jaxrl

    out = args.out or Path("benchmarks/results") / f"rainbow-vs-dqn-{args.env.lower()}"
    runs = []
    for name, cfg in configs(args.env, args.seeds, args.steps).items():
        run = out / "runs" / name  # git-ignored: only compare.json/png are committed
        t0 = time.time()
        preset = "cartpole-course" if name == "dqn" else "rainbow"
        code = jaxrl(["train", "--preset", preset, *flags(cfg, get_preset(preset)), "--no-progress",
                      "--out-dir", str(run)])
        if code:
            return code
        print(f"{name}: {time.time() - t0:.0f} s wall", flush=True)
        runs.append(run)
    return jaxrl(["compare", *map(str, runs), "--out", str(out), "--window", str(args.window)])


if __name__ == "__main__":
    raise SystemExit(main())
