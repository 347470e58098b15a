"""Hand-computed expectations for targets, losses, the dueling head and the gradient clamp."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl.config import DQNConfig
from jaxrl.agents.losses import double_q_learning_targets, huber, q_learning_targets, td_error, td_loss
from jaxrl.agents.networks import dueling_aggregate, make_network, resolve_network_kind
from jaxrl.agents.optim import clamp_gradients, make_optimizer

F32 = np.float32


def test_q_learning_targets():
    r = jnp.array([1.0, 0.0], F32)
    discount = jnp.array([0.9, 0.5], F32)
    q_t_target = jnp.array([[1.0, 3.0], [-2.0, -4.0]], F32)
    # 1 + 0.9 * 3 = 3.7 ; 0 + 0.5 * -2 = -1
    np.testing.assert_allclose(q_learning_targets(r, discount, q_t_target), [3.7, -1.0], rtol=1e-6)


def test_double_q_learning_targets_use_the_online_argmax():
    r = jnp.array([1.0, 0.0], F32)
    discount = jnp.array([0.9, 0.5], F32)
    q_t_target = jnp.array([[1.0, 3.0], [-2.0, -4.0]], F32)
    q_t_online = jnp.array([[5.0, 0.0], [0.0, 1.0]], F32)  # online picks a=0, then a=1
    # 1 + 0.9 * q_target[0,0]=1 -> 1.9 ; 0 + 0.5 * q_target[1,1]=-4 -> -2
    got = double_q_learning_targets(r, discount, q_t_target, q_t_online)
    np.testing.assert_allclose(got, [1.9, -2.0], rtol=1e-6)
    assert not np.allclose(got, q_learning_targets(r, discount, q_t_target))


def test_targets_terminal_and_truncation():
    gamma = 0.99
    terminated = jnp.array([1.0, 0.0], F32)  # second is a truncated (not terminal) step
    discount = gamma * (1.0 - terminated)
    q_t = jnp.array([[10.0, 2.0], [10.0, 2.0]], F32)
    np.testing.assert_allclose(q_learning_targets(jnp.array([1.0, 1.0], F32), discount, q_t), [1.0, 10.9],
                               rtol=1e-6)


def test_double_targets_need_matching_shapes():
    with pytest.raises(AssertionError):
        double_q_learning_targets(jnp.zeros(2), jnp.zeros(2), jnp.zeros((2, 3)), jnp.zeros((2, 4)))


def test_targets_stop_gradient():
    g = jax.grad(lambda q: q_learning_targets(jnp.ones(1), jnp.ones(1), q).sum())(jnp.ones((1, 2)))
    np.testing.assert_array_equal(g, 0.0)
    g = jax.grad(lambda q: double_q_learning_targets(jnp.ones(1), jnp.ones(1), q, q).sum())(jnp.ones((1, 2)))
    np.testing.assert_array_equal(g, 0.0)


def test_td_loss_huber_and_mse():
    q_tm1 = jnp.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]], F32)
    a_tm1 = jnp.array([1, 0, 1], jnp.int32)
    targets = jnp.array([2.5, 0.0, 0.0], F32)
    # errors: 0.5, -3, 0 ; huber: 0.125, 2.5, 0 -> mean 0.875 ; mse: 0.25, 9, 0 -> mean 3.0833
    np.testing.assert_allclose(td_loss(q_tm1, a_tm1, targets, kind="huber").loss, 2.625 / 3, rtol=1e-6)
    np.testing.assert_allclose(td_loss(q_tm1, a_tm1, targets, kind="mse").loss, 9.25 / 3, rtol=1e-6)
    np.testing.assert_allclose(td_error(q_tm1, a_tm1, targets), [0.5, -3.0, 0.0], rtol=1e-6)
    # the priorities are |TD error|, whatever the loss and the weights
    for kind in ("huber", "mse"):
        np.testing.assert_allclose(td_loss(q_tm1, a_tm1, targets, kind=kind).priority, [0.5, 3.0, 0.0], rtol=1e-6)
    # importance weights: (0.5 * 0.125 + 2 * 2.5 + 1 * 0) / 3
    weighted = td_loss(q_tm1, a_tm1, targets, weights=jnp.array([0.5, 2.0, 1.0], F32))
    np.testing.assert_allclose(weighted.loss, 5.0625 / 3, rtol=1e-6)
    np.testing.assert_allclose(weighted.priority, [0.5, 3.0, 0.0], rtol=1e-6)
    with pytest.raises(ValueError, match="kind"):
        td_loss(q_tm1, a_tm1, targets, kind="l1")


def test_huber_values_and_gradient():
    x = jnp.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], F32)
    np.testing.assert_allclose(huber(x), [2.5, 0.5, 0.125, 0.0, 0.125, 0.5, 2.5], rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(jax.grad(huber))(x), [-1, -1, -0.5, 0, 0.5, 1, 1], rtol=1e-6)


def test_dueling_aggregate():
    value = jnp.array([[1.0], [0.0]], F32)
    advantage = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]], F32)
    # row 0: mean 2 -> 1 + [-1, 0, 1] ; row 1: mean 1 -> [-1, -1, 2]
    np.testing.assert_allclose(dueling_aggregate(value, advantage), [[0, 1, 2], [-1, -1, 2]], rtol=1e-6)


@pytest.mark.parametrize("dueling", [False, True])
@pytest.mark.parametrize("obs_shape", [(4,), (84, 84, 4)])
def test_network_shapes(dueling, obs_shape):
    cfg = DQNConfig(dueling=dueling)
    net = make_network(cfg, 6, obs_shape)
    dtype = jnp.uint8 if len(obs_shape) == 3 else jnp.float32
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((2, *obs_shape), dtype))
    out = net.apply(params, jnp.ones((3, *obs_shape), dtype))
    assert out.q_values.shape == (3, 6) and out.q_values.dtype == jnp.float32 and out.logits is None
    streams = ("value", "advantage") if dueling else ("q",)
    expected = {f"{name}_out" for name in streams}
    if len(obs_shape) == 3:  # the CNN's fc-512 lives in each stream of the head
        expected |= {f"{name}_hidden_0" for name in streams}
    assert set(params["params"]["head"]) == expected


def test_auto_network_and_small_images():
    """`auto`: the Nature CNN for Atari frames (36x36 is the smallest its VALID convs take), the MLP for vectors
    and MinAtar's 10x10 grids; an explicit CNN on a too-small image is one clear error, before any tracing."""
    cfg = DQNConfig()
    assert [resolve_network_kind(cfg, s) for s in ((4,), (10, 10, 4), (35, 84, 4), (36, 36, 4), (84, 84, 4))] == \
        ["mlp", "mlp", "mlp", "cnn", "cnn"]
    assert make_network(cfg, 3, (10, 10, 4)).apply(
        make_network(cfg, 3, (10, 10, 4)).init(jax.random.PRNGKey(0), jnp.zeros((1, 10, 10, 4))),
        jnp.ones((2, 10, 10, 4))).q_values.shape == (2, 3)
    with pytest.raises(ValueError, match="at least 36x36, got \\(10, 10, 4\\): use --network mlp"):
        make_network(cfg.replace(network="cnn"), 3, (10, 10, 4))


