"""Proportional prioritized replay's sum-tree, as a plain Python class (Schaul et al. 2016)."""

from __future__ import annotations

import numpy as np


class SumTree:
    """Leaves hold p^alpha for each buffer slot; inner nodes hold sums. `capacity` leaves (any size)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.nodes = np.zeros(2 * capacity, np.float64)  # 1-based heap with leaves at capacity..2*capacity-1
        self.max_priority = 1.0

    def set_values(self, indices, values) -> None:
        """Leaves `indices` get `values` (already raised to alpha), one after another; sums fixed on the way up."""
        for index, value in zip(np.atleast_1d(indices), np.atleast_1d(values)):
            node = int(index) + self.capacity
            self.nodes[node] = value
            node //= 2
            while node >= 1:
                self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]
                node //= 2
            self.max_priority = max(self.max_priority, float(value))

    def get_values(self, indices) -> np.ndarray:
        return self.nodes[np.asarray(indices) + self.capacity]

    def total(self) -> float:
        return float(self.nodes[1])

    def update_priorities(self, indices, td_errors, alpha: float, eps: float = 1e-6) -> None:
        self.set_values(indices, (np.abs(np.asarray(td_errors, np.float64)) + eps) ** alpha)

    def sample(self, batch_size: int, rng: np.random.Generator):
        """Stratified proportional sampling, one descent per draw: `(indices [B], probabilities [B])`."""
        total = self.total()
        indices = np.empty(batch_size, np.int64)
        for b in range(batch_size):
            u = min((b + rng.random()) / batch_size * total, total * (1 - 1e-12))
            node = 1
            while node < self.capacity:
                left = self.nodes[2 * node]
                node, u = (2 * node, u) if u < left else (2 * node + 1, u - left)
            indices[b] = node - self.capacity
        return indices, self.get_values(indices) / total


def importance_weights(probabilities, size: int, beta: float) -> np.ndarray:
    w = (size * np.asarray(probabilities, np.float64)) ** (-beta)
    return w / w.max()
