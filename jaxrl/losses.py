"""DQN targets and TD losses, as pure functions (documented in the style of rlax).

Time-indexed names: `q_tm1` are Q-values at s_{t-1} (the state acted in), `a_tm1` the action taken,
`r_t` the reward received, `discount_t = gamma * (1 - terminated_t)` (truncation is *not* termination:
a truncated transition keeps its discount and bootstraps from the true last observation), and `q_t`
Q-values at s_t.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

LOSS_KINDS = ("huber", "mse")


def dqn_targets(r_t, discount_t, q_t_target, q_t_online=None, *, double=False):
    """One-step Q-learning targets (Mnih et al. 2015), or Double DQN targets (van Hasselt et al. 2016).

      vanilla: y = r_t + discount_t * max_a q_t_target[a]
      double:  y = r_t + discount_t * q_t_target[argmax_a q_t_online[a]]

    Args:
      r_t: rewards `[B]`.
      discount_t: `gamma * (1 - terminated_t)`, `[B]`.
      q_t_target: target-network Q-values at s_t, `[B, A]`.
      q_t_online: online-network Q-values at s_t, `[B, A]`; required when `double=True`.
      double: use Double DQN action selection.

    Returns:
      targets `[B]`, with gradients stopped.
    """
    chex.assert_rank([r_t, discount_t, q_t_target], [1, 1, 2])
    if double:
        if q_t_online is None:
            raise ValueError("dqn_targets(double=True) needs q_t_online")
        chex.assert_equal_shape([q_t_online, q_t_target])
        a_t = jnp.argmax(q_t_online, axis=-1)
        v_t = jnp.take_along_axis(q_t_target, a_t[:, None], axis=-1)[:, 0]
    else:
        v_t = jnp.max(q_t_target, axis=-1)
    return jax.lax.stop_gradient(r_t + discount_t * v_t)


def huber(x, delta: float = 1.0):
    """Elementwise Huber loss, equal to `torch.nn.SmoothL1Loss(beta=1)` for delta=1."""
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    return 0.5 * quadratic**2 + delta * (abs_x - quadratic)


def td_loss(q_tm1, a_tm1, targets, *, kind: str = "huber"):
    """Mean TD loss over the batch.

      loss = mean_b L(targets_b - q_tm1[b, a_tm1[b]])
      huber: L(x) = 0.5 x^2 if |x| <= 1 else |x| - 0.5   (torch.nn.SmoothL1Loss)
      mse:   L(x) = x^2                                   (torch.nn.MSELoss)

    Args:
      q_tm1: Q-values at s_{t-1}, `[B, A]`.
      a_tm1: actions taken, integer `[B]`.
      targets: `[B]`, e.g. from `dqn_targets`.
      kind: "huber" or "mse".

    Returns:
      scalar loss.
    """
    chex.assert_rank([q_tm1, a_tm1, targets], [2, 1, 1])
    chex.assert_type(a_tm1, int)
    if kind not in LOSS_KINDS:
        raise ValueError(f"td_loss kind={kind!r}: expected one of {LOSS_KINDS}")
    q_a = jnp.take_along_axis(q_tm1, a_tm1[:, None].astype(jnp.int32), axis=-1)[:, 0]
    error = targets - q_a
    per_example = huber(error) if kind == "huber" else jnp.square(error)
    return jnp.mean(per_example)
