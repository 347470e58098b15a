"""Optimizers as the course builds them; error clipping is applied in `agent.optimize`."""

from __future__ import annotations

import torch

from jaxrl.config import DQNConfig


def clamp_gradients(parameters, limit: float = 1.0) -> None:
    """The course's error clipping: `param.grad.data.clamp_(-1, 1)` on every parameter."""
    for param in parameters:
        if param.grad is not None:
            param.grad.data.clamp_(-limit, limit)


def make_optimizer(config: DQNConfig, parameters) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=config.learning_rate)  # alpha 0.99, eps 1e-8
    raise ValueError(f"DQNConfig.optimizer={config.optimizer!r} is invalid: expected 'adam' or 'rmsprop'")
