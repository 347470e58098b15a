"""Pong end-to-end SPS: jaxrl's host and XLA loops, lock-step and overlapped (`--overlap`), against
torch_reference, on the `pong` preset's learner, and the per-step cost of each loop with the updates switched
off.

Learning SPS: the course's preset (train every env step, batch 32, Nature CNN, double DQN, Adam, clamp), one
env per agent. Each loop first fills the buffer past `learning_starts` (untimed), runs one more chunk (untimed:
warm caches), then times `repeats` chunks of `iterations` steps, every one with an update: SPS of the learning
phase, aggregate over seeds (env steps of all agents / wall seconds). Torch runs the seeds one after another
(its aggregate is the total over the summed wall time). The timings are interleaved: each repeat times one
chunk of every loop, then one torch run, so that a slow spell of the machine (10-30% on a shared 2-core VM)
falls on all of them rather than on whichever happened to run then.

Per-step cost without updates (`pong_step_us`): the same loops with `learning_starts` past the run (acting
only: env step, buffer add, epsilon-greedy forward pass), in microseconds per env step, next to envpool's own
step time on the same pool (random actions): the difference is the loop's overhead over the env.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from benchmarks.common import Measurement
from benchmarks.common import spread as spread_of
from jaxrl.config import get_preset

LOOPS = ("host", "overlap", "xla", "xla-overlap")
STEP_LOOPS = ("host", "overlap", "xla")  # with the updates off the XLA loop's overlap changes nothing


def pong_config(iterations: int, num_envs: int = 1, learn: bool = True, preset: str = "pong"):
    """`preset`'s learner, chunks of `iterations` vectorized steps, learning from the second chunk's first
    iteration on (so the XLA loop compiles two chunk plans, not three), or, without `learn`, never in 100 chunks.
    The `pong` preset (the course's) runs `num_envs` envs per agent, each with one update per env step and a
    10k-transition buffer; another preset keeps its own envs, updates and buffer."""
    cfg = get_preset(preset)
    if preset == "pong":
        cfg = cfg.replace(num_envs=num_envs, train_frequency=1, buffer_size=10_000 * num_envs)
    n = cfg.num_envs
    cfg = cfg.replace(log_frequency=iterations * n, eval_frequency=0, checkpoint_frequency=0,
                      total_steps=100 * iterations * n)
    # Updates start after learning_starts + one block of env steps (`jaxrl.runners.atari.Schedule`).
    return cfg.replace(learning_starts=iterations * n - cfg.steps_per_block if learn else 99 * iterations * n)


def _loop_config(cfg, loop: str):
    """`loop`: one of `LOOPS` ("overlap" alone is the host loop's)."""
    return cfg.replace(loop="xla" if loop.startswith("xla") else "host", overlap=loop.endswith("overlap"))


def _setup(cfg):
    """-> (learner, env, state, ts): `cfg`'s learner and agents (root key 0), an envpool of all their envs
    (seed 0), and its reset output split per agent (numpy, leaves `[S, E, ...]`)."""
    from jaxrl.envs.envpool_env import env_spec, make_envpool, reset_step
    from jaxrl.runners.atari import make_atari_learner, split_seeds
    learner = make_atari_learner(cfg, *env_spec(cfg.env_id, cfg.atari_protocol))
    env = make_envpool(cfg.env_id, cfg.num_seeds * cfg.num_envs, 0, protocol=cfg.atari_protocol)
    state = learner.init(jax.random.split(jax.random.PRNGKey(0), cfg.num_seeds))
    return learner, env, state, split_seeds(reset_step(env.reset()[0]), cfg.num_seeds)


def jaxrl_runner(loop: str, seeds: int, iterations: int, num_envs: int = 1, learn: bool = True,
                  preset: str = "pong", **fields):
    """-> (chunk, close): `chunk()` runs the loop's next chunk of `iterations` steps and returns its env steps
    per second (all agents together). Every program is compiled and the first two chunks run (buffer filled,
    caches warm) before this returns; `close()` closes the env pool. `preset`, `num_envs`: `pong_config`'s;
    `fields`: more `DQNConfig` fields (`conv`, `compute_dtype`)."""
    from jaxrl.runners.atari_loops import AtariLoop
    from jaxrl.runners.learning import Schedule

    cfg = _loop_config(pong_config(iterations, num_envs, learn, preset), loop).replace(num_seeds=seeds, **fields)
    num_envs = cfg.num_envs
    learner, env, state, ts = _setup(cfg)
    # every chunk plan compiled before the first timing (chunks from the third on share one)
    atari_loop = AtariLoop(learner, env, Schedule(cfg), state, ts).compile([r * iterations for r in range(3)],
                                                                           iterations)
    count = 0

    def chunk() -> float:
        nonlocal count
        t0 = time.perf_counter()
        atari_loop.run(count * iterations, iterations)  # the chunk's metrics, fetched: the chunk has finished
        count += 1
        return seeds * iterations * num_envs / (time.perf_counter() - t0)

    chunk(), chunk()  # chunk 0 fills the buffer, chunk 1 warms up
    return chunk, env.close


def _env_runner(num_envs: int, iterations: int):
    """envpool alone: `(chunk, close)`, `chunk()` steps the pool `iterations` times with random actions and
    returns env steps per second (one untimed chunk first)."""
    from jaxrl.envs.envpool_env import env_spec, make_envpool
    env = make_envpool("Pong-v5", num_envs, 0)
    env.reset()
    num_actions = env_spec("Pong-v5")[0]
    actions = np.random.default_rng(0).integers(0, num_actions, (iterations, num_envs)).astype(np.int32)

    def chunk() -> float:
        t0 = time.perf_counter()
        for a in actions:
            env.step(a)
        return iterations * num_envs / (time.perf_counter() - t0)

    chunk()
    return chunk, env.close


def _act_runner(num_envs: int, iterations: int):
    """The acting program alone (epsilon-greedy forward pass at batch `num_envs`, one agent, the host loop's
    kernel), its input already on the device: `(chunk, close)` as `_env_runner`'s."""
    learner, env, state, ts = _setup(_loop_config(pong_config(iterations, num_envs, learn=False), "host"))
    env.close()
    ts = jax.device_put(ts)
    act = jax.jit(jax.vmap(learner.act, in_axes=(0, 0, None)), donate_argnums=0)

    def chunk() -> float:
        nonlocal state
        t0 = time.perf_counter()
        for i in range(iterations):
            state, actions, _ = act(state, ts, i)
            np.asarray(actions)
        return iterations * num_envs / (time.perf_counter() - t0)

    chunk()
    return chunk, lambda: None


def interleaved(runners: dict, repeats: int) -> dict:
    """`repeats` rounds of one `chunk()` of every runner (`{key: (chunk, close)}`), then every `close()`:
    -> `{key: [rate per round]}`. A slow spell of the machine falls on all the runners alike."""
    rates = {key: [] for key in runners}
    try:
        for _ in range(repeats):
            for key, (chunk, _) in runners.items():
                rates[key].append(chunk())
    finally:
        for _, close in runners.values():
            close()
    return rates


def _torch_rate(seeds: int, iterations: int, threads: int, device: str = "cpu") -> float:
    """torch_reference's learning SPS over `seeds` runs one after another (total learning steps / their summed
    wall time), each `2 * iterations` steps past `learning_starts`."""
    from torch_reference.atari import train
    cfg = pong_config(iterations)
    steps, seconds = 0, 0.0
    for seed in range(seeds):
        out = train(cfg, seed=seed, device=device, threads=threads, total_steps=cfg.learning_starts + 2 * iterations)
        learned = out["env_steps"] - cfg.learning_starts - 1
        steps += learned
        seconds += learned / out["learning_steps_per_second"]
    return steps / seconds


def bench_pong_sps(seed_counts, iterations: int, repeats: int, threads: int,
                   torch_device: str | None = "cpu", loops=LOOPS) -> list[Measurement]:
    """Learning SPS of the jaxrl `loops` and (unless `torch_device` is None) torch_reference on `torch_device`."""
    out = []
    for seeds in seed_counts:
        params = {"seeds": seeds, "num_envs": 1, "train_frequency": 1, "batch": 32, "timed_steps_per_seed":
                  iterations * repeats}
        runners = {("jaxrl", loop): jaxrl_runner(loop, seeds, iterations) for loop in loops}
        if torch_device is not None:  # one torch run per round, after every loop's chunk
            runners["torch", "host"] = (lambda: _torch_rate(seeds, iterations, threads, torch_device), lambda: None)
        for (impl, loop), r in interleaved(runners, repeats).items():
            extra = {"device": torch_device} if impl == "torch" else {}
            out.append(Measurement("pong_sps", impl, {**params, "loop": loop, **extra}, float(np.median(r)),
                                   "env_steps/s", repeats, spread_of(r),
                                   {"frames_per_second": 4 * float(np.median(r))}))
            print(f"  pong_sps {impl:5s} {loop:11s} seeds={seeds}: {out[-1].value:,.1f} env steps/s", flush=True)
    return out


def bench_pong_fast_sps(seed_counts, iterations: int, repeats: int, loops=("xla", "xla-overlap")) -> list[Measurement]:
    """Learning SPS of the `pong-fast` preset (its 8 envs per agent, 2 updates of batch 128 per vectorized step,
    3-step returns, 100k buffer) for each seed count, the `loops` interleaved: what bounds the time for
    `seeds` agents at once to reach the env steps that solve Pong. `iterations`: vectorized steps per chunk.
    The buffer is nearly empty when timed; sampling costs the same at any fill (its mask spans every slot)."""
    out = []
    steps = get_preset("pong-fast").num_envs * iterations * repeats  # timed env steps per agent
    for seeds in seed_counts:
        runners = {loop: jaxrl_runner(loop, seeds, iterations, preset="pong-fast") for loop in loops}
        for loop, r in interleaved(runners, repeats).items():
            value = float(np.median(r))
            out.append(Measurement("pong_fast_sps", "jaxrl", {"preset": "pong-fast", "seeds": seeds, "loop": loop,
                                                              "timed_steps_per_seed": steps},
                                   value, "env_steps/s", repeats, spread_of(r), {"per_seed": value / seeds}))
            print(f"  pong_fast_sps {loop:11s} seeds={seeds}: {value:,.1f} env steps/s ({value / seeds:,.1f} per seed)",
                  flush=True)
    return out


def bench_pong_conv(iterations: int, repeats: int, loop: str = "host", preset: str = "pong") -> list[Measurement]:
    """One agent's learning SPS in `loop` (one of `LOOPS`) with XLA's convolution and with im2col, `preset`'s
    learner: the measurement behind `jaxrl.agents.networks.conv_kernel`'s choice on this backend. Interleaved."""
    out = []
    runners = {conv: jaxrl_runner(loop, 1, iterations, preset=preset, conv=conv) for conv in ("xla", "im2col")}
    for conv, r in interleaved(runners, repeats).items():
        out.append(Measurement("pong_conv", "jaxrl", {"loop": loop, "preset": preset, "seeds": 1, "conv": conv},
                               float(np.median(r)), "env_steps/s", repeats, spread_of(r)))
        print(f"  pong_conv {loop} loop, {preset}, conv={conv}: {out[-1].value:,.1f} env steps/s", flush=True)
    return out


def bench_pong_step_us(env_counts, iterations: int, repeats: int, loops=STEP_LOOPS) -> list[Measurement]:
    """Microseconds per env step with the updates switched off (one agent, `num_envs` envs), each loop's,
    envpool's own and the acting program's alone; `extra.overhead_us_per_env_step` is the loop's time over
    envpool's, `extra.beyond_env_and_forward_us` also without the forward pass. Interleaved as `pong_sps`."""
    out = []
    for num_envs in env_counts:
        n = max(8, iterations // num_envs)
        runners = {"env only": _env_runner(num_envs, n), "act program only": _act_runner(num_envs, n)}
        runners |= {loop: jaxrl_runner(loop, 1, n, num_envs, learn=False) for loop in loops}
        all_rates = interleaved(runners, repeats)
        env_rates, act_rates = all_rates["env only"], all_rates["act program only"]
        env_us = 1e6 / float(np.median(env_rates))
        out.append(Measurement("pong_step_us", "envpool", {"num_envs": num_envs, "loop": "env only"}, env_us,
                               "us/env_step", repeats, spread_of(env_rates)))
        act_us = 1e6 / float(np.median(act_rates))
        out.append(Measurement("pong_step_us", "jaxrl", {"num_envs": num_envs, "loop": "act program only"}, act_us,
                               "us/env_step", repeats, spread_of(act_rates)))
        for loop in loops:
            rates = all_rates[loop]
            us = 1e6 / float(np.median(rates))
            out.append(Measurement("pong_step_us", "jaxrl", {"num_envs": num_envs, "loop": loop}, us, "us/env_step",
                                   repeats, spread_of(rates), {"overhead_us_per_env_step": us - env_us,
                                                               "beyond_env_and_forward_us": us - env_us - act_us}))
            print(f"  pong_step_us {loop:7s} envs={num_envs}: {us:,.0f} us/env step (envpool alone {env_us:,.0f}, "
                  f"acting program alone {act_us:,.0f}, rest {us - env_us - act_us:,.0f})", flush=True)
    return out


def buffer_copies(iterations: int = 8, variants=("with", "without"), overlaps=(False, True)) -> list[Measurement]:
    """Does the compiled XLA-loop chunk, lock-step and/or (`overlaps`) overlapped (whose barriers carry the
    buffer), copy the replay buffer's frames? Compiled for this backend with and/or (`variants`) without
    `compiler_options()` (copy insertion with region analysis); counts the `copy` instructions of the frame
    array's shape in the optimized HLO (a copy inside the loop runs every block)."""
    import re

    from jaxrl.runners.learning import Schedule
    from jaxrl.runners.atari_loops import make_xla_chunk
    from jaxrl.runners.xla_options import compiler_options

    cfg = pong_config(iterations).replace(learning_starts=0)
    learner, env, state, ts = _setup(cfg)
    ts = jax.tree_util.tree_map(jax.numpy.asarray, ts)
    handle = env.xla()[0]
    frames = state.replay.buffer.frames.shape  # [S, rows, E, 84, 84] (S = 1)
    shape = re.compile(r"= u8\[" + ",".join(map(str, frames)) + r"\]\{[^}]*\} copy\(")
    out = []
    choices = {"with": ("with compiler_options()", compiler_options()), "without": ("without", {})}
    for overlap, (label, options) in ((o, choices[v]) for o in overlaps for v in variants):
        schedule = Schedule(cfg.replace(overlap=overlap))
        program = make_xla_chunk(learner, env, schedule, *schedule.plan(iterations, iterations), options)
        text = program.lower(handle, state, ts, iterations).compile().as_text()
        count = len(shape.findall(text))
        out.append(Measurement("buffer_copies", "jaxrl", {"options": label, "overlap": overlap,
                                                          "backend": jax.default_backend(),
                                                          "frames_shape": list(frames)}, float(count),
                               "copies", 1, 0.0))
        print(f"  buffer_copies {label}{', overlapped' * overlap}: {count} copies of the frame buffer", flush=True)
    env.close()
    return out
