"""Seeds on one device: how the Pong learner's throughput grows with the number of agents in one program.

The GPU protocol's `seed_scaling` part (`python -m benchmarks.gpu`), in this order:

  env_ceiling   envpool's Pong alone (random actions) at 8, 16, 32, 64, 128 envs, `num_threads` = cores: the
                env steps/s that bound S seeds x E envs per seed
  matmul_peak   one 8192^3 matmul in bfloat16 and in float32 (XLA's default precision): this device's ceiling
  update        the vmapped update of S agents alone, `pong-fast`'s learner (batch 128, double DQN, 3-step
                returns), per formulation (convolution kernel x compute dtype): updates/s per agent, FLOP/s
                (`benchmarks.suite.update_flops`), % of the datasheet's dense peak
  sps           `pong-fast`'s learning env steps/s in the overlapped XLA loop, S = 1, 2, 4, 8, 16 agents, per
                formulation, all agents together, with the FLOP/s the loop reaches

A formulation is `(conv, compute_dtype)`: "xla" (cuDNN; vmapped over seeds a grouped convolution) or "im2col"
(strided slices and one seed-batched matmul), "float32" or "bfloat16". Each SPS is the median of `repeats`
interleaved chunks (every formulation's chunk of one repeat before the next repeat).
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import Measurement, spread, time_rate
from benchmarks.pong import interleaved, jaxrl_runner
from jaxrl.config import get_preset

FORMULATIONS = (("xla", "float32"), ("im2col", "float32"), ("im2col", "bfloat16"), ("xla", "bfloat16"))
# Dense peaks by the datasheet (NVIDIA H100/H200 SXM): TF32 is what XLA's default precision runs float32 products
# in on this GPU generation. Where the device is another, the % of peak is left out.
DATASHEET_PEAK_TFLOPS = {"NVIDIA H200": {"bfloat16": 989.5, "float32": 494.7},
                         "NVIDIA H100 80GB HBM3": {"bfloat16": 989.5, "float32": 494.7}}


def device_peak(dtype: str) -> float | None:
    """The datasheet's dense TFLOP/s of JAX's first device for `dtype`'s products, or None if unknown."""
    return DATASHEET_PEAK_TFLOPS.get(jax.devices()[0].device_kind, {}).get(dtype)


def learner_flops(cfg) -> tuple[float, float]:
    """(FLOPs of one update of one agent, FLOPs per env step of one agent: its share of updates + one forward
    pass to act), from the network's shapes."""
    from benchmarks.suite import layer_macs, update_flops
    macs = layer_macs(cfg, (84, 84, 4), 6)
    per_update = update_flops(cfg, sum(macs), macs[0])
    return per_update, per_update / cfg.train_frequency + 2.0 * sum(macs)


def bench_env_ceiling(env_counts=(8, 16, 32, 64, 128), seconds: float = 2.0, repeats: int = 3,
                      threads: int | None = None) -> list[Measurement]:
    """envpool's Pong alone, `num_threads = threads` (default: the cores): env steps/s with random actions."""
    from jaxrl.envs.envpool_env import make_envpool
    threads = threads or os.cpu_count()
    out = []
    for n in env_counts:
        env = make_envpool("Pong-v5", n, 0, num_threads=min(threads, n))
        env.reset()
        actions = np.random.default_rng(0).integers(0, 6, (64, n)).astype(np.int32)
        steps = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.3:  # warm-up
            env.step(actions[steps % 64])
            steps += 1
        iterations = max(8, int(steps / (time.perf_counter() - t0) * seconds))
        rates = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for i in range(iterations):
                env.step(actions[i % 64])
            rates.append(iterations * n / (time.perf_counter() - t0))
        env.close()
        value = float(np.median(rates))
        out.append(Measurement("env_ceiling", "envpool", {"env": "Pong-v5", "num_envs": n,
                                                          "num_threads": min(threads, n)},
                               value, "env_steps/s", repeats, spread(rates)))
        print(f"  env_ceiling {n:4d} envs, {min(threads, n)} threads: {value:,.0f} env steps/s", flush=True)
    return out


def bench_matmul_peak(n: int = 8192, repeats: int = 5) -> list[Measurement]:
    """One `n^3` matmul per dtype on JAX's default device, TFLOP/s."""
    out = []
    for dtype in ("bfloat16", "float32"):
        a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.dtype(dtype))
        mm = jax.jit(lambda x: x @ x)
        med, sp, _ = time_rate(lambda: mm(a).block_until_ready(), 2 * n**3 / 1e12, repeats)
        out.append(Measurement("matmul_peak", "jaxrl", {"n": n, "dtype": dtype, "device": jax.devices()[0].device_kind},
                               med, "TFLOP/s", repeats, sp, {"datasheet_peak_tflops": device_peak(dtype)}))
        print(f"  matmul_peak {dtype}: {med:,.1f} TFLOP/s", flush=True)
    return out


