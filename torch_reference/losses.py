"""DQN targets and TD losses on torch tensors; same names and signatures as `jaxrl.agents.losses`."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from torch_reference.networks import support


class LossOutput(NamedTuple):
    """What every loss variant returns: the (weighted) mean loss `[]`, and each transition's priority `[B]`."""

    loss: torch.Tensor
    priority: torch.Tensor


def q_learning_targets(r_t, discount_t, q_t):
    """`r + discount * max_a Q_target(s', a)`: `r_t, discount_t: [B]`, `q_t: [B, A]` -> `[B]` (no gradient)."""
    with torch.no_grad():
        return r_t + discount_t * q_t.max(1)[0]


def double_q_learning_targets(r_t, discount_t, q_t_value, q_t_selector):
    """`r + discount * Q_target(s', argmax_a Q_online(s', a))` -> `[B]` (no gradient)."""
    with torch.no_grad():
        best_actions = q_t_selector.max(1)[1]
        return r_t + discount_t * q_t_value.gather(1, best_actions.unsqueeze(1)).squeeze(1)


def td_error(q_tm1, a_tm1, targets):
    """`targets - Q(s, a)`, `[B]`."""
    return targets - q_tm1.gather(1, a_tm1.long().unsqueeze(1)).squeeze(1)


def td_loss(q_tm1, a_tm1, targets, *, kind: str = "huber", weights=None) -> LossOutput:
    """Mean over the batch of SmoothL1 (huber) or MSE between `targets` and `Q(s, a)` (with importance `weights`,
    the weighted mean of the per-example losses), and |TD error| `[B]` as the priorities (detached)."""
    q_a = q_tm1.gather(1, a_tm1.long().unsqueeze(1)).squeeze(1)
    if kind not in ("huber", "mse"):
        raise ValueError(f"td_loss kind={kind!r}: expected one of ('huber', 'mse')")
    priority = (targets - q_a).abs().detach()
    if weights is None:
        return LossOutput(F.smooth_l1_loss(q_a, targets) if kind == "huber" else F.mse_loss(q_a, targets), priority)
    per_example = (F.smooth_l1_loss(q_a, targets, reduction="none") if kind == "huber"
                   else F.mse_loss(q_a, targets, reduction="none"))
    return LossOutput((weights * per_example).mean(), priority)


def n_step_targets(r_t, terminated_t, truncated_t, gamma: float):
    """`[B, n]` windows -> (returns, bootstrap discount, last index), looping over the window like a textbook."""
    batch, n = r_t.shape
    returns = torch.zeros(batch, dtype=r_t.dtype)
    discount = torch.zeros(batch, dtype=r_t.dtype)
    last = torch.zeros(batch, dtype=torch.int64)
    for b in range(batch):
        g, k = 0.0, 0
        for k in range(n):
            g += gamma**k * float(r_t[b, k])
            if terminated_t[b, k] or truncated_t[b, k]:
                break
        returns[b] = g
        last[b] = k
        discount[b] = 0.0 if terminated_t[b, k] else gamma ** (k + 1)
    return returns, discount, last


def categorical_projection(z, probs_t, r_t, discount_t):
    """Bellemare et al. (2017), Algorithm 1: for each atom, split its mass between floor(b) and ceil(b)."""
    v_min, v_max, n = float(z[0]), float(z[-1]), z.shape[0]
    dz = (v_max - v_min) / (n - 1)
    with torch.no_grad():
        tz = (r_t[:, None] + discount_t[:, None] * z[None, :]).clamp(v_min, v_max)
        b = ((tz - v_min) / dz).clamp(0, n - 1)  # float32 rounding can put b a hair past the last atom
        lower, upper = b.floor().long(), b.ceil().long()
        m = torch.zeros_like(probs_t)
        same = lower == upper  # b landed exactly on an atom: all of it goes there
        m.scatter_add_(1, lower, probs_t * (upper.float() - b + same.float()))
        m.scatter_add_(1, upper, probs_t * (b - lower.float()))
    return m


def categorical_q_learning_targets(z, logits_t, r_t, discount_t):
    """C51: the target network's distribution for its greedy action (by the mean over `z`), projected."""
    with torch.no_grad():
        a_t = (torch.softmax(logits_t, dim=-1) * z).sum(-1).argmax(dim=-1)
        probs_t = torch.softmax(logits_t[torch.arange(a_t.shape[0]), a_t], dim=-1)
        return categorical_projection(z, probs_t, r_t, discount_t)


def categorical_double_q_learning_targets(z, logits_t, q_t_selector, r_t, discount_t):
    """C51 with double Q-learning: the online mean Q-values pick the action, the target distribution is projected."""
    with torch.no_grad():
        a_t = q_t_selector.argmax(dim=-1)
        probs_t = torch.softmax(logits_t[torch.arange(a_t.shape[0]), a_t], dim=-1)
        return categorical_projection(z, probs_t, r_t, discount_t)


def categorical_td_loss(logits_tm1, a_tm1, target_probs, *, weights=None) -> LossOutput:
    """(weighted mean cross-entropy, per-example cross-entropy as the priorities) for the taken actions."""
    logits_a = logits_tm1[torch.arange(logits_tm1.shape[0]), a_tm1.long()]
    per_example = -(target_probs * torch.log_softmax(logits_a, dim=-1)).sum(-1)
    w = torch.ones_like(per_example) if weights is None else weights
    return LossOutput((w * per_example).mean(), per_example.detach())


def make_loss(config, dtype=torch.float32):
    """The config's loss variant: `loss(out_tm1, out_t, q_t_selector, a_tm1, r_t, discount_t, weights=None) ->
    LossOutput`, C51 with `config.distributional`, else `td_loss` of kind `config.loss`; double DQN's targets with
    `config.double_dqn` (`q_t_selector`: the online Q-values at s_t). `dtype`: the support's (C51)."""
    double = config.double_dqn
    if config.distributional:
        z = support(config.v_min, config.v_max, config.num_atoms, dtype)

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
