"""The two loops that drive `jaxrl.runners.atari`'s learner over a chunk of iterations, vmapped over seeds.

The `S * E` envs of one pool are reshaped to `[S, E]` (envpool's XLA ops cannot be vmapped). `Schedule`
(host-side) decides which iterations update and copy the target, so the compiled programs hold no
data-dependent loop or branch:

  * host loop (`HostSteps`, `host_chunk`): envpool steps in numpy; between them one of three compiled
    programs, chosen by the schedule: act; act + updates; act + updates + target copy. Only the actions come
    to the host each step; the metrics stay on the device until the chunk ends.
    With `overlap`, each iteration runs the act program, hands the actions to envpool and only then queues
    the updates: JAX dispatches them asynchronously, so the device learns while envpool steps. Acting then
    uses parameters one update old (a deviation from the course's order; off by default).
  * XLA loop (`XLAChunks`): `env.xla()` and the learner in one program per chunk, the gymnax trainer's
    structure: a `lax.scan` of acting-only iterations (before the first update), then a `lax.scan` over
    blocks, each the update iteration (updates, target copy as a select) and a `lax.scan` of the block's
    acting iterations. Every loop has a fixed trip count; one program per (acting-only, blocks) plan.
    With `overlap`, the update iteration splits envpool's step into its `send` and `recv`: observe, act,
    send the actions, update, receive the envs' output. Optimization barriers pin that order on GPUs (the
    whole state passes one after the send and, updated, one before the recv; XLA would otherwise be free to
    run parts of the update before the send or after the recv), so the envs step on envpool's threads while
    the device updates, and acting is one update old exactly as in the overlapped host loop.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.envpool_env import to_step
from jaxrl.envs.timestep import TimeStep
from jaxrl.runners.atari import AtariLearner, split_seeds
from jaxrl.runners.learning import Schedule
from jaxrl.runners.xla_options import compiler_options

VARIANTS = ((False, False), (True, False), (True, True))  # (update, copy): act; act+updates; act+updates+copy


class HostSteps:
    """The host loop's programs, seed-vmapped, the state donated (updated in place), each compiled once, on first
    use or ahead by `compile`: `step(update, copy, state, ts, iteration) -> (state, actions, metrics)` for the
    three `VARIANTS`, and `learn(copy, state, env_steps) -> (state, loss)` (the overlapped loop's updates).
    `jitted[name]`: the jitted functions, `name` `("step", update, copy)` or `("learn", copy)`."""

    def __init__(self, learner: AtariLearner):
        options = compiler_options()
        self.jitted = {("step", u, c): jax.jit(jax.vmap(partial(learner.step, update=u, copy=c), in_axes=(0, 0, None)),
                                               donate_argnums=0, compiler_options=options) for u, c in VARIANTS}
        self.jitted.update({("learn", c): jax.jit(jax.vmap(partial(learner.learn, copy=c), in_axes=(0, None)),
                                                  donate_argnums=0, compiler_options=options) for c in (False, True)})
        self.compiled = {}

    def _program(self, name, *args):
        if name not in self.compiled:
            self.compiled[name] = self.jitted[name].lower(*args).compile()
        return self.compiled[name]

    def step(self, update: bool, copy: bool, state, ts, iteration):
        return self._program(("step", update, copy), state, ts, iteration)(state, ts, iteration)

    def learn(self, copy: bool, state, env_steps):
        return self._program(("learn", copy), state, env_steps)(state, env_steps)

    def compile(self, state, ts, overlap: bool = False, copies: bool = True) -> "HostSteps":
        """Compile now (ahead of the first chunk) the programs the loop will run: without `copies` (no target
        copy due in the run) the copying ones are left to compile on first use, if ever."""
        i = np.int32(0)
        copy_flags = (False, True) if copies else (False,)
        steps = [(False, False)] if overlap else [(u, c) for u, c in VARIANTS if c in copy_flags]
        for update, copy in steps:
            self._program(("step", update, copy), state, ts, i)
        for copy in copy_flags if overlap else ():
            self._program(("learn", copy), state, i)
        return self


def host_chunk(steps: HostSteps, env, state, ts: TimeStep, start: int, num_iterations: int, schedule: Schedule):
    """`num_iterations` host-loop iterations from `start` (lock-step, or with `config.overlap` the updates queued
    behind the actions). `ts`: the env's last output, leaves `[S, E, ...]`.
    Returns (state, ts, metrics stacked `[n, S, ...]`, fetched once)."""
    metrics = []
    config = schedule.config
    for i in range(start, start + num_iterations):
        update, copy = schedule(i)
        if config.overlap:
            state, actions, m = steps.step(False, False, state, ts, np.int32(i))
            actions = np.asarray(actions)
            if update:  # queued behind the act program; runs while envpool steps below
                state, m["loss"] = steps.learn(copy, state, np.int32(i * config.num_envs))
        else:
            state, actions, m = steps.step(update, copy, state, ts, np.int32(i))
            actions = np.asarray(actions)
        metrics.append(m)
        ts = split_seeds(to_step(*env.step(actions.reshape(-1))), config.num_seeds)
    return state, ts, jax.device_get(jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *metrics))


def make_xla_chunk(learner: AtariLearner, env, schedule: Schedule, warmup: int, blocks: int,
                   options: dict | None = None):
    """A jitted `(handle, state, ts, start) -> (handle, state, ts, metrics [n, S, ...])` running `warmup`
    acting-only iterations, then `blocks` blocks (`n = warmup + blocks * iterations_per_update_block`), with
    `env.xla()` inside; the state is donated. `start` is traced: one program serves every chunk of its plan.
    `options`: XLA compiler options (default `compiler_options()`); with the schedule's `config.overlap` the
    envs step during the updates (module docstring)."""
    _, xla_recv, xla_send, _ = env.xla()
    config = schedule.config
    num_seeds, overlap = config.num_seeds, config.overlap
    per_block = config.iterations_per_update_block
    acting_step = jax.vmap(partial(learner.step, update=False), in_axes=(0, 0, None))
    update_step = jax.vmap(lambda s, ts, i, c: learner.step(s, ts, i, update=True, copy=c), in_axes=(0, 0, None, None))
    learn = jax.vmap(learner.learn, in_axes=(0, None, None))

    def recv(handle):
        handle, out = xla_recv(handle)
        return handle, split_seeds(to_step(*out, xp=jnp), num_seeds)

    def env_step(handle, actions):
        return recv(xla_send(handle, actions.reshape(-1)))

    def update_iteration(handle, state, ts, i, copy):
        """The block's first iteration: updates, then (lock-step) act with the new parameters and step the
        envs, or (`overlap`) act with the old ones and step the envs while the updates run."""
        if not overlap:
            state, actions, metrics = update_step(state, ts, i, copy)
            handle, ts = env_step(handle, actions)
            return handle, state, ts, metrics
        state, actions, metrics = acting_step(state, ts, i)
        handle = xla_send(handle, actions.reshape(-1))
        handle, state = jax.lax.optimization_barrier((handle, state))  # the updates (sampling too) after the send
        state, metrics["loss"] = learn(state, i * config.num_envs, copy)
        handle, state, metrics = jax.lax.optimization_barrier((handle, state, metrics))  # the recv after all of it
        handle, ts = recv(handle)
        return handle, state, ts, metrics

    def acting(carry, _):
        handle, state, ts, i = carry
        state, actions, metrics = acting_step(state, ts, i)
        handle, ts = env_step(handle, actions)
        return (handle, state, ts, i + 1), metrics

    def block(carry, _):
        handle, state, ts, i = carry
        copy = schedule.copy_due(i * config.num_envs)
        handle, state, ts, first = update_iteration(handle, state, ts, i, copy)
        carry, rest = jax.lax.scan(acting, (handle, state, ts, i + 1), None, length=per_block - 1)
        return carry, (first, rest)

    def chunk(handle, state, ts, start):
        carry = (handle, state, ts, jnp.asarray(start, jnp.int32))
        carry, warm = jax.lax.scan(acting, carry, None, length=warmup)
        (handle, state, ts, _), (first, rest) = jax.lax.scan(block, carry, None, length=blocks)

        def join(w, f, r):  # [warmup, S, ...] + ([blocks, S, ...], [blocks, per_block - 1, S, ...])
            b = jnp.concatenate([f[:, None], r], axis=1).reshape((blocks * per_block, *f.shape[1:]))
            return jnp.concatenate([w, b])

        return handle, state, ts, jax.tree_util.tree_map(join, warm, first, rest)

    return jax.jit(chunk, donate_argnums=1, compiler_options=compiler_options() if options is None else options)


class XLAChunks:
    """The XLA loop's programs, compiled once per chunk plan (acting-only iterations, blocks): at most three in
    a run (before learning, the chunk where it starts, learning). `run(handle, state, ts, start, n)`."""

    def __init__(self, learner: AtariLearner, env, schedule: Schedule):
        self.learner, self.env, self.schedule = learner, env, schedule
        self.compiled = {}

    def program(self, handle, state, ts, start: int, iterations: int):
        """The compiled program for the chunk of `iterations` from `start` (compiled now if its plan is new)."""
        plan = self.schedule.plan(start, iterations)
        if plan not in self.compiled:
            self.compiled[plan] = make_xla_chunk(self.learner, self.env, self.schedule,
                                                 *plan).lower(handle, state, ts, start).compile()
        return self.compiled[plan]

    def run(self, handle, state, ts, start: int, iterations: int):
        return self.program(handle, state, ts, start, iterations)(handle, state, ts, start)


class AtariLoop:
    """An Atari run's loop, whichever of the four (`config.loop` host or xla, lock-step or `config.overlap`),
    behind one interface: it holds the learner's state (`state`) and the envs' last output, and
    `run(start, n)` advances both by `n` iterations from iteration `start`, returning the chunk's metrics
    `[n, S, ...]` on the host. `compile(starts, n)` compiles ahead the programs of the chunks of `n` iterations
    starting at `starts`. `env`: the envpool of all `S * E` envs; `ts`: its last output, leaves `[S, E, ...]`."""

    def __init__(self, learner: AtariLearner, env, schedule: Schedule, state, ts: TimeStep):
        self.env, self.schedule, self.state = env, schedule, state
        config = schedule.config
        if config.loop == "xla":
            self.handle = env.xla()[0]
            self.ts = jax.tree_util.tree_map(jnp.asarray, ts)
            self.chunks = XLAChunks(learner, env, schedule)
        else:
            self.handle, self.ts = None, ts
            self.steps = HostSteps(learner)

    def compile(self, starts, iterations: int) -> "AtariLoop":
        config = self.schedule.config
        if config.loop == "xla":
            for start in starts:  # at most 3 plans
                self.chunks.program(self.handle, self.state, self.ts, start, iterations)
        else:
            self.steps.compile(self.state, self.ts, config.overlap,
                               copies=config.total_steps > config.target_update_frequency)
        return self

    def run(self, start: int, iterations: int):
        if self.schedule.config.loop == "xla":
            self.handle, self.state, self.ts, metrics = self.chunks.run(self.handle, self.state, self.ts, start,
                                                                        iterations)
            return jax.device_get(metrics)
        self.state, self.ts, metrics = host_chunk(self.steps, self.env, self.state, self.ts, start, iterations,
                                                  self.schedule)
        return metrics  # fetched by host_chunk
