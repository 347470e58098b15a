"""`python -m benchmarks.reference_learning [--seeds 0 1 2] [--steps 50000]`: does torch_reference really learn?

Trains the torch reference on CartPole-v1 (Gymnasium) with the `cartpole` preset for `--steps` env steps per
seed, and records each seed's best 10-episode mean return, the env step at which it first reached >= 475,
and the wall time. Writes benchmarks/results/reference-learning-<machine>-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine_info, machine_slug
from jaxrl.config import get_preset
from jaxrl.host.sweep import rolling_mean
from torch_reference.gymnax import make_train


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.reference_learning", description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=50_000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                   help="DQNConfig overrides of the cartpole preset, e.g. target_update_frequency=250")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    cfg = get_preset("cartpole-course").replace(total_steps=args.steps)
    for item in args.set:
        field, _, value = item.partition("=")
        current = getattr(cfg, field, None)
        if current is None or not value:
            p.error(f"--set {item!r}: expected FIELD=VALUE with a DQNConfig field")
        cfg = cfg.replace(**{field: type(current)(value) if not isinstance(current, bool) else value == "True"})
    cfg.validate()
    info = machine_info()
    rows = []
    for seed in args.seeds:
        r = make_train(cfg, threads=args.threads)(seed)
        ret, step = r["episodes"]["return"], r["episodes"]["step"]
        means = rolling_mean(ret, 10)
        hit = np.flatnonzero(means >= 475)
        rows.append({"seed": seed, "episodes": int(len(ret)), "best_10_episode_mean": float(means.max()),
                     "first_step_mean_ge_475": int(step[hit[0] + 9]) if len(hit) else None,
                     "seconds": r["seconds"], "env_steps_per_second": args.steps / r["seconds"]})
        print(rows[-1], flush=True)
    out = args.out or Path("benchmarks/results") / f"reference-learning-{machine_slug(info)}-{time.strftime('%Y-%m-%d')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"machine": info, "config": cfg.to_dict(), "command": "python -m benchmarks.reference_learning "
           + " ".join(f"--{k} {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in
                      {"seeds": args.seeds, "steps": args.steps, "threads": args.threads, "set": args.set}.items()
                      if v != []),
           "seeds": rows, "seeds_reaching_475": sum(r["first_step_mean_ge_475"] is not None for r in rows)}
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"{doc['seeds_reaching_475']}/{len(rows)} seeds reached a 10-episode mean >= 475 within {args.steps} "
          f"env steps; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