def test_nature_cnn_layer_shapes():
    net = make_network(DQNConfig(network="cnn"), 6, (84, 84, 4))
    p = net.init(jax.random.PRNGKey(0), jnp.zeros((1, 84, 84, 4), jnp.uint8))["params"]
    assert p["torso"]["conv_0"]["kernel"].shape == (8, 8, 4, 32)
    assert p["torso"]["conv_1"]["kernel"].shape == (4, 4, 32, 64)
    assert p["torso"]["conv_2"]["kernel"].shape == (3, 3, 64, 64)
    assert p["head"]["q_hidden_0"]["kernel"].shape == (7 * 7 * 64, 512)


def test_normalize_image_divides_by_255():
    cfg = DQNConfig(network="cnn")
    net, net_raw = make_network(cfg, 3, (84, 84, 4)), make_network(cfg.replace(normalize_image=False), 3, (84, 84, 4))
    x = jax.random.randint(jax.random.PRNGKey(1), (2, 84, 84, 4), 0, 256).astype(jnp.uint8)
    params = net.init(jax.random.PRNGKey(0), x)
    np.testing.assert_allclose(net.apply(params, x).q_values,
                               net_raw.apply(params, x.astype(jnp.float32) / 255.0).q_values,
                               rtol=1e-5, atol=1e-6)


