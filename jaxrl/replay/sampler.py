"""Replay as flashbax builds it: a buffer (ring or Atari frames) plus how batches are drawn from it, uniform or
prioritized, one-step or n-step (Rainbow's replay parts). The priorities live inside the replay state, so a
prioritized replay is the plain one plus `set_priorities`."""

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
      prioritization).
    """

    init: Callable
    add: Callable
    sample: Callable
    set_priorities: Callable
    buffer: Any


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