def bench_update(seed_counts, formulations=FORMULATIONS, updates: int = 20, repeats: int = 3,
                 preset: str = "pong-fast") -> list[Measurement]:
    """The update of S agents alone (vmapped, inside one jitted loop of `updates`, alternating two batches),
    `preset`'s learner: updates/s of each agent and the FLOP/s of all of them."""
    from jaxrl.agents.dqn import make_agent
    from jaxrl.agents.types import Transition
    out = []
    base = get_preset(preset)
    for seeds in seed_counts:
        rng = np.random.default_rng(0)
        b = base.batch_size
        obs = jnp.asarray(rng.integers(0, 256, (2, seeds, b, 84, 84, 4)), jnp.uint8)
        pool = Transition(obs, jnp.asarray(rng.integers(0, 6, (2, seeds, b)), jnp.int32),
                          jnp.asarray(rng.normal(size=(2, seeds, b)), jnp.float32), obs[::-1],
                          jnp.asarray(rng.random((2, seeds, b)) < 0.1),
                          discount=jnp.full((2, seeds, b), 0.97, jnp.float32))
        for conv, dtype in formulations:
            cfg = base.replace(num_seeds=seeds, conv=conv, compute_dtype=dtype)
            agent = make_agent(cfg, 6, (84, 84, 4))
            keys = jax.random.split(jax.random.PRNGKey(0), seeds)
            params = jax.vmap(lambda k: agent.network.init(k, obs[0, 0, :1]))(keys)
            opt_state = jax.vmap(agent.optimizer.init)(params)
            update = jax.vmap(agent.update, in_axes=(0, 0, 0, 0))

            @jax.jit
            def many(params, opt_state, pool):
                def body(i, carry):
                    p, o = carry
                    batch = jax.tree_util.tree_map(lambda x: x[i % 2], pool)
                    p, o, _, _ = update(p, params, o, batch)
                    return p, o
                return jax.lax.fori_loop(0, updates, body, (params, opt_state))

            med, sp, _ = time_rate(lambda: jax.block_until_ready(many(params, opt_state, pool)), updates, repeats)
            flops, _ = learner_flops(cfg)
            tflops = med * seeds * flops / 1e12
            peak = device_peak(dtype)
            out.append(Measurement("seed_update", "jaxrl", {"preset": preset, "seeds": seeds, "batch": b,
                                                            "conv": conv, "compute_dtype": dtype}, med,
                                   "updates/s per agent", repeats, sp,
                                   {"flops_per_update": flops, "tflops": tflops,
                                    "percent_of_datasheet_peak": 100 * tflops / peak if peak else None}))
            print(f"  seed_update S={seeds:2d} {conv:6s} {dtype:8s}: {med:,.0f} updates/s per agent, "
                  f"{tflops:,.1f} TFLOP/s", flush=True)
    return out


def bench_sps(seed_counts, formulations=FORMULATIONS, iterations: int = 50, repeats: int = 3,
              loop: str = "xla-overlap", preset: str = "pong-fast", compare=(), compare_seeds=(1, 8)
              ) -> list[Measurement]:
    """`preset`'s learning env steps/s (all agents together) in `loop` for each seed count, the formulations
    interleaved, with the FLOP/s that rate makes (`learner_flops`); the `compare` formulations only at the
    `compare_seeds` among `seed_counts`."""
    out = []
    for seeds in seed_counts:
        forms = list(formulations) + [f for f in compare if seeds in compare_seeds and f not in formulations]
        runners = {f: jaxrl_runner(loop, seeds, iterations, preset=preset, conv=f[0], compute_dtype=f[1])
                   for f in forms}
        for (conv, dtype), rates in interleaved(runners, repeats).items():
            value = float(np.median(rates))
            cfg = get_preset(preset)
            _, per_step = learner_flops(cfg)
            tflops = value * per_step / 1e12
            peak = device_peak(dtype)
            out.append(Measurement("seed_sps", "jaxrl", {"preset": preset, "loop": loop, "seeds": seeds, "conv": conv,
                                                         "compute_dtype": dtype,
                                                         "timed_steps_per_seed": repeats * iterations * cfg.num_envs},
                                   value, "env_steps/s", repeats, spread(rates),
                                   {"per_seed": value / seeds, "tflops": tflops,
                                    "percent_of_datasheet_peak": 100 * tflops / peak if peak else None}))
            print(f"  seed_sps S={seeds:2d} {conv:6s} {dtype:8s}: {value:,.0f} env steps/s ({value / seeds:,.0f} per "
                  f"seed), {tflops:,.1f} TFLOP/s", flush=True)
    return out


def fastest(measurements: list[dict], seeds: int) -> tuple[str, str] | None:
    """The formulation with the most env steps/s at `seeds` among `seed_sps` measurements (dicts), or None."""
    rows = [m for m in measurements if m.get("name") == "seed_sps" and m["params"]["seeds"] == seeds]
    if not rows:
        return None
    best = max(rows, key=lambda m: m["value"])
    return best["params"]["conv"], best["params"]["compute_dtype"]


