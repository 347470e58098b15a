"""A 64-seed CartPole sweep as 1 process x 2 devices vs 2 processes x 1 device (`jaxrl launch`), same host, same
run. Reports each layout's training env steps/s (summary.json: chunk time, compile excluded), its wall time and
compile time, and the processes' overhead (wall-time difference). Usage:

    python -m benchmarks.multiprocess [--seeds 64] [--steps 50000] [--out benchmarks/results/multiprocess-<machine>.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "jaxrl.cli", *argv], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
    return time.perf_counter() - t0


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.multiprocess")
    p.add_argument("--seeds", type=int, default=64)
    p.add_argument("--steps", type=int, default=50_000)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    from benchmarks.common import cpu_model, machine_slug
    train = ["train", "--preset", "cartpole-course", "--num-seeds", str(args.seeds), "--total-steps", str(args.steps),
             "--no-progress"]
    layouts = {"1 process x 2 devices": lambda out: [*train, "--cpu-devices", "2", "--out-dir", out],
               "2 processes x 1 device": lambda out: ["launch", "--processes", "2", "--devices-per-process", "1",
                                                      "--", *train, "--out-dir", out]}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, argv_of in layouts.items():
            out = str(Path(tmp) / name.replace(" ", "_"))
            wall = _run(argv_of(out))
            summary = json.loads((Path(out) / "summary.json").read_text())
            rows[name] = {"wall_seconds": round(wall, 2), "train_env_steps_per_second":
                          summary["aggregate_steps_per_second"], "run_seconds": summary["run_seconds"],
                          "compile_seconds": summary["compile_seconds"], "devices": summary["devices"]}
            print(f"{name}: {summary['aggregate_steps_per_second']:,.0f} env steps/s, {wall:.1f} s wall", flush=True)
    a, b = rows["1 process x 2 devices"], rows["2 processes x 1 device"]
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": None}
    result = {"benchmark": "multiprocess", "date": time.strftime("%Y-%m-%d"), "machine": info,
              "config": {"preset": "cartpole-course", "num_seeds": args.seeds, "total_steps": args.steps},
              "layouts": rows,
              "two_processes_over_one": b["train_env_steps_per_second"] / a["train_env_steps_per_second"],
              "process_overhead_wall_seconds": round(b["wall_seconds"] - a["wall_seconds"], 2)}
    out = args.out or ROOT / "benchmarks/results" / f"multiprocess-{machine_slug(info)}-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"2 processes / 1 process: {result['two_processes_over_one']:.3f}; overhead "
          f"{result['process_overhead_wall_seconds']:+.1f} s wall -> {out}")
    return result


if __name__ == "__main__":
    main()
