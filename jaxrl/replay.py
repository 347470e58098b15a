"""A pure, jittable uniform replay buffer (in the spirit of flashbax's flat buffer).

The state is a frozen pytree; `init / add / sample / can_sample / get` are pure functions. Storage is a
ring: item `i` of the `n`-th add call lands at `(position + i) % capacity`; the oldest items are
overwritten first. Sampling is uniform over the `size` valid slots only.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class BufferState:
    """`data`: the example pytree with a leading `[capacity]` axis; `position`: the next slot to write;
    `size`: valid slots (<= capacity)."""

    data: Any
    position: jnp.ndarray
    size: jnp.ndarray


class Buffer(NamedTuple):
    """The buffer's pure functions (all jittable) and its static settings."""

    init: Callable[[], BufferState]
    add: Callable[[BufferState, Any], BufferState]
    sample: Callable[[BufferState, jax.Array], Any]
    can_sample: Callable[[BufferState], jnp.ndarray]
    get: Callable[[BufferState, jnp.ndarray], Any]
    capacity: int
    sample_batch_size: int


def make_buffer(capacity: int, example: Any, *, sample_batch_size: int = 32, min_size: int = 1) -> Buffer:
    """Build a ring buffer for items shaped like `example` (one transition, no batch axis).

    Args:
      capacity: number of items kept.
      example: a pytree of arrays (or array-likes) giving each field's shape and dtype; uint8 stays uint8.
      sample_batch_size: items returned by `sample`.
      min_size: `can_sample` is true once this many items are stored.

    Raises `ValueError` for bad static arguments, before anything is traced.
    """
    for name, value in (("capacity", capacity), ("sample_batch_size", sample_batch_size),
                        ("min_size", min_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"make_buffer {name}={value!r}: expected an integer > 0")
    if min_size > capacity:
        raise ValueError(f"make_buffer min_size={min_size} must be <= capacity={capacity}")
    leaves = jax.tree_util.tree_leaves(example)
    if not leaves:
        raise ValueError("make_buffer example has no array leaves")
    example = jax.tree_util.tree_map(jnp.asarray, example)

    # bool fields are stored as uint8: XLA:CPU converts a whole PRED operand before gathering from it, which
    # made every sample copy a boolean image buffer (MinAtar: 12 ms per update at 100k transitions).
    stored = lambda dtype: jnp.uint8 if dtype == jnp.bool_ else dtype  # noqa: E731

    def init() -> BufferState:
        data = jax.tree_util.tree_map(lambda x: jnp.zeros((capacity, *x.shape), stored(x.dtype)), example)
        return BufferState(data=data, position=jnp.int32(0), size=jnp.int32(0))

    def add(state: BufferState, batch: Any) -> BufferState:
        """Append a batch: every leaf `[N, *field_shape]`, N <= capacity (N is static)."""
        n = _leading_dim(batch, example)
        if n > capacity:
            raise ValueError(f"buffer add of {n} items exceeds capacity {capacity}")
        idx = (state.position + jnp.arange(n, dtype=jnp.int32)) % capacity
        data = jax.tree_util.tree_map(
            lambda d, b: d.at[idx].set(b.astype(d.dtype), mode="promise_in_bounds", unique_indices=True),
            state.data, batch)
        return BufferState(data=data, position=(state.position + n) % capacity,
                           size=jnp.minimum(state.size + n, capacity))

    def get(state: BufferState, indices) -> Any:
        """Items at storage slots `indices: [K]` -> pytree with leaves `[K, ...]` (the example's dtypes)."""
        return jax.tree_util.tree_map(lambda d, e: d[indices].astype(e.dtype), state.data, example)

    def sample(state: BufferState, key) -> Any:
        """`sample_batch_size` items drawn uniformly, with replacement, from the valid slots."""
        indices = jax.random.randint(key, (sample_batch_size,), 0, jnp.maximum(state.size, 1))
        return get(state, indices)

    def can_sample(state: BufferState):
        return state.size >= min_size

    return Buffer(init, add, sample, can_sample, get, capacity, sample_batch_size)


def _leading_dim(batch, example) -> int:
    dims = set()
    for b, e in zip(jax.tree_util.tree_leaves(batch), jax.tree_util.tree_leaves(example), strict=True):
        if b.shape[1:] != e.shape:
            raise ValueError(f"buffer add: field shape {b.shape[1:]} does not match the example's {e.shape}")
        dims.add(b.shape[0])
    if len(dims) != 1:
        raise ValueError(f"buffer add: leaves disagree on the batch size: {sorted(dims)}")
    return dims.pop()


class Sampler(NamedTuple):
    """How the trainer draws batches from a ring `Buffer` filled `num_envs` items per vectorized step.

    init() -> priorities (a `jaxrl.per.SumTree`, or None for uniform sampling);
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
    from jaxrl import per
    from jaxrl.losses import n_step_targets

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