# ------------------------------------------------------------------------------- the CUDA lowering, on any machine
def update_program(seeds: int, conv: str, dtype: str, preset: str = "pong-fast"):
    """(jitted vmapped update, its arguments) for `seeds` agents of `preset` with `conv` (a kernel, or "auto"
    resolved for CUDA) and `dtype`, on zero batches."""
    from jaxrl.agents.dqn import make_agent
    from jaxrl.agents.networks import conv_kernel
    from jaxrl.agents.types import Transition
    cfg = get_preset(preset).replace(num_seeds=seeds, compute_dtype=dtype)
    cfg = cfg.replace(conv=conv_kernel("cuda", seeds) if conv == "auto" else conv)
    agent = make_agent(cfg, 6, (84, 84, 4))
    b = cfg.batch_size
    obs = jnp.zeros((seeds, b, 84, 84, 4), jnp.uint8)
    batch = Transition(obs, jnp.zeros((seeds, b), jnp.int32), jnp.zeros((seeds, b)), obs, jnp.zeros((seeds, b), bool),
                       discount=jnp.zeros((seeds, b)))
    params = jax.vmap(lambda k: agent.network.init(k, obs[0, :1]))(jax.random.split(jax.random.PRNGKey(0), seeds))
    return cfg, jax.jit(jax.vmap(agent.update)), (params, params, jax.vmap(agent.optimizer.init)(params), batch)


def lowering_counts(module_text: str) -> dict:
    """From a StableHLO module: convolutions (all, and grouped: `feature_group_count` or `batch_group_count` > 1)
    and dot_general ops by (lhs, rhs, result) element type."""
    import re
    convs = re.findall(r"stablehlo\.convolution[^\n]*", module_text)
    grouped = [c for c in convs if re.search(r"(feature|batch)_group_count = (\d+)", c)
               and any(int(n) > 1 for n in re.findall(r"(?:feature|batch)_group_count = (\d+)", c))]
    dots: dict[str, int] = {}
    for line in re.findall(r"stablehlo\.dot_general[^\n]*", module_text):
        types = re.search(r"\(tensor<([^>]*)>, tensor<([^>]*)>\) -> tensor<([^>]*)>", line)
        key = "x".join(t.split("x")[-1] for t in types.groups()) if types else "?"
        dots[key] = dots.get(key, 0) + 1
    return {"convolutions": len(convs), "grouped_convolutions": len(grouped), "dots_by_dtype": dots}


def cuda_lowering(seeds: int, conv: str = "auto", dtype: str = "float32", preset: str = "pong-fast") -> dict:
    """The S-seed update lowered for CUDA here (`lowering_platforms=("cuda",)`, no GPU needed): its convolutions,
    grouped ones and dots (`lowering_counts`), and its FLOPs: `benchmarks.suite.update_flops`' count and XLA's cost
    analysis of the same program compiled for this machine's backend."""
    cfg, program, args = update_program(seeds, conv, dtype, preset)
    text = program.trace(*args).lower(lowering_platforms=("cuda",)).as_text()
    cost = program.lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    flops, _ = learner_flops(cfg)
    return {"seeds": seeds, "conv": cfg.conv, "compute_dtype": dtype, **lowering_counts(text),
            "flops_per_update_counted": seeds * flops, "flops_per_update_xla": float(cost.get("flops", float("nan"))),
            "xla_cost_backend": jax.default_backend()}


def lowering_report(seed_counts=(1, 8), preset: str = "pong-fast") -> dict:
    """`cuda_lowering` for each seed count and formulation (the default `conv="auto"` included), with the
    machine (whose backend counted XLA's FLOPs)."""
    from benchmarks.common import cpu_model
    rows = [cuda_lowering(s, conv, dtype, preset) | {"requested_conv": conv}
            for s in seed_counts for conv in ("auto", "xla", "im2col") for dtype in ("float32", "bfloat16")]
    return {"preset": preset, "what": "the vmapped S-seed update lowered for CUDA on this machine: convolutions "
            "(grouped: feature_group_count or batch_group_count > 1), dot_general ops by lhs x rhs x result dtype, "
            "FLOPs per update of all S agents (benchmarks.suite.update_flops, and XLA's cost analysis of the same "
            "program compiled for this backend)", "machine": {"cpu": cpu_model(), "backend": jax.default_backend(),
                                                             "jax": jax.__version__}, "rows": rows}


def main(argv=None) -> int:
    """`python -m benchmarks.seed_scaling [--out FILE]`: the CUDA-lowering report (no GPU needed) as JSON."""
    import argparse
    import json
    from pathlib import Path
    p = argparse.ArgumentParser(prog="python -m benchmarks.seed_scaling", description=main.__doc__)
    p.add_argument("--out", type=Path, default=None, help="default: benchmarks/results/seed-lowering-<date>.json")
    args = p.parse_args(argv)
    report = lowering_report()
    out = args.out or Path("benchmarks/results") / f"seed-lowering-{time.strftime('%Y-%m-%d')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    for r in report["rows"]:
        print(f"S={r['seeds']} conv={r['requested_conv']:6s}->{r['conv']:6s} {r['compute_dtype']:8s} convolutions "
              f"{r['convolutions']:2d} grouped {r['grouped_convolutions']:2d} dots {r['dots_by_dtype']} "
              f"GFLOP counted {r['flops_per_update_counted'] / 1e9:.2f} XLA {r['flops_per_update_xla'] / 1e9:.2f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
