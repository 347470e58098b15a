"""How batches are drawn from a ring buffer: uniform or prioritized, one-step or n-step (Rainbow's replay parts)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.replay.ring import Buffer, BufferState


class Sampler(NamedTuple):
    """How the trainer draws batches from a ring `Buffer` filled `num_envs` items per vectorized step.

    init() -> priorities (a `jaxrl.replay.sumtree.SumTree`, or None for uniform sampling);
    after_add(priorities, buffer_state) -> priorities: call after every `buffer.add` of `num_envs` items;
    sample(buffer_state, priorities, key, beta) -> (batch, slots `[B]`);
    reprioritize(priorities, slots, errors, ok) -> priorities (unchanged where `ok` is false).
    """

    init: Callable
    after_add: Callable
    sample: Callable
    reprioritize: Callable


def make_sampler(buffer: Buffer, *, num_envs: int, n_step: int = 1, gamma=0.99, prioritized: bool = False,
                 per_alpha: float = 0.6, per_eps: float = 1e-6) -> Sampler:
    """Uniform or prioritized sampling of one-step or n-step transitions (the Rainbow replay parts).

    Layout: item `e` of every add lands `num_envs` slots after the previous item of the same env, so the n
    consecutive transitions of one env from slot `i` are `i, i + E, ..., i + (n-1) E` (mod capacity). A slot
    can start an n-step window once the n-1 later items of its env are written: ages (0 = newest item)
    `(n-1) E .. size-1`. The window is cut at the first terminated or truncated step (`losses.n_step_targets`);
    the batch carries the n-step return as `reward`, the bootstrap observation as `next_obs` and the bootstrap
    discount `gamma^m (1 - terminated)` as `discount`. Prioritized (Schaul et al., proportional): a slot gets
    the maximum priority when it becomes a valid window start and 0 before; batches carry importance weights
    `weight` (beta from the caller); `reprioritize` sets `(|error| + eps)^alpha`.
    """
    from jaxrl.replay import sumtree as per
    from jaxrl.agents.losses import n_step_targets

    capacity, batch_size = buffer.capacity, buffer.sample_batch_size
    if n_step > 1 and capacity % num_envs:
        raise ValueError(f"make_sampler: capacity {capacity} must be a multiple of num_envs {num_envs} for n-step")
    lag = (n_step - 1) * num_envs  # items newer than a valid window start

    def valid_count(state: BufferState):
        return jnp.maximum(state.size - lag, 0)

    def slot_of_age(state: BufferState, age):
        return (state.position - 1 - age) % capacity

    def init():
        return per.init(capacity) if prioritized else None

    def after_add(priorities, state: BufferState):
        if priorities is None:
            return None
        newest = slot_of_age(state, jnp.arange(num_envs))
        priorities = per.set_values(priorities, newest, jnp.zeros(num_envs, jnp.float32))
        ages = lag + jnp.arange(num_envs)
        became = slot_of_age(state, ages)
        values = jnp.where(ages < state.size, priorities.max_priority, 0.0)
        return per.set_values(priorities, became, values.astype(jnp.float32))

    def gather(state: BufferState, slots, weight):
        if n_step == 1:
            return buffer.get(state, slots)._replace(weight=weight)
        window = (slots[:, None] + num_envs * jnp.arange(n_step)[None, :]) % capacity  # [B, n]
        data = state.data  # flags stored as uint8: cast what is gathered, not the whole buffer
        returns, discount, last = n_step_targets(data.reward[window], data.terminated[window].astype(bool),
                                                 data.truncated[window].astype(bool), gamma)
        first = buffer.get(state, slots)
        final = buffer.get(state, jnp.take_along_axis(window, last[:, None], axis=1)[:, 0])
        return first._replace(reward=returns, next_obs=final.next_obs, terminated=final.terminated,
                              truncated=None, discount=discount, weight=weight)

    def sample(state: BufferState, priorities, key, beta=1.0):
        if priorities is None:
            if n_step == 1:  # the plain buffer's own uniform draw
                return buffer.sample(state, key), None
            ages = lag + jax.random.randint(key, (batch_size,), 0, jnp.maximum(valid_count(state), 1))
            return gather(state, slot_of_age(state, ages), None), None
        slots, probs = per.sample(priorities, key, batch_size)
        weight = per.importance_weights(probs, jnp.maximum(valid_count(state), 1), beta)
        return gather(state, slots, weight), slots

    def reprioritize(priorities, slots, errors, ok):
        if priorities is None:
            return None
        updated = per.update_priorities(priorities, slots, errors, alpha=per_alpha, eps=per_eps)
        return jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), updated, priorities)

    return Sampler(init, after_add, sample, reprioritize)
