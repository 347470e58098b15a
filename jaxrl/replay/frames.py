"""Memory-efficient Atari replay: each frame stored once, 4-frame stacks rebuilt at sample time.

A naive buffer stores `obs` and `next_obs` as two `[4, 84, 84]` stacks: 56,448 bytes per transition. Here
each env step stores one row per env: the newest 84x84 frame plus the transition that led into it,

    frames     [R, E, H, W] uint8   the newest frame of the observation at this row
    action     [R, E] int32         a_{t-1}, the action that led here
    reward     [R, E] float32       r_t
    terminated [R, E] bool          this row's observation is terminal
    truncated  [R, E] bool          this row's observation is the last of a truncated episode (time limit)
    first      [R, E] bool          this row starts an episode (no transition leads into it)

7,067 bytes per row (7,056 of them pixels), `R = capacity // num_envs` rows per env (the envs of one
agent step in lock-step, so one write position serves them all). The transition at row `k` of env `e` is

    (stack(k - 1), action[k], reward[k], stack(k), terminated[k])      valid iff not first[k]

and `stack(j)` = frames j-3, j-2, j-1, j, where a frame from before the episode's first row is replaced by
the first row's frame: exactly envpool's own stack (a reset fills all 4 slots with the first frame). A row
whose history reaches into overwritten rows is not sampled. Sampling is uniform over
valid transitions. The stack axis is last (`[..., H, W, 4]`, the network's NHWC layout).

Slots: the flat index `slot = row * E + env` (capacity `R * E`) has the ring buffer's layout, where the next item
of the same env is `E` slots later, so `jaxrl.replay.sampler` (n-step windows, prioritized replay) works on it:
`get(state, slots)`, `columns`, `window_starts`, `starts_at`, `uniform_starts` and `refresh` are the protocol.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.types import Transition
from jaxrl.config.dqn import REPLAY_SEARCHES


@struct.dataclass
class FrameBufferState:
    frames: jnp.ndarray  # [R, E, H, W] uint8
    action: jnp.ndarray  # [R, E] int32
    reward: jnp.ndarray  # [R, E] float32
    terminated: jnp.ndarray  # [R, E] bool
    truncated: jnp.ndarray  # [R, E] bool
    first: jnp.ndarray  # [R, E] bool
    position: jnp.ndarray  # int32: the next row to write
    size: jnp.ndarray  # int32: rows written (<= R)


class FrameBuffer(NamedTuple):
    init: Callable[[], FrameBufferState]
    add: Callable  # (state, frame [E,H,W], action [E], reward [E], terminated [E], first [E], truncated=None)
    get: Callable  # (state, slots [K]) -> Transition with obs [K, H, W, stack]; slot = row * E + env
    get_at: Callable  # (state, rows [K], envs [K]) -> the same
    valid_mask: Callable  # state -> [R, E] bool
    sample: Callable  # (state, key) -> Transition with sample_batch_size items
    columns: Callable  # state -> (reward, terminated, truncated) as stored, each [R * E]
    window_starts: Callable  # (state, n_step, stride) -> [R * E] bool: slots that start an n-step window
    starts_at: Callable  # (state, slots [K], n_step, stride) -> [K] bool: the same at some slots
    count_starts: Callable  # (state, n_step, stride) -> int32: how many slots start a window
    uniform_starts: Callable  # (state, key, batch, n_step, stride) -> [batch] window-start slots, uniformly
    refresh: Callable  # (state, n_step, stride) -> (slots [K], fresh [K]): slots whose validity the last add changed
    capacity: int
    rows: int
    num_envs: int
    stack: int
    sample_batch_size: int
    bytes_per_row: int


SEARCH_METHODS = REPLAY_SEARCHES[1:]  # `jnp.searchsorted`'s methods (`DQNConfig.replay_search` adds "auto")


def search_method(backend: str | None = None) -> str:
    """The binary search `make_frame_buffer(search="auto")` draws its uniform samples with on `backend` (default:
    JAX's): a `fori_loop` of log2(capacity) steps on the CPU (jax's default, cheapest there), unrolled
    elsewhere (jax's advice for GPUs: no loop, whose every step would be its own kernels)."""
    return "scan" if (backend or jax.default_backend()) == "cpu" else "scan_unrolled"


def masked_choice(key, mask, batch: int, search: str = "scan"):
    """`jax.random.choice(key, n, (batch,), p=mask / mask.sum())` for a 0/1 float `mask [n]`, bit for bit, with
    `search` as `jnp.searchsorted`'s method (every method finds the same indices). -> `[batch]` int32."""
    p = mask / jnp.maximum(mask.sum(), 1)
    cumulative = jnp.cumsum(p)
    draws = cumulative[-1] * (1 - jax.random.uniform(key, (batch,), dtype=cumulative.dtype))
    return jnp.searchsorted(cumulative, draws, method=search).astype(jnp.int32)


def make_frame_buffer(capacity: int, num_envs: int, frame_shape=(84, 84), *, stack: int = 4,
                      sample_batch_size: int = 32, search: str = "auto") -> FrameBuffer:
    """A frame buffer for `num_envs` lock-step envs holding about `capacity` transitions in all. `search`: how
    uniform samples find their slots ("auto": `search_method()`; or one of `SEARCH_METHODS`), the same slots
    whichever is used.

    Raises `ValueError` on bad static arguments, before anything is traced.
    """
    for name, value in (("capacity", capacity), ("num_envs", num_envs), ("stack", stack),
                        ("sample_batch_size", sample_batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"make_frame_buffer {name}={value!r}: expected an integer > 0")
    search = search_method() if search == "auto" else search
    if search not in SEARCH_METHODS:
        raise ValueError(f"make_frame_buffer search={search!r}: expected 'auto' or one of {', '.join(SEARCH_METHODS)}")
    rows = capacity // num_envs
    if rows < stack + 2:
        raise ValueError(f"make_frame_buffer capacity={capacity} gives {rows} rows per env for {num_envs} envs: "
                         f"expected at least stack + 2 = {stack + 2}")
    height, width = frame_shape
    bytes_per_row = height * width + 4 + 4 + 1 + 1 + 1
    capacity_slots = rows * num_envs

    def init() -> FrameBufferState:
        return FrameBufferState(
            frames=jnp.zeros((rows, num_envs, height, width), jnp.uint8),
            action=jnp.zeros((rows, num_envs), jnp.int32), reward=jnp.zeros((rows, num_envs), jnp.float32),
            terminated=jnp.zeros((rows, num_envs), bool), truncated=jnp.zeros((rows, num_envs), bool),
            first=jnp.ones((rows, num_envs), bool),
            position=jnp.int32(0), size=jnp.int32(0))

    def add(state: FrameBufferState, frame, action, reward, terminated, first, truncated=None) -> FrameBufferState:
        """One row: `frame [E, H, W]` uint8, `action, reward, terminated, first, truncated: [E]`."""
        p = state.position
        truncated = jnp.zeros(num_envs, bool) if truncated is None else truncated
        return state.replace(
            frames=state.frames.at[p].set(frame.astype(jnp.uint8)), action=state.action.at[p].set(action),
            reward=state.reward.at[p].set(reward), terminated=state.terminated.at[p].set(terminated),
            truncated=state.truncated.at[p].set(truncated), first=state.first.at[p].set(first), position=(p + 1) % rows, size=jnp.minimum(state.size + 1, rows))

    def stack_at(state: FrameBufferState, row, env):
        """Observation at `row` for `env` (`[K]` each) -> `[K, H, W, stack]`, oldest frame first."""
        sources = [row]
        for _ in range(stack - 1):
            prev = sources[-1]
            sources.append(jnp.where(state.first[prev, env], prev, (prev - 1) % rows))
        return jnp.stack([state.frames[r, env] for r in reversed(sources)], axis=-1)

    def get_at(state: FrameBufferState, row, env) -> Transition:
        prev = (row - 1) % rows
        return Transition(obs=stack_at(state, prev, env), action=state.action[row, env],
                          reward=state.reward[row, env], next_obs=stack_at(state, row, env),
                          terminated=state.terminated[row, env])

    def get(state: FrameBufferState, slots) -> Transition:
        return get_at(state, slots // num_envs, slots % num_envs)

    def valid_at(state: FrameBufferState, row, env):
        """Can the transition at (`row`, `env`) (any equal shapes) be sampled? Row k needs rows k-1, ..., back to
        its first frame or k-stack, to hold this history: `age(k) + rows walked back <= size - 1` (age 0 = newest
        row)."""
        source, back = (row - 1) % rows, jnp.ones(row.shape, jnp.int32)
        for _ in range(stack - 1):
            move = ~state.first[source, env]
            source, back = jnp.where(move, (source - 1) % rows, source), back + move
        age = (state.position - 1 - row) % rows
        return ~state.first[row, env] & (age + back <= state.size - 1)

    def valid_mask(state: FrameBufferState):
        """`[R, E]`: transitions that can be sampled (`valid_at` everywhere)."""
        return valid_at(state, jnp.broadcast_to(jnp.arange(rows)[:, None], (rows, num_envs)),
                        jnp.broadcast_to(jnp.arange(num_envs)[None, :], (rows, num_envs)))

    def sample(state: FrameBufferState, key) -> Transition:
        return get(state, uniform_starts(state, key, sample_batch_size, 1))

    def columns(state: FrameBufferState):
        return state.reward.reshape(-1), state.terminated.reshape(-1), state.truncated.reshape(-1)

    def starts_at(state: FrameBufferState, slots, n_step: int, stride: int = num_envs):
        """A valid transition whose env has the `n_step - 1` later rows written."""
        row = slots // num_envs
        age = (state.position - 1 - row) % rows
        return valid_at(state, row, slots % num_envs) & (age >= n_step - 1)

    def window_starts(state: FrameBufferState, n_step: int, stride: int = num_envs):
        return starts_at(state, jnp.arange(capacity_slots), n_step, stride)

    def count_starts(state: FrameBufferState, n_step: int, stride: int = num_envs):
        return jnp.sum(window_starts(state, n_step))

    def uniform_starts(state: FrameBufferState, key, batch: int, n_step: int, stride: int = num_envs):
        return masked_choice(key, window_starts(state, n_step).astype(jnp.float32), batch, search)

    def refresh(state: FrameBufferState, n_step: int, stride: int = num_envs):
        """After an add of row p: its slots (fresh), the rows after it whose stacks may have reached into the
        overwritten row (p+1 .. p+stack), and the row that just got its n-1 later rows (p-(n-1))."""
        if n_step - 1 >= rows - stack:
            raise ValueError(f"n_step={n_step} needs more than stack + n_step = {stack + n_step} rows per env, "
                             f"this frame buffer has {rows}")
        offsets = sorted({0, *range(1, stack + 1), -(n_step - 1)})
        row = (state.position - 1 + jnp.asarray(offsets, jnp.int32)[:, None]) % rows  # [O, 1]
        slots = (row * num_envs + jnp.arange(num_envs, dtype=jnp.int32)[None, :]).reshape(-1)
        fresh = jnp.broadcast_to(jnp.asarray([o == 0 for o in offsets])[:, None], row.shape[:1] + (num_envs,))
        return slots, fresh.reshape(-1)

    return FrameBuffer(init, add, get, get_at, valid_mask, sample, columns, window_starts, starts_at,
                       count_starts, uniform_starts, refresh, capacity_slots, rows, num_envs, stack, sample_batch_size,
                       bytes_per_row)
