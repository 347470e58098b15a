"""Optimizers as the course builds them; gradient clipping (`clip_gradients`) is applied in `agent.optimize`."""

from __future__ import annotations

import torch

from jaxrl.config import DQNConfig


def clamp_gradients(parameters, limit: float = 1.0) -> None:
    """The course's error clipping: `param.grad.data.clamp_(-1, 1)` on every parameter."""
    for param in parameters:
        if param.grad is not None:
            param.grad.data.clamp_(-limit, limit)


def clip_by_global_norm(parameters, max_norm: float) -> None:
    """Scale every gradient by `min(1, max_norm / ||g||_2)`, the norm over all parameters at once (optax's
    `clip_by_global_norm`: no epsilon, unlike `torch.nn.utils.clip_grad_norm_`'s `max_norm / (norm + 1e-6)`)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    norm = torch.sqrt(sum(torch.sum(g * g) for g in grads))
    if norm > max_norm:
        for g in grads:
            g.mul_(max_norm / norm)


def clip_gradients(config: DQNConfig, parameters) -> None:
    """`config.grad_clip_mode` on the gradients in place: `element` (the course's clamp), `global-norm`, `none`."""
    mode = config.grad_clip_mode
    if mode == "element":
        clamp_gradients(parameters, config.grad_clip_value)
    elif mode == "global-norm":
        clip_by_global_norm(list(parameters), config.grad_clip_value)
    elif mode != "none":
        raise ValueError(f"gradient clipping mode={mode!r}: expected 'none', 'element' or 'global-norm'")


def make_schedule(config: DQNConfig, optimizer):
    """`config.lr_schedule`: None (constant), or `linear`: the step size times `1 - k / num_updates` at the k-th
    update (k from 0; optax's `linear_schedule` to 0), to be stepped after each optimizer step."""
    if config.lr_schedule == "constant":
        return None
    total = max(1, config.num_updates)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: max(0.0, 1.0 - min(k, total) / total))


def make_optimizer(config: DQNConfig, parameters) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate, eps=config.adam_eps)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=config.learning_rate)  # alpha 0.99, eps 1e-8
    raise ValueError(f"DQNConfig.optimizer={config.optimizer!r} is invalid: expected 'adam' or 'rmsprop'")
