"""Does driving a sweep in stoppable chunks cost throughput? Same process, same sweep, alternating:

- one program: `jaxrl.host.sweep.sweep_program`, `jax.jit(jax.vmap(make_train(config)))`, the whole run as one
  compiled program (cannot stop, writes nothing, no greedy evaluations);
- `run_gymnax`: the driver every `jaxrl train` uses: chunks of `log_frequency` env steps, `metrics.csv`
  appended per chunk, SIGINT/SIGTERM handled between chunks.

Both report env steps/s over their run time, compile excluded. Usage:
    python -m benchmarks.chunking [--seeds 16] [--repeats 3] [--out benchmarks/results/chunking-<machine>.json]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.chunking")
    p.add_argument("--seeds", type=int, default=16)
    p.add_argument("--total-steps", type=int, default=None, help="default: the cartpole preset's")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    import os
    from jaxrl.host.devices import prepare_process
    setup = prepare_process(min(os.cpu_count() or 1, args.seeds))  # as `jaxrl train` runs
    from benchmarks.common import machine_info, write_result, spread
    from jaxrl.config import get_preset
    from jaxrl.host.sweep import run_gymnax

    config = get_preset("cartpole-course").replace(num_seeds=args.seeds)
    if args.total_steps:
        config = config.replace(total_steps=args.total_steps)
    rates = {"one_program": [], "chunked": []}
    for r in range(args.repeats + 1):  # the first round warms caches; not counted
        one = one_program_rate(config)
        with tempfile.TemporaryDirectory() as d:
            chunked = run_gymnax(config, Path(d), progress=False)
        if r:
            rates["one_program"].append(one)
            rates["chunked"].append(chunked.aggregate_steps_per_second)
        print(f"round {r}: one program {one:,.0f}, chunked {chunked.aggregate_steps_per_second:,.0f} env steps/s",
              flush=True)
    info = machine_info() | setup
    result = {
        "benchmark": "chunking", "date": time.strftime("%Y-%m-%d"), "machine": info,
        "config": {"preset": "cartpole-course", "num_seeds": args.seeds, "total_steps": config.total_steps,
                   "log_frequency": config.log_frequency, "chunks": -(-config.num_blocks // max(
                       1, config.log_frequency // config.steps_per_block))},
        "unit": "aggregate env steps/s (run time, compile excluded), median of repeats",
        **{k: {"median": statistics.median(v), "spread": spread(v), "rates": v} for k, v in rates.items()},
    }
    result["chunked_over_one_program"] = result["chunked"]["median"] / result["one_program"]["median"]
    out = write_result(result, "chunking", args.out)
    print(f"chunked / one program: {result['chunked_over_one_program']:.3f} -> {out}")
    return result


def one_program_rate(config) -> float:
    """Aggregate env steps/s of the sweep as one compiled program (`sweep_program`), compile excluded."""
    import jax
    from jaxrl.host.sweep import sweep_program
    program, inputs, _ = sweep_program(config)
    compiled = program.lower(*inputs).compile()
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*inputs))
    return config.sweep_size * config.total_steps / (time.perf_counter() - t0)


if __name__ == "__main__":
    main()
