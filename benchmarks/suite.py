"""The measurements: jaxrl against torch_reference (and flashbax), on the machine this runs on."""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.common import SWEEP_CONFIG, Measurement, time_rate, torch_cartpole_seconds
from benchmarks.common import spread as spread_of
from jaxrl.config import DQNConfig, TabularConfig, get_preset



# ----------------------------------------------------------------------------------------------- FLOPs
def layer_macs(config: DQNConfig, obs_shape, num_actions: int) -> list[int]:
    """Multiply-accumulates of each layer (input first) of one forward pass for one observation, from the
    network's shapes."""
    from jaxrl.agents.networks import NATURE_CNN_LAYERS, make_network
    net = make_network(config, num_actions, obs_shape)
    params = jax.eval_shape(net.init, jax.random.PRNGKey(0), jnp.zeros((1, *obs_shape), jnp.float32))["params"]
    macs, spatial = [], obs_shape[:2] if len(obs_shape) == 3 else None
    for part in ("torso", "head"):
        for name, leaves in params[part].items():
            k = leaves["kernel"].shape
            if len(k) == 4:  # Nature CNN convs, VALID padding
                stride = NATURE_CNN_LAYERS[int(name.removeprefix("conv_"))][2]
                spatial = tuple((d - k[0]) // stride + 1 for d in spatial)
                macs.append(spatial[0] * spatial[1] * k[0] * k[1] * k[2] * k[3])
            else:
                macs.append(k[0] * k[1])
    return macs


def forward_macs(config: DQNConfig, obs_shape, num_actions: int) -> int:
    """Multiply-accumulates of one forward pass for one observation."""
    return sum(layer_macs(config, obs_shape, num_actions))


def update_flops(config: DQNConfig, macs: int, first_layer_macs: int = 0) -> float:
    """FLOPs of the matmuls and convolutions of one DQN update (`2 * MACs`): the online forward pass over s
    (and s' for double DQN: one call over 2B rows), the target's over s', and the backward pass over the B rows
    of s: a weight gradient for every layer and an input gradient for every layer but the first (the
    observations need none). Equal for one online call over [s; s'] and for two calls over s and s' (the
    backward products of the one call run over the s rows only, `jaxrl.agents.layers`). A dueling head's two
    streams are in `macs`; the optimizer, the loss and the replay's gathers are not counted."""
    forwards = 2 + (1 if config.double_dqn else 0)
    return 2.0 * config.batch_size * (macs * (forwards + 1) + (macs - first_layer_macs))


# ----------------------------------------------------------------------------------------------- matmul peak
def bench_matmul_peak(repeats: int, n: int = 2048) -> list[Measurement]:
    import torch
    out = []
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    mm = jax.jit(lambda x: x @ x)
    med, spread, _ = time_rate(lambda: mm(a).block_until_ready(), 2 * n**3 / 1e9, repeats)
    out.append(Measurement("matmul_peak", "jaxrl", {"n": n, "dtype": "float32", "lib": "jax"}, med, "GFLOP/s",
                           repeats, spread))
    t = torch.randn(n, n)
    med, spread, _ = time_rate(lambda: t @ t, 2 * n**3 / 1e9, repeats)
    out.append(Measurement("matmul_peak", "torch", {"n": n, "dtype": "float32", "lib": "torch"}, med, "GFLOP/s",
                           repeats, spread))
    return out


# ----------------------------------------------------------------------------------------------- sweep
def bench_cartpole_sweep(seed_counts, total_steps: int, repeats: int, peak: float | None,
                         torch_runs: tuple[str, ...] = ("sequential", "parallel")) -> list[Measurement]:
    """jaxrl's seed sweep at each of `seed_counts` (one program, vmapped) against torch_reference on the CPU:
    "sequential" (one seed after another) and/or "parallel" (one process per core), as `torch_runs` asks."""
    from jaxrl.host.sweep import sweep_program
    cfg = SWEEP_CONFIG.replace(total_steps=total_steps)
    macs = forward_macs(cfg, (4,), 2)
    flops_per_step = 2.0 * macs + update_flops(cfg, macs) * (cfg.num_updates / total_steps)
    out = []
    for seeds in seed_counts:
        program, inputs, _ = sweep_program(cfg.replace(num_seeds=seeds))
        t0 = time.perf_counter()
        program = program.lower(*inputs).compile()
        compile_s = time.perf_counter() - t0
        med, spread, _ = time_rate(lambda: jax.block_until_ready(program(*inputs)), seeds * total_steps, repeats,
                                   warmup=False)  # compiled ahead of time: nothing to warm
        gflops = med * flops_per_step / 1e9
        out.append(Measurement("cartpole_sweep", "jaxrl", {"seeds": seeds, "steps_per_seed": total_steps}, med,
                               "env_steps/s", repeats, spread,
                               {"compile_seconds": compile_s, "gflops": gflops,
                                "fraction_of_matmul_peak": gflops / peak if peak else None}))
    # jaxrl as `jaxrl train` runs it on a CPU: the sweep sharded over one XLA host device per core
    # (`--cpu-devices`, default), in a fresh process since the device count is fixed when JAX starts
    cores = os.cpu_count() or 1
    if jax.default_backend() == "cpu" and cores > 1:
        from benchmarks.scaleout import sharded_sweep_rate
        for seeds in [s for s in seed_counts if s >= cores]:
            r = sharded_sweep_rate(cores, seeds, total_steps, repeats)
            gflops = r["value"] * flops_per_step / 1e9
            out.append(Measurement("cartpole_sweep", "jaxrl", {"seeds": seeds, "steps_per_seed": total_steps,
                                                               "devices": r["devices"]}, r["value"],
                                   "env_steps/s", repeats, r["spread"],
                                   {"compile_seconds": r["compile"], "gflops": gflops, "forced_host_devices": True,
                                    "fraction_of_matmul_peak": gflops / peak if peak else None}))
    if "sequential" in torch_runs:
        out.append(_torch_sequential_sweep(cfg, total_steps, repeats, flops_per_step))
    if "parallel" in torch_runs:
        out.append(_torch_parallel_sweep(cfg, total_steps, repeats))
    return out


def _torch_sequential_sweep(cfg, total_steps, repeats, flops_per_step) -> Measurement:
    """torch: one seed after another (aggregate rate = one run's rate), with the faster of 1 intra-op thread
    and torch's default (a small MLP is usually faster on one)."""
    import torch
    default_threads, best = torch.get_num_threads(), None
    for threads in sorted({1, default_threads}):
        seconds = torch_cartpole_seconds(cfg, repeats, threads=threads)
        if best is None or np.median(seconds) < np.median(best[1]):
            best = (threads, seconds)
    torch.set_num_threads(default_threads)
    threads, single = best
    rate = total_steps / np.median(single)
    return Measurement("cartpole_sweep", "torch", {"seeds": 1, "steps_per_seed": total_steps, "mode": "sequential"},
                       rate, "env_steps/s", repeats, spread_of(total_steps / np.array(single)),
                       {"gflops": rate * flops_per_step / 1e9, "threads": threads,
                        "note": "seeds run one after another: the aggregate rate for any seed count"})


def _torch_parallel_sweep(cfg, total_steps, repeats) -> Measurement:
    """torch: one single-threaded process per core, each its own seed."""
    procs = os.cpu_count() or 1
    rates = []
    for _ in range(repeats):
        with mp.get_context("spawn").Pool(procs) as pool:
            seconds = pool.starmap(_torch_worker, [(cfg, i) for i in range(procs)])
        rates.append(procs * total_steps / max(seconds))
    return Measurement("cartpole_sweep", "torch_parallel", {"seeds": procs, "steps_per_seed": total_steps,
                                                            "processes": procs, "threads_per_process": 1},
                       float(np.median(rates)), "env_steps/s", repeats, spread_of(np.array(rates)))


def _torch_worker(cfg, seed):
    import torch

    from torch_reference.gymnax import make_train
    torch.set_num_threads(1)
    return make_train(cfg)(seed)["seconds"]


# ----------------------------------------------------------------------------------------------- update
def bench_update(nets, batches, repeats: int, updates: int, peak: dict,
                 torch_device: str | None = "cpu") -> list[Measurement]:
    """Updates/s of the full DQN update (double DQN, Adam, Huber, clamp), `updates` of them inside one jitted
    loop as in training, alternating between two batches (so nothing is hoisted out of the loop). The CNN is
    timed with both convolution kernels (`jaxrl.agents.networks.Conv2D`). torch_reference runs on `torch_device`
    ("cpu", "cuda"; None: not timed)."""
    from jaxrl.agents.dqn import make_agent
    from jaxrl.agents.types import Transition
    out = []
    for net in nets:
        obs_shape, torch_shape, actions = ((4,), (4,), 2) if net == "mlp" else ((84, 84, 4), (4, 84, 84), 6)
        for batch in batches:
            cfg = get_preset("cartpole-course" if net == "mlp" else "pong").replace(batch_size=batch, network=net)
            per_layer = layer_macs(cfg, obs_shape, actions)
            flops = update_flops(cfg, sum(per_layer), per_layer[0])
            rng = np.random.default_rng(0)
            dtype = np.float32 if net == "mlp" else np.uint8
            obs = (rng.normal(size=(2, batch, *obs_shape)) * (1 if net == "mlp" else 80)).astype(dtype)
            nobs = (rng.normal(size=(2, batch, *obs_shape)) * (1 if net == "mlp" else 80)).astype(dtype)
            pool = Transition(jnp.asarray(obs), jnp.asarray(rng.integers(0, actions, (2, batch)), jnp.int32),
                              jnp.asarray(rng.normal(size=(2, batch)), jnp.float32), jnp.asarray(nobs),
                              jnp.asarray(rng.random((2, batch)) < 0.1))
            tr = jax.tree_util.tree_map(lambda x: x[0], pool)
            for conv_impl in (("im2col", "xla") if net == "cnn" else ("auto",)):
                agent = make_agent(cfg.replace(conv=conv_impl), actions, obs_shape)
                params = agent.network.init(jax.random.PRNGKey(0), tr.obs[:1])
                opt_state = agent.optimizer.init(params)

                @jax.jit
                def many(params, opt_state, pool):
                    def body(i, c):
                        p, o = c
                        b = jax.tree_util.tree_map(lambda x: x[i % 2], pool)
                        p, o, _, _ = agent.update(p, params, o, b)
                        return p, o
                    return jax.lax.fori_loop(0, updates, body, (params, opt_state))

                med, spread, _ = time_rate(lambda: jax.block_until_ready(many(params, opt_state, pool)), updates,
                                           repeats)
                params_m = {"net": net, "batch": batch} | ({"conv": conv_impl} if net == "cnn" else {})
                out.append(Measurement("update", "jaxrl", params_m, med, "updates/s", repeats, spread,
                                       {"flops_per_update": flops, "gflops": med * flops / 1e9,
                                        "fraction_of_matmul_peak": _fraction(med * flops / 1e9, peak, "jaxrl")}))
            if torch_device is not None:
                out.append(_torch_update(cfg, net, batch, obs, nobs, pool, actions, torch_shape, updates, repeats,
                                         flops, peak, torch_device))
    return out


def _fraction(gflops: float, peak: dict | None, impl: str) -> float | None:
    return gflops / peak[impl] if peak and peak.get(impl) else None


def _torch_update(cfg, net, batch, obs, nobs, pool, actions, torch_shape, updates, repeats, flops, peak,
                  device) -> Measurement:
    """torch_reference's `Agent.optimize` on the same two batches, on `device` (synchronized per timing)."""
    import torch

    from torch_reference.dqn import Agent
    tagent = Agent(cfg, actions, torch_shape, device=device, seed=0)
    layout = (lambda x: x) if net == "mlp" else (lambda x: np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    tbatches = [{"obs": torch.as_tensor(layout(obs[j])), "next_obs": torch.as_tensor(layout(nobs[j])),
                 "action": torch.as_tensor(np.array(pool.action[j]), dtype=torch.int64),
                 "reward": torch.as_tensor(np.array(pool.reward[j])),
                 "terminated": torch.as_tensor(np.array(pool.terminated[j]))} for j in range(2)]
    tbatches = [{k: v.to(device) for k, v in b.items()} for b in tbatches]

    def torch_many():
        for i in range(updates):
            tagent.optimize(tbatches[i % 2])
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    med, spread, _ = time_rate(torch_many, updates, repeats)
    return Measurement("update", "torch", {"net": net, "batch": batch, "device": device}, med, "updates/s",
                       repeats, spread, {"flops_per_update": flops, "gflops": med * flops / 1e9,
                                         "fraction_of_matmul_peak": _fraction(med * flops / 1e9, peak, "torch"),
                                         "threads": torch.get_num_threads()})


# ----------------------------------------------------------------------------------------------- replay
def bench_replay(capacity: int, adds: int, batch: int, repeats: int) -> list[Measurement]:
    """Single-transition adds and batch samples of Atari-frame transitions (two 84x84x4 uint8 stacks)."""
    from jaxrl.replay.ring import make_buffer
    from torch_reference.ring import make_buffer as torch_buffer
    example = {"obs": np.zeros((84, 84, 4), np.uint8), "action": np.int32(0), "reward": np.float32(0),
               "next_obs": np.zeros((84, 84, 4), np.uint8), "terminated": np.bool_(False)}
    item = {k: np.ones_like(np.asarray(v)[None]) for k, v in example.items()}
    params = {"capacity": capacity, "item": "2 x 84x84x4 uint8"}
    out = []

    def in_jit_rates(name, buf_init, add, sample):
        state = buf_init()
        jitem = jax.tree_util.tree_map(jnp.asarray, item)
        adds_fn = jax.jit(lambda s: jax.lax.fori_loop(0, adds, lambda i, s: add(s, jitem), s), donate_argnums=0)
        holder = {"s": adds_fn(state)}  # warm-up doubles as a fill

        def run_adds():
            holder["s"] = jax.block_until_ready(adds_fn(holder["s"]))

        med, spread, _ = time_rate(run_adds, adds, repeats, warmup=False)
        out.append(Measurement("replay_add", name, params | {"where": "inside jit"}, med, "adds/s", repeats, spread))
        samples = jax.jit(lambda s, k: jax.lax.fori_loop(
            0, 100, lambda i, acc: acc + sample(s, jax.random.fold_in(k, i)), jnp.float32(0)))
        med, spread, _ = time_rate(lambda: samples(holder["s"], jax.random.PRNGKey(0)).block_until_ready(), 100,
                                   repeats)
        out.append(Measurement("replay_sample", name, params | {"batch": batch, "where": "inside jit"}, med,
                               "samples/s", repeats, spread))

    jbuf = make_buffer(capacity, example, sample_batch_size=batch)
    in_jit_rates("jaxrl", jbuf.init, jbuf.add, lambda s, k: jbuf.sample(s, k)["obs"][0, 0, 0, 0].astype(jnp.float32))
    try:
        import flashbax as fbx
        fb = fbx.make_item_buffer(max_length=capacity, min_length=1, sample_batch_size=batch, add_batches=True)
        in_jit_rates("flashbax", lambda: fb.init(jax.tree_util.tree_map(jnp.asarray, example)), fb.add,
                     lambda s, k: fb.sample(s, k).experience["obs"][0, 0, 0, 0].astype(jnp.float32))
    except ImportError:
        pass
    tbuf = torch_buffer(capacity, example)
    med, spread, _ = time_rate(lambda: [tbuf.add(item) for _ in range(adds)], adds, repeats)
    out.append(Measurement("replay_add", "torch", params | {"where": "python loop"}, med, "adds/s", repeats, spread))
    rng = np.random.default_rng(0)
    med, spread, _ = time_rate(lambda: [tbuf.sample(batch, rng) for _ in range(100)], 100, repeats)
    out.append(Measurement("replay_sample", "torch", params | {"batch": batch, "where": "python loop"}, med,
                           "samples/s", repeats, spread))
    return out


# ----------------------------------------------------------------------------------------------- tabular
def bench_tabular(seeds: int, steps: int, torch_steps: int, repeats: int) -> list[Measurement]:
    from jaxrl.runners.tabular import make_tabular_train
    from torch_reference.tabular import train as torch_train
    cfg = TabularConfig(slippery=True, alphas=(0.1,), gammas=(0.99,), num_seeds=seeds, total_steps=steps)
    train = make_tabular_train(cfg)
    keys = jax.random.split(jax.random.PRNGKey(0), seeds)
    alphas, gammas = jnp.full(seeds, 0.1), jnp.full(seeds, 0.99)
    program = jax.jit(jax.vmap(train)).lower(keys, alphas, gammas).compile()
    med, spread, _ = time_rate(lambda: jax.block_until_ready(program(keys, alphas, gammas)), seeds * steps, repeats,
                               warmup=False)
    out = [Measurement("tabular", "jaxrl", {"seeds": seeds, "env": "FrozenLake 4x4 slippery"}, med,
                       "q_updates/s", repeats, spread)]
    tcfg = cfg.replace(total_steps=torch_steps, num_seeds=1)
    med, spread, _ = time_rate(lambda: torch_train(tcfg, 0.1, 0.99, seed=0), torch_steps, repeats)
    out.append(Measurement("tabular", "torch", {"seeds": 1, "env": "FrozenLake 4x4 slippery", "mode": "sequential"},
                           med, "q_updates/s", repeats, spread,
                           {"note": "the course's loop over Gymnasium; seeds run one after another"}))
    return out
