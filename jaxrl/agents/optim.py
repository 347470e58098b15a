"""Optimizers with PyTorch's semantics, and gradient clipping (the course's element clamp, or by global norm)."""

from __future__ import annotations

import optax

from jaxrl.config import DQNConfig

# torch.optim.RMSprop defaults: alpha (smoothing) 0.99, eps 1e-8 added *outside* the square root.
RMSPROP_DECAY = 0.99
RMSPROP_EPS = 1e-8
# torch.optim.Adam defaults (the same as optax's): betas (0.9, 0.999); eps outside the root, `DQNConfig.adam_eps`.


def clamp_gradients(limit: float = 1.0) -> optax.GradientTransformation:
    """Clamp every gradient element to [-limit, limit]: the course's `param.grad.data.clamp_(-1, 1)`."""
    if not limit > 0:
        raise ValueError(f"clamp_gradients limit={limit!r}: expected > 0")
    return optax.clip(limit)


def clip_gradients(mode: str, value: float) -> optax.GradientTransformation | None:
    """The gradient clipping `mode` (`DQNConfig.grad_clip_mode`): `element` clamps every element to
    [-value, value] (the course's), `global-norm` scales the gradient by `min(1, value / ||g||_2)` over every
    parameter at once (`optax.clip_by_global_norm`), `none` is None."""
    if mode == "none":
        return None
    if mode == "element":
        return clamp_gradients(value)
    if mode == "global-norm":
        return optax.clip_by_global_norm(value)
    raise ValueError(f"gradient clipping mode={mode!r}: expected 'none', 'element' or 'global-norm'")


def make_optimizer(config: DQNConfig, learning_rate=None) -> optax.GradientTransformation:
    """`[clip ->] adam | rmsprop`, matching `torch.optim.Adam` / `torch.optim.RMSprop`; the clipping is
    `config.grad_clip_mode` (`clip_gradients`), the step size `config.lr_schedule`'s. `learning_rate` (default: the
    config's) may be a traced scalar: a hyperparameter grid in one program."""
    lr = config.learning_rate if learning_rate is None else learning_rate
    if config.lr_schedule == "linear":  # lr * (1 - k / num_updates) at the k-th update (k from 0)
        lr = optax.linear_schedule(lr, 0.0, max(1, config.num_updates))
    if config.optimizer == "adam":
        opt = optax.adam(lr, eps=config.adam_eps)
    elif config.optimizer == "rmsprop":
        opt = optax.rmsprop(lr, decay=RMSPROP_DECAY, eps=RMSPROP_EPS, eps_in_sqrt=False)
    else:
        raise ValueError(f"DQNConfig.optimizer={config.optimizer!r} is invalid: expected 'adam' or 'rmsprop'")
    clip = clip_gradients(config.grad_clip_mode, config.grad_clip_value)
    return opt if clip is None else optax.chain(clip, opt)
