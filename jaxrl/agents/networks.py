"""Q-networks: a torso (MLP or Nature CNN) followed by a head (plain or dueling).

Layouts (what the parity suite's weight conversion relies on):
  * images are NHWC `[B, 84, 84, 4]`; the CNN flattens `[B, 7, 7, 64]` in (h, w, c) order;
  * Dense kernels are `[in, out]`, Conv kernels are `[kh, kw, in, out]` (HWIO).
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.agents.layers import Conv2D, Dense, as_dtype
from jaxrl.config import DQNConfig


def _as_float(x):
    """Integer inputs (uint8 frames) become float32; floating inputs keep their precision."""
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


class MLPTorso(nn.Module):
    """ReLU MLP. `x: [B, D] -> [B, hidden_sizes[-1]]` (activations in `compute_dtype`)."""

    hidden_sizes: Sequence[int]
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, x, grad_rows: int | None = None):
        x = _as_float(x.reshape((x.shape[0], -1)))
        for i, width in enumerate(self.hidden_sizes):
            x = _activation(Dense(width, self.compute_dtype, name=f"dense_{i}")(x, grad_rows), self.compute_dtype)
        return x


def _activation(y, compute_dtype: str):
    """ReLU of a layer's float32 output, stored in `compute_dtype` (the next product's input); float32 keeps the
    output's own dtype (float64 in x64 tests)."""
    dtype = as_dtype(compute_dtype)
    return nn.relu(y) if dtype == jnp.float32 else nn.relu(y).astype(dtype)


def conv_kernel(backend: str | None = None, num_seeds: int = 1) -> str:
    """The kernel `conv="auto"` runs for `num_seeds` agents in one program on `backend` (default: JAX's):

    * CPU: "im2col". XLA:CPU's native convolution runs its backward pass several times slower inside a `lax.scan` or
      `while` body than at top level (docs/performance.md); im2col keeps it to matmuls.
    * other backends, more than one seed: "im2col". Vmapped over seeds, XLA's convolution is a grouped one
      (`feature_group_count = S`, the weight gradient `batch_group_count = S`), which runs far below dense
      speed on CUDA (jax issues #26568, #13800); im2col's matmuls take the seed axis as a batch dimension.
    * other backends, one seed: "xla" (cuDNN).
    Measured by the GPU protocol's `seed_scaling` part (benchmarks/results/)."""
    if (backend or jax.default_backend()) == "cpu" or num_seeds > 1:
        return "im2col"
    return "xla"


NATURE_CNN_LAYERS = ((32, 8, 4), (64, 4, 2), (64, 3, 1))
"""The Nature CNN's convolutions `conv_0, conv_1, conv_2` as (features, kernel size, stride), VALID padding."""


class NatureCNNTorso(nn.Module):
    """Mnih et al. (2015) conv stack. `x: [B, 84, 84, C] (uint8 or float) -> [B, 3136]`.

    The fully connected 512 layer belongs to the head, so a dueling head gets one per stream as in
    Wang et al. (2016) and the course's Pong network.
    """

    normalize_image: bool = True
    conv: str = "im2col"
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, x, grad_rows: int | None = None):
        for i, (features, kernel, stride) in enumerate(NATURE_CNN_LAYERS):
            divisor = 255.0 if i == 0 and self.normalize_image else 1.0  # the first layer scales the pixels
            layer = Conv2D(features, kernel, stride, self.conv, divisor, self.compute_dtype, name=f"conv_{i}")
            x = _activation(layer(x, grad_rows), self.compute_dtype)
        return x.reshape((x.shape[0], -1))


def _stream(x, hidden_sizes, out, prefix, compute_dtype, grad_rows):
    for i, width in enumerate(hidden_sizes):
        x = _activation(Dense(width, compute_dtype, name=f"{prefix}_hidden_{i}")(x, grad_rows), compute_dtype)
    return Dense(out, compute_dtype, name=f"{prefix}_out")(x, grad_rows)


class QHead(nn.Module):
    """Plain head. `features: [B, F] -> q: [B, A]` (or C51 logits `[B, A, N]` with `num_atoms = N > 1`)
    through optional hidden layers."""

    num_actions: int
    hidden_sizes: Sequence[int] = ()
    num_atoms: int = 1
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, features, grad_rows: int | None = None):
        out = _stream(features, self.hidden_sizes, self.num_actions * self.num_atoms, "q", self.compute_dtype,
                      grad_rows)
        return out if self.num_atoms == 1 else out.reshape((*out.shape[:-1], self.num_actions, self.num_atoms))


