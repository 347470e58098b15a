"""Tabular Q-learning's update rules (the course's first half): pure functions on a `[S, A]` table.

  deterministic update (the course's first agent):  Q(s,a) = r + gamma * max_a' Q(s',a')
  stochastic TD update:                              Q(s,a) = (1 - alpha) Q(s,a) + alpha [r + gamma max_a' Q(s',a')]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def q_update(q, s, a, r, s_next, terminated, alpha, gamma, *, deterministic: bool):
    """One Q-table update. `q: [S, A]`; `s, a, s_next`: int scalars; `r`: float; `terminated`: bool.

    Returns the new table (only `q[s, a]` changes)."""
    target = r + gamma * (1.0 - terminated.astype(q.dtype)) * jnp.max(q[s_next])
    new = target if deterministic else (1.0 - alpha) * q[s, a] + alpha * target
    return q.at[s, a].set(new)


def greedy_action(key, q_row):
    """argmax with ties broken uniformly at random. `q_row: [A]`."""
    noise = jax.random.uniform(key, q_row.shape)
    return jnp.argmax(jnp.where(q_row == jnp.max(q_row), noise, -1.0)).astype(jnp.int32)
