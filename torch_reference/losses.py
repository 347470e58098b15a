"""DQN targets and TD losses on torch tensors; same names and signatures as `jaxrl.losses`."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dqn_targets(r_t, discount_t, q_t_target, q_t_online=None, *, double=False):
    """`r_t, discount_t: [B]`, `q_t_*: [B, A]` -> targets `[B]` (no gradient).

    vanilla: r + discount * max_a Q_target(s', a); double: r + discount * Q_target(s', argmax_a Q_online(s', a)).
    """
    with torch.no_grad():
        if double:
            if q_t_online is None:
                raise ValueError("dqn_targets(double=True) needs q_t_online")
            best_actions = q_t_online.max(1)[1]
            next_values = q_t_target.gather(1, best_actions.unsqueeze(1)).squeeze(1)
        else:
            next_values = q_t_target.max(1)[0]
        return r_t + discount_t * next_values


def td_loss(q_tm1, a_tm1, targets, *, kind: str = "huber"):
    """Mean over the batch of SmoothL1 (huber) or MSE between `targets` and `Q(s, a)`."""
    q_a = q_tm1.gather(1, a_tm1.long().unsqueeze(1)).squeeze(1)
    if kind == "huber":
        return F.smooth_l1_loss(q_a, targets)
    if kind == "mse":
        return F.mse_loss(q_a, targets)
    raise ValueError(f"td_loss kind={kind!r}: expected one of ('huber', 'mse')")
