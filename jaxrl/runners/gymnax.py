"""The DQN training skeleton for gymnax envs: `make_train(config) -> train(key) -> (final_state, metrics)`.

Everything (env steps, epsilon-greedy acting, buffer adds, updates, target copies) runs inside one
`lax.scan`, so `jax.jit(jax.vmap(train), compiler_options=compiler_options())(jax.random.split(key, num_seeds))`
trains a whole seed sweep as one program. Variants (double, dueling, loss, optimizer) enter only through
`loss_fn`, the network and the optimizer; there is one skeleton.

The learner is the one every env family shares (`jaxrl.runners.learning.make_learner`: its `LearnerState`, with a
`GymnaxCarry` as `env`, and its act, observe and learn), and so is the schedule (`jaxrl.runners.learning.Schedule`;
counts in env steps, see `DQNConfig`):
  1. warm-up: `learning_starts / num_envs` vectorized steps, no updates;
  2. `num_blocks` blocks, each `iterations_per_update_block` vectorized steps then `updates_per_block`
     gradient updates; the target network is copied whenever the env-step counter crosses a multiple of
     `target_update_frequency`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.networks import make_network
from jaxrl.agents.types import HParams, hparams_of
from jaxrl.config import DQNConfig
from jaxrl.envs import make_vector_env
from jaxrl.runners.grid import shard_sweep, sweep_hparams, sweep_keys, unshard
from jaxrl.runners.learning import LearnerState, Schedule, make_learner
from jaxrl.runners.xla_options import compiler_options

@struct.dataclass
class GymnaxCarry:
    """A gymnax learner's env carry (`LearnerState.env`)."""

    env_state: Any
    obs: jnp.ndarray  # [E, *obs_shape]
    env_steps: jnp.ndarray  # int32, env steps so far (summed over envs)


class TrainParts(NamedTuple):
    """`train(key)` in pieces, for drivers that stop between chunks (checkpoints, resume); one agent each:

    init(key) -> state;  warmup(state) -> (state, env metrics [W, E]);
    blocks(state, n) -> (state, (env metrics [n, iterations_per_update_block, E], update metrics [n, U])).
    `train(key)` is `init`, `warmup`, then all `num_blocks` blocks."""

    init: Callable
    warmup: Callable
    blocks: Callable


def make_train_parts(config: DQNConfig, hparams: Optional[HParams] = None) -> TrainParts:
    """`make_train`'s program in pieces (see `TrainParts`), for drivers that stop between chunks. `hparams`:
    one agent's traced hyperparameters (see `jaxrl.runners.grid`); default: the config's, as constants."""
    config.validate()
    hp = hparams_of(config) if hparams is None else hparams
    env = make_vector_env(config.env_id, config.num_envs)
    learner = make_learner(config, env.num_actions, env.obs_shape, env.obs_dtype, hparams=hp)
    num_envs = config.num_envs
    schedule = Schedule(config)

    def init(key) -> LearnerState:
        key, net_key, env_key = jax.random.split(key, 3)
        obs, env_state = env.reset(env_key)
        return learner.init(key, net_key, obs, GymnaxCarry(env_state=env_state, obs=obs, env_steps=jnp.int32(0)))

    def env_step(state: LearnerState, _):
        """One vectorized step: act, step the envs, observe. (The Atari loops run the same pieces from `observe`
        on: envpool's reset comes one step late, and the host loop runs one program per env step.)"""
        key, act_key, step_key = jax.random.split(state.key, 3)
        carry = state.env
        actions, _ = learner.act(state.params, carry.obs, carry.env_steps, act_key)
        out = env.step(step_key, carry.env_state, actions)
        state, metrics = learner.observe(state, carry.obs, actions, out.timestep, out.final_obs)
        return state.replace(key=key, env=GymnaxCarry(env_state=out.env_state, obs=out.timestep.obs,
                                                      env_steps=carry.env_steps + num_envs)), metrics

    def block(state: LearnerState, _):
        state, env_metrics = jax.lax.scan(env_step, state, None, length=config.iterations_per_update_block)
        env_steps = state.env.env_steps
        state, update_metrics = learner.learn(state, env_steps, schedule.copy_due(env_steps,
                                                                                  hp.target_update_frequency))
        return state, (env_metrics, update_metrics)

    def warmup(state: LearnerState):
        return jax.lax.scan(env_step, state, None, length=schedule.warmup_iterations)

    def blocks(state: LearnerState, num_blocks: int):
        return jax.lax.scan(block, state, None, length=num_blocks)

    return TrainParts(init, warmup, blocks)


