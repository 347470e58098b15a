"""Seeds in one program: the seed-batched convolution, the one online pass, bfloat16 products, and the CUDA
lowering of the S-seed update (read here, no GPU needed).

- vmapped over seeds, im2col is one dot with the seed axis as a batch dimension and equals each seed's own
  convolution; XLA's convolution becomes a grouped one (`feature_group_count = S`), which `conv="auto"` avoids on
  a GPU for S > 1;
- the online network's one call over [s; s'] (`grad_rows`) gives the loss and gradients of its two calls;
- bfloat16 products stay within stated tolerances of float32 on the same batch.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.seed_scaling import cuda_lowering, lowering_counts
from jaxrl.agents.dqn import make_agent
from jaxrl.agents.layers import Dense, im2col_conv, linear
from jaxrl.agents.networks import conv_kernel
from jaxrl.agents.types import Transition
from jaxrl.config import get_preset

F32 = jnp.float32


def test_seed_batched_im2col_equals_each_seeds_convolution():
    """S = 4 kernels, one vmapped im2col (one dot_general, the seeds its batch dimension) against each seed's
    XLA convolution at the highest precision: within 1e-5."""
    s, b = 4, 3
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.randint(kx, (s, b, 84, 84, 4), 0, 256).astype(jnp.uint8)
    w = jax.random.normal(kw, (s, 8, 8, 4, 32), F32) / 255.0
    batched = jax.jit(jax.vmap(lambda xi, wi: im2col_conv(xi, wi, 4)))
    text = batched.lower(x, w).as_text()
    assert lowering_counts(text)["convolutions"] == 0 and "stablehlo.dot_general" in text
    got = batched(x, w)
    for i in range(s):
        want = jax.lax.conv_general_dilated(x[i].astype(F32), w[i], (4, 4), "VALID",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"), precision="highest")
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-5 * float(jnp.abs(want).max()))


@pytest.mark.parametrize("seeds", [1, 8])
def test_cuda_lowering_of_the_default_update_holds_no_grouped_convolution(seeds):
    """The GPU default (`conv="auto"`): cuDNN's convolution for one seed, im2col's seed-batched dots for more;
    never a grouped convolution. XLA's FLOP count of the same update matches `update_flops`' within 6%."""
    got = cuda_lowering(seeds, "auto", "bfloat16")
    assert got["conv"] == conv_kernel("cuda", seeds)
    assert got["grouped_convolutions"] == 0
    if seeds > 1:
        assert got["convolutions"] == 0 and set(got["dots_by_dtype"]) == {"bf16xbf16xf32"}
    else:
        assert got["convolutions"] > 0
    assert abs(got["flops_per_update_xla"] / got["flops_per_update_counted"] - 1) < 0.06, got


def test_vmapped_xla_convolution_lowers_to_grouped_convolutions():
    """What `auto` avoids (and what the check can find): 8 seeds of XLA's convolution are grouped ones."""
    got = cuda_lowering(8, "xla", "float32")
    assert got["grouped_convolutions"] == got["convolutions"] > 0
    assert set(got["dots_by_dtype"]) == {"f32xf32xf32"}


def _batch(key, b=16):
    ks = jax.random.split(key, 4)
    obs = jax.random.randint(ks[0], (b, 84, 84, 4), 0, 256).astype(jnp.uint8)
    nobs = jax.random.randint(ks[1], (b, 84, 84, 4), 0, 256).astype(jnp.uint8)
    return Transition(obs, jax.random.randint(ks[2], (b,), 0, 6), jax.random.normal(ks[3], (b,)), nobs,
                      jnp.zeros(b, bool))


@pytest.mark.parametrize("conv", ["im2col", "xla"])
def test_one_online_pass_equals_two(conv):
    """Double DQN's online call over [s; s'] with `grad_rows` (float32): the loss and gradients of separate calls
    over s (with gradient) and s' (without)."""
    from jaxrl.agents.losses import double_q_learning_targets, td_loss
    cfg = get_preset("pong").replace(conv=conv)
    agent = make_agent(cfg, 6, (84, 84, 4))
    batch = _batch(jax.random.PRNGKey(1))
    params = agent.network.init(jax.random.PRNGKey(2), batch.obs[:1])
    target = jax.tree_util.tree_map(lambda p: p * 0.9, params)

    def two_passes(p):
        q_tm1 = agent.network.apply(p, batch.obs).q_values
        q_t_online = agent.network.apply(jax.lax.stop_gradient(p), batch.next_obs).q_values
        q_t = agent.network.apply(target, batch.next_obs).q_values
        y = double_q_learning_targets(batch.reward, cfg.gamma * (1.0 - batch.terminated), q_t, q_t_online)
        return td_loss(q_tm1, batch.action, y).loss

    want_loss, want = jax.jit(jax.value_and_grad(two_passes))(params)  # jitted: one compile, not one per op
    (loss, _), got = jax.jit(jax.value_and_grad(agent.loss_fn, has_aux=True))(params, target, batch)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * float(jnp.abs(b).max()))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_grad_rows_backward_uses_the_first_rows_only(dtype):
    """`linear`'s custom VJP with `grad_rows = n`: the gradients of a loss on the first n rows equal plain
    autodiff's (at that dtype's products); rows past n get a zero input gradient."""
    kx, kw, kg = jax.random.split(jax.random.PRNGKey(3), 3)
    x = jax.random.normal(kx, (10, 7), F32)
    w = jax.random.normal(kw, (7, 5), F32)
    g = jax.random.normal(kg, (4, 5), F32)

    def plain(x, w):
        return jnp.sum(g * jnp.matmul(x[:4].astype(dtype), w.astype(dtype), preferred_element_type=F32))

    def rows(x, w):
        return jnp.sum(g * linear(x, w, dtype, grad_rows=4)[:4])

    want, got = jax.grad(plain, (0, 1))(x, w), jax.grad(rows, (0, 1))(x, w)
    tol = 1e-6 if dtype == "float32" else 2e-2
    np.testing.assert_allclose(got[1], want[1], rtol=tol, atol=tol)
    np.testing.assert_allclose(got[0][:4], want[0][:4], rtol=tol, atol=tol)
    assert not np.any(np.asarray(got[0][4:]))


