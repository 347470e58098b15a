"""The learner every env family shares: one state, one schedule, one episode-statistics rule, one update.

    make_learner    the agent, its replay and its acting rule for an env's observations, as `Learner`'s pure
                    functions (init, observe, learn, act): the gymnax scan and both Atari loops drive this one
    LearnerState    params and target params, optimizer state, replay, key, counters, running episode statistics,
                    and the env family's own carry (`env`): the gymnax trainer's and the Atari learner's state alike
    Schedule        which vectorized env steps update and copy the target (plain Python, or traced counters)
    track_episodes  running return and length of each env's episode -> the `episode_*` metrics
    observe         store one env step in the replay and count it in the episode statistics
    replay_update   one guarded update on a batch sampled from the replay
    copy_target     the hard target copy
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.dqn import act, guard_update, make_agent, target_update_due
from jaxrl.agents.exploration import make_epsilon_schedule
from jaxrl.agents.types import HParams, hparams_of
from jaxrl.config import DQNConfig
from jaxrl.envs.timestep import TimeStep
from jaxrl.replay import sumtree as per
from jaxrl.replay.sampler import make_replay_for


@struct.dataclass
class EpisodeStats:
    """The running statistics of the episode each of the `E` envs is in."""

    episode_return: jnp.ndarray  # [E] float32 (Atari: the true, unclipped score)
    episode_length: jnp.ndarray  # [E] int32: agent steps


@struct.dataclass
class LearnerState:
    """One agent (leading `[S]` axis in a sweep), whatever the env family."""

    params: Any
    target_params: Any
    opt_state: Any
    replay: Any  # jaxrl.replay.sampler.ReplayState: the ring or frame buffer and, for prioritized replay, its sum-tree
    episodes: EpisodeStats
    key: jax.Array
    num_updates: jnp.ndarray  # int32
    diverged_at: jnp.ndarray  # int32: env step of the first non-finite loss or parameter, -1 while healthy
    env: Any  # the env family's carry: `jaxrl.runners.gymnax.GymnaxCarry` or `jaxrl.runners.atari.AtariCarry`


TrainState = LearnerState  # the name `make_train`'s users know


def init_learner_state(params, optimizer, replay, key, num_envs: int, env) -> LearnerState:
    """A fresh learner: target = online params, zero counters and episode statistics, healthy."""
    return LearnerState(params=params, target_params=params, opt_state=optimizer.init(params), replay=replay.init(),
                        episodes=EpisodeStats(jnp.zeros(num_envs, jnp.float32), jnp.zeros(num_envs, jnp.int32)),
                        key=key, num_updates=jnp.int32(0), diverged_at=jnp.int32(-1), env=env)


def track_episodes(stats: EpisodeStats, ts: TimeStep, steps) -> tuple[EpisodeStats, dict]:
    """Add the step's `score` and `steps` (agent steps, `[E]` or a scalar) to each env's running episode; -> (the
    statistics, restarted where `game_over`, metrics `episode_return`, `episode_length`: the running values
    including this step, and `episode_done`: true where an episode ended, whose return and length are those
    values). Every env family's rule: `ts` is its `TimeStep`."""
    episode_return = stats.episode_return + ts.score
    episode_length = stats.episode_length + steps
    done = ts.game_over
    metrics = {"episode_return": episode_return, "episode_length": episode_length, "episode_done": done}
    return EpisodeStats(jnp.where(done, 0.0, episode_return), jnp.where(done, 0, episode_length)), metrics


def observe(state: LearnerState, replay, obs, actions, ts: TimeStep, next_obs, first=None):
    """Store the transition from `obs` by `actions` to the env's output `ts` (`replay.add_step`, `next_obs` the
    true next observation) and add it to the episode statistics; `first` (`[E]` bool, envs that reset one step
    late): where `ts` is a reset's output, which stores no transition and counts no agent step. Returns (state,
    `track_episodes`' metrics)."""
    episodes, metrics = track_episodes(state.episodes, ts, 1 if first is None else (~first).astype(jnp.int32))
    return state.replace(replay=replay.add_step(state.replay, obs, actions, ts, next_obs, first),
                         episodes=episodes), metrics


