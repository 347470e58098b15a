"""Rainbow parts as pure functions: n-step targets, the C51 projection and loss, the PER sum-tree."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxrl.replay import sumtree as per
from jaxrl.agents.losses import categorical_projection, categorical_td_loss, n_step_targets

F32 = np.float32


def test_n_step_hand_computed():
    gamma = 0.9
    r = jnp.array([[1.0, 2.0, 3.0],    # no episode end: 1 + 0.9*2 + 0.81*3 = 5.23, discount 0.729
                   [1.0, 2.0, 3.0],    # terminated at k=1: 1 + 1.8 = 2.8, discount 0
                   [1.0, 2.0, 3.0],    # truncated at k=0: 1, discount 0.9 (bootstrap from next_obs_0)
                   [1.0, 2.0, 3.0]], F32)  # terminated at k=2: 5.23, discount 0
    term = jnp.array([[0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]], bool)
    trunc = jnp.array([[0, 0, 0], [0, 0, 0], [1, 0, 1], [0, 0, 0]], bool)
    returns, discount, last = n_step_targets(r, term, trunc, gamma)
    np.testing.assert_allclose(returns, [5.23, 2.8, 1.0, 5.23], rtol=1e-6)
    np.testing.assert_allclose(discount, [0.729, 0.0, 0.9, 0.0], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(last, [2, 1, 0, 2])


def test_n_step_with_n_1_is_one_step():
    r = jnp.array([[0.5], [2.0]], F32)
    returns, discount, last = n_step_targets(r, jnp.array([[False], [True]]), jnp.array([[False], [False]]), 0.99)
    np.testing.assert_allclose(returns, [0.5, 2.0])
    np.testing.assert_allclose(discount, [0.99, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(last, [0, 0])


def test_categorical_projection_hand_computed():
    z = jnp.linspace(-2.0, 2.0, 5)  # atoms -2 -1 0 1 2, dz = 1
    probs = jnp.array([[0.0, 0.0, 1.0, 0.0, 0.0],   # all mass at 0
                       [0.5, 0.0, 0.0, 0.0, 0.5]], F32)
    # row 0: r=0.5, discount 1 -> 0.5 lands between atoms 0 and 1: 0.5 / 0.5
    # row 1: r=1, discount 0.5 -> atoms -2 -> 0, 2 -> 2: mass 0.5 at atom 0, 0.5 at atom 2
    got = categorical_projection(z, probs, jnp.array([0.5, 1.0]), jnp.array([1.0, 0.5]))
    np.testing.assert_allclose(got, [[0, 0, 0.5, 0.5, 0], [0, 0, 0.5, 0, 0.5]], atol=1e-6)
    # clipping: r = 10 puts everything on v_max
    got = categorical_projection(z, probs, jnp.array([10.0, 10.0]), jnp.array([1.0, 1.0]))
    np.testing.assert_allclose(got[:, -1], [1.0, 1.0], atol=1e-6)


def test_categorical_projection_conserves_mass():
    key = jax.random.PRNGKey(0)
    z = jnp.linspace(-10.0, 10.0, 51)
    probs = jax.nn.softmax(jax.random.normal(key, (64, 51)), axis=-1)
    r = jax.random.normal(jax.random.PRNGKey(1), (64,)) * 5
    discount = jax.random.uniform(jax.random.PRNGKey(2), (64,))
    out = categorical_projection(z, probs, r, discount)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)
    assert (np.asarray(out) >= 0).all()
    # the mean is preserved where no clipping happens
    inside = np.abs(np.asarray(r)) + 10 * np.asarray(discount) < 10
    np.testing.assert_allclose((out * z[None, :]).sum(-1)[inside], (r + discount * (probs * z[None, :]).sum(-1))[inside],
                               rtol=1e-4, atol=1e-4)


def test_categorical_loss_is_cross_entropy():
    logits = jnp.log(jnp.array([[[0.25, 0.75], [0.5, 0.5]]], F32))  # B=1, A=2, N=2
    target = jnp.array([[1.0, 0.0]], F32)
    loss, per_example = categorical_td_loss(logits, jnp.array([0]), target)
    np.testing.assert_allclose(loss, -np.log(0.25), rtol=1e-6)
    loss_w, _ = categorical_td_loss(logits, jnp.array([0]), target, weights=jnp.array([0.5]))
    np.testing.assert_allclose(loss_w, -0.5 * np.log(0.25), rtol=1e-6)


def test_sum_tree_sampling_frequencies_chi_square():
    tree = per.init(10)
    values = jnp.array([1.0, 2.0, 3.0, 4.0, 0.0, 5.0, 6.0, 7.0, 8.0, 9.0], F32)
    tree = per.set_values(tree, jnp.arange(10), values)
    assert float(per.total(tree)) == pytest.approx(45.0)
    idx, probs = jax.jit(per.sample, static_argnums=2)(tree, jax.random.PRNGKey(0), 100_000)
    counts = np.bincount(np.asarray(idx), minlength=10)
    assert counts[4] == 0 and idx.max() < 10  # zero priority and padding leaves are never drawn
    expected = np.asarray(values) / 45.0 * 100_000
    nz = expected > 0
    chi2, p = stats.chisquare(counts[nz], expected[nz])
    assert p > 0.001, (chi2, p, counts)
    np.testing.assert_allclose(probs, np.asarray(values)[np.asarray(idx)] / 45.0, rtol=1e-6)


def test_importance_weights_formula_and_beta():
    probs = jnp.array([0.1, 0.2, 0.4], F32)
    w = per.importance_weights(probs, 10, 0.5)
    raw = (10 * np.array([0.1, 0.2, 0.4])) ** -0.5
    np.testing.assert_allclose(w, raw / raw.max(), rtol=1e-6)
    np.testing.assert_allclose([per.beta_schedule(s, 0.4, 100) for s in (0, 50, 100, 200)], [0.4, 0.7, 1.0, 1.0],
                               rtol=1e-6)


def test_priority_updates_after_wrap_around():
    """A ring of capacity 5 written 7 times: slots 0 and 1 are overwritten, get max priority, then updates."""
    tree = per.init(5)
    tree = per.add_new(tree, jnp.arange(5))  # first pass: all at max priority 1
    tree = per.update_priorities(tree, jnp.array([0, 1, 2]), jnp.array([3.0, 0.5, 1.0]), alpha=1.0, eps=0.0)
    assert float(tree.max_priority) == 3.0
    tree = per.add_new(tree, jnp.array([0, 1]))  # wrap-around: slots 0, 1 rewritten -> priority 3 (max)
    np.testing.assert_allclose(per.leaf_values(tree, 5), [3.0, 3.0, 1.0, 1.0, 1.0])
    tree = per.update_priorities(tree, jnp.array([1]), jnp.array([-2.0]), alpha=0.5, eps=0.0)
    np.testing.assert_allclose(per.leaf_values(tree, 5), [3.0, 2.0**0.5, 1.0, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(per.total(tree), 6.0 + 2.0**0.5, rtol=1e-6)
    # every inner node equals the sum of its children
    nodes = np.asarray(tree.nodes)
    for i in range(1, len(nodes) // 2):
        assert nodes[i] == pytest.approx(nodes[2 * i] + nodes[2 * i + 1], rel=1e-6)


def test_per_bad_capacity():
    with pytest.raises(ValueError, match="capacity"):
        per.init(0)


def _stream(num_envs, steps, rng):
    """Random vectorized transitions with terminations and truncations; rewards encode (step, env)."""
    out = []
    for t in range(steps):
        term = rng.random(num_envs) < 0.2
        trunc = ~term & (rng.random(num_envs) < 0.1)
        out.append(dict(obs=(np.full((num_envs, 2), t, np.float32) + np.arange(num_envs)[:, None] / 10).astype(np.float32),
                        action=np.arange(num_envs, dtype=np.int32), reward=(100 * t + np.arange(num_envs)).astype(np.float32),
                        next_obs=(np.full((num_envs, 2), t + 0.5, np.float32) + np.arange(num_envs)[:, None] / 10).astype(np.float32),
                        terminated=term, truncated=trunc))
    return out


@pytest.mark.parametrize("num_envs,n", [(1, 3), (3, 3), (2, 5)])
def test_n_step_prioritized_sampler_windows(num_envs, n):
    """Every sampled slot is a valid window start and its n-step return, discount and bootstrap observation
    match a plain-Python computation over the same env's stream (cut at terminated or truncated); slots still
    missing later steps have priority 0; a wrapped ring keeps working."""
    from jaxrl.replay import sumtree as per
    from jaxrl.replay.ring import make_buffer
    from jaxrl.replay.sampler import make_replay
    from jaxrl.agents.types import Transition
    gamma, capacity = 0.9, 8 * num_envs
    example = Transition(np.zeros(2, np.float32), np.int32(0), np.float32(0), np.zeros(2, np.float32), False, False)
    buffer = make_buffer(capacity, example, sample_batch_size=64)
    replay = make_replay(buffer, num_envs=num_envs, n_step=n, gamma=gamma, prioritized=True, per_alpha=0.0)
    replay_state = replay.init()
    stream = _stream(num_envs, 13, np.random.default_rng(num_envs + n))
    for step in stream:
        replay_state = replay.add(replay_state, Transition(**{k: jnp.asarray(v) for k, v in step.items()}))
    state = replay_state.buffer
    written = 13 * num_envs
    batch, slots = replay.sample(replay_state, jax.random.PRNGKey(0), 1.0)
    leaves = np.asarray(per.leaf_values(replay_state.priorities, capacity))
    for i, slot in enumerate(np.asarray(slots)):
        item = (written - 1) - ((int(state.position) - 1 - slot) % capacity)  # global item number
        t, e = divmod(item, num_envs)
        assert t + n - 1 <= 12, "a window reaching past the newest step was sampled"
        g, m = 0.0, 0
        for k in range(n):
            s = stream[t + k]
            g += gamma ** k * s["reward"][e]
            m = k + 1
            if s["terminated"][e] or s["truncated"][e]:
                break
        last = stream[t + m - 1]
        np.testing.assert_allclose(float(batch.reward[i]), g, rtol=1e-5)
        np.testing.assert_allclose(float(batch.discount[i]), gamma ** m * (1 - last["terminated"][e]), rtol=1e-5)
        np.testing.assert_array_equal(np.asarray(batch.next_obs[i]), last["next_obs"][e])
        np.testing.assert_array_equal(np.asarray(batch.obs[i]), stream[t]["obs"][e])
        assert float(batch.weight[i]) == pytest.approx(1.0)  # alpha 0: uniform, all weights equal
    ages = (int(state.position) - 1 - np.arange(capacity)) % capacity
    assert (leaves[ages < (n - 1) * num_envs] == 0).all() and (leaves[ages >= (n - 1) * num_envs] > 0).all()


def test_rainbow_preset_trains():
    """The rainbow preset (double + dueling + PER + 3-step + C51) through the one trainer skeleton."""
    from jaxrl.config import get_preset
    from jaxrl.runners.gymnax import make_train
    cfg = get_preset("rainbow").replace(total_steps=3000, learning_starts=500, buffer_size=2000)
    state, metrics = jax.jit(make_train(cfg))(jax.random.PRNGKey(0))
    assert np.isfinite(np.asarray(metrics["loss"])).all()
    assert float(state.replay.priorities.nodes[1]) > 0 and int(state.diverged_at) == -1


def test_categorical_targets_pick_the_action_then_project():
    """Plain C51 bootstraps from the target network's greedy action (by the mean over atoms); the double variant
    from the selector's action. Support [0, 1, 2]; action 0 puts its mass on atom 2, action 1 on atom 0."""
    from jaxrl.agents.losses import (categorical_double_q_learning_targets, categorical_projection,
                                     categorical_q_learning_targets)
    z = jnp.array([0.0, 1.0, 2.0])
    logits = jnp.array([[[-9.0, -9.0, 9.0], [9.0, -9.0, -9.0]]])  # [B=1, A=2, N=3]
    r, discount = jnp.array([0.0]), jnp.array([0.5])
    probs = jax.nn.softmax(logits, axis=-1)
    plain = categorical_q_learning_targets(z, logits, r, discount)
    np.testing.assert_allclose(plain, categorical_projection(z, probs[:, 0], r, discount), atol=1e-6)
    # action 0's mass at 2 -> 0.5 * 2 = 1: all on atom 1
    np.testing.assert_allclose(plain, [[0.0, 1.0, 0.0]], atol=1e-3)
    double = categorical_double_q_learning_targets(z, logits, jnp.array([[0.0, 1.0]]), r, discount)
    np.testing.assert_allclose(double, categorical_projection(z, probs[:, 1], r, discount), atol=1e-6)
    np.testing.assert_allclose(double, [[1.0, 0.0, 0.0]], atol=1e-3)


def test_sum_tree_repeated_index_last_value_wins():
    """Duplicates in one `set_values` call: the last value of each index is stored, jitted or not, whatever order
    XLA's scatter applies them in; the sums follow."""
    from jaxrl.replay import sumtree as per
    np.testing.assert_array_equal(per.last_wins(jnp.array([3, 5, 3, 3, 0]), jnp.array([1.0, 2.0, 7.0, 4.0, 0.5])),
                                  [4.0, 2.0, 4.0, 4.0, 0.5])  # what the scatter receives: duplicates agree
    for set_values in (per.set_values, jax.jit(per.set_values)):
        tree = set_values(per.init(8), jnp.array([3, 5, 3, 3, 0]), jnp.array([1.0, 2.0, 7.0, 4.0, 0.5]))
        np.testing.assert_allclose(np.asarray(per.leaf_values(tree, 8)), [0.5, 0, 0, 4.0, 0, 2.0, 0, 0])
        assert float(per.total(tree)) == pytest.approx(6.5)