def test_clamp_gradients_elementwise():
    grads = {"w": jnp.array([-3.0, -0.5, 0.0, 0.7, 2.0], F32)}
    updates, _ = clamp_gradients(1.0).update(grads, None)
    np.testing.assert_array_equal(updates["w"], np.array([-1.0, -0.5, 0.0, 0.7, 1.0], F32))


def test_optimizer_clips_before_adam():
    """With clipping, Adam's first step sees g=+-1: |step| = lr for every element, whatever the raw size."""
    params = {"w": jnp.zeros(3, F32)}
    grads = {"w": jnp.array([100.0, -0.5, 3.0], F32)}
    for clip, expected in ((True, [-1e-3, 1e-3, -1e-3]), (False, [-1e-3, 1e-3, -1e-3])):
        opt = make_optimizer(DQNConfig(clip_error=clip, learning_rate=1e-3))
        up, _ = opt.update(grads, opt.init(params), params)
        np.testing.assert_allclose(up["w"], expected, rtol=1e-4)
    # RMSProp is scale-sensitive in its first step: clipping changes it.
    opt_c = make_optimizer(DQNConfig(clip_error=True, optimizer="rmsprop", learning_rate=1e-2))
    opt_n = make_optimizer(DQNConfig(clip_error=False, optimizer="rmsprop", learning_rate=1e-2))
    g = {"w": jnp.array([100.0, -0.5, 3.0], F32)}
    up_c, _ = opt_c.update(g, opt_c.init(params), params)
    up_n, _ = opt_n.update(g, opt_n.init(params), params)
    # torch RMSprop step 1: v = 0.01 g^2 -> step = lr * g / (0.1 |g| + 1e-8) = lr * 10 * sign(g)
    np.testing.assert_allclose(up_n["w"], [-0.1, 0.1, -0.1], rtol=1e-5)
    np.testing.assert_allclose(up_c["w"], [-0.1, 0.1, -0.1], rtol=1e-5)
    # ... and the second step differs once the clipped history differs.
    s_c, s_n = opt_c.init(params), opt_n.init(params)
    _, s_c = opt_c.update(g, s_c, params)
    _, s_n = opt_n.update(g, s_n, params)
    g2 = {"w": jnp.array([1.0, 1.0, 1.0], F32)}
    assert not np.allclose(opt_c.update(g2, s_c, params)[0]["w"], opt_n.update(g2, s_n, params)[0]["w"])
    assert isinstance(opt_c, optax.GradientTransformation)


@pytest.mark.parametrize("size,channels,kernel,stride", [(84, 4, 8, 4), (20, 32, 4, 2), (9, 64, 3, 1), (23, 2, 6, 3),
                                                          (11, 2, 3, 2), (85, 3, 8, 4)])
def test_im2col_conv_matches_xla(size, channels, kernel, stride):
    """im2col_conv on its two paths (space-to-depth where the stride divides the kernel, shifted views
    otherwise), odd sizes whose last rows/columns no output reads included: XLA's VALID convolution."""
    from jaxrl.agents.layers import im2col_conv
    kx, kk = jax.random.split(jax.random.PRNGKey(size))
    x = jax.random.normal(kx, (2, size, size + 1, channels), F32)
    w = jax.random.normal(kk, (kernel, kernel, channels, 5), F32)
    want = jax.lax.conv_general_dilated(x, w, (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        precision="highest")
    got = im2col_conv(x, w, stride)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(jnp.abs(want).max()))


