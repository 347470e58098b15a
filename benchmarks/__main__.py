"""`python -m benchmarks [--quick] [--out FILE] [--only NAME ...]`: jaxrl vs torch_reference on this machine.

Writes `benchmarks/results/<machine>-<date>.json` (or --out), prints a table and writes the scaling plot next
to the JSON. `--quick` finishes in under 3 minutes on 2 CPU cores; the full suite (`make bench`) takes longer.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

PARTS = ("matmul_peak", "cartpole_sweep", "update", "replay", "tabular", "pong_sps", "pong_step_us", "pong_conv",
         "pong_trace", "pong_fast_sps", "buffer_copies", "scaleout", "rainbow_parts")
DEFAULT_PARTS = [p for p in PARTS if p not in ("pong_trace", "pong_fast_sps")]
QUICK = {"seeds": [1, 16], "sweep_steps": 2000, "batches": [32, 128], "cnn_batches": [32], "capacity": 10_000,
         "adds": 1000, "tabular_steps": 20_000, "torch_tabular_steps": 3000, "matmul_n": 1024,
         "updates": {("mlp", 32): 300, ("mlp", 128): 200, ("cnn", 32): 6, ("cnn", 128): 2},
         "pong_seeds": [1], "pong_iterations": 8, "pong_envs": [1], "scaleout_devices": [], "scaleout_steps": 2000,
         "rainbow_steps": 2000}  # quick: no scale-out entry (the sweep above already times the sharded program)
FULL = {"seeds": [1, 4, 16, 64, 256], "sweep_steps": 5000, "batches": [32, 128, 512],
        "cnn_batches": [32, 128, 512], "capacity": 50_000, "adds": 5000, "tabular_steps": 100_000,
        "torch_tabular_steps": 20_000, "matmul_n": 2048,
        "updates": {("mlp", 32): 2000, ("mlp", 128): 1000, ("mlp", 512): 500, ("cnn", 32): 20, ("cnn", 128): 6,
                    ("cnn", 512): 2},
        "pong_seeds": [1, 8], "pong_iterations": 32, "pong_envs": [1, 8], "scaleout_devices": [1, 2, 4],
        "scaleout_steps": 5000,
        "rainbow_steps": 10_000}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="the < 3 minute suite")
    p.add_argument("--out", type=Path, default=None, help="results JSON (default benchmarks/results/<machine>-<date>.json)")
    p.add_argument("--only", nargs="+", choices=PARTS, default=DEFAULT_PARTS,
                   help="parts to run (default: all but pong_trace and pong_fast_sps, which the GPU protocol runs)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    if args.repeats < 3:
        p.error("--repeats must be >= 3")

    from benchmarks import suite
    from benchmarks.common import machine_info, machine_slug
    from benchmarks.report import plot_scaling, print_table

    from jaxrl.host.devices import prepare_process
    setup = prepare_process()  # as `jaxrl train` runs: before machine_info starts JAX's backends
    s = QUICK if args.quick else FULL
    info = machine_info() | setup
    out = args.out or Path("benchmarks/results") / f"{machine_slug(info)}-{time.strftime('%Y-%m-%d')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results, r = [], args.repeats
    t0 = time.time()
    peaks = {"jaxrl": None, "torch": None}
    if "matmul_peak" in args.only or "update" in args.only or "cartpole_sweep" in args.only:
        peak = suite.bench_matmul_peak(r, s["matmul_n"])
        peaks = {m.impl: m.value for m in peak}
        results += peak
    if "cartpole_sweep" in args.only:
        results += suite.bench_cartpole_sweep(s["seeds"], s["sweep_steps"], r, peaks["jaxrl"])
    if "update" in args.only:
        for net in ("mlp", "cnn"):
            for batch in s["batches" if net == "mlp" else "cnn_batches"]:
                results += suite.bench_update([net], [batch], r, s["updates"][(net, batch)], peaks)
    if "replay" in args.only:
        results += suite.bench_replay(s["capacity"], s["adds"], 32, r)
    if "tabular" in args.only:
        results += suite.bench_tabular(64, s["tabular_steps"], s["torch_tabular_steps"], r)
    if "pong_sps" in args.only:
        from benchmarks.pong import bench_pong_sps
        results += bench_pong_sps(s["pong_seeds"], s["pong_iterations"], r, threads=os.cpu_count())
    if "pong_step_us" in args.only:
        from benchmarks.pong import bench_pong_step_us
        results += bench_pong_step_us(s["pong_envs"], 8 * s["pong_iterations"], r)
    if "pong_conv" in args.only:
        from benchmarks.pong import bench_pong_conv
        results += bench_pong_conv(s["pong_iterations"], r)
    if "pong_trace" in args.only:
        from benchmarks.trace import bench_pong_trace
        results += bench_pong_trace(s["pong_iterations"])
    if "pong_fast_sps" in args.only:
        from benchmarks.pong import bench_pong_fast_sps
        results += bench_pong_fast_sps(s["pong_seeds"], s["pong_iterations"], r)
    if "buffer_copies" in args.only:
        from benchmarks.pong import buffer_copies
        results += buffer_copies()
    if "scaleout" in args.only and s["scaleout_devices"]:
        from benchmarks.scaleout import bench_scaleout
        results += bench_scaleout(s["scaleout_devices"], 16, s["scaleout_steps"], r)
    if "rainbow_parts" in args.only:
        from benchmarks.rainbow_parts import bench_rainbow_parts
        results += bench_rainbow_parts(s["rainbow_steps"], r)
    doc = {"machine": info, "mode": "quick" if args.quick else "full", "seconds": time.time() - t0,
           "command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
           "measurements": [dataclasses.asdict(m) for m in results]}
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print_table(doc)
    png = plot_scaling(doc, out.with_suffix(".png"))
    print(f"\nwrote {out}" + (f" and {png}" if png else "") + f" in {doc['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