class DuelingHead(nn.Module):
    """Dueling head (Wang et al. 2016): `Q = V + A - mean_a(A)`. `features: [B, F] -> q: [B, A]`; with
    `num_atoms = N > 1` the same aggregation per atom on logits `[B, A, N]` (as in Rainbow).

    Value and advantage streams each get their own hidden layers (`hidden_sizes`).
    """

    num_actions: int
    hidden_sizes: Sequence[int] = ()
    num_atoms: int = 1
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, features, grad_rows: int | None = None):
        value = _stream(features, self.hidden_sizes, self.num_atoms, "value", self.compute_dtype, grad_rows)
        advantage = _stream(features, self.hidden_sizes, self.num_actions * self.num_atoms, "advantage",
                            self.compute_dtype, grad_rows)
        if self.num_atoms == 1:
            return dueling_aggregate(value, advantage)
        value = value.reshape((*value.shape[:-1], 1, self.num_atoms))
        advantage = advantage.reshape((*advantage.shape[:-1], self.num_actions, self.num_atoms))
        return dueling_aggregate(value, advantage, axis=-2)


def dueling_aggregate(value, advantage, axis: int = -1):
    """`value: [B, 1]`, `advantage: [B, A]` -> `q: [B, A] = V + A - mean(A)` (the action axis is `axis`)."""
    return value + advantage - jnp.mean(advantage, axis=axis, keepdims=True)


def support(v_min: float, v_max: float, num_atoms: int):
    """The C51 atoms `z: [num_atoms]`, evenly spaced in [v_min, v_max]."""
    return jnp.linspace(v_min, v_max, num_atoms, dtype=jnp.float32)


class QOutput(NamedTuple):
    """What a Q-network returns, by name (dqn_zoo's `QNetworkOutputs`): every consumer reads `.q_values`; only the
    C51 loss reads `.logits`."""

    q_values: jnp.ndarray  # [B, A]: the Q-values (with C51, the mean of each action's return distribution)
    logits: Optional[jnp.ndarray] = None  # [B, A, N]: C51's logits over the N atoms; None without C51


class QNetwork(nn.Module):
    """Torso + head. `obs: [B, *obs_shape] -> QOutput` (float32). With a C51 head (`head.num_atoms > 1`) the
    Q-values are the means over the atoms `support(v_min, v_max, num_atoms)`. `grad_rows`: only the first
    `grad_rows` rows of the output will carry a gradient (`jaxrl.agents.layers`)."""

    torso: nn.Module
    head: nn.Module
    v_min: float = 0.0
    v_max: float = 0.0

    def __call__(self, obs, grad_rows: int | None = None) -> QOutput:
        out = self.head(self.torso(obs, grad_rows), grad_rows)
        if self.head.num_atoms == 1:
            return QOutput(q_values=out)
        z = support(self.v_min, self.v_max, self.head.num_atoms).reshape((1,) * (out.ndim - 1) + (-1,))
        return QOutput(q_values=jnp.sum(jax.nn.softmax(out, axis=-1) * z, axis=-1), logits=out)


# The smallest image the Nature CNN's VALID convs (8x8/4, 4x4/2, 3x3/1) leave at least one output pixel of.
NATURE_CNN_MIN_SIZE = 36


def _fits_nature_cnn(obs_shape: Sequence[int]) -> bool:
    return len(obs_shape) == 3 and min(obs_shape[:2]) >= NATURE_CNN_MIN_SIZE


def resolve_network_kind(config: DQNConfig, obs_shape: Sequence[int]) -> str:
    """`mlp` or `cnn`: `auto` picks the Nature CNN for images of at least 36x36 (Atari's 84x84) and the MLP
    otherwise (vectors, and small grids such as MinAtar's 10x10 frames, flattened)."""
    if config.network != "auto":
        return config.network
    return "cnn" if _fits_nature_cnn(obs_shape) else "mlp"


def resolve_conv(config: DQNConfig, backend: str | None = None) -> str:
    """`config.conv`, or for "auto" `conv_kernel(backend, config.sweep_size)`."""
    return config.conv if config.conv != "auto" else conv_kernel(backend, config.sweep_size)


def make_network(config: DQNConfig, num_actions: int, obs_shape: Sequence[int]) -> QNetwork:
    """The Q-network a config asks for: its torso, head, convolution kernel (`resolve_conv`) and compute dtype.
    CNN heads carry the Nature fc-512 layer."""
    kind = resolve_network_kind(config, obs_shape)
    dtype = config.compute_dtype
    if kind == "cnn":
        if not _fits_nature_cnn(obs_shape):
            raise ValueError(f"DQNConfig.network='cnn' needs image observations [H, W, C] of at least "
                             f"{NATURE_CNN_MIN_SIZE}x{NATURE_CNN_MIN_SIZE}, got {tuple(obs_shape)}: use --network mlp")
        torso, head_hidden = NatureCNNTorso(config.normalize_image, resolve_conv(config), dtype), (512,)
    else:
        torso, head_hidden = MLPTorso(tuple(config.hidden_sizes), dtype), ()
    head_cls = DuelingHead if config.dueling else QHead
    atoms = config.num_atoms if config.distributional else 1
    return QNetwork(torso=torso, head=head_cls(num_actions, head_hidden, atoms, dtype), v_min=float(config.v_min),
                    v_max=float(config.v_max))
