"""Epsilon schedules and replay buffers agree between jaxrl and torch_reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl.agents.exploration as je
import jaxrl.replay.ring as jr
import torch_reference.exploration as te
import torch_reference.ring as tr

STEPS = np.arange(0, 300_000, 37)


@pytest.mark.parametrize("schedule", ["exponential", "linear"])
@pytest.mark.parametrize("start,final,decay", [(0.9, 0.01, 10_000.0), (1.0, 0.05, 500.0), (0.5, 0.1, 12_345.0)])
def test_schedules_agree(schedule, start, final, decay, record_max):
    """jaxrl computes epsilon in float32 inside the program; the reference is the course's float64 Python
    formula. They agree to float32 rounding (a few ulps): bit-equality is not attainable, since XLA and
    PyTorch/libm use different float32 exp kernels and XLA rewrites x / c as x * (1 / c)."""
    j = np.asarray(jax.jit(jax.vmap(je.make_epsilon_schedule(schedule, start, final, decay)))(jnp.asarray(STEPS)),
                   np.float64)
    t = np.array([te.make_epsilon_schedule(schedule, start, final, decay)(int(s)) for s in STEPS])
    err = float(np.max(np.abs(j - t) / t))
    record_max(f"epsilon {schedule}", err)
    assert err <= 1e-6
    # and the float32 values are within 8 ulps of the float64 formula rounded to float32
    ulps = np.abs(j.astype(np.float32).view(np.int32) - t.astype(np.float32).view(np.int32))
    assert ulps.max() <= 8


def test_wrong_schedule_is_detected():
    j = np.asarray(je.make_epsilon_schedule("exponential", 0.9, 0.01, 10_000.0)(jnp.asarray(STEPS)))
    t = np.array([te.make_epsilon_schedule("exponential", 0.9, 0.01, 10_100.0)(int(s)) for s in STEPS])
    assert np.max(np.abs(j - t) / t) > 1e-3


@pytest.mark.parametrize("capacity,pushes", [(10, [3, 4, 5, 2, 9]), (7, [7, 7, 1]), (100, [1] * 30)])
def test_buffers_return_same_transitions(capacity, pushes):
    """uint8 frames, wrap-around, batched pushes: both buffers return the same items for the same indices."""
    example = {"obs": np.zeros((4, 84, 84), np.uint8), "action": np.int32(0), "reward": np.float32(0),
               "terminated": np.bool_(False)}
    jbuf = jr.make_buffer(capacity, example, sample_batch_size=16)
    jstate = jbuf.init()
    tbuf = tr.make_buffer(capacity, example)
    rng = np.random.default_rng(capacity)
    for n in pushes:
        batch = {"obs": rng.integers(0, 256, (n, 4, 84, 84), dtype=np.uint8),
                 "action": rng.integers(0, 6, n).astype(np.int32),
                 "reward": rng.normal(size=n).astype(np.float32), "terminated": rng.random(n) < 0.3}
        jstate = jax.jit(jbuf.add)(jstate, batch)
        tbuf.add(batch)
    assert int(jstate.size) == len(tbuf) and int(jstate.position) == tbuf.position
    idx = rng.integers(0, len(tbuf), 50)
    got_j, got_t = jbuf.get(jstate, jnp.asarray(idx)), tbuf.get(idx)
    for k in example:
        assert np.asarray(got_j[k]).dtype == got_t[k].dtype
        np.testing.assert_array_equal(np.asarray(got_j[k]), got_t[k])
