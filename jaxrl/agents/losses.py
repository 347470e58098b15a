"""DQN targets and TD losses, as pure functions (documented in the style of rlax): one function per target.

Time-indexed names: `q_tm1` are Q-values at s_{t-1} (the state acted in), `a_tm1` the action taken,
`r_t` the reward received, `discount_t = gamma * (1 - terminated_t)` (truncation is *not* termination:
a truncated transition keeps its discount and bootstraps from the true last observation), and `q_t`
Q-values at s_t.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from jaxrl.agents.networks import support

LOSS_KINDS = ("huber", "mse")


class LossOutput(NamedTuple):
    """What every loss variant returns (`td_loss`, `categorical_td_loss`), so the agent does not branch on it."""

    loss: jnp.ndarray  # []: the mean over the batch, weighted by the importance weights when given
    priority: jnp.ndarray  # [B]: what prioritized replay stores per transition (|TD error|, or C51's cross-entropy)


def q_learning_targets(r_t, discount_t, q_t):
    """One-step Q-learning targets (Watkins 1989; DQN, Mnih et al. 2015), from the target network.

      y = r_t + discount_t * max_a q_t[a]

    Args:
      r_t: rewards `[B]`.
      discount_t: `gamma * (1 - terminated_t)` (or an n-step bootstrap discount), `[B]`.
      q_t: target-network Q-values at s_t, `[B, A]`.

    Returns:
      targets `[B]`, with gradients stopped.
    """
    chex.assert_rank([r_t, discount_t, q_t], [1, 1, 2])
    return jax.lax.stop_gradient(r_t + discount_t * jnp.max(q_t, axis=-1))


def double_q_learning_targets(r_t, discount_t, q_t_value, q_t_selector):
    """Double Q-learning targets (van Hasselt et al. 2016): the online network picks the action, the target
    network values it.

      y = r_t + discount_t * q_t_value[argmax_a q_t_selector[a]]

    Args:
      r_t, discount_t: `[B]`.
      q_t_value: target-network Q-values at s_t, `[B, A]`.
      q_t_selector: online-network Q-values at s_t, `[B, A]`.

    Returns:
      targets `[B]`, with gradients stopped.
    """
    chex.assert_rank([r_t, discount_t, q_t_value, q_t_selector], [1, 1, 2, 2])
    chex.assert_equal_shape([q_t_value, q_t_selector])
    a_t = jnp.argmax(q_t_selector, axis=-1)
    v_t = jnp.take_along_axis(q_t_value, a_t[:, None], axis=-1)[:, 0]
    return jax.lax.stop_gradient(r_t + discount_t * v_t)


def huber(x, delta: float = 1.0):
    """Elementwise Huber loss, equal to `torch.nn.SmoothL1Loss(beta=1)` for delta=1."""
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    return 0.5 * quadratic**2 + delta * (abs_x - quadratic)


def td_error(q_tm1, a_tm1, targets):
    """TD errors `targets - q_tm1[a_tm1]`, `[B]` (the priorities of prioritized replay are their magnitudes).

    Args:
      q_tm1: Q-values at s_{t-1}, `[B, A]`; a_tm1: actions taken, integer `[B]`; targets: `[B]`.
    """
    chex.assert_rank([q_tm1, a_tm1, targets], [2, 1, 1])
    chex.assert_type(a_tm1, int)
    return targets - jnp.take_along_axis(q_tm1, a_tm1[:, None].astype(jnp.int32), axis=-1)[:, 0]


def td_loss(q_tm1, a_tm1, targets, *, kind: str = "huber", weights=None) -> LossOutput:
    """TD loss: the mean over the batch (weighted by importance weights `weights: [B]` if given), and each
    transition's |TD error| as its priority.

      loss = mean_b w_b L(targets_b - q_tm1[b, a_tm1[b]])
      huber: L(x) = 0.5 x^2 if |x| <= 1 else |x| - 0.5   (torch.nn.SmoothL1Loss)
      mse:   L(x) = x^2                                   (torch.nn.MSELoss)

    Args:
      q_tm1: Q-values at s_{t-1}, `[B, A]`.
      a_tm1: actions taken, integer `[B]`.
      targets: `[B]`, e.g. from `q_learning_targets` or `double_q_learning_targets`.
      kind: "huber" or "mse".
      weights: optional importance weights `[B]` (prioritized replay).

    Returns:
      `LossOutput(loss [], priority [B] = |TD error|)`.
    """
    if kind not in LOSS_KINDS:
        raise ValueError(f"td_loss kind={kind!r}: expected one of {LOSS_KINDS}")
    error = td_error(q_tm1, a_tm1, targets)
    per_example = huber(error) if kind == "huber" else jnp.square(error)
    return LossOutput(_weighted_mean(per_example, weights), jnp.abs(error))


def _weighted_mean(per_example, weights):
    return jnp.mean(per_example) if weights is None else jnp.mean(weights * per_example)


def n_step_targets(r_t, terminated_t, truncated_t, gamma: float):
    """n-step returns of sampled transitions, cut at the end of an episode (Sutton 1988; Hessel et al. 2018).

    For steps k = 0..n-1 of the *same* environment starting at the sampled transition:
      m = n, or 1 + the first k at which the episode ended (terminated or truncated);
      G = sum_{k<m} gamma^k r_{t+k};   bootstrap discount = gamma^m (1 - terminated_{t+m-1});
      the bootstrap observation is the `next_obs` of step m-1 (the true last observation after a truncation).
    The n-step target is then `G + discount * v(next_obs_{m-1})`.

    Args:
      r_t, terminated_t, truncated_t: `[B, n]`.
      gamma: discount factor.

    Returns:
      (returns `[B]`, bootstrap_discount `[B]`, last `[B]` int32 = m - 1).
    """
    chex.assert_rank([r_t, terminated_t, truncated_t], 2)
    n = r_t.shape[1]
    done = jnp.logical_or(terminated_t, truncated_t).astype(jnp.int32)
    ended_before = (jnp.cumsum(done, axis=1) - done) > 0  # an earlier step of the window ended the episode
    mask = (~ended_before).astype(r_t.dtype)
    powers = gamma ** jnp.arange(n, dtype=r_t.dtype)
    returns = jnp.sum(mask * powers[None, :] * r_t, axis=1)
    m = jnp.sum(mask, axis=1).astype(jnp.int32)
    last = m - 1
    terminated_last = jnp.take_along_axis(terminated_t, last[:, None], axis=1)[:, 0].astype(r_t.dtype)
    discount = gamma ** m.astype(r_t.dtype) * (1.0 - terminated_last)
    return returns, discount, last


def categorical_projection(z, probs_t, r_t, discount_t):
    """Project the distribution `r + discount * Z` onto the fixed support `z` (C51, Bellemare et al. 2017).

    Each atom's mass goes to its two neighbours on the support in proportion to closeness (Algorithm 1),
    written as `m_j = sum_i p_i clip(1 - |clip(Tz_i) - z_j| / dz, 0, 1)`, which also covers Tz_i landing
    exactly on an atom.

    Args:
      z: support, evenly spaced, `[N]`.
      probs_t: target distribution at s_t for the bootstrap action, `[B, N]`.
      r_t, discount_t: `[B]`.

    Returns:
      projected probabilities `[B, N]`, gradients stopped. Rows keep the mass of `probs_t`'s rows up to float32
      rounding: each weight is exact to about eps * max|z| / dz, so a row's sum is off by at most about
      N * eps * max|z| / dz (tested over random supports against torch_reference's floor/ceil version).
    """
    chex.assert_rank([z, probs_t, r_t, discount_t], [1, 2, 1, 1])
    dz = z[1] - z[0]
    tz = jnp.clip(r_t[:, None] + discount_t[:, None] * z[None, :], z[0], z[-1])  # [B, N]
    weights = jnp.clip(1.0 - jnp.abs(tz[:, :, None] - z[None, None, :]) / dz, 0.0, 1.0)  # [B, N_i, N_j]
    return jax.lax.stop_gradient(jnp.einsum("bi,bij->bj", probs_t, weights))


def _categorical_bootstrap(z, logits_t, a_t, r_t, discount_t):
    probs_t = jax.nn.softmax(jnp.take_along_axis(logits_t, a_t[:, None, None], axis=1)[:, 0], axis=-1)
    return categorical_projection(z, jax.lax.stop_gradient(probs_t), r_t, discount_t)


def categorical_q_learning_targets(z, logits_t, r_t, discount_t):
    """C51's target distribution (Bellemare et al. 2017): the target network's distribution for its greedy
    action (by the mean `sum_j softmax(logits)_j z_j`), shifted by `r_t + discount_t z` and projected onto `z`.

    Args:
      z: support `[N]`; logits_t: target-network logits at s_t, `[B, A, N]`; r_t, discount_t: `[B]`.

    Returns:
      target probabilities `[B, N]`, gradients stopped.
    """
    chex.assert_rank([z, logits_t, r_t, discount_t], [1, 3, 1, 1])
    q_t = jnp.sum(jax.nn.softmax(logits_t, axis=-1) * z[None, None, :], axis=-1)
    return _categorical_bootstrap(z, logits_t, jnp.argmax(jax.lax.stop_gradient(q_t), axis=-1), r_t, discount_t)


def categorical_double_q_learning_targets(z, logits_t, q_t_selector, r_t, discount_t):
    """C51 with double Q-learning (as in Rainbow, Hessel et al. 2018): the online network's mean Q-values
    `q_t_selector: [B, A]` pick the action, the target network's distribution for it is projected.

    Returns:
      target probabilities `[B, N]`, gradients stopped.
    """
    chex.assert_rank([z, logits_t, q_t_selector, r_t, discount_t], [1, 3, 2, 1, 1])
    a_t = jnp.argmax(jax.lax.stop_gradient(q_t_selector), axis=-1)
    return _categorical_bootstrap(z, logits_t, a_t, r_t, discount_t)


def categorical_td_loss(logits_tm1, a_tm1, target_probs, *, weights=None) -> LossOutput:
    """Cross-entropy between the projected target distribution and the predicted one for the taken action.

    Args:
      logits_tm1: `[B, A, N]`; a_tm1: `[B]` int; target_probs: `[B, N]` (from `categorical_projection`).
      weights: optional importance weights `[B]` (prioritized replay).

    Returns:
      `LossOutput(loss [] = the weighted mean over the batch, priority [B] = each transition's cross-entropy)`.
    """
    chex.assert_rank([logits_tm1, a_tm1, target_probs], [3, 1, 2])
    logits_a = jnp.take_along_axis(logits_tm1, a_tm1[:, None, None].astype(jnp.int32), axis=1)[:, 0]
    per_example = -jnp.sum(target_probs * jax.nn.log_softmax(logits_a, axis=-1), axis=-1)
    return LossOutput(_weighted_mean(per_example, weights), per_example)


def make_loss(config):
    """The config's loss variant, the one place a target and a loss are picked (rlax's callers pick one target
    function the same way): `loss(out_tm1, out_t, q_t_selector, a_tm1, r_t, discount_t, weights=None) ->
    LossOutput`.

    `out_tm1`, `out_t`: the online network's `QOutput` at s_{t-1} and the target network's at s_t (`q_values
    [B, A]`, C51's `logits [B, A, N]`); `q_t_selector`: the online network's Q-values at s_t `[B, A]` for double
    DQN's action choice (read only with `config.double_dqn`); `a_tm1 [B]`, `r_t [B]`, `discount_t [B]`, optional
    importance `weights [B]`. Variants: C51 with `config.distributional` (categorical targets and cross-entropy),
    else `td_loss` of kind `config.loss`; double DQN picks the double targets of either.
    """
    double = config.double_dqn
    if config.distributional:
        z = support(config.v_min, config.v_max, config.num_atoms)

        def categorical(out_tm1, out_t, q_t_selector, a_tm1, r_t, discount_t, weights=None) -> LossOutput:
            if double:
                target = categorical_double_q_learning_targets(z, out_t.logits, q_t_selector, r_t, discount_t)
            else:
                target = categorical_q_learning_targets(z, out_t.logits, r_t, discount_t)
            return categorical_td_loss(out_tm1.logits, a_tm1, target, weights=weights)
        return categorical

    kind = config.loss

    def scalar(out_tm1, out_t, q_t_selector, a_tm1, r_t, discount_t, weights=None) -> LossOutput:
        if double:
            targets = double_q_learning_targets(r_t, discount_t, out_t.q_values, q_t_selector)
        else:
            targets = q_learning_targets(r_t, discount_t, out_t.q_values)
        return td_loss(out_tm1.q_values, a_tm1, targets, kind=kind, weights=weights)
    return scalar
