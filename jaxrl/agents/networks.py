"""Q-networks: a torso (MLP or Nature CNN) followed by a head (plain or dueling).

Layouts (what the parity suite's weight conversion relies on):
  * images are NHWC `[B, 84, 84, 4]`; the CNN flattens `[B, 7, 7, 64]` in (h, w, c) order;
  * Dense kernels are `[in, out]`, Conv kernels are `[kh, kw, in, out]` (HWIO).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
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


def im2col_conv(x, kernel, stride: int):
    """VALID 2-D convolution as matmuls. `x: [B, H, W, C]`, `kernel: [kh, kw, C, O]` (HWIO) -> `[B, Ho, Wo, O]`.
    Same result as `lax.conv_general_dilated` up to float32 summation order.

    Stride 1: the `kh * kw` shifted views concatenated on the channel axis (`[B, Ho, Wo, kh * kw * C]`), one
    matmul. A stride `s` that divides the kernel first regroups each `s x s` block of pixels into channels
    (space-to-depth, `[B, H/s, W/s, s * s * C]`): the conv is then a stride-1 `(kh/s) x (kw/s)` one, whose
    views are `s * s * C` channels wide. The Nature CNN's first layer (8x8, stride 4, 4 channels) so copies 4
    views of 64 channels instead of 64 views of 4: on XLA:CPU that concatenation took 3-7 ms of a 20 ms
    update (batch 32). An integer `x` gives integer patches, cast to the kernel's dtype for the matmul."""
    kh, kw, c, o = kernel.shape
    b, h, w, _ = x.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    s = stride
    if s > 1 and kh % s == 0 and kw % s == 0:
        hb, wb = ho - 1 + kh // s, wo - 1 + kw // s  # the blocks the output reads
        x = x[:, :hb * s, :wb * s].reshape(b, hb, s, wb, s, c).transpose(0, 1, 3, 2, 4, 5)
        kernel = kernel.reshape(kh // s, s, kw // s, s, c, o).transpose(0, 2, 1, 3, 4, 5)
        return im2col_conv(x.reshape(b, hb, wb, s * s * c), kernel.reshape(kh // s, kw // s, s * s * c, o), 1)
    cols = [x[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :] for i in range(kh) for j in range(kw)]
    return jnp.concatenate(cols, axis=-1).astype(kernel.dtype) @ kernel.reshape(kh * kw * c, o)


class Conv2D(nn.Module):
    """VALID conv with `nn.Conv`'s parameters (`kernel` HWIO, lecun-normal; `bias` zeros) and two kernels:

    * `impl="xla"`: `lax.conv_general_dilated` (cuDNN on GPU);
    * `impl="im2col"`: strided slices + one matmul. On XLA:CPU (jax 0.10) the native convolution's backward
      pass runs 4-20x slower inside a `lax.scan`/`while` body than at top level; im2col keeps it to matmuls;
    * `impl="auto"`: im2col on the CPU backend, xla elsewhere.

    The layer computes `conv(x / input_divisor)`; an integer `x` (uint8 frames) is cast to float32 first,
    except under im2col, whose patches are built from the integers (a quarter of the bytes to copy) and cast
    once, the divisor folded into the kernel.
    """

    features: int
    kernel_size: int
    stride: int
    impl: str = "auto"
    input_divisor: float = 1.0

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        impl = self.impl if self.impl != "auto" else conv_kernel()
        integer_patches = impl == "im2col" and not jnp.issubdtype(x.dtype, jnp.floating)
        if not integer_patches:
            x = _as_float(x)
            x = x if self.input_divisor == 1.0 else x / self.input_divisor
        dtype = jnp.float32 if integer_patches else x.dtype
        kernel, bias = kernel.astype(dtype), bias.astype(dtype)
        if impl == "im2col":
            y = im2col_conv(x, kernel if not integer_patches else kernel / self.input_divisor, self.stride)
        elif impl == "xla":
            y = jax.lax.conv_general_dilated(x, kernel, (self.stride, self.stride), "VALID",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
        else:
            raise ValueError(f"Conv2D impl={self.impl!r}: expected 'auto', 'im2col' or 'xla'")
        return y + bias.reshape((1, 1, 1, -1))


def conv_kernel(backend: str | None = None) -> str:
    """The kernel `Conv2D(impl="auto")` runs on `backend` (default: JAX's): "im2col" on CPU, "xla" elsewhere."""
    return "im2col" if (backend or jax.default_backend()) == "cpu" else "xla"


class NatureCNNTorso(nn.Module):
    """Mnih et al. (2015) conv stack. `x: [B, 84, 84, C] (uint8 or float) -> [B, 3136]`.

    The fully connected 512 layer belongs to the head, so a dueling head gets one per stream as in
    Wang et al. (2016) and the course's Pong network.
    """

    normalize_image: bool = True
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x):
        for i, (features, kernel, stride) in enumerate(((32, 8, 4), (64, 4, 2), (64, 3, 1))):
            divisor = 255.0 if i == 0 and self.normalize_image else 1.0  # the first layer scales the pixels
            x = nn.relu(Conv2D(features, kernel, stride, self.conv_impl, divisor, name=f"conv_{i}")(x))
        return x.reshape((x.shape[0], -1))


def _stream(x, hidden_sizes, out, prefix):
    for i, width in enumerate(hidden_sizes):
        x = nn.relu(nn.Dense(width, name=f"{prefix}_hidden_{i}")(x))
    return nn.Dense(out, name=f"{prefix}_out")(x)


class QHead(nn.Module):
    """Plain head. `features: [B, F] -> q: [B, A]` (or C51 logits `[B, A, N]` with `num_atoms = N > 1`)
    through optional hidden layers."""

    num_actions: int
    hidden_sizes: Sequence[int] = ()
    num_atoms: int = 1

    @nn.compact
    def __call__(self, features):
        out = _stream(features, self.hidden_sizes, self.num_actions * self.num_atoms, "q")
        return out if self.num_atoms == 1 else out.reshape((*out.shape[:-1], self.num_actions, self.num_atoms))


class DuelingHead(nn.Module):
    """Dueling head (Wang et al. 2016): `Q = V + A - mean_a(A)`. `features: [B, F] -> q: [B, A]`; with
    `num_atoms = N > 1` the same aggregation per atom on logits `[B, A, N]` (as in Rainbow).

    Value and advantage streams each get their own hidden layers (`hidden_sizes`).
    """

    num_actions: int
    hidden_sizes: Sequence[int] = ()
    num_atoms: int = 1

    @nn.compact
    def __call__(self, features):
        value = _stream(features, self.hidden_sizes, self.num_atoms, "value")
        advantage = _stream(features, self.hidden_sizes, self.num_actions * self.num_atoms, "advantage")
        if self.num_atoms == 1:
            return dueling_aggregate(value, advantage)
        value = value.reshape((*value.shape[:-1], 1, self.num_atoms))
        advantage = advantage.reshape((*advantage.shape[:-1], self.num_actions, self.num_atoms))
        return dueling_aggregate(value, advantage, axis=-2)


def dueling_aggregate(value, advantage, axis: int = -1):
    """`value: [B, 1]`, `advantage: [B, A]` -> `q: [B, A] = V + A - mean(A)` (the action axis is `axis`)."""
    return value + advantage - jnp.mean(advantage, axis=axis, keepdims=True)


def support(config: DQNConfig):
    """The C51 atoms `z: [N]`, evenly spaced in [v_min, v_max]."""
    return jnp.linspace(config.v_min, config.v_max, config.num_atoms, dtype=jnp.float32)


def q_values(config: DQNConfig, output):
    """Q-values `[B, A]` from the network's output: itself, or the mean of the C51 distribution."""
    if not config.distributional:
        return output
    z = support(config).reshape((1,) * (output.ndim - 1) + (config.num_atoms,))
    return jnp.sum(jax.nn.softmax(output, axis=-1) * z, axis=-1)


class QNetwork(nn.Module):
    """Torso + head. `obs: [B, *obs_shape] -> q: [B, A]`."""

    torso: nn.Module
    head: nn.Module

    def __call__(self, obs):
        return self.head(self.torso(obs))


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


def make_network(config: DQNConfig, num_actions: int, obs_shape: Sequence[int], *,
                 conv_impl: str = "auto") -> QNetwork:
    """The Q-network a config asks for. CNN heads carry the Nature fc-512 layer; `conv_impl` see `Conv2D`."""
    kind = resolve_network_kind(config, obs_shape)
    if kind == "cnn":
        if not _fits_nature_cnn(obs_shape):
            raise ValueError(f"DQNConfig.network='cnn' needs image observations [H, W, C] of at least "
                             f"{NATURE_CNN_MIN_SIZE}x{NATURE_CNN_MIN_SIZE}, got {tuple(obs_shape)}: use --network mlp")
        torso, head_hidden = NatureCNNTorso(config.normalize_image, conv_impl), (512,)
    else:
        torso, head_hidden = MLPTorso(tuple(config.hidden_sizes)), ()
    head_cls = DuelingHead if config.dueling else QHead
    atoms = config.num_atoms if config.distributional else 1
    return QNetwork(torso=torso, head=head_cls(num_actions, head_hidden, atoms))
