"""n-step returns and prioritized replay on the Atari frame buffer (the common sampler over `slot = row * E + env`),
against plain-Python computations over the same streams and torch_reference's frame buffer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.replay import sumtree as per
from jaxrl.replay.frames import make_frame_buffer
from jaxrl.replay.sampler import ReplayState, make_replay
from tests.test_frame_replay import reference_stacker
from torch_reference.frames import FrameBuffer as TorchFrameBuffer

GAMMA = 0.9


def drive(num_envs, rows, steps, n, seed, reprioritize=True):
    """Fill a frame buffer through the replay's `add`, sampling and setting priorities (random errors) after
    every add, as the learner does. Returns everything the checks need (`state`: the frame buffer's own state,
    `prios`: the sum-tree)."""
    rng = np.random.default_rng(seed)
    outputs = reference_stacker(num_envs, steps, rng)
    h, w = outputs[0][0].shape[-2:]
    buf = make_frame_buffer(rows * num_envs, num_envs, (h, w), sample_batch_size=16)
    replay = make_replay(buf, num_envs=num_envs, n_step=n, gamma=GAMMA, prioritized=True, per_alpha=0.7)
    torch_buf = TorchFrameBuffer(rows * num_envs, num_envs, (h, w))
    add, sample = jax.jit(replay.add), jax.jit(replay.sample)
    replay_state = replay.init()
    stream, time_of = [], {}
    actions, first = np.zeros(num_envs, np.int32), np.ones(num_envs, bool)
    for t, (obs, reward, terminated, truncated) in enumerate(outputs):
        replay_state = add(replay_state, obs[:, -1], actions, reward, terminated, first, truncated)
        torch_buf.add(obs[:, -1], actions, reward, terminated, first, truncated)
        stream.append(dict(obs=obs, action=actions, reward=reward, terminated=terminated, truncated=truncated,
                           first=first))
        for e in range(num_envs):
            time_of[(t % rows, e)] = t
        if reprioritize and float(per.total(replay_state.priorities)) > 0:
            _, slots = sample(replay_state, jax.random.PRNGKey(t), 0.5)
            errors = jnp.asarray(rng.random(16), jnp.float32)
            replay_state = replay.set_priorities(replay_state, slots, errors, jnp.bool_(True))
        first = terminated | truncated
        actions = rng.integers(0, 6, num_envs).astype(np.int32)
    return buf, replay, replay_state.buffer, replay_state.priorities, torch_buf, stream, time_of


def model_starts(torch_buf, rows, n):
    """Window starts by the numpy buffer's own validity rule plus the n-1 later rows: `[R * E]` bool."""
    age = (torch_buf.position - 1 - np.arange(rows)) % rows
    return (torch_buf.valid_mask() & (age[:, None] >= n - 1)).reshape(-1)


@pytest.mark.parametrize("num_envs,rows,n", [(1, 12, 3), (3, 16, 3), (2, 20, 5), (2, 10, 1)])
def test_priorities_are_zero_exactly_where_no_window_starts(num_envs, rows, n):
    """After many wraps: a slot has priority > 0 iff it starts a valid window; first rows, rows missing later
    steps and rows whose frame history was overwritten have 0 (even after being reprioritized earlier)."""
    buf, sampler, state, prios, torch_buf, _, _ = drive(num_envs, rows, 90, n, seed=num_envs * 10 + n)
    leaves = np.asarray(per.leaf_values(prios, buf.capacity))
    starts = model_starts(torch_buf, rows, n)
    np.testing.assert_array_equal(np.asarray(buf.window_starts(state, n, num_envs)), starts)
    np.testing.assert_array_equal(leaves > 0, starts)
    assert starts.sum() > 0 and (~starts).sum() > 0


