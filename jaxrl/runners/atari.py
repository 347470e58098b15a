"""DQN on envpool Atari: one pure learner step, driven by a host loop or by an XLA loop.

`make_atari_learner(config, num_actions)` returns `AtariLearner(init, step)`:

    step(state, ts: AtariStep [E], iteration) -> (state, actions [E], metrics)

consumes the env's output for the `iteration`-th vectorized step (0 = the reset), stores one frame row
per env (`jaxrl.replay.frames`), runs the gradient updates that are due, copies the target when due, and
picks the next actions epsilon-greedily. The schedule is the gymnax trainer's (`jaxrl.runners.gymnax`): with
`env_steps = iteration * num_envs`, updates start after `learning_starts + steps_per_block` env steps and
then run `updates_per_block` at a time every `steps_per_block` env steps; the target is copied when the
counter crosses a multiple of `target_update_frequency`. `iteration` is one unbatched scalar, so under
`jax.vmap` over seeds the update branch stays a real `lax.cond` (not a select that runs both sides).

Env steps count every env slot stepped, including envpool's reset step after each episode (about 0.1% of
Pong's steps); frames = 4 x env steps.

Two drivers, one learner (both vmapped over seeds; the `S * E` envs of one pool reshaped to `[S, E]`,
since envpool's XLA ops cannot be vmapped):
  * `host_chunk`: envpool steps in numpy; the jitted, donated learner step in between;
  * `make_xla_chunk`: `env.xla()` and the learner step inside one jitted `lax.scan` of `n` iterations.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.config import DQNConfig
from jaxrl.envs.envpool_env import AtariStep, to_step
from jaxrl.agents.exploration import make_epsilon_schedule
from jaxrl.replay import sumtree as per
from jaxrl.replay.frames import make_frame_buffer
from jaxrl.replay.sampler import ReplayState, make_replay
from jaxrl.agents.dqn import act, guard_update, make_agent, target_update_due

FRAME_SHAPE = (84, 84)
STACK = 4


@struct.dataclass
class AtariState:
    """One agent (leading `[S]` axis in a sweep)."""

    params: Any
    target_params: Any
    opt_state: Any
    replay: Any  # jaxrl.replay.sampler.ReplayState: the frame buffer and, for prioritized replay, its sum-tree
    actions: jnp.ndarray  # [E] int32: the actions just sent, which lead into the next row
    episode_return: jnp.ndarray  # [E] float32: true (unclipped) score of the running games
    episode_length: jnp.ndarray  # [E] int32: agent steps of the running games
    reset_next: jnp.ndarray  # [E] bool: the next env output is envpool's reset (an episode starts there)
    key: jax.Array
    num_updates: jnp.ndarray  # int32
    diverged_at: jnp.ndarray  # int32: env step of the first non-finite update (see `guard_update`), -1 healthy


class AtariLearner(NamedTuple):
    init: Callable  # keys [S] -> AtariState with a leading [S] axis (distinct buffers, safe to donate)
    step: Callable  # (state, ts: AtariStep [E], iteration) -> (state, actions [E], metrics)
    network: Any
    buffer: Any


def nhwc(obs):
    """envpool's `[..., 4, 84, 84]` -> the network's `[..., 84, 84, 4]`."""
    return jnp.moveaxis(obs, -3, -1)


def make_atari_learner(config: DQNConfig, num_actions: int, *, conv_impl: str = "auto") -> AtariLearner:
    num_envs = config.num_envs
    obs_shape = (*FRAME_SHAPE, STACK)
    agent = make_agent(config, num_actions, obs_shape, conv_impl=conv_impl)
    network = agent.network
    buffer = make_frame_buffer(config.buffer_size, num_envs, FRAME_SHAPE, stack=STACK,
                               sample_batch_size=config.batch_size)
    replay = make_replay(buffer, num_envs=num_envs, n_step=config.n_step, gamma=config.gamma,
                           prioritized=config.prioritized, per_alpha=config.per_alpha, per_eps=config.per_eps)
    epsilon_fn = make_epsilon_schedule(config)
    guarded_update = guard_update(agent.update)
    block = config.steps_per_block

    def init(keys) -> AtariState:
        state = jax.jit(jax.vmap(init_one))(keys)
        # params and target_params start equal: give them separate buffers, or donation would alias them.
        return state.replace(target_params=jax.tree_util.tree_map(jnp.copy, state.target_params))

    def init_one(key) -> AtariState:
        key, net_key = jax.random.split(key)
        params = network.init(net_key, jnp.zeros((1, *obs_shape), jnp.uint8))
        return AtariState(params=params, target_params=params, opt_state=agent.optimizer.init(params),
                          replay=replay.init(), actions=jnp.zeros(num_envs, jnp.int32),
                          episode_return=jnp.zeros(num_envs, jnp.float32),
                          episode_length=jnp.zeros(num_envs, jnp.int32), reset_next=jnp.ones(num_envs, bool),
                          key=key, num_updates=jnp.int32(0), diverged_at=jnp.int32(-1))

    def updates(buffer_state, due, copy, env_steps, learn):  # learn carries the priorities; the buffer is read
        """`updates_per_block` updates if `due`, then the target copy if `copy`.

        Written as while loops with 0 or n trips rather than `lax.cond`: XLA updates a while loop's carry in
        place, while a `cond` on CPU copied the untouched params and optimizer state on every act-only step
        (5 ms per step for the Nature CNN). The buffer is only read."""
        def update(carry):
            i, (params, target_params, opt_state, key, num_updates, diverged_at, priorities), loss_sum = carry
            key, sample_key = jax.random.split(key)
            beta = per.beta_schedule(num_updates, config.per_beta, max(1, config.num_updates))
            batch, slots = replay.sample(ReplayState(buffer_state, priorities), sample_key, beta)
            params, opt_state, loss, aux, diverged_at = guarded_update(params, target_params, opt_state, batch,
                                                                       diverged_at, env_steps)
            priorities = replay.set_priorities(ReplayState(buffer_state, priorities), slots, aux["priority"],
                                               diverged_at < 0).priorities
            learn = (params, target_params, opt_state, key, num_updates + 1, diverged_at, priorities)
            return i + 1, learn, loss_sum + loss

        trips = jnp.where(due, config.updates_per_block, 0)
        _, learn, loss_sum = jax.lax.while_loop(lambda c: c[0] < trips, update, (0, learn, jnp.float32(0)))

        def copy_target(carry):
            done, (params, _, *rest) = carry
            return True, (params, params, *rest)

        _, learn = jax.lax.while_loop(lambda c: copy & ~c[0], copy_target, (False, learn))
        return learn, jnp.where(due, loss_sum / config.updates_per_block, jnp.nan)

    def step(state: AtariState, ts: AtariStep, iteration, updates_from=0):
        """`ts`: leaves `[E, ...]`; `iteration`: unbatched int. No updates before iteration `updates_from`
        (a run resumed without its buffer refills it first). Returns (state, actions [E], metrics)."""
        iteration = jnp.asarray(iteration, jnp.int32)
        env_steps = iteration * num_envs  # env steps taken before this call
        first = state.reset_next
        replay_state = replay.add(state.replay, ts.obs[:, -1], state.actions, ts.reward, ts.terminated, first,
                                  ts.truncated)
        episode_return = state.episode_return + ts.score
        episode_length = state.episode_length + (~first).astype(jnp.int32)
        metrics = {"episode_return": episode_return, "episode_length": episode_length, "episode_done": ts.game_over}
        state = state.replace(replay=replay_state,
                              episode_return=jnp.where(ts.game_over, 0.0, episode_return),
                              episode_length=jnp.where(ts.game_over, 0, episode_length),
                              reset_next=ts.terminated | ts.truncated)

        due = ((env_steps >= config.learning_starts + block) & ((env_steps - config.learning_starts) % block == 0)
               & (iteration >= updates_from))
        copy = due & target_update_due(env_steps, block, config.target_update_frequency)
        learn = (state.params, state.target_params, state.opt_state, state.key, state.num_updates, state.diverged_at,
                 state.replay.priorities)
        learn, loss = updates(state.replay.buffer, due, copy, env_steps, learn)
        params, target_params, opt_state, key, num_updates, diverged_at, priorities = learn
        state = state.replace(params=params, target_params=target_params, opt_state=opt_state, key=key,
                              num_updates=num_updates, diverged_at=diverged_at,
                              replay=state.replay.replace(priorities=priorities))

        key, act_key = jax.random.split(state.key)
        epsilon = epsilon_fn(env_steps)
        actions = act(config, network, state.params, nhwc(ts.obs), act_key, epsilon)
        metrics.update(loss=loss, epsilon=epsilon, action=actions)
        return state.replace(actions=actions, key=key), actions, metrics

    return AtariLearner(init, step, network, buffer)


def split_seeds(tree, num_seeds: int):
    """Leaves `[S * E, ...]` -> `[S, E, ...]` (numpy or jax arrays)."""
    return jax.tree_util.tree_map(lambda x: x.reshape((num_seeds, -1, *x.shape[1:])), tree)


def make_host_step(learner: AtariLearner):
    """The jitted, seed-vmapped learner step; the state is donated (updated in place)."""
    return jax.jit(jax.vmap(learner.step, in_axes=(0, 0, None, None)), donate_argnums=0)


def host_chunk(host_step, env, state, ts: AtariStep, start: int, num_iterations: int, num_seeds: int,
               updates_from: int = 0):
    """`num_iterations` host-loop iterations from `start`: learner step (device), envpool step (numpy).

    `ts`: the env's last output, leaves `[S, E, ...]`. Returns (state, ts, metrics stacked `[n, S, ...]`). Only
    the actions come to the host each step; the metrics stay on the device and are fetched once per chunk."""
    metrics = []
    for i in range(start, start + num_iterations):
        state, actions, m = host_step(state, ts, np.int32(i), np.int32(updates_from))
        metrics.append(m)
        ts = split_seeds(to_step(*env.step(np.asarray(actions).reshape(-1))), num_seeds)
    return state, ts, jax.device_get(jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *metrics))


def make_xla_chunk(learner: AtariLearner, env, num_seeds: int, num_iterations: int):
    """A jitted `(handle, state, ts, start, updates_from) -> (handle, state, ts, metrics [n, S, ...])` running
    `num_iterations` (learner step, `env.xla()` step) pairs in one `lax.scan`; the state is donated."""
    _, _, _, xla_step = env.xla()
    vstep = jax.vmap(learner.step, in_axes=(0, 0, None, None))

    def chunk(handle, state, ts, start, updates_from):
        def body(carry, _):
            handle, state, ts, i = carry
            state, actions, metrics = vstep(state, ts, i, updates_from)
            handle, out = xla_step(handle, actions.reshape(-1))
            return (handle, state, split_seeds(to_step(*out, xp=jnp), num_seeds), i + 1), metrics

        (handle, state, ts, _), metrics = jax.lax.scan(body, (handle, state, ts, jnp.int32(start)), None,
                                                       length=num_iterations)
        return handle, state, ts, metrics

    return jax.jit(chunk, donate_argnums=1)
