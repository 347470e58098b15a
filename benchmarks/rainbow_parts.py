"""Cost of each Rainbow part in the training step: one seed, CartPole, one env step + one update per step.

Variants add one part at a time to the `cartpole` preset (double DQN, Adam, Huber, clamp): dueling head,
3-step returns, prioritized replay (sum-tree sampling + reprioritization), C51, and all of them (the
`rainbow` preset). Reported: env steps/s of the whole training program (compiled ahead of time) and the
time per step relative to plain DQN.
"""

from __future__ import annotations

import time

import jax

from benchmarks.common import Measurement, time_rate
from jaxrl.config import get_preset

VARIANTS = {
    "dqn": {},
    "+dueling": {"dueling": True},
    "+n_step_3": {"n_step": 3},
    "+prioritized": {"prioritized": True},
    "+c51": {"distributional": True, "v_min": 0.0, "v_max": 100.0},
    "rainbow": "rainbow",
}


def bench_rainbow_parts(steps: int, repeats: int) -> list[Measurement]:
    from jaxrl.runners.gymnax import make_train
    from jaxrl.runners.xla_options import compiler_options
    out, base = [], None
    for name, change in VARIANTS.items():
        cfg = (get_preset("rainbow") if change == "rainbow" else get_preset("cartpole-course").replace(**change))
        cfg = cfg.replace(total_steps=steps, learning_starts=1000, buffer_size=10_000)
        key = jax.random.PRNGKey(0)
        t0 = time.perf_counter()
        program = jax.jit(make_train(cfg), compiler_options=compiler_options()).lower(key).compile()
        compile_s = time.perf_counter() - t0
        med, spread, _ = time_rate(lambda: jax.block_until_ready(program(key)), steps, repeats, warmup=False)
        base = base or med
        out.append(Measurement("rainbow_part_cost", "jaxrl", {"variant": name, "steps_per_seed": steps}, med,
                               "env_steps/s", repeats, spread,
                               {"relative_step_time": base / med, "compile_seconds": compile_s}))
        print(f"  rainbow_part_cost {name:13s}: {med:,.0f} env steps/s ({base / med:.2f}x the DQN step time)",
              flush=True)
    return out
