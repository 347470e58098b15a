"""The Q-networks' layers: `Dense` and `Conv2D`, each one product (`linear` or `conv`) plus a bias.

Two things every product takes, both static:

* `compute_dtype`: the product's inputs are cast to it (float32 or bfloat16) and it accumulates and returns
  float32. Parameters stay float32 and are cast at use; the torsos store their activations in this dtype.
* `grad_rows`: only the first `grad_rows` rows (axis 0) of the output carry a gradient, the others are known to
  get a zero cotangent (double DQN's online pass over `concat(s_tm1, s_t)`, whose `s_t` half is
  `stop_gradient`-ed). The backward products then run over those rows only, so one forward call over `2B`
  rows costs the backward work of `B`, not `2B` (a custom VJP; the rows past `grad_rows` get a zero gradient).

With float32 and no `grad_rows` the products are plain `matmul` / `conv_general_dilated`, autodiffed by JAX.
Under `vmap` over seeds, `linear` is a dot with the seed axis as a batch dimension; XLA's convolution becomes a
grouped one (`feature_group_count = S`).

Layouts: inputs NHWC, conv kernels HWIO `[kh, kw, C, O]`, dense kernels `[in, out]` (flax's `nn.Dense`/`nn.Conv`
names and initializers: lecun-normal kernels, zero biases).
"""

from __future__ import annotations

from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
_F32 = jnp.float32


def as_dtype(name) -> jnp.dtype:
    """`"float32"` / `"bfloat16"` (or a dtype) -> the jnp dtype."""
    return DTYPES[name] if isinstance(name, str) else jnp.dtype(name)


def _accumulator(w):
    """Products accumulate in float32, or in the params' dtype where it is wider (float64 in x64 tests)."""
    return jnp.promote_types(w.dtype, _F32)


def _product_dtype(compute_dtype, w):
    """The products' input dtype: bfloat16, or for float32 the params' own."""
    dtype = as_dtype(compute_dtype)
    return _accumulator(w) if dtype == _F32 else dtype


def _dot(x, w, dtype):
    return jnp.matmul(x.astype(dtype), w.astype(dtype), preferred_element_type=_accumulator(w))


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _linear(x, w, dtype, grad_rows):
    return _dot(x, w, dtype)


def _linear_fwd(x, w, dtype, grad_rows):
    return _dot(x, w, dtype), (x, w)


def _pad_rows(dx, rows: int):
    """`dx: [n, ...]` -> `[rows, ...]`, zeros after the first `n` rows."""
    if dx.shape[0] == rows:
        return dx
    return jnp.concatenate([dx, jnp.zeros((rows - dx.shape[0], *dx.shape[1:]), dx.dtype)])


def _linear_bwd(dtype, grad_rows, residuals, dy):
    x, w = residuals
    n = x.shape[0] if grad_rows is None else grad_rows
    xs, g = x[:n].astype(dtype), dy[:n].astype(dtype)
    acc = _accumulator(w)
    dx = jnp.matmul(g, w.astype(dtype).T, preferred_element_type=acc).astype(x.dtype)
    lead = tuple(range(xs.ndim - 1))
    dw = jax.lax.dot_general(xs, g, ((lead, lead), ((), ())), preferred_element_type=acc)
    return _pad_rows(dx, x.shape[0]), dw.astype(w.dtype)


_linear.defvjp(_linear_fwd, _linear_bwd)


def linear(x, w, compute_dtype="float32", grad_rows: int | None = None):
    """`x: [N, ..., K] @ w: [K, O] -> [N, ..., O]` float32, the inputs in `compute_dtype` (module docstring)."""
    dtype = as_dtype(compute_dtype)
    if dtype == _F32 and grad_rows is None:  # plain float32 (or the params' dtype, e.g. float64 in x64 tests)
        return jnp.matmul(_floating(x, w.dtype), w)
    return _linear(x, w, _product_dtype(dtype, w), grad_rows)


def _floating(x, dtype):
    """Integer `x` cast to `dtype`; floating `x` as it is."""
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(dtype)