class Schedule(NamedTuple):
    """Which vectorized env steps ("iterations") update and copy the target, written once for every loop.

    With `env_steps = iteration * num_envs`: `warmup_iterations` acting-only iterations fill the replay; from then
    on, blocks of `iterations_per_update_block` iterations each end with `updates_per_block` updates, and the
    target is copied after them when the env-step counter crossed a multiple of `target_update_frequency` during
    the block. The gymnax trainer runs it as scans (`copy_due` on its traced counter); the Atari loops, whose
    update comes at the first iteration of the next block (after observing the block's last env step), ask
    `schedule(iteration)` on the host, or `copy_due` inside the XLA loop. `updates_from`: no updates before this
    iteration (a run resumed without its buffer refills it first; a multiple of the block)."""

    config: DQNConfig
    updates_from: int = 0

    @property
    def warmup_iterations(self) -> int:
        return self.config.learning_starts // self.config.num_envs

    @property
    def first_update(self) -> int:
        """The Atari loops' first updating iteration (the gymnax scan's first block ends just before it)."""
        return max(self.warmup_iterations + self.config.iterations_per_update_block, self.updates_from)

    def copy_due(self, env_steps, period=None):
        """Whether the block that ends at `env_steps` copies the target (Python or traced ints; `period`: a traced
        `target_update_frequency` in a grid, default the config's)."""
        c = self.config
        return target_update_due(env_steps, c.steps_per_block, c.target_update_frequency if period is None else period)

    def __call__(self, iteration: int) -> tuple[bool, bool]:
        """(update, copy) for the `iteration`-th vectorized step of an Atari loop."""
        c = self.config
        env_steps = iteration * c.num_envs
        update = iteration >= self.first_update and (env_steps - c.learning_starts) % c.steps_per_block == 0
        return update, update and bool(self.copy_due(env_steps))

    def plan(self, start: int, iterations: int) -> tuple[int, int]:
        """A chunk of `iterations` from `start` (both multiples of the block) as (acting-only iterations,
        blocks): the acting-only iterations come first, then blocks that update on their first iteration."""
        warmup = min(max(self.first_update - start, 0), iterations)
        blocks, rest = divmod(iterations - warmup, self.config.iterations_per_update_block)
        assert not rest and (start + warmup) % self.config.iterations_per_update_block == 0, (start, iterations)
        return warmup, blocks


def replay_update(state: LearnerState, replay, update, env_steps, *, per_beta: float, total_updates: int):
    """One guarded update (`update`: `guard_update(agent.update)`) on a batch sampled from `state.replay`
    (`replay`: `make_replay`'s functions; prioritized replay's importance exponent annealed from `per_beta` to 1
    over `total_updates`); new priorities are written back unless the seed diverged.
    Returns (state, loss, aux) with the loss's aux metrics (without the priorities)."""
    key, sample_key = jax.random.split(state.key)
    beta = per.beta_schedule(state.num_updates, per_beta, max(1, total_updates))
    batch, slots = replay.sample(state.replay, sample_key, beta)
    params, opt_state, loss, aux, diverged_at = update(state.params, state.target_params, state.opt_state, batch,
                                                       state.diverged_at, env_steps)
    priority = aux.pop("priority")
    return state.replace(params=params, opt_state=opt_state, key=key, num_updates=state.num_updates + 1,
                         diverged_at=diverged_at,
                         replay=replay.set_priorities(state.replay, slots, priority, diverged_at < 0)), loss, aux


