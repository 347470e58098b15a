"""A ring replay buffer on preallocated numpy arrays (the course's ExperienceReplay, vectorized)."""

from __future__ import annotations

import numpy as np


class ReplayBuffer:
    """Fields shaped like `example` (a dict of arrays, one transition); item `i` of each add lands at
    `(position + i) % capacity`, oldest first overwritten; sampling is uniform over the valid slots."""

    def __init__(self, capacity: int, example: dict):
        if capacity <= 0:
            raise ValueError(f"ReplayBuffer capacity={capacity}: expected > 0")
        self.capacity = capacity
        self.data = {k: np.zeros((capacity, *np.shape(v)), np.asarray(v).dtype) for k, v in example.items()}
        self.position = 0
        self.size = 0

    def add(self, batch: dict) -> None:
        n = len(next(iter(batch.values())))
        idx = (self.position + np.arange(n)) % self.capacity
        for k, v in batch.items():
            self.data[k][idx] = v
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def get(self, indices) -> dict:
        return {k: v[indices] for k, v in self.data.items()}

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict:
        return self.get(rng.integers(0, self.size, size=batch_size))

    def __len__(self) -> int:
        return self.size


def make_buffer(capacity: int, example: dict) -> ReplayBuffer:
    return ReplayBuffer(capacity, example)
