"""DQN on envpool Atari: one pure learner whose schedule the host decides, for a host loop or an XLA loop.

`make_atari_learner(config, num_actions, obs_shape)` (both from `envpool_env.env_spec`) returns `AtariLearner`, the
pieces of one iteration (one vectorized env step of `E` envs per agent), each for one agent (the loops vmap them
over seeds), built on the learner every env family shares (`jaxrl.runners.learning.make_learner`):

    observe(state, ts: TimeStep [E]) -> (state, metrics)        one frame row per env, running episode stats
    learn(state, env_steps, copy) -> (state, loss)               `updates_per_block` updates, then the target copy
    act(state, ts, iteration) -> (state, actions [E], metrics)   epsilon-greedy actions for the next env step
    step(state, ts, iteration, update, copy) -> (state, actions, metrics)    observe, learn if `update`, act

The state is the learner every env family shares (`jaxrl.runners.learning.LearnerState`, its `env` an
`AtariCarry`). `update` and `copy` are not data: the shared `jaxrl.runners.learning.Schedule` (plain Python,
from the iteration counter) says which iterations update and copy, so each combination is its own compiled
program and no step holds a data-dependent loop or branch (on a GPU each of those copies its predicate to the
host and waits): with `env_steps = iteration * num_envs`, updates start after `learning_starts +
steps_per_block` env steps and then run `updates_per_block` at a time every `steps_per_block` env steps; the
target is copied when the counter crosses a multiple of `target_update_frequency`. The loops that drive the
learner are in `jaxrl.runners.atari_loops`.

Env steps count every env slot stepped, including envpool's reset step after each episode (about 0.1% of
Pong's steps); frames = 4 x env steps.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.config import DQNConfig
from jaxrl.envs.timestep import TimeStep
from jaxrl.runners.learning import LearnerState, make_learner

UNROLLED_UPDATES = 4  # updates per block written out one after another (top level) rather than in a scan


@struct.dataclass
class AtariCarry:
    """An Atari learner's env carry (`LearnerState.env`)."""

    actions: jnp.ndarray  # [E] int32: the actions just sent, which lead into the next row
    reset_next: jnp.ndarray  # [E] bool: the next env output is envpool's reset (an episode starts there)


class AtariLearner(NamedTuple):
    init: Callable  # keys [S] -> LearnerState with a leading [S] axis (distinct buffers, safe to donate)
    observe: Callable  # (state, ts: TimeStep [E]) -> (state, metrics)
    learn: Callable  # (state, env_steps, copy: bool or traced bool) -> (state, loss)
    act: Callable  # (state, ts, iteration) -> (state, actions [E], metrics)
    step: Callable  # (state, ts, iteration, update: bool, copy) -> (state, actions [E], metrics)
    network: Any
    buffer: Any


def nhwc(obs):
    """envpool's stacked frames `[..., stack, H, W]` -> the network's `[..., H, W, stack]`."""
    return jnp.moveaxis(obs, -3, -1)


def nhwc_shape(obs_shape) -> tuple[int, ...]:
    """`nhwc` on a shape: envpool's `(stack, H, W)` -> the network's `(H, W, stack)`."""
    stack, *frame = obs_shape
    return (*frame, stack)


def make_atari_learner(config: DQNConfig, num_actions: int, obs_shape) -> AtariLearner:
    """The learner of `config` (its convolution kernel, compute dtype and replay search among the fields) for an
    envpool game of `num_actions` actions whose observations are `obs_shape` (`envpool_env.env_spec`: uint8
    stacked frames `(stack, H, W)`, which get the frame buffer)."""
    num_envs = config.num_envs
    network_obs_shape = nhwc_shape(obs_shape)
    learner = make_learner(config, num_actions, tuple(obs_shape), jnp.uint8, network_obs_shape=network_obs_shape)
    replay = learner.replay

    def init(keys) -> LearnerState:
        state = jax.jit(jax.vmap(init_one))(keys)
        # params and target_params start equal: give them separate buffers, or donation would alias them.
        return state.replace(target_params=jax.tree_util.tree_map(jnp.copy, state.target_params))

    def init_one(key) -> LearnerState:
        key, net_key = jax.random.split(key)
        carry = AtariCarry(actions=jnp.zeros(num_envs, jnp.int32), reset_next=jnp.ones(num_envs, bool))
        return learner.init(key, net_key, jnp.zeros((1, *network_obs_shape), jnp.uint8), carry)

    def observe_step(state: LearnerState, ts: TimeStep):
        """Store the env's output (leaves `[E, ...]`; envpool resets one step late, so `ts.obs` is the true next
        observation) and count it in the episode statistics."""
        state, metrics = learner.observe(state, None, state.env.actions, ts, ts.obs, first=state.env.reset_next)
        return state.replace(env=state.env.replace(reset_next=ts.terminated | ts.truncated)), metrics

    def learn(state: LearnerState, env_steps, copy=False):
        """The block's updates (at most `UNROLLED_UPDATES` written out, more in a `lax.scan`), then the target
        copy (`copy` a Python bool or a traced one). Returns (state, mean loss)."""
        state, metrics = learner.learn(state, env_steps, copy, unroll=UNROLLED_UPDATES)
        return state, metrics["loss"].mean()

    def act_step(state: LearnerState, ts: TimeStep, iteration):
        key, act_key = jax.random.split(state.key)
        actions, epsilon = learner.act(state.params, nhwc(ts.obs), jnp.asarray(iteration, jnp.int32) * num_envs,
                                       act_key)
        return (state.replace(env=state.env.replace(actions=actions), key=key), actions,
                {"epsilon": epsilon, "action": actions})

    def step(state: LearnerState, ts: TimeStep, iteration, update: bool = False, copy=False):
        """`ts`: leaves `[E, ...]`, the env's output for the `iteration`-th vectorized step (0 = the reset);
        `iteration`: unbatched int. Returns (state, actions [E], metrics); loss is NaN without `update`."""
        state, metrics = observe_step(state, ts)
        loss = jnp.float32(jnp.nan)
        if update:
            state, loss = learn(state, jnp.asarray(iteration, jnp.int32) * num_envs, copy)
        state, actions, act_metrics = act_step(state, ts, iteration)
        return state, actions, {**metrics, **act_metrics, "loss": loss}

    return AtariLearner(init, observe_step, learn, act_step, step, learner.network, replay.buffer)


def split_seeds(tree, num_seeds: int):
    """Leaves `[S * E, ...]` -> `[S, E, ...]` (numpy or jax arrays)."""
    return jax.tree_util.tree_map(lambda x: x.reshape((num_seeds, -1, *x.shape[1:])), tree)