def test_conv_kernels_agree():
    """im2col (the CPU default, its first layer's patches built from the uint8 pixels) and XLA's native
    convolution: same Q-values and gradients. The parameters are drawn so that no pre-activation lies within
    2e-6 of a ReLU's kink (the kernels' float32 rounding differs by about 1e-6 there, and a unit on the other
    side of the kink changes a gradient by percents, not rounding)."""
    from jaxrl.agents.layers import Conv2D
    cfg = DQNConfig(network="cnn", dueling=True)
    x = jax.random.randint(jax.random.PRNGKey(3), (4, 84, 84, 4), 0, 256).astype(jnp.uint8)
    nets = [make_network(cfg.replace(conv=impl), 6, (84, 84, 4)) for impl in ("im2col", "xla")]
    params = nets[0].init(jax.random.PRNGKey(3), x)
    _, pre = nets[1].apply(params, x, capture_intermediates=lambda m, _: isinstance(m, Conv2D), mutable="intermediates")
    assert min(float(jnp.abs(z).min()) for z in jax.tree_util.tree_leaves(pre)) > 2e-6
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(nets[1].init(jax.random.PRNGKey(0), x))
    q = [np.asarray(n.apply(params, x).q_values) for n in nets]
    np.testing.assert_allclose(q[0], q[1], rtol=1e-5, atol=1e-6)
    grads = [jax.grad(lambda p, n=n: jnp.sum(n.apply(p, x).q_values ** 2))(params) for n in nets]
    for a, b in zip(jax.tree_util.tree_leaves(grads[0]), jax.tree_util.tree_leaves(grads[1])):
        assert np.max(np.abs(a - b)) <= 1e-5 * np.max(np.abs(b))
    with pytest.raises(ValueError, match="conv"):
        cfg.replace(conv="fft").validate()
    with pytest.raises(ValueError, match="impl"):
        Conv2D(8, 3, 1, impl="fft").init(jax.random.PRNGKey(0), x)


def test_gradient_clipping_modes_by_hand():
    """`element` clamps each element (the course's), `global-norm` rescales the whole gradient to the norm bound
    (over every parameter at once), `none` leaves it; `--no-clip-error` is `none`, and the pong preset keeps the
    course's element clamp at 1."""
    from jaxrl.agents.optim import clip_gradients
    from jaxrl.config import get_preset
    g = {"a": jnp.array([3.0, -4.0], F32), "b": jnp.array([0.5], F32)}  # global norm sqrt(9 + 16 + 0.25)
    clamp = clip_gradients("element", 1.0)
    np.testing.assert_allclose(clamp.update(g, clamp.init(g))[0]["a"], [1.0, -1.0])
    norm = clip_gradients("global-norm", 1.0)
    out = norm.update(g, norm.init(g))[0]
    scale = 1.0 / np.sqrt(25.25)
    np.testing.assert_allclose(out["a"], [3.0 * scale, -4.0 * scale], rtol=1e-6)
    np.testing.assert_allclose(out["b"], [0.5 * scale], rtol=1e-6)
    small = norm.update({"a": jnp.array([0.3, 0.4], F32)}, norm.init({"a": jnp.zeros(2)}))[0]
    np.testing.assert_allclose(small["a"], [0.3, 0.4])  # inside the bound: unchanged
    assert clip_gradients("none", 1.0) is None
    assert DQNConfig(clip_error=False).grad_clip_mode == "none"
    assert DQNConfig(grad_clip="global-norm").grad_clip_mode == "global-norm"
    assert get_preset("pong").grad_clip_mode == "element" and get_preset("pong").grad_clip_value == 1.0
    with pytest.raises(ValueError, match="clip_error"):
        DQNConfig(clip_error=False, grad_clip="global-norm").validate()
    with pytest.raises(ValueError, match="grad_clip_value"):
        DQNConfig(grad_clip_value=0.0).validate()


def test_linear_learning_rate_schedule_by_hand():
    """`lr_schedule="linear"`: the k-th update (k from 0) steps with lr * (1 - k / num_updates); RMSprop with
    alpha 0 would show it directly, so the test reads the schedule off plain SGD-like steps of Adam's first update
    per fresh state: Adam's first step is lr * sign(g)."""
    cfg = DQNConfig(learning_rate=1e-2, lr_schedule="linear", total_steps=4, learning_starts=0, clip_error=False)
    assert cfg.num_updates == 4
    opt = make_optimizer(cfg)
    params = {"w": jnp.zeros(1, F32)}
    state = opt.init(params)
    sizes = []
    for k in range(4):
        updates, state = opt.update({"w": jnp.ones(1, F32)}, state, params)
        sizes.append(-float(updates["w"][0]))
    # constant gradients: Adam's normalized step is 1 at every update, times the scheduled rate
    np.testing.assert_allclose(sizes, [1e-2 * (1 - k / 4) for k in range(4)], rtol=1e-4)
    with pytest.raises(ValueError, match="lr_schedule"):
        DQNConfig(lr_schedule="cosine").validate()
