"""Same transitions in, same Q-table out: jaxrl.agents.tabular vs torch_reference.tabular."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jaxrl.agents.tabular as jt
import torch_reference.tabular as tt
from jaxrl.envs.frozen_lake import frozen_lake_tables, make_frozen_lake


def _transitions(slippery, n, seed):
    """A random-policy trajectory of n steps on the 4x4 JAX lake: (s, a, r, s', terminated) rows."""
    reset, step = make_frozen_lake(frozen_lake_tables("4x4", slippery))

    def body(state, key):
        action_key, step_key = jax.random.split(key)
        a = jax.random.randint(action_key, (), 0, 4, dtype=jnp.int32)
        out = step(step_key, state, a)
        return out.state, (state.position, a, out.reward, out.next_position, out.terminated)

    _, cols = jax.jit(lambda k: jax.lax.scan(body, reset(), jax.random.split(k, n)))(jax.random.PRNGKey(seed))
    s, a, r, s2, term = (np.asarray(c) for c in cols)
    return [(int(s[i]), int(a[i]), float(r[i]), int(s2[i]), bool(term[i])) for i in range(n)]


@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("slippery", [False, True])
def test_same_transitions_same_table(deterministic, slippery):
    rows = _transitions(slippery, 5000, seed=int(slippery))
    assert sum(row[2] for row in rows) >= 3  # the goal was reached a few times
    alpha, gamma = 0.3, 0.97
    s, a, r, s2, term = (np.array(c) for c in zip(*rows))

    def body(q, x):
        return jt.q_update(q, *x, alpha, gamma, deterministic=deterministic), None

    xs = (jnp.asarray(s), jnp.asarray(a), jnp.asarray(r, jnp.float32), jnp.asarray(s2), jnp.asarray(term))
    q_jax, _ = jax.jit(lambda q: jax.lax.scan(body, q, xs))(jnp.zeros((16, 4), jnp.float32))
    q_torch = torch.zeros(16, 4)
    for row in rows:
        tt.q_update(q_torch, *row, alpha, gamma, deterministic=deterministic)
    assert np.abs(np.asarray(q_jax)).max() > 0  # the trajectory reached the goal: the table is not all zero
    np.testing.assert_allclose(np.asarray(q_jax), q_torch.numpy(), rtol=1e-6, atol=1e-7)


def test_wrong_update_rule_is_detected():
    rows = _transitions(True, 5000, seed=1)
    q_jax = jnp.zeros((16, 4), jnp.float32)
    q_torch = torch.zeros(16, 4)
    for row in rows:
        q_jax = jt.q_update(q_jax, *row[:4], jnp.bool_(row[4]), 0.3, 0.97, deterministic=False)
        tt.q_update(q_torch, *row, 0.3, 0.97, deterministic=True)
    assert np.abs(np.asarray(q_jax) - q_torch.numpy()).max() > 1e-2