def copy_target(state: LearnerState, copy) -> LearnerState:
    """The hard target copy: `copy` a Python bool (the copy compiled in or out) or a traced bool (a select)."""
    if isinstance(copy, bool):
        return state.replace(target_params=state.params) if copy else state
    return state.replace(target_params=jax.tree_util.tree_map(lambda t, p: jnp.where(copy, p, t),
                                                              state.target_params, state.params))


class Learner(NamedTuple):
    """One agent's learner for one env's observations, whatever the family (the loops vmap it over agents):

    init(key, net_key, obs, env) -> LearnerState       params from `net_key` on a sample `obs` `[B, *network_obs]`;
                                                         `env`: the family's carry
    observe(state, obs, actions, ts, next_obs, first=None) -> (state, metrics)     `observe` with this replay
    learn(state, env_steps, copy, unroll=0) -> (state, metrics [U])   the block's updates, then the target copy
    act(params, obs, env_steps, key) -> (actions [E], epsilon)        epsilon-greedy by the schedule at `env_steps`

    Each family splits its own keys and orders the calls in its loop: the gymnax scan acts, steps and observes,
    then learns after a block; the Atari loops observe, learn at a block's first iteration, then act."""

    network: Any
    optimizer: Any
    replay: Any  # jaxrl.replay.sampler.Replay
    init: Callable
    observe: Callable
    learn: Callable
    act: Callable


def make_learner(config: DQNConfig, num_actions: int, obs_shape, obs_dtype, *, network_obs_shape=None,
                 hparams: Optional[HParams] = None) -> Learner:
    """The learner of `config` for an env of `num_actions` actions whose observations (one env's) are `obs_shape`
    of `obs_dtype`: the replay follows from them (`make_replay_for`). `network_obs_shape`: what the network sees
    when the family lays observations out differently (envpool's `[4, 84, 84]` as `[84, 84, 4]`); default
    `obs_shape`. `hparams`: one agent's traced hyperparameters (a grid sweep, `jaxrl.runners.grid`); default the
    config's, as constants."""
    hp = hparams_of(config) if hparams is None else hparams
    agent = make_agent(config, num_actions, obs_shape if network_obs_shape is None else network_obs_shape,
                       hparams=hp)
    network, optimizer = agent.network, agent.optimizer
    update = guard_update(agent.update)
    replay = make_replay_for(config, obs_shape, obs_dtype, gamma=hp.gamma)
    epsilon_fn = make_epsilon_schedule(config.epsilon_schedule, hp.egreedy, hp.egreedy_final, hp.egreedy_decay)

    def init(key, net_key, obs, env) -> LearnerState:
        return init_learner_state(network.init(net_key, obs), optimizer, replay, key, config.num_envs, env)

    def observe_step(state: LearnerState, obs, actions, ts: TimeStep, next_obs, first=None):
        return observe(state, replay, obs, actions, ts, next_obs, first)

    def update_once(state: LearnerState, env_steps):
        state, loss, aux = replay_update(state, replay, update, env_steps, per_beta=config.per_beta,
                                         total_updates=config.num_updates)
        return state, {"loss": loss, **aux}

    def learn(state: LearnerState, env_steps, copy=False, unroll: int = 0):
        """`updates_per_block` updates (written out one after another when there are at most `unroll`, else a
        `lax.scan` of fixed length), then the target copy (`copy_target`: a Python bool compiles it in or out, a
        traced one selects). Returns (state, metrics: `loss` and the loss's aux, `[updates_per_block]` each)."""
        n = config.updates_per_block
        if n <= unroll:
            steps = []
            for _ in range(n):
                state, metrics = update_once(state, env_steps)
                steps.append(metrics)
            metrics = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *steps)
        else:
            state, metrics = jax.lax.scan(lambda s, _: update_once(s, env_steps), state, None, length=n)
        return copy_target(state, copy), metrics

    def act_step(params, obs, env_steps, key):
        epsilon = epsilon_fn(env_steps)
        return act(network, params, obs, key, epsilon), epsilon

    return Learner(network, optimizer, replay, init, observe_step, learn, act_step)
