"""Epsilon schedules and epsilon-greedy action selection."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp



def exponential_epsilon(steps, start: float, final: float, decay: float):
    """The course's schedule: `eps = final + (start - final) * exp(-steps / decay)`; `steps` in env steps."""
    return final + (start - final) * jnp.exp(-jnp.asarray(steps, jnp.float32) / decay)


def linear_epsilon(steps, start: float, final: float, decay: float):
    """Straight line from `start` (steps=0) to `final` (steps=decay), then constant. Written as
    `final + (start - final) * (decay - steps) / decay`: `decay - steps` is exact in float32 for integer step
    counts, so epsilon keeps full relative precision near `final` (no cancellation in `1 - steps / decay`)."""
    remaining = jnp.clip((decay - jnp.asarray(steps, jnp.float32)) / decay, 0.0, 1.0)
    return final + (start - final) * remaining


SCHEDULES = {"exponential": exponential_epsilon, "linear": linear_epsilon}


def make_epsilon_schedule(kind: str, start, final, decay) -> Callable:
    """`steps -> eps`: the `kind` schedule (`SCHEDULES`: a config's `epsilon_schedule`) from `start` to `final`
    with `decay` env steps (a config's `egreedy`, `egreedy_final`, `egreedy_decay`; traced values in a grid)."""
    fn = SCHEDULES[kind]
    return lambda steps: fn(steps, start, final, decay)


def epsilon_greedy(key, q_values, epsilon):
    """Per row: a uniformly random action with probability `epsilon`, else `argmax q`.

    `q_values: [B, A]`, `epsilon: []` -> actions `[B]` int32.
    """
    explore_key, action_key = jax.random.split(key)
    batch, num_actions = q_values.shape
    greedy = jnp.argmax(q_values, axis=-1).astype(jnp.int32)
    random_actions = jax.random.randint(action_key, (batch,), 0, num_actions, dtype=jnp.int32)
    explore = jax.random.uniform(explore_key, (batch,)) < epsilon
    return jnp.where(explore, random_actions, greedy)
