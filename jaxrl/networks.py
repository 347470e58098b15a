"""Q-networks: a torso (MLP or Nature CNN) followed by a head (plain or dueling).

Layouts (what the parity suite's weight conversion relies on):
  * images are NHWC `[B, 84, 84, 4]`; the CNN flattens `[B, 7, 7, 64]` in (h, w, c) order;
  * Dense kernels are `[in, out]`, Conv kernels are `[kh, kw, in, out]` (HWIO).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxrl.config import DQNConfig


def _as_float(x):
    """Integer inputs (uint8 frames) become float32; floating inputs keep their precision."""
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


class MLPTorso(nn.Module):
    """ReLU MLP. `x: [B, D] -> [B, hidden_sizes[-1]]`."""

    hidden_sizes: Sequence[int]

    @nn.compact
    def __call__(self, x):
        x = _as_float(x.reshape((x.shape[0], -1)))
        for i, width in enumerate(self.hidden_sizes):
            x = nn.relu(nn.Dense(width, name=f"dense_{i}")(x))
        return x


class NatureCNNTorso(nn.Module):
    """Mnih et al. (2015) conv stack. `x: [B, 84, 84, C] (uint8 or float) -> [B, 3136]`.

    The fully connected 512 layer belongs to the head, so a dueling head gets one per stream as in
    Wang et al. (2016) and the course's Pong network.
    """

    normalize_image: bool = True

    @nn.compact
    def __call__(self, x):
        x = _as_float(x)
        if self.normalize_image:
            x = x / 255.0
        x = nn.relu(nn.Conv(32, (8, 8), strides=(4, 4), padding="VALID", name="conv_0")(x))
        x = nn.relu(nn.Conv(64, (4, 4), strides=(2, 2), padding="VALID", name="conv_1")(x))
        x = nn.relu(nn.Conv(64, (3, 3), strides=(1, 1), padding="VALID", name="conv_2")(x))
        return x.reshape((x.shape[0], -1))


def _stream(x, hidden_sizes, out, prefix):
    for i, width in enumerate(hidden_sizes):
        x = nn.relu(nn.Dense(width, name=f"{prefix}_hidden_{i}")(x))
    return nn.Dense(out, name=f"{prefix}_out")(x)


class QHead(nn.Module):
    """Plain head. `features: [B, F] -> q: [B, A]` through optional hidden layers."""

    num_actions: int
    hidden_sizes: Sequence[int] = ()

    @nn.compact
    def __call__(self, features):
        return _stream(features, self.hidden_sizes, self.num_actions, "q")


class DuelingHead(nn.Module):
    """Dueling head (Wang et al. 2016): `Q = V + A - mean_a(A)`. `features: [B, F] -> q: [B, A]`.

    Value and advantage streams each get their own hidden layers (`hidden_sizes`).
    """

    num_actions: int
    hidden_sizes: Sequence[int] = ()

    @nn.compact
    def __call__(self, features):
        value = _stream(features, self.hidden_sizes, 1, "value")
        advantage = _stream(features, self.hidden_sizes, self.num_actions, "advantage")
        return dueling_aggregate(value, advantage)


def dueling_aggregate(value, advantage):
    """`value: [B, 1]`, `advantage: [B, A]` -> `q: [B, A] = V + A - mean(A)`."""
    return value + advantage - jnp.mean(advantage, axis=-1, keepdims=True)


class QNetwork(nn.Module):
    """Torso + head. `obs: [B, *obs_shape] -> q: [B, A]`."""

    torso: nn.Module
    head: nn.Module

    def __call__(self, obs):
        return self.head(self.torso(obs))


def resolve_network_kind(config: DQNConfig, obs_shape: Sequence[int]) -> str:
    """`mlp` or `cnn`: `auto` picks the CNN for 3-D (image) observations."""
    if config.network != "auto":
        return config.network
    return "cnn" if len(obs_shape) == 3 else "mlp"


def make_network(config: DQNConfig, num_actions: int, obs_shape: Sequence[int]) -> QNetwork:
    """The Q-network a config asks for. CNN heads carry the Nature fc-512 layer."""
    kind = resolve_network_kind(config, obs_shape)
    if kind == "cnn":
        if len(obs_shape) != 3:
            raise ValueError(f"DQNConfig.network='cnn' needs image observations [H, W, C], got {tuple(obs_shape)}")
        torso, head_hidden = NatureCNNTorso(config.normalize_image), (512,)
    else:
        torso, head_hidden = MLPTorso(tuple(config.hidden_sizes)), ()
    head_cls = DuelingHead if config.dueling else QHead
    return QNetwork(torso=torso, head=head_cls(num_actions, head_hidden))
