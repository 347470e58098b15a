"""Epsilon schedules (plain Python floats, as in the course) and epsilon-greedy selection."""

from __future__ import annotations

import math

import torch



def exponential_epsilon(steps, start: float, final: float, decay: float) -> float:
    """The course's `calculate_epsilon`: final + (start - final) * exp(-steps / decay)."""
    return final + (start - final) * math.exp(-1.0 * steps / decay)


def linear_epsilon(steps, start: float, final: float, decay: float) -> float:
    return final + (start - final) * min(max((decay - steps) / decay, 0.0), 1.0)


SCHEDULES = {"exponential": exponential_epsilon, "linear": linear_epsilon}


def make_epsilon_schedule(kind: str, start: float, final: float, decay: float):
    """`steps -> eps`: the `kind` schedule from `start` to `final` with `decay` env steps."""
    fn = SCHEDULES[kind]
    return lambda steps: fn(steps, start, final, decay)


def epsilon_greedy(q_values: torch.Tensor, epsilon: float, generator: torch.Generator | None = None):
    """`q_values: [B, A]` -> actions `[B]` (random with probability epsilon, else argmax)."""
    batch, num_actions = q_values.shape
    greedy = q_values.max(1)[1]
    random_actions = torch.randint(num_actions, (batch,), generator=generator, device=q_values.device)
    explore = torch.rand(batch, generator=generator, device=q_values.device) < epsilon
    return torch.where(explore, random_actions, greedy)
