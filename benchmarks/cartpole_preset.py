"""Does the cartpole preset deliver? For each root seed: `jaxrl train --preset cartpole --num-seeds 16`, then
`jaxrl evaluate --episodes 10` of the final and of the best-evaluated parameters in Gymnasium's CartPole-v1.
The target: the final policies score >= 475 over the 10 episodes in at least 15 of 16 seeds, and the best ones in
16 of 16, for each root seed.

    python -m benchmarks.cartpole_preset [--root-seeds 0 1] [--out benchmarks/results/cartpole-preset-<machine>.json]
        [--train-args="--buffer-size 50000"]   # a candidate change to the preset, recorded in the JSON
"""

from __future__ import annotations

import argparse
import json
import shlex
import tempfile
import time
from pathlib import Path


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cartpole_preset")
    p.add_argument("--root-seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--num-seeds", type=int, default=16)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--train-args", default="", help="extra `jaxrl train` flags on top of the preset (a candidate)")
    args = p.parse_args(argv)
    from benchmarks.common import machine_info, write_result
    from jaxrl.cli import main as jaxrl
    from jaxrl.host.gym_eval import evaluate_run

    extra = shlex.split(args.train_args)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for root in args.root_seeds:
            run = Path(tmp) / f"seed{root}"
            t0 = time.perf_counter()
            assert jaxrl(["train", "--preset", "cartpole", "--num-seeds", str(args.num_seeds), "--seed", str(root),
                          "--no-progress", "--out-dir", str(run), *extra]) == 0
            seconds = time.perf_counter() - t0
            summary = json.loads((run / "summary.json").read_text())
            final = evaluate_run(run, episodes=args.episodes, which="final", seed=100 + root)
            best = evaluate_run(run, episodes=args.episodes, which="best", seed=100 + root)
            f = [a["mean_return"] for a in final["per_agent"]]
            b = [a["mean_return"] for a in best["per_agent"]]
            either = sum(max(x, y) >= 475 for x, y in zip(f, b))
            rows.append({"root_seed": root, "wall_seconds": round(seconds, 1),
                         "train_steps_per_second": summary["aggregate_steps_per_second"],
                         "final_mean_returns": f, "best_mean_returns": b,
                         "final_aggregates": final["aggregates"], "best_aggregates": best["aggregates"],
                         "seeds_final_ge_475": sum(x >= 475 for x in f), "seeds_best_ge_475": sum(y >= 475 for y in b),
                         "seeds_final_or_best_ge_475": either, "seeds": args.num_seeds})
            print(f"root seed {root}: final or best >= 475 in {either}/{args.num_seeds} seeds "
                  f"(final {rows[-1]['seeds_final_ge_475']}, best {rows[-1]['seeds_best_ge_475']}); "
                  f"{seconds:.0f} s wall", flush=True)
    info = machine_info()
    result = {"benchmark": "cartpole_preset", "date": time.strftime("%Y-%m-%d"), "machine": info,
              "command": " ".join(["jaxrl train --preset cartpole --num-seeds 16 --seed R", *map(shlex.quote, extra)])
                         + "; jaxrl evaluate RUN --episodes 10 [--which best]", "train_args": extra,
              "target": "final >= 475 in >= 15 of 16 seeds and best >= 475 in 16 of 16, each root seed",
              "runs": rows, "target_met": all(r["seeds_final_ge_475"] >= 15 and r["seeds_best_ge_475"] == r["seeds"]
                                              for r in rows)}
    out = write_result(result, "cartpole-preset", args.out)
    print(f"target met: {result['target_met']} -> {out}")
    return result


if __name__ == "__main__":
    main()