def test_dense_keeps_nn_dense_parameters():
    """`Dense` has `nn.Dense`'s parameter names, shapes and initial values (the parity suite converts by name)."""
    import flax.linen as nn
    x = jnp.ones((2, 6))
    mine, theirs = Dense(4).init(jax.random.PRNGKey(0), x), nn.Dense(4).init(jax.random.PRNGKey(0), x)
    for a, b in zip(jax.tree_util.tree_leaves(mine), jax.tree_util.tree_leaves(theirs)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(Dense(4).apply(mine, x), nn.Dense(4).apply(theirs, x), rtol=1e-6)


# Measured on random batches of 16 with freshly initialized networks: loss within 0.2%, the gradients' relative
# error (norm of the difference / norm, per parameter array) at most 8% (the first convolution's, where the
# error of every layer above has accumulated; 0.3% at the output layer).
BF16_LOSS_RTOL, BF16_GRAD_RTOL = 1e-2, 0.15


@pytest.mark.parametrize("conv", ["im2col", "xla"])
def test_bfloat16_update_is_close_to_float32(conv):
    """Same batch, same parameters, the Pong preset's loss and gradients with bfloat16 products against float32:
    within BF16_LOSS_RTOL and BF16_GRAD_RTOL; parameters, gradients, Q-values and priorities stay float32."""
    batch = _batch(jax.random.PRNGKey(4))
    out = {}
    for dtype in ("float32", "bfloat16"):
        agent = make_agent(get_preset("pong").replace(conv=conv, compute_dtype=dtype), 6, (84, 84, 4))
        params = agent.network.init(jax.random.PRNGKey(5), batch.obs[:1])
        (loss, aux), grads = jax.value_and_grad(agent.loss_fn, has_aux=True)(params, params, batch)
        assert aux["priority"].dtype == F32 and agent.network.apply(params, batch.obs).q_values.dtype == F32
        assert all(g.dtype == F32 for g in jax.tree_util.tree_leaves(grads))
        out[dtype] = loss, grads
    (l32, g32), (l16, g16) = out["float32"], out["bfloat16"]
    assert abs(float(l16) / float(l32) - 1) < BF16_LOSS_RTOL
    for a, b in zip(jax.tree_util.tree_leaves(g16), jax.tree_util.tree_leaves(g32)):
        assert float(jnp.linalg.norm((a - b).ravel()) / jnp.linalg.norm(b.ravel())) < BF16_GRAD_RTOL
    assert any(float(jnp.abs(a - b).max()) > 0 for a, b in zip(jax.tree_util.tree_leaves(g16),
                                                                jax.tree_util.tree_leaves(g32)))


def test_bfloat16_products_and_float32_state_in_the_update():
    """The bfloat16 update's parameters and optimizer state stay float32 and its dots take bfloat16 inputs."""
    cfg = get_preset("pong").replace(compute_dtype="bfloat16", conv="im2col")
    agent = make_agent(cfg, 6, (84, 84, 4))
    batch = _batch(jax.random.PRNGKey(6))
    params = agent.network.init(jax.random.PRNGKey(7), batch.obs[:1])
    opt_state = agent.optimizer.init(params)
    new_params, new_opt, loss, _ = jax.jit(agent.update)(params, params, opt_state, batch)
    assert loss.dtype == F32
    assert all(x.dtype == F32 for x in jax.tree_util.tree_leaves((new_params, new_opt)) if x.dtype != jnp.int32)
    text = jax.jit(agent.update).lower(params, params, opt_state, batch).as_text()
    assert set(lowering_counts(text)["dots_by_dtype"]) == {"bf16xbf16xf32"}