def make_train(config: DQNConfig, *, progress_callback: Optional[Callable[[Any], None]] = None,
               num_progress_reports: int = 100):
    """Return `train(key, hparams=None) -> (final LearnerState, metrics)` for a gymnax env (`hparams`: one
    agent's traced hyperparameters in a grid sweep, see `jaxrl.runners.grid`; default: the config's).

    `metrics` (per agent; `T = total_steps / num_envs` vectorized steps, `U = num_updates`):
      episode_return, episode_length: `[T, E]` the running episode statistics at each step;
      episode_done: `[T, E]` bool, true where an episode ended (its return/length are the values above);
      loss, q_mean: `[num_blocks, updates_per_block]`.

    `progress_callback(env_steps)` is called from inside the program about `num_progress_reports` times
    (under `vmap` once per seed, in any order: treat it as "at least this far").
    """
    config.validate()
    env = make_vector_env(config.env_id, 1)
    make_network(config, env.num_actions, env.obs_shape)  # ValueError for observations it cannot take, before tracing
    num_envs = config.num_envs
    blocks_per_chunk = max(1, config.num_blocks // max(1, num_progress_reports))
    num_chunks, remainder_blocks = divmod(config.num_blocks, blocks_per_chunk)

    def train(key, hparams: Optional[HParams] = None):
        parts = make_train_parts(config, hparams)

        def chunk(state: LearnerState, _):
            state, out = parts.blocks(state, blocks_per_chunk)
            if progress_callback is not None:
                jax.debug.callback(progress_callback, state.env.env_steps)
            return state, out

        state = parts.init(key)
        state, warm_env = parts.warmup(state)
        state, (chunk_env, chunk_upd) = jax.lax.scan(chunk, state, None, length=num_chunks)
        state, (rest_env, rest_upd) = parts.blocks(state, remainder_blocks)

        def flat_env(x_warm, x_chunk, x_rest):
            return jnp.concatenate([x_warm, x_chunk.reshape((-1, num_envs)), x_rest.reshape((-1, num_envs))])

        def flat_upd(x_chunk, x_rest):
            return jnp.concatenate([x_chunk.reshape((-1, config.updates_per_block)), x_rest])

        metrics = jax.tree_util.tree_map(flat_env, warm_env, chunk_env, rest_env)
        metrics.update(jax.tree_util.tree_map(flat_upd, chunk_upd, rest_upd))
        return state, metrics

    return train


class GymnaxLoop:
    """A gymnax sweep driven in chunks, the counterpart of `jaxrl.runners.atari_loops.AtariLoop`: `state` is the
    whole sweep's `LearnerState` (a leading sweep axis over grid points x seeds, laid out over `sharding`'s
    devices). `start()` initializes it and runs the warm-up, returning the warm-up's env metrics; `template()` is
    its shape (to restore a checkpoint into `state`); `compile(chunk_sizes)` compiles the programs of chunks of
    those many blocks; `run(done, n)` advances the state by `n` blocks, returning the chunk's (env metrics
    `[N, n * iterations_per_update_block, E]`, update metrics `[N, n * updates_per_block]`) on the host."""

    def __init__(self, config: DQNConfig, sharding):
        self.config, self.num_agents = config, config.sweep_size
        hps = sweep_hparams(config) if config.grid else None
        (self.keys, self.hps), _ = shard_sweep((sweep_keys(config), hps), sharding)
        parts = lambda hp: make_train_parts(config, hp)  # noqa: E731  (per agent: traced hyperparameters)
        options = compiler_options()  # every leaf: a leading (sharded) sweep axis

        def start(key, hp):
            agent = parts(hp)
            return agent.warmup(agent.init(key))

        self._start = jax.jit(jax.vmap(start), out_shardings=sharding, compiler_options=options)
        self._blocks = lambda n: jax.jit(jax.vmap(lambda s, hp: parts(hp).blocks(s, n)),  # noqa: E731
                                         donate_argnums=0, out_shardings=sharding, compiler_options=options)
        self.programs, self.state = {}, None

    def template(self):
        return jax.eval_shape(self._start, self.keys, self.hps)[0]

    def start(self):
        self.state, warm = self._start(self.keys, self.hps)
        return unshard(warm, self.num_agents)

    def compile(self, chunk_sizes) -> "GymnaxLoop":
        for n in chunk_sizes:
            if n and n not in self.programs:
                self.programs[n] = self._blocks(n).lower(self.state, self.hps).compile()
        return self

    def run(self, done: int, n: int):
        """`done`: blocks run so far (the driver's count; the state carries its own counters)."""
        self.state, metrics = self.programs[n](self.state, self.hps)
        return unshard(metrics, self.num_agents)
