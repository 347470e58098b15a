import math

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxrl.agents.exploration import epsilon_greedy, exponential_epsilon, linear_epsilon, make_epsilon_schedule


def test_exponential_hand_computed():
    # course: eps = final + (start - final) * exp(-steps / decay)
    got = exponential_epsilon(jnp.array([0, 10_000, 20_000]), 0.9, 0.01, 10_000.0)
    np.testing.assert_allclose(got, [0.9, 0.01 + 0.89 / math.e, 0.01 + 0.89 / math.e**2], rtol=1e-6)


def test_linear_hand_computed():
    got = linear_epsilon(jnp.array([0, 250, 500, 1000]), 1.0, 0.1, 500.0)
    np.testing.assert_allclose(got, [1.0, 0.55, 0.1, 0.1], rtol=1e-6)


@settings(max_examples=50, deadline=None)
@given(steps=st.integers(0, 10**7), start=st.floats(0.0, 1.0), frac=st.floats(0.0, 1.0),
       decay=st.floats(1.0, 1e6))
def test_schedules_match_python_model(steps, start, frac, decay):
    final = start * frac
    exp_model = final + (start - final) * math.exp(-steps / decay)
    lin_model = start + min(steps / decay, 1.0) * (final - start)
    np.testing.assert_allclose(exponential_epsilon(steps, start, final, decay), exp_model, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(linear_epsilon(steps, start, final, decay), lin_model, rtol=1e-5, atol=1e-7)


def test_make_epsilon_schedule_picks_the_named_schedule():
    np.testing.assert_allclose(make_epsilon_schedule("exponential", 1.0, 0.0, 100.0)(100), math.exp(-1), rtol=1e-6)
    np.testing.assert_allclose(make_epsilon_schedule("linear", 1.0, 0.0, 100.0)(50), 0.5, rtol=1e-6)


def test_epsilon_greedy_extremes_and_rate():
    q = jnp.tile(jnp.array([[0.0, 5.0, 1.0]]), (20_000, 1))
    key = jax.random.PRNGKey(0)
    assert (epsilon_greedy(key, q, 0.0) == 1).all()
    a = np.asarray(epsilon_greedy(key, q, 1.0))
    assert set(np.unique(a)) == {0, 1, 2}
    # eps = 0.3: greedy share = 0.7 + 0.3/3 = 0.8
    share = float((np.asarray(epsilon_greedy(key, q, 0.3)) == 1).mean())
    assert abs(share - 0.8) < 0.015
