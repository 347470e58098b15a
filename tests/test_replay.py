"""The pure buffer against a plain-Python list model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxrl.replay.ring import make_buffer

EXAMPLE = {"obs": np.zeros((2, 3), np.uint8), "action": np.int32(0), "reward": np.float32(0)}


def _items(start, n):
    return {"obs": (np.arange(start, start + n)[:, None, None] % 256 * np.ones((1, 2, 3))).astype(np.uint8),
            "action": np.arange(start, start + n, dtype=np.int32),
            "reward": np.arange(start, start + n, dtype=np.float32) * 0.5}


@settings(max_examples=40, deadline=None)
@given(capacity=st.integers(1, 12), adds=st.lists(st.integers(1, 5), min_size=1, max_size=10))
def test_ring_matches_list_model(capacity, adds):
    buf = make_buffer(capacity, EXAMPLE, sample_batch_size=64)
    state = buf.init()
    model = [None] * capacity  # the slot each item should occupy
    pos = count = 0
    for n in adds:
        if n > capacity:
            with pytest.raises(ValueError, match="exceeds capacity"):
                buf.add(state, _items(0, n))
            continue
        state = buf.add(state, _items(count, n))
        for i in range(n):
            model[pos] = count + i
            pos = (pos + 1) % capacity
        count += n
    valid = min(count, capacity)
    assert int(state.size) == valid and int(state.position) == pos
    if valid == 0:
        return
    stored = buf.get(state, jnp.arange(valid))
    np.testing.assert_array_equal(stored["action"], model[:valid])
    assert stored["obs"].dtype == jnp.uint8 and stored["action"].dtype == jnp.int32
    assert stored["reward"].dtype == jnp.float32
    np.testing.assert_array_equal(stored["obs"][:, 0, 0], np.array(model[:valid]) % 256)
    # sampling returns only items still held by the model
    sample = buf.sample(state, jax.random.PRNGKey(count))
    assert set(np.asarray(sample["action"]).tolist()) <= set(model[:valid])
    np.testing.assert_allclose(sample["reward"], np.asarray(sample["action"]) * 0.5)


def test_sample_covers_all_valid_slots_only():
    buf = make_buffer(100, EXAMPLE, sample_batch_size=4000)
    state = buf.add(buf.init(), _items(0, 7))
    a = np.asarray(jax.jit(buf.sample)(state, jax.random.PRNGKey(0))["action"])
    assert set(a.tolist()) == set(range(7))


def test_can_sample_and_jit():
    buf = make_buffer(8, EXAMPLE, sample_batch_size=2, min_size=3)
    add = jax.jit(buf.add)
    state = add(buf.init(), _items(0, 2))
    assert not bool(buf.can_sample(state))
    state = add(state, _items(2, 1))
    assert bool(buf.can_sample(state))


@pytest.mark.parametrize("kwargs", [dict(capacity=0), dict(capacity=-1), dict(capacity=2.5),
                                    dict(sample_batch_size=0), dict(min_size=0), dict(min_size=20)])
def test_bad_static_arguments(kwargs):
    args = dict(capacity=10, sample_batch_size=2, min_size=1) | kwargs
    with pytest.raises(ValueError):
        make_buffer(args.pop("capacity"), EXAMPLE, **args)


def test_add_checks_field_shapes():
    buf = make_buffer(4, EXAMPLE)
    bad = _items(0, 2) | {"obs": np.zeros((2, 3, 3), np.uint8)}
    with pytest.raises(ValueError, match="field shape"):
        buf.add(buf.init(), bad)
