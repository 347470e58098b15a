"""Tabular Q-learning's config (FrozenLake): plain data, validated before tracing."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from jaxrl.config.checks import check_type, choice, fail, positive_int
from jaxrl.config.dqn import EPSILON_SCHEDULES

TABULAR_UPDATES = ("deterministic", "stochastic")
FROZEN_LAKE_MAPS = ("4x4", "8x8")


@dataclass(frozen=True)
class TabularConfig:
    """Tabular Q-learning on FrozenLake: one program trains `num_seeds` x len(alphas) x len(gammas) tables."""

    map_name: str = "4x4"
    """FrozenLake map: `4x4` or `8x8` (Gymnasium's maps)."""
    slippery: bool = False
    """Gymnasium's `is_slippery`: the intended move with probability 1/3, each perpendicular one 1/3."""
    update: str = "stochastic"
    """`deterministic`: Q(s,a) = r + gamma max Q(s',.); `stochastic`: Q(s,a) = (1-alpha) Q(s,a) + alpha [target]."""
    alphas: tuple[float, ...] = (0.1, 0.5, 0.9)
    """Learning rates of the grid (ignored by the deterministic update)."""
    gammas: tuple[float, ...] = (0.99,)
    """Discount factors of the grid."""
    num_seeds: int = 64
    """Independent tables per grid point."""
    seed: int = 0
    """Root seed."""
    total_steps: int = 100_000
    """Env steps per table."""
    max_episode_steps: int = 100
    """Truncation, as Gymnasium's `FrozenLake-v1` (100 steps)."""
    egreedy: float = 1.0
    """Initial epsilon."""
    egreedy_final: float = 0.01
    """Final epsilon."""
    egreedy_decay: float = 20_000.0
    """Epsilon decay in env steps (time constant of the exponential schedule, length of the linear one)."""
    epsilon_schedule: str = "exponential"
    """`exponential` (the course's) or `linear`."""
    eval_episodes: int = 1000
    """Gymnasium rollouts per distinct greedy policy to measure its success rate."""

    def replace(self, **changes) -> "TabularConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def grid(self) -> list[tuple[float, float]]:
        """(alpha, gamma) points, alpha-major."""
        return [(a, g) for a in self.alphas for g in self.gammas]

    def validate(self) -> "TabularConfig":
        check_type(self)
        choice(self, "map_name", FROZEN_LAKE_MAPS)
        choice(self, "update", TABULAR_UPDATES)
        choice(self, "epsilon_schedule", EPSILON_SCHEDULES)
        positive_int(self, "num_seeds", "total_steps", "max_episode_steps", "eval_episodes")
        if not 0 <= self.seed < 2**63:
            fail("seed", self.seed, "an integer in [0, 2**63)", "TabularConfig")
        if not self.alphas or any(not 0.0 < a <= 1.0 for a in self.alphas):
            fail("alphas", self.alphas, "a non-empty tuple of values in (0, 1]", "TabularConfig")
        if not self.gammas or any(not 0.0 <= g <= 1.0 for g in self.gammas):
            fail("gammas", self.gammas, "a non-empty tuple of values in [0, 1]", "TabularConfig")
        for name in ("egreedy", "egreedy_final"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                fail(name, getattr(self, name), "[0, 1]", "TabularConfig")
        if self.egreedy_final > self.egreedy:
            fail("egreedy_final", self.egreedy_final, f"<= egreedy ({self.egreedy})", "TabularConfig")
        if not self.egreedy_decay > 0:
            fail("egreedy_decay", self.egreedy_decay, "> 0 (env steps)", "TabularConfig")
        return self
