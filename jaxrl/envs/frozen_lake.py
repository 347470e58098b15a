"""A jittable FrozenLake whose dynamics are Gymnasium's own transition table.

`frozen_lake_tables` reads `gymnasium.envs.toy_text.FrozenLakeEnv(map_name, is_slippery).P` (the map, the
1/3-1/3-1/3 slip probabilities, rewards and terminal flags) into dense arrays; `reset` / `step` sample from them
with JAX. Nothing about the dynamics is re-derived here, so they cannot drift from Gymnasium's.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ACTION_ARROWS = ("←", "↓", "→", "↑")  # Gymnasium: 0 LEFT, 1 DOWN, 2 RIGHT, 3 UP


class FrozenLakeTables(NamedTuple):
    """Dense dynamics: for state s and action a, outcome k has probability `probs[s, a, k]` and leads to
    `next_state[s, a, k]` with `reward[s, a, k]` and `terminated[s, a, k]`. `[S, A, K]` each, K = 3."""

    probs: np.ndarray
    next_state: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    start_state: int
    desc: tuple  # map rows as strings, e.g. ("SFFF", "FHFH", ...)

    @property
    def num_states(self) -> int:
        return self.probs.shape[0]

    @property
    def num_actions(self) -> int:
        return self.probs.shape[1]


def frozen_lake_tables(map_name: str = "4x4", slippery: bool = False) -> FrozenLakeTables:
    """Gymnasium's FrozenLake-v1 dynamics as arrays."""
    from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv

    env = FrozenLakeEnv(map_name=map_name, is_slippery=slippery)
    n_s, n_a, k = env.observation_space.n, env.action_space.n, 3
    probs = np.zeros((n_s, n_a, k), np.float32)
    next_state = np.zeros((n_s, n_a, k), np.int32)
    reward = np.zeros((n_s, n_a, k), np.float32)
    terminated = np.zeros((n_s, n_a, k), bool)
    for s in range(n_s):
        for a in range(n_a):
            for i, (p, s2, r, done) in enumerate(env.P[s][a]):
                probs[s, a, i], next_state[s, a, i], reward[s, a, i], terminated[s, a, i] = p, s2, r, done
    start = int(np.flatnonzero(env.initial_state_distrib)[0])
    desc = tuple(row.tobytes().decode() for row in env.desc)
    return FrozenLakeTables(probs, next_state, reward, terminated, start, desc)


class LakeState(NamedTuple):
    position: jnp.ndarray  # int32 state index
    time: jnp.ndarray  # int32 steps in the current episode


class LakeStep(NamedTuple):
    state: LakeState  # after auto-reset
    next_position: jnp.ndarray  # s' of the transition (before auto-reset)
    reward: jnp.ndarray
    terminated: jnp.ndarray
    truncated: jnp.ndarray


def make_frozen_lake(tables: FrozenLakeTables, max_episode_steps: int = 100):
    """`reset() -> LakeState`, `step(key, state, action) -> LakeStep` (auto-resets after an episode ends)."""
    probs, next_state = jnp.asarray(tables.probs), jnp.asarray(tables.next_state)
    reward, terminated = jnp.asarray(tables.reward), jnp.asarray(tables.terminated)
    start = jnp.int32(tables.start_state)

    def reset() -> LakeState:
        return LakeState(start, jnp.int32(0))

    def step(key, state: LakeState, action) -> LakeStep:
        s = state.position
        k = jax.random.choice(key, probs.shape[-1], p=probs[s, action])
        s2, r, term = next_state[s, action, k], reward[s, action, k], terminated[s, action, k]
        t = state.time + 1
        trunc = jnp.logical_and(t >= max_episode_steps, jnp.logical_not(term))
        done = jnp.logical_or(term, trunc)
        new_state = LakeState(jnp.where(done, start, s2), jnp.where(done, 0, t))
        return LakeStep(new_state, s2, r, term, trunc)

    return reset, step