@pytest.mark.parametrize("num_envs,rows,n", [(1, 24, 3), (3, 16, 3), (2, 20, 5)])
@pytest.mark.parametrize("prioritized", [False, True])
def test_sampled_n_step_windows_match_the_stream(num_envs, rows, n, prioritized):
    """Every sampled slot is a valid window start, and its n-step return, discount, bootstrap observation,
    first observation and action match a plain-Python computation over that env's stream (cut at terminated
    or truncated)."""
    buf, sampler, state, prios, torch_buf, stream, time_of = drive(num_envs, rows, 70, n, seed=num_envs + n)
    if not prioritized:
        sampler = make_replay(buf, num_envs=num_envs, n_step=n, gamma=GAMMA)
        prios = None
    batch, slots = sampler.sample(ReplayState(state, prios), jax.random.PRNGKey(7), 0.5)
    if slots is None:  # uniform: the sampler drew its window starts with the buffer's `uniform_starts`
        slots = buf.uniform_starts(state, jax.random.PRNGKey(7), 16, n, num_envs)
    starts = model_starts(torch_buf, rows, n)
    for i, slot in enumerate(np.asarray(slots)):
        assert starts[slot], "an invalid window start was sampled"
        t, e = time_of[(slot // num_envs, slot % num_envs)], slot % num_envs
        g, m = 0.0, 0
        for k in range(n):
            s = stream[t + k]
            g += GAMMA ** k * float(s["reward"][e])
            m = k + 1
            if s["terminated"][e] or s["truncated"][e]:
                break
        last = stream[t + m - 1]
        np.testing.assert_allclose(float(batch.reward[i]), g, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(float(batch.discount[i]), GAMMA ** m * (1 - last["terminated"][e]), rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(batch.next_obs[i]), np.moveaxis(last["obs"][e], 0, -1))
        np.testing.assert_array_equal(np.asarray(batch.obs[i]), np.moveaxis(stream[t - 1]["obs"][e], 0, -1))
        assert int(batch.action[i]) == int(stream[t]["action"][e])
        if prioritized:
            assert 0 < float(batch.weight[i]) <= 1.0


def test_get_by_slot_matches_torch_reference():
    buf, _, state, _, torch_buf, _, _ = drive(3, 16, 50, 1, seed=5, reprioritize=False)
    slots = np.flatnonzero(torch_buf.valid_mask().reshape(-1))
    got = jax.device_get(buf.get(state, jnp.asarray(slots)))
    ref = torch_buf.get(slots)
    np.testing.assert_array_equal(np.moveaxis(got.obs, -1, 1), ref["obs"])
    np.testing.assert_array_equal(np.moveaxis(got.next_obs, -1, 1), ref["next_obs"])
    np.testing.assert_array_equal(got.reward, ref["reward"])


def test_window_longer_than_the_buffer_is_refused():
    buf = make_frame_buffer(10, 1, (2, 2))  # 10 rows: stacks of 4 leave room for windows of at most 6
    make_replay(buf, num_envs=1, n_step=6)
    with pytest.raises(ValueError, match="rows per env"):
        make_replay(buf, num_envs=1, n_step=7)


def test_replay_for_follows_the_observation_kind():
    """`make_replay_for` gives stacked uint8 frames the frame buffer and anything else the ring, and its one
    `add_step` stores what each buffer's own `add` stores (the ring refuses `first`: it keeps whole transitions)."""
    from jaxrl.config import DQNConfig
    from jaxrl.envs.timestep import TimeStep
    from jaxrl.replay.ring import BufferState
    from jaxrl.replay.sampler import frame_stack_of, make_replay_for

    assert frame_stack_of((4, 84, 84), np.uint8) == 4
    assert frame_stack_of((84, 84, 4), np.float32) == 0 and frame_stack_of((4,), np.float32) == 0
    config = DQNConfig(env_id="CartPole-v1", num_envs=2, buffer_size=16, batch_size=4, n_step=3)
    rng = np.random.default_rng(0)
    ts = TimeStep(jnp.asarray(rng.integers(0, 255, (2, 4, 6, 6)), jnp.uint8), jnp.float32([1, -1]),
                  jnp.bool_([True, False]), jnp.bool_([False, True]), jnp.float32([1, -1]), jnp.bool_([True, True]))
    action, first = jnp.int32([3, 1]), jnp.bool_([False, True])

    frames = make_replay_for(config, (4, 6, 6), jnp.uint8)
    assert frames.buffer.stack == 4
    got = frames.add_step(frames.init(), None, action, ts, ts.obs, first).buffer
    want = frames.buffer.add(frames.buffer.init(), ts.obs[:, -1], action, ts.reward, ts.terminated, first,
                             ts.truncated)
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(np.array_equal, got, want))

    ring = make_replay_for(config, (5,), jnp.float32)
    obs, next_obs = jnp.ones((2, 5)), jnp.full((2, 5), 2.0)
    ts = ts._replace(obs=jnp.zeros((2, 5)))
    state = ring.add_step(ring.init(), obs, action, ts, next_obs, None).buffer
    assert isinstance(state, BufferState) and int(state.size) == 2
    stored = ring.buffer.get(state, jnp.arange(2))
    np.testing.assert_array_equal(stored.next_obs, next_obs)  # the true next observation, not the reset's
    np.testing.assert_array_equal(stored.obs, obs)
    np.testing.assert_array_equal(stored.truncated, ts.truncated)
    with pytest.raises(ValueError, match="resets one step late"):
        ring.add_step(ring.init(), obs, action, ts, next_obs, first)
