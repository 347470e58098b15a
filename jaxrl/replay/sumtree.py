"""Proportional prioritized replay (Schaul et al. 2016) as a jittable sum-tree over buffer slots.

`SumTree.nodes` is a binary heap of `2 * L` floats (L = capacity rounded up to a power of two): leaf `i` is
`nodes[L + i]` and holds slot i's priority `p_i^alpha`; every inner node is the sum of its two children, so
the root `nodes[1]` is the total. Sampling descends from the root (O(log L)); updating a batch of leaves
recomputes their ancestors level by level (O(K log L)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class SumTree:
    nodes: jnp.ndarray  # [2 * L] float32
    max_priority: jnp.ndarray  # float32: the largest p^alpha seen (new items get it)


def tree_leaves_count(capacity: int) -> int:
    return 1 << max(0, (capacity - 1).bit_length())


def init(capacity: int) -> SumTree:
    if not isinstance(capacity, int) or capacity <= 0:
        raise ValueError(f"per.init capacity={capacity!r}: expected an integer > 0")
    return SumTree(jnp.zeros(2 * tree_leaves_count(capacity), jnp.float32), jnp.float32(1.0))


def total(tree: SumTree):
    return tree.nodes[1]


def leaf_values(tree: SumTree, capacity: int):
    """`[capacity]` stored values p^alpha."""
    n_leaves = tree.nodes.shape[0] // 2
    return tree.nodes[n_leaves:n_leaves + capacity]


def get_values(tree: SumTree, indices):
    """The stored values p^alpha at `indices: [K]`."""
    return tree.nodes[tree.nodes.shape[0] // 2 + indices]


def last_wins(indices, values):
    """`values [K]` with every entry replaced by the value of the last entry with the same index (`indices [K]`),
    so that a scatter of duplicates stores the last value in any order."""
    same = indices[:, None] == indices[None, :]  # [K, K]
    return values[jnp.max(jnp.where(same, jnp.arange(indices.shape[0])[None, :], -1), axis=1)]


def set_values(tree: SumTree, indices, values) -> SumTree:
    """Set the leaves of `indices: [K]` to `values: [K]` (already raised to alpha) and fix the sums. If an index
    repeats, its last value wins: every duplicate is given that value before the scatter, since XLA's scatter
    does not promise an order among duplicate indices."""
    values = last_wins(indices, values)
    n_leaves = tree.nodes.shape[0] // 2
    depth = n_leaves.bit_length() - 1
    nodes = tree.nodes.at[n_leaves + indices].set(values)
    node = n_leaves + indices
    for _ in range(depth):
        node = node // 2
        nodes = nodes.at[node].set(nodes[2 * node] + nodes[2 * node + 1])
    return SumTree(nodes, jnp.maximum(tree.max_priority, jnp.max(values)))


def update_priorities(tree: SumTree, indices, td_errors, *, alpha: float, eps: float = 1e-6) -> SumTree:
    """After an update: priority `(|td_error| + eps)^alpha` for the sampled slots."""
    return set_values(tree, indices, (jnp.abs(td_errors) + eps) ** alpha)


def add_new(tree: SumTree, indices) -> SumTree:
    """Newly written slots get the maximum priority seen so far (so each is replayed at least once likely)."""
    return set_values(tree, indices, jnp.full(indices.shape, tree.max_priority, jnp.float32))


def sample(tree: SumTree, key, batch_size: int):
    """Stratified proportional sampling: `batch_size` slots, slot i with probability `value_i / total`.
    Returns `(indices [B] int32, probabilities [B])`."""
    n_leaves = tree.nodes.shape[0] // 2
    depth = n_leaves.bit_length() - 1
    tot = total(tree)
    u = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) / batch_size * tot
    u = jnp.minimum(u, tot * (1.0 - 1e-7))
    node = jnp.ones(batch_size, jnp.int32)
    for _ in range(depth):
        left = tree.nodes[2 * node]
        go_left = u < left
        u = jnp.where(go_left, u, u - left)
        node = jnp.where(go_left, 2 * node, 2 * node + 1)
    indices = node - n_leaves
    return indices, tree.nodes[node] / tot


def importance_weights(probabilities, size, beta):
    """`w_i = (N P(i))^-beta / max_batch w`: Schaul et al.'s correction, normalised by the batch maximum."""
    w = (size * probabilities) ** (-beta)
    return w / jnp.max(w)


def beta_schedule(step, beta0: float, total_steps: int):
    """beta annealed linearly from beta0 to 1 over `total_steps`."""
    frac = jnp.clip(jnp.asarray(step, jnp.float32) / total_steps, 0.0, 1.0)
    return beta0 + frac * (1.0 - beta0)