def _conv_product(x, w, stride: int, out_dtype):
    return jax.lax.conv_general_dilated(x, w, (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        preferred_element_type=out_dtype)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _conv(x, w, stride, dtype, grad_rows):
    return _conv_product(x.astype(dtype), w.astype(dtype), stride, _accumulator(w))


def _conv_fwd(x, w, stride, dtype, grad_rows):
    return _conv(x, w, stride, dtype, grad_rows), (x, w)


def _conv_bwd(stride, dtype, grad_rows, residuals, dy):
    """The backward convolutions (XLA's transposes) over the first `grad_rows` rows, in `dtype`: the weight
    gradient comes out in `dtype` too (cuDNN accumulates in float32 inside) and is returned as float32."""
    x, w = residuals
    n = x.shape[0] if grad_rows is None else grad_rows
    _, vjp = jax.vjp(lambda a, b: _conv_product(a, b, stride, dtype), x[:n].astype(dtype), w.astype(dtype))
    dx, dw = vjp(dy[:n].astype(dtype))
    return _pad_rows(dx.astype(x.dtype), x.shape[0]), dw.astype(w.dtype)


_conv.defvjp(_conv_fwd, _conv_bwd)


def conv(x, w, stride: int, compute_dtype="float32", grad_rows: int | None = None):
    """VALID NHWC convolution `x: [B, H, W, C]`, `w: [kh, kw, C, O]` -> `[B, Ho, Wo, O]` float32 (XLA's, cuDNN on
    a GPU), the inputs in `compute_dtype` (module docstring)."""
    dtype = as_dtype(compute_dtype)
    if dtype == _F32 and grad_rows is None:
        return _conv_product(_floating(x, w.dtype), w, stride, None)
    return _conv(x, w, stride, _product_dtype(dtype, w), grad_rows)


def im2col(x, kernel, stride: int):
    """A VALID convolution's operands as one matmul's: `x: [B, H, W, C]`, `kernel: [kh, kw, C, O]` (HWIO) ->
    (patches `[B, Ho, Wo, K]` in x's dtype, kernel `[K, O]`), `conv(x, kernel) == patches @ kernel`.

    Stride 1: the `kh * kw` shifted views concatenated on the channel axis (`K = kh * kw * C`). A stride `s` that
    divides the kernel first regroups each `s x s` block of pixels into channels (space-to-depth,
    `[B, H/s, W/s, s * s * C]`): the conv is then a stride-1 `(kh/s) x (kw/s)` one, whose views are `s * s * C`
    channels wide. The Nature CNN's first layer (8x8, stride 4, 4 channels) so copies 4 views of 64 channels
    instead of 64 views of 4 (docs/performance.md has what that saved). An integer `x` (uint8 frames) gives integer
    patches: a quarter of the bytes to copy."""
    kh, kw, c, o = kernel.shape
    b, h, w, _ = x.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    s = stride
    if s > 1 and kh % s == 0 and kw % s == 0:
        hb, wb = ho - 1 + kh // s, wo - 1 + kw // s  # the blocks the output reads
        x = x[:, :hb * s, :wb * s].reshape(b, hb, s, wb, s, c).transpose(0, 1, 3, 2, 4, 5)
        kernel = kernel.reshape(kh // s, s, kw // s, s, c, o).transpose(0, 2, 1, 3, 4, 5)
        return im2col(x.reshape(b, hb, wb, s * s * c), kernel.reshape(kh // s, kw // s, s * s * c, o), 1)
    cols = [x[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :] for i in range(kh) for j in range(kw)]
    return jnp.concatenate(cols, axis=-1), kernel.reshape(kh * kw * c, o)


def im2col_conv(x, kernel, stride: int, compute_dtype="float32", grad_rows: int | None = None):
    """VALID 2-D convolution as one matmul (`im2col` then `linear`): `x: [B, H, W, C]`, `kernel: [kh, kw, C, O]`
    -> `[B, Ho, Wo, O]` float32; `conv`'s result up to summation order. Vmapped over seeds, one dot whose batch
    dimension is the seed axis, never a grouped convolution."""
    patches, matrix = im2col(x, kernel, stride)
    dtype = as_dtype(compute_dtype)
    patches = _floating(patches, kernel.dtype if dtype == _F32 else dtype)  # integer patches: cast once
    return linear(patches, matrix, compute_dtype, grad_rows)


CONV_FUNCTIONS = {"im2col": im2col_conv, "xla": conv}


class Conv2D(nn.Module):
    """VALID conv with `nn.Conv`'s parameters (`kernel` HWIO, lecun-normal; `bias` zeros): `x: [B, H, W, C]`
    (uint8 or float) -> `[B, Ho, Wo, O]` float32 = `conv(x / input_divisor) + bias`.

    `impl`: "xla" (`conv`) or "im2col" (`im2col_conv`), chosen by `jaxrl.agents.networks.conv_kernel`. Under
    im2col the patches of an integer `x` are built from the integers and cast once, the divisor folded into
    the kernel; otherwise `x` is cast to float32 and divided first."""

    features: int
    kernel_size: int
    stride: int
    impl: str = "im2col"
    input_divisor: float = 1.0
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, x, grad_rows: int | None = None):
        if self.impl not in CONV_FUNCTIONS:
            raise ValueError(f"Conv2D impl={self.impl!r}: expected one of {', '.join(CONV_FUNCTIONS)}")
        k = self.kernel_size
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        if self.impl == "im2col" and not jnp.issubdtype(x.dtype, jnp.floating):
            kernel = kernel if self.input_divisor == 1.0 else kernel / self.input_divisor
        else:
            x = _floating(x, kernel.dtype)
            x = x if self.input_divisor == 1.0 else x / self.input_divisor
        y = CONV_FUNCTIONS[self.impl](x, kernel, self.stride, self.compute_dtype, grad_rows)
        return y + bias.reshape((1, 1, 1, -1))


class Dense(nn.Module):
    """`nn.Dense`'s parameters (`kernel [in, out]`, lecun-normal; `bias` zeros): `x: [N, in] -> [N, out]`
    float32 through `linear`."""

    features: int
    compute_dtype: str = "float32"

    @nn.compact
    def __call__(self, x, grad_rows: int | None = None):
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        return linear(x, kernel, self.compute_dtype, grad_rows) + bias.reshape((1,) * (x.ndim - 1) + (-1,))
