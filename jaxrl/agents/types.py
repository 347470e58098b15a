"""The data the agent pieces pass around: a stored `Transition`, and `HParams`, one agent's traced
hyperparameters (constants from the config, or `[N]` arrays along a grid sweep; see `jaxrl.runners.grid`)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp

from jaxrl.config import DQNConfig


class Transition(NamedTuple):
    """One stored transition (leading axes added by the buffer / batch)."""

    obs: jnp.ndarray  # s_{t-1}
    action: jnp.ndarray  # a_{t-1}, int32
    reward: jnp.ndarray  # r_t, float32
    next_obs: jnp.ndarray  # s_t, the true last observation when the episode ended
    terminated: jnp.ndarray  # bool: s_t is terminal (truncation is not)
    truncated: Any = None  # bool, stored when n_step > 1 (an n-step window is cut there too)
    discount: Any = None  # float32 bootstrap discount of a sampled n-step batch (default gamma * (1 - terminated))
    weight: Any = None  # float32 importance weight of a prioritized sample


class HParams(NamedTuple):
    """The traced hyperparameters of one agent (scalars; `[N]` arrays along a sweep)."""

    learning_rate: object
    gamma: object
    egreedy: object
    egreedy_final: object
    egreedy_decay: object
    target_update_frequency: object


def hparams_of(config: DQNConfig) -> HParams:
    """The config's own values, as Python scalars (constants in the compiled program)."""
    return HParams(*(getattr(config, name) for name in HParams._fields))
