"""Sharded sweeps: aggregate env steps/s of one CartPole sweep laid out over 1, 2, 4 forced host devices.

Each device count runs in its own process (`XLA_FLAGS=--xla_force_host_platform_device_count=D` must be set
before JAX starts). On a CPU the "devices" share the same cores, so this measures the partitioning overhead
and whatever parallelism XLA gains from independent per-device programs; on a multi-GPU host the same code
spreads the agents over real devices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks.common import Measurement

SCRIPT = """
import json, sys, time
import jax
from benchmarks.common import SWEEP_CONFIG, time_rate
from jaxrl.host.sweep import sweep_program
seeds, steps, repeats = map(int, sys.argv[1:4])
program, inputs, n = sweep_program(SWEEP_CONFIG.replace(num_seeds=seeds, total_steps=steps))
t0 = time.perf_counter()
program = program.lower(*inputs).compile()
compile_s = time.perf_counter() - t0
med, spread, _ = time_rate(lambda: jax.block_until_ready(program(*inputs)), seeds * steps, repeats, warmup=False)
print(json.dumps({"devices": jax.device_count(), "value": med, "spread": spread, "compile": compile_s}))
"""


def sharded_sweep_rate(devices: int, seeds: int, steps: int, repeats: int) -> dict:
    """One `SWEEP_CONFIG` sweep of `seeds` agents sharded over `devices` forced host devices, timed in a fresh
    process: {"devices", "value" (aggregate env steps/s, median), "spread", "compile" (seconds)}."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)  # keep a bundle's site-packages
    env = {**os.environ, "PYTHONPATH": path, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", ""),
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    if not env["JAX_PLATFORMS"]:
        env.pop("JAX_PLATFORMS")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(seeds), str(steps), str(repeats)], env=env,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode:
        raise RuntimeError(f"sharded sweep benchmark with {devices} devices failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_scaleout(device_counts, seeds: int, steps: int, repeats: int) -> list[Measurement]:
    out = []
    for d in device_counts:
        r = sharded_sweep_rate(d, seeds, steps, repeats)
        out.append(Measurement("sharded_sweep", "jaxrl", {"devices": r["devices"], "seeds": seeds,
                                                          "steps_per_seed": steps}, r["value"], "env_steps/s",
                               repeats, r["spread"], {"compile_seconds": r["compile"], "forced_host_devices": True}))
        print(f"  sharded_sweep devices={r['devices']} seeds={seeds}: {r['value']:,.0f} env steps/s", flush=True)
    # The torch baseline in the same run: seeds one after another (its aggregate rate for any seed count).
    import numpy as np

    from benchmarks.common import SWEEP_CONFIG, spread, torch_cartpole_seconds
    cfg = SWEEP_CONFIG.replace(total_steps=steps)
    rates = steps / np.array(torch_cartpole_seconds(cfg, repeats, threads=1))
    out.append(Measurement("sharded_sweep", "torch", {"seeds": seeds, "steps_per_seed": steps, "mode": "sequential"},
                           float(np.median(rates)), "env_steps/s", repeats, spread(rates)))
    print(f"  sharded_sweep torch sequential: {out[-1].value:,.0f} env steps/s", flush=True)
    return out
