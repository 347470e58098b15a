"""The frame-per-row Atari replay of `jaxrl.replay.frames`, on numpy arrays (same rows, same rebuild rule).

Row `k` of env `e` holds the newest frame of the observation there, the action and reward that led to it,
whether it is terminal, and whether it starts an episode. The transition at row `k` is
`(stack(k-1), action[k], reward[k], stack(k), terminated[k])`, valid iff not `first[k]` and the rows it
reaches back to still hold this history; `stack(j)` repeats an episode's first frame in place of frames before it, as
envpool's own stack does. Stacks come out `[K, 4, H, W]` (NCHW, envpool's layout).
"""

from __future__ import annotations

import numpy as np


class FrameBuffer:
    def __init__(self, capacity: int, num_envs: int, frame_shape=(84, 84), stack: int = 4):
        self.rows = capacity // num_envs
        if self.rows < stack + 2:
            raise ValueError(f"FrameBuffer capacity={capacity}: {self.rows} rows per env < stack + 2")
        self.num_envs, self.stack = num_envs, stack
        self.frames = np.zeros((self.rows, num_envs, *frame_shape), np.uint8)
        self.action = np.zeros((self.rows, num_envs), np.int64)
        self.reward = np.zeros((self.rows, num_envs), np.float32)
        self.terminated = np.zeros((self.rows, num_envs), bool)
        self.truncated = np.zeros((self.rows, num_envs), bool)
        self.first = np.ones((self.rows, num_envs), bool)
        self.position = 0
        self.size = 0

    def add(self, frame, action, reward, terminated, first, truncated=None) -> None:
        p = self.position
        self.frames[p], self.action[p], self.reward[p] = frame, action, reward
        self.terminated[p], self.first[p] = terminated, first
        self.truncated[p] = False if truncated is None else truncated
        self.position = (p + 1) % self.rows
        self.size = min(self.size + 1, self.rows)

    def stack_at(self, row, env):
        sources = [np.asarray(row)]
        for _ in range(self.stack - 1):
            prev = sources[-1]
            sources.append(np.where(self.first[prev, env], prev, (prev - 1) % self.rows))
        return np.stack([self.frames[r, env] for r in reversed(sources)], axis=1)

    def get(self, slots) -> dict:
        """Transitions at flat slots `row * num_envs + env`."""
        slots = np.asarray(slots)
        return self.get_at(slots // self.num_envs, slots % self.num_envs)

    def get_at(self, row, env) -> dict:
        row, env = np.asarray(row), np.asarray(env)
        return {"obs": self.stack_at((row - 1) % self.rows, env), "action": self.action[row, env],
                "reward": self.reward[row, env], "next_obs": self.stack_at(row, env),
                "terminated": self.terminated[row, env]}

    def valid_mask(self) -> np.ndarray:
        row = np.broadcast_to(np.arange(self.rows)[:, None], self.first.shape)
        env = np.broadcast_to(np.arange(self.num_envs)[None, :], self.first.shape)
        source, back = (row - 1) % self.rows, np.ones(self.first.shape, np.int64)
        for _ in range(self.stack - 1):
            move = ~self.first[source, env]
            source, back = np.where(move, (source - 1) % self.rows, source), back + move
        age = (self.position - 1 - row) % self.rows
        return ~self.first & (age + back <= self.size - 1)

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict:
        return self.get(rng.choice(np.flatnonzero(self.valid_mask()), size=batch_size))
