"""Proportional prioritized replay's sum-tree, as a plain Python class (Schaul et al. 2016)."""

from __future__ import annotations

import numpy as np


class SumTree:
    """Leaves hold p^alpha for each buffer slot; inner nodes hold sums. `capacity` leaves (any size)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.nodes = np.zeros(2 * capacity, np.float64)  # 1-based heap with leaves at capacity..2*capacity-1
        self.max_priority = 1.0

    def set(self, index: int, value: float) -> None:
        node = index + self.capacity
        self.nodes[node] = value
        node //= 2
        while node >= 1:
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]
            node //= 2
        self.max_priority = max(self.max_priority, value)

    def total(self) -> float:
        return float(self.nodes[1])

    def update_priorities(self, indices, td_errors, alpha: float, eps: float = 1e-6) -> None:
        for i, e in zip(indices, td_errors):
            self.set(int(i), (abs(float(e)) + eps) ** alpha)


def importance_weights(probabilities, size: int, beta: float) -> np.ndarray:
    w = (size * np.asarray(probabilities, np.float64)) ** (-beta)
    return w / w.max()
