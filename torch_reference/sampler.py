"""The Rainbow replay parts of `jaxrl.replay.sampler`, written plainly over `torch_reference.ring.ReplayBuffer` (or
`torch_reference.frames.FrameBuffer`): a buffer plus uniform or prioritized sampling of one-step or n-step
transitions, the priorities kept inside, same layout and rules.

Layout: filled `num_envs` items per vectorized step, so the next item of an env is `num_envs` slots later. A slot
starts an n-step window once its env's n-1 later items are written (ages `(n-1) E .. size-1`). A slot's priority
is 0 while it does not start a window and becomes the maximum priority seen when it does; `set_priorities` sets
`(|error| + eps)^alpha`. The window is cut at the first terminated or truncated step.
"""

from __future__ import annotations

import numpy as np
import torch

from torch_reference.losses import n_step_targets
from torch_reference.sumtree import SumTree, importance_weights


class Replay:
    def __init__(self, buffer, *, num_envs: int, n_step: int = 1, gamma: float = 0.99, prioritized: bool = False,
                 per_alpha: float = 0.6, per_eps: float = 1e-6):
        self.buffer, self.num_envs, self.n_step, self.gamma = buffer, num_envs, n_step, gamma
        self.per_alpha, self.per_eps = per_alpha, per_eps
        self.tree = SumTree(buffer.capacity) if prioritized else None

    def starts(self) -> np.ndarray:
        """`[capacity]` bool: the slots that start an n-step window."""
        b = self.buffer
        age = (b.position - 1 - np.arange(b.capacity)) % b.capacity
        return (age >= (self.n_step - 1) * self.num_envs) & (age < b.size)

    def add(self, *items) -> None:
        """The buffer's `add` (one vectorized step of `num_envs` items); then the priorities are refreshed."""
        self.buffer.add(*items)
        self._refresh_priorities()

    def _refresh_priorities(self) -> None:
        """The written slots lose what their old items had; then every slot that starts a window and has no
        priority gets the maximum, every other slot 0."""
        if self.tree is None:
            return
        b = self.buffer
        written = (b.position - 1 - np.arange(self.num_envs)) % b.capacity
        self.tree.set_values(written, np.zeros(len(written)))
        starts = self.starts()
        for slot in range(b.capacity):
            current = self.tree.get_values([slot])[0]
            if starts[slot] and current == 0:
                self.tree.set_values([slot], [self.tree.max_priority])
            elif not starts[slot] and current != 0:
                self.tree.set_values([slot], [0.0])

    def gather(self, slots, weight=None) -> dict:
        """The (n-step) transitions starting at `slots`."""
        b, slots = self.buffer, np.asarray(slots)
        batch = b.get(slots)
        if self.n_step > 1:
            window = (slots[:, None] + self.num_envs * np.arange(self.n_step)[None, :]) % b.capacity
            returns, discount, last = n_step_targets(torch.as_tensor(b.data["reward"][window]),
                                                     torch.as_tensor(b.data["terminated"][window].astype(bool)),
                                                     torch.as_tensor(b.data["truncated"][window].astype(bool)),
                                                     self.gamma)
            final = b.get(window[np.arange(len(slots)), last.numpy()])
            batch.update(reward=returns.numpy(), next_obs=final["next_obs"], terminated=final["terminated"],
                         discount=discount.numpy())
            batch.pop("truncated", None)
        if weight is not None:
            batch["weight"] = weight
        return batch

    def sample(self, batch_size: int, rng: np.random.Generator, beta: float = 1.0):
        """-> (batch, slots or None for uniform sampling)."""
        if self.tree is None:
            return self.gather(rng.choice(np.flatnonzero(self.starts()), size=batch_size)), None
        slots, probs = self.tree.sample(batch_size, rng)
        weight = importance_weights(probs, max(int(self.starts().sum()), 1), beta)
        return self.gather(slots, weight.astype(np.float32)), slots

    def set_priorities(self, slots, errors) -> None:
        if self.tree is not None:
            self.tree.update_priorities(slots, errors, self.per_alpha, self.per_eps)


def make_replay(buffer, **kwargs) -> Replay:
    return Replay(buffer, **kwargs)
