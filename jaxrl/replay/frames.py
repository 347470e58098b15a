"""Memory-efficient Atari replay: each frame stored once, 4-frame stacks rebuilt at sample time.

A naive buffer stores `obs` and `next_obs` as two `[4, 84, 84]` stacks: 56,448 bytes per transition. Here
each env step stores one row per env: the newest 84x84 frame plus the transition that led into it,

    frames     [R, E, H, W] uint8   the newest frame of the observation at this row
    action     [R, E] int32         a_{t-1}, the action that led here
    reward     [R, E] float32       r_t
    terminated [R, E] bool          this row's observation is terminal
    first      [R, E] bool          this row starts an episode (no transition leads into it)

7,066 bytes per row (7,056 of them pixels), `R = capacity // num_envs` rows per env (the envs of one
agent step in lock-step, so one write position serves them all). The transition at row `k` of env `e` is

    (stack(k - 1), action[k], reward[k], stack(k), terminated[k])      valid iff not first[k]

and `stack(j)` = frames j-3, j-2, j-1, j, where a frame from before the episode's first row is replaced by
the first row's frame: exactly envpool's own stack (a reset fills all 4 slots with the first frame). A row
whose history reaches into overwritten rows is not sampled. Sampling is uniform over
valid transitions. The stack axis is last (`[..., H, W, 4]`, the network's NHWC layout).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.types import Transition


@struct.dataclass
class FrameBufferState:
    frames: jnp.ndarray  # [R, E, H, W] uint8
    action: jnp.ndarray  # [R, E] int32
    reward: jnp.ndarray  # [R, E] float32
    terminated: jnp.ndarray  # [R, E] bool
    first: jnp.ndarray  # [R, E] bool
    position: jnp.ndarray  # int32: the next row to write
    size: jnp.ndarray  # int32: rows written (<= R)


class FrameBuffer(NamedTuple):
    init: Callable[[], FrameBufferState]
    add: Callable  # (state, frame [E,H,W], action [E], reward [E], terminated [E], first [E]) -> state
    get: Callable  # (state, rows [K], envs [K]) -> Transition with obs [K, H, W, stack]
    valid_mask: Callable  # state -> [R, E] bool
    sample: Callable  # (state, key) -> Transition with sample_batch_size items
    rows: int
    num_envs: int
    stack: int
    sample_batch_size: int
    bytes_per_row: int


def make_frame_buffer(capacity: int, num_envs: int, frame_shape=(84, 84), *, stack: int = 4,
                      sample_batch_size: int = 32) -> FrameBuffer:
    """A frame buffer for `num_envs` lock-step envs holding about `capacity` transitions in all.

    Raises `ValueError` on bad static arguments, before anything is traced.
    """
    for name, value in (("capacity", capacity), ("num_envs", num_envs), ("stack", stack),
                        ("sample_batch_size", sample_batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"make_frame_buffer {name}={value!r}: expected an integer > 0")
    rows = capacity // num_envs
    if rows < stack + 2:
        raise ValueError(f"make_frame_buffer capacity={capacity} gives {rows} rows per env for {num_envs} envs: "
                         f"expected at least stack + 2 = {stack + 2}")
    height, width = frame_shape
    bytes_per_row = height * width + 4 + 4 + 1 + 1

    def init() -> FrameBufferState:
        return FrameBufferState(
            frames=jnp.zeros((rows, num_envs, height, width), jnp.uint8),
            action=jnp.zeros((rows, num_envs), jnp.int32), reward=jnp.zeros((rows, num_envs), jnp.float32),
            terminated=jnp.zeros((rows, num_envs), bool), first=jnp.ones((rows, num_envs), bool),
            position=jnp.int32(0), size=jnp.int32(0))

    def add(state: FrameBufferState, frame, action, reward, terminated, first) -> FrameBufferState:
        """One row: `frame [E, H, W]` uint8, `action, reward, terminated, first: [E]`."""
        p = state.position
        return state.replace(
            frames=state.frames.at[p].set(frame.astype(jnp.uint8)), action=state.action.at[p].set(action),
            reward=state.reward.at[p].set(reward), terminated=state.terminated.at[p].set(terminated),
            first=state.first.at[p].set(first), position=(p + 1) % rows, size=jnp.minimum(state.size + 1, rows))

    def stack_at(state: FrameBufferState, row, env):
        """Observation at `row` for `env` (`[K]` each) -> `[K, H, W, stack]`, oldest frame first."""
        sources = [row]
        for _ in range(stack - 1):
            prev = sources[-1]
            sources.append(jnp.where(state.first[prev, env], prev, (prev - 1) % rows))
        return jnp.stack([state.frames[r, env] for r in reversed(sources)], axis=-1)

    def get(state: FrameBufferState, row, env) -> Transition:
        prev = (row - 1) % rows
        return Transition(obs=stack_at(state, prev, env), action=state.action[row, env],
                          reward=state.reward[row, env], next_obs=stack_at(state, row, env),
                          terminated=state.terminated[row, env])

    def valid_mask(state: FrameBufferState):
        """`[R, E]`: transitions that can be sampled. Row k needs rows k-1, ..., back to its first frame or
        k-stack, to hold this history: `age(k) + rows walked back <= size - 1` (age 0 = newest row)."""
        row = jnp.broadcast_to(jnp.arange(rows)[:, None], (rows, num_envs))
        env = jnp.broadcast_to(jnp.arange(num_envs)[None, :], (rows, num_envs))
        source, back = (row - 1) % rows, jnp.ones((rows, num_envs), jnp.int32)
        for _ in range(stack - 1):
            move = ~state.first[source, env]
            source, back = jnp.where(move, (source - 1) % rows, source), back + move
        age = (state.position - 1 - row) % rows
        return ~state.first & (age + back <= state.size - 1)

    def sample(state: FrameBufferState, key) -> Transition:
        mask = valid_mask(state).reshape(-1).astype(jnp.float32)
        flat = jax.random.choice(key, rows * num_envs, (sample_batch_size,), p=mask / jnp.maximum(mask.sum(), 1))
        return get(state, flat // num_envs, flat % num_envs)

    return FrameBuffer(init, add, get, valid_mask, sample, rows, num_envs, stack, sample_batch_size,
                       bytes_per_row)
