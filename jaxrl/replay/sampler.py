"""Replay as flashbax builds it: a buffer (ring or Atari frames) plus how batches are drawn from it, uniform or
prioritized, one-step or n-step (Rainbow's replay parts). The priorities live inside the replay state, so a
prioritized replay is the plain one plus `set_priorities`.

`make_replay_for` picks the buffer from the observation kind (stacked uint8 frames: the frame buffer; anything
else: the ring), and every learner adds through one interface, `add_step`: the transition from `obs` by
`action` to the env's output `ts` (a `jaxrl.envs.timestep.TimeStep`)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class ReplayState:
    """buffer: the buffer's own state (`RingState` or `FrameState`); priorities: a `jaxrl.replay.sumtree.SumTree`
    over the buffer's slots (prioritized replay), else None."""

    buffer: Any
    priorities: Any = None


class Replay(NamedTuple):
    """Pure replay over a buffer filled `num_envs` items per vectorized step (the ring buffer or the Atari frame
    buffer: both have `add`, `get`, `columns`, `starts_at`, `window_starts`, `uniform_starts`, `refresh`).

    init() -> ReplayState;
    add(state, *items) -> state: the buffer's `add` (one vectorized step), then the priorities of the slots
      whose window status changed;
    sample(state, key, beta) -> (batch, slots `[B]`) (slots: None for uniform sampling);
    set_priorities(state, slots, errors, ok) -> state: `(|error| + eps)^alpha` where `ok` (a no-op without
      prioritization);
    add_step(state, obs, action, ts, next_obs, first) -> state: `add` of one env step, whatever the buffer
      (`make_replay_for`; None from `make_replay`).
    """

    init: Callable
    add: Callable
    sample: Callable
    set_priorities: Callable
    buffer: Any
    add_step: Callable | None = None


def make_replay(buffer, *, num_envs: int, n_step: int = 1, gamma=0.99, prioritized: bool = False,
                per_alpha: float = 0.6, per_eps: float = 1e-6) -> Replay:
    """Uniform or prioritized sampling of one-step or n-step transitions (the Rainbow replay parts).

    Layout: the next item of the same env is `num_envs` slots later, so the n consecutive transitions of one env
    from slot `i` are `i, i + E, ..., i + (n-1) E` (mod capacity). A slot can start an n-step window once it is a
    valid transition and the n-1 later items of its env are written (`buffer.starts_at`). The window is cut at
    the first terminated or truncated step (`losses.n_step_targets`); the batch carries the n-step return as
    `reward`, the bootstrap observation as `next_obs` and the bootstrap discount `gamma^m (1 - terminated)` as
    `discount`. Prioritized (Schaul et al., proportional): a slot gets the maximum priority when it becomes a
    valid window start and 0 while it is not one (not yet, or no longer: a frame row whose history was
    overwritten); batches carry importance weights `weight` (beta from the caller).
    """
    from jaxrl.agents.losses import n_step_targets
    from jaxrl.replay import sumtree as per

    capacity, batch_size = buffer.capacity, buffer.sample_batch_size
    if n_step > 1 and capacity % num_envs:
        raise ValueError(f"make_replay: capacity {capacity} must be a multiple of num_envs {num_envs} for n-step")
    buffer.refresh(buffer.init(), n_step, num_envs)  # ValueError for a window the buffer cannot hold

    def init() -> ReplayState:
        return ReplayState(buffer=buffer.init(), priorities=per.init(capacity) if prioritized else None)

    def add(state: ReplayState, *items) -> ReplayState:
        buffer_state = buffer.add(state.buffer, *items)
        priorities = state.priorities
        if priorities is not None:
            slots, fresh = buffer.refresh(buffer_state, n_step, num_envs)
            current = per.get_values(priorities, slots)
            valid = buffer.starts_at(buffer_state, slots, n_step, num_envs)
            values = jnp.where(valid, jnp.where(fresh | (current == 0), priorities.max_priority, current), 0.0)
            priorities = per.set_values(priorities, slots, values.astype(jnp.float32))
        return ReplayState(buffer=buffer_state, priorities=priorities)

    def gather(state, slots, weight):
        if n_step == 1:
            return buffer.get(state, slots)._replace(weight=weight)
        window = (slots[:, None] + num_envs * jnp.arange(n_step)[None, :]) % capacity  # [B, n]
        reward, terminated, truncated = buffer.columns(state)  # as stored: cast what is gathered, not the buffer
        returns, discount, last = n_step_targets(reward[window], terminated[window].astype(bool),
                                                 truncated[window].astype(bool), gamma)
        first = buffer.get(state, slots)
        final = buffer.get(state, jnp.take_along_axis(window, last[:, None], axis=1)[:, 0])
        return first._replace(reward=returns, next_obs=final.next_obs, terminated=final.terminated,
                              truncated=None, discount=discount, weight=weight)

    def sample(state: ReplayState, key, beta=1.0):
        if state.priorities is None:
            if n_step == 1:  # the buffer's own uniform draw
                return buffer.sample(state.buffer, key), None
            return gather(state.buffer, buffer.uniform_starts(state.buffer, key, batch_size, n_step, num_envs),
                          None), None
        slots, probs = per.sample(state.priorities, key, batch_size)
        count = buffer.count_starts(state.buffer, n_step, num_envs)
        weight = per.importance_weights(probs, jnp.maximum(count, 1), beta)
        return gather(state.buffer, slots, weight), slots

    def set_priorities(state: ReplayState, slots, errors, ok=True) -> ReplayState:
        if state.priorities is None:
            return state
        updated = per.update_priorities(state.priorities, slots, errors, alpha=per_alpha, eps=per_eps)
        return state.replace(priorities=jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), updated,
                                                               state.priorities))

    return Replay(init, add, sample, set_priorities, buffer)


