"""Pong end-to-end SPS: jaxrl host loop, jaxrl XLA loop, torch_reference, on the `pong` preset's learner.

Setting: the course's preset (train every env step, batch 32, Nature CNN, double DQN, Adam, clamp) with
one env per agent. Each run first fills the buffer past `learning_starts` (untimed), runs one more chunk
(untimed: warm caches), then times `repeats` chunks of `iterations` steps, every one with an update: SPS of
the learning phase, aggregate over seeds (env steps of all agents / wall seconds). Torch runs the seeds one
after another (its aggregate is the total over the summed wall time).
"""

from __future__ import annotations

import time

import jax
import numpy as np

from benchmarks.common import Measurement
from benchmarks.common import spread as spread_of
from jaxrl.config import get_preset


def pong_config(iterations: int):
    return get_preset("pong").replace(num_envs=1, train_frequency=1, learning_starts=iterations,
                                      buffer_size=10_000, log_frequency=iterations, eval_frequency=0,
                                      checkpoint_frequency=0, total_steps=100 * iterations)


def _jaxrl_rates(loop: str, seeds: int, iterations: int, repeats: int) -> list[float]:
    from jaxrl.runners.atari import host_chunk, make_atari_learner, make_host_step, make_xla_chunk, split_seeds
    from jaxrl.envs.envpool_env import make_envpool, reset_step

    cfg = pong_config(iterations).replace(num_seeds=seeds)
    learner = make_atari_learner(cfg, 6)
    env = make_envpool(cfg.env_id, seeds * cfg.num_envs, 0)
    state = learner.init(jax.random.split(jax.random.PRNGKey(0), seeds))
    ts = split_seeds(reset_step(env.reset()[0]), seeds)
    if loop == "xla":
        handle = env.xla()[0]
        ts = jax.tree_util.tree_map(jax.numpy.asarray, ts)
        chunk = make_xla_chunk(learner, env, seeds, iterations)

        def run(start):
            nonlocal handle, state, ts
            handle, state, ts, m = chunk(handle, state, ts, start, 0)
            jax.block_until_ready(m)
    else:
        step = make_host_step(learner)

        def run(start):
            nonlocal state, ts
            state, ts, _ = host_chunk(step, env, state, ts, start, iterations, seeds)
            jax.block_until_ready(state.params)
    rates = []
    for r in range(2 + repeats):  # chunk 0 fills the buffer, chunk 1 warms up, then the timed ones
        t0 = time.perf_counter()
        run(r * iterations)
        if r >= 2:
            rates.append(seeds * iterations * cfg.num_envs / (time.perf_counter() - t0))
    env.close()
    return rates


def _torch_rates(seeds: int, iterations: int, repeats: int, threads: int, device: str = "cpu") -> list[float]:
    from torch_reference.atari import train
    cfg = pong_config(iterations)
    rates = []
    for _ in range(repeats):
        steps, seconds = 0, 0.0
        for seed in range(seeds):
            out = train(cfg, seed=seed, device=device, threads=threads,
                        total_steps=cfg.learning_starts + 2 * iterations)
            learned = out["env_steps"] - cfg.learning_starts - 1
            steps += learned
            seconds += learned / out["learning_steps_per_second"]
        rates.append(steps / seconds)
    return rates


def bench_pong_sps(seed_counts, iterations: int, repeats: int, threads: int,
                   torch_device: str | None = "cpu", loops=("host", "xla")) -> list[Measurement]:
    """The jaxrl `loops` and (unless `torch_device` is None) torch_reference on `torch_device`."""
    out = []
    for seeds in seed_counts:
        params = {"seeds": seeds, "num_envs": 1, "train_frequency": 1, "batch": 32, "timed_steps_per_seed":
                  iterations * repeats}
        runs = [("jaxrl", loop, lambda loop=loop: _jaxrl_rates(loop, seeds, iterations, repeats)) for loop in loops]
        if torch_device is not None:
            runs.append(("torch", "host", lambda: _torch_rates(seeds, iterations, repeats, threads, torch_device)))
        for impl, loop, rates in runs:
            r = rates()
            extra = {"device": torch_device} if impl == "torch" else {}
            out.append(Measurement("pong_sps", impl, {**params, "loop": loop, **extra}, float(np.median(r)),
                                   "env_steps/s",
                                   repeats, spread_of(r), {"frames_per_second": 4 * float(np.median(r))}))
            print(f"  pong_sps {impl:5s} {loop:4s} seeds={seeds}: {out[-1].value:,.1f} env steps/s", flush=True)
    return out
