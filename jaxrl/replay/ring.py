"""A pure, jittable uniform replay buffer (in the spirit of flashbax's flat buffer).

The state is a frozen pytree; `init / add / sample / can_sample / get` are pure functions. Storage is a
ring: item `i` of the `n`-th add call lands at `(position + i) % capacity`; the oldest items are
overwritten first. Sampling is uniform over the `size` valid slots only.

Filled `stride` items per vectorized step (one per env), the next item of an env is `stride` slots later. For
transitions (`reward`, `terminated`, `truncated` fields) `columns`, `window_starts`, `starts_at`, `uniform_starts`
and `refresh` are what `jaxrl.replay.sampler` needs; the Atari frame buffer has the same ones.
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
    columns: Callable  # state -> (reward, terminated, truncated) as stored, each [capacity] (truncated may be None)
    window_starts: Callable  # (state, n_step, stride) -> [capacity] bool
    starts_at: Callable  # (state, slots [K], n_step, stride) -> [K] bool
    count_starts: Callable  # (state, n_step, stride) -> int32: how many slots start a window
    uniform_starts: Callable  # (state, key, batch, n_step, stride) -> [batch] window-start slots
    refresh: Callable  # (state, n_step, stride) -> (slots [K], fresh [K]): slots whose validity the last add changed
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

    def columns(state: BufferState):
        data = state.data
        return data.reward, data.terminated, getattr(data, "truncated", None)

    def age_of(state: BufferState, slots):
        return (state.position - 1 - slots) % capacity

    def starts_at(state: BufferState, slots, n_step: int, stride: int):
        """An item whose env has its `n_step - 1` later items written: ages `(n-1) stride .. size - 1`."""
        age = age_of(state, slots)
        return (age >= (n_step - 1) * stride) & (age < state.size)

    def window_starts(state: BufferState, n_step: int, stride: int):
        return starts_at(state, jnp.arange(capacity), n_step, stride)

    def count_starts(state: BufferState, n_step: int, stride: int):
        return jnp.maximum(state.size - (n_step - 1) * stride, 0)

    def uniform_starts(state: BufferState, key, batch: int, n_step: int, stride: int):
        lag = (n_step - 1) * stride
        ages = lag + jax.random.randint(key, (batch,), 0, jnp.maximum(state.size - lag, 1))
        return (state.position - 1 - ages) % capacity

    def refresh(state: BufferState, n_step: int, stride: int):
        """After an add of `stride` items: those (fresh) and, for n-step, the items that just got their n-1
        later items (ages `(n-1) stride ..`)."""
        ages = jnp.arange(stride)
        if n_step > 1:
            ages = jnp.concatenate([ages, (n_step - 1) * stride + jnp.arange(stride)])
        return (state.position - 1 - ages) % capacity, ages < stride

    return Buffer(init, add, sample, can_sample, get, columns, window_starts, starts_at, count_starts,
                  uniform_starts, refresh, capacity, sample_batch_size)


def _leading_dim(batch, example) -> int:
    dims = set()
    for b, e in zip(jax.tree_util.tree_leaves(batch), jax.tree_util.tree_leaves(example), strict=True):
        if b.shape[1:] != e.shape:
            raise ValueError(f"buffer add: field shape {b.shape[1:]} does not match the example's {e.shape}")
        dims.add(b.shape[0])
    if len(dims) != 1:
        raise ValueError(f"buffer add: leaves disagree on the batch size: {sorted(dims)}")
    return dims.pop()