def frame_stack_of(obs_shape, obs_dtype) -> int:
    """The stack depth of observations that are stacked frames (uint8 `[stack, H, W]`, envpool's Atari layout),
    else 0."""
    return obs_shape[0] if jnp.dtype(obs_dtype) == jnp.uint8 and len(obs_shape) == 3 else 0


def make_replay_for(config, obs_shape, obs_dtype, gamma=None) -> Replay:
    """The replay of `config` (a `DQNConfig`: buffer size, batch size, n-step, prioritization, replay search) for
    an env whose observations (one env's) are `obs_shape` of `obs_dtype`; `gamma`: default the config's (a
    traced one in a grid sweep). The observation kind picks the buffer:

      stacked frames (`frame_stack_of` > 0)   the frame buffer, one `[H, W]` frame per env step and env; the envs
                                              reset one step late, so `ts.obs` is the true next observation and
                                              `first` marks the reset's output (no transition leads into it);
      anything else                           the ring buffer of `Transition`s; the envs reset inside the step,
                                              so `next_obs` is the true next observation (`ts.obs` is already
                                              the new episode's), and `first` must be None.

    Either way `add_step(state, obs [E, ...], action [E], ts, next_obs [E, ...], first [E] or None)` stores the
    step (the frame buffer reads neither `obs` nor `next_obs`: its rows hold them)."""
    from jaxrl.agents.types import Transition
    from jaxrl.replay.frames import make_frame_buffer
    from jaxrl.replay.ring import make_buffer

    n_step, num_envs = config.n_step, config.num_envs
    stack = frame_stack_of(obs_shape, obs_dtype)
    if stack:
        buffer = make_frame_buffer(config.buffer_size, num_envs, tuple(obs_shape[1:]), stack=stack,
                                   sample_batch_size=config.batch_size, search=config.replay_search)

        def step_items(obs, action, ts, next_obs, first):
            return ts.obs[:, -1], action, ts.reward, ts.terminated, first, ts.truncated
    else:
        example = Transition(obs=jnp.zeros(obs_shape, obs_dtype), action=jnp.int32(0), reward=jnp.float32(0),
                             next_obs=jnp.zeros(obs_shape, obs_dtype), terminated=jnp.bool_(False),
                             truncated=jnp.bool_(False) if n_step > 1 else None)
        buffer = make_buffer(config.buffer_size, example, sample_batch_size=config.batch_size)

        def step_items(obs, action, ts, next_obs, first):
            if first is not None:
                raise ValueError("make_replay_for: the ring buffer stores whole transitions; an env that resets one "
                                 "step late (`first`) needs stacked-frame observations")
            return (Transition(obs, action, ts.reward, next_obs, ts.terminated, ts.truncated if n_step > 1 else None),)

    replay = make_replay(buffer, num_envs=num_envs, n_step=n_step, gamma=config.gamma if gamma is None else gamma,
                         prioritized=config.prioritized, per_alpha=config.per_alpha, per_eps=config.per_eps)
    return replay._replace(add_step=lambda state, *step: replay.add(state, *step_items(*step)))
