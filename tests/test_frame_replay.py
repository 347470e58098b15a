"""The frame-per-row Atari replay: rebuilt stacks equal the env's own observations, the naive buffer's
transitions, and torch_reference's buffer; memory per row."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.runners.atari import nhwc
from jaxrl.envs.envpool_env import make_envpool, to_step
from jaxrl.replay.frames import SEARCH_METHODS, make_frame_buffer, masked_choice
from jaxrl.replay.ring import make_buffer
from jaxrl.agents.types import Transition
from torch_reference.frames import FrameBuffer as TorchFrameBuffer


def record(num_envs, steps, rows, frames_fn, rng):
    """Drive a frame buffer (and a naive mirror) with one stream per env; `frames_fn(t)` gives the env's
    output `(obs [E, 4, H, W], reward, terminated, truncated)` at step t (t=0: the reset). Returns the buffer
    state and `{(row, env): transition}` for every transition stored after the last wrap of that row."""
    buf = make_frame_buffer(rows * num_envs, num_envs, sample_batch_size=8)
    torch_buf = TorchFrameBuffer(rows * num_envs, num_envs)
    state = buf.init()
    add = jax.jit(buf.add)
    reset_next = np.ones(num_envs, bool)
    actions = np.zeros(num_envs, np.int32)
    prev_obs = None
    truth = {}
    for t in range(steps):
        obs, reward, terminated, truncated = frames_fn(t)
        row = t % rows
        state = add(state, obs[:, -1], actions, reward, terminated, reset_next)
        torch_buf.add(obs[:, -1], actions, reward, terminated, reset_next)
        for e in range(num_envs):
            truth.pop((row, e), None)
            if not reset_next[e]:
                truth[(row, e)] = (prev_obs[e], actions[e], reward[e], obs[e], terminated[e])
        reset_next = terminated | truncated
        actions = rng.integers(0, 6, num_envs).astype(np.int32)
        prev_obs = obs
    return buf, state, torch_buf, truth


def check_against_truth(buf, state, torch_buf, truth):
    mask = np.asarray(buf.valid_mask(state))
    np.testing.assert_array_equal(mask, torch_buf.valid_mask())
    rows, envs = np.nonzero(mask)
    assert len(rows) >= 0.5 * len(truth)
    got = jax.device_get(buf.get_at(state, jnp.asarray(rows), jnp.asarray(envs)))
    ref = torch_buf.get_at(rows, envs)
    for i, (r, e) in enumerate(zip(rows, envs)):
        obs, action, reward, next_obs, terminated = truth[(r, e)]
        np.testing.assert_array_equal(got.obs[i], np.moveaxis(obs, 0, -1))
        np.testing.assert_array_equal(got.next_obs[i], np.moveaxis(next_obs, 0, -1))
        assert (got.action[i], got.reward[i], got.terminated[i]) == (action, reward, terminated)
        np.testing.assert_array_equal(ref["obs"][i], obs)
        np.testing.assert_array_equal(ref["next_obs"][i], next_obs)
    return rows, envs


def test_rebuilt_stacks_equal_envpool_observations():
    """A recorded Pong trajectory (2 envs, episodes cut at 40 steps so many boundaries and a wrap occur):
    every valid index rebuilds exactly the 4-frame observations envpool returned."""
    env = make_envpool("Pong-v5", 2, seed=3, max_episode_steps=40)
    rng = np.random.default_rng(0)
    obs0, _ = env.reset()

    def frames(t):
        if t == 0:
            return obs0, np.zeros(2, np.float32), np.zeros(2, bool), np.zeros(2, bool)
        s = to_step(*env.step(rng.integers(0, 6, 2).astype(np.int32)))
        return s.obs, s.reward, s.terminated, s.truncated

    buf, state, torch_buf, truth = record(2, 300, 96, frames, np.random.default_rng(1))
    rows, _ = check_against_truth(buf, state, torch_buf, truth)
    assert (np.asarray(state.first).sum(0) >= 2).all()  # episode starts inside the kept window


def reference_stacker(num_envs, steps, rng, h=6, w=5):
    """Random episodes (lengths 1..9) with envpool's stacking rule written plainly."""
    stacks = [None] * num_envs
    left = np.zeros(num_envs, int)
    outputs = []
    done_prev = np.ones(num_envs, bool)
    for t in range(steps):
        obs = np.zeros((num_envs, 4, h, w), np.uint8)
        reward = rng.normal(size=num_envs).astype(np.float32)
        terminated = np.zeros(num_envs, bool)
        truncated = np.zeros(num_envs, bool)
        for e in range(num_envs):
            frame = rng.integers(0, 256, (h, w), dtype=np.uint8)
            if done_prev[e]:
                stacks[e] = [frame] * 4
                left[e] = rng.integers(1, 10)
                reward[e] = 0.0
            else:
                stacks[e] = stacks[e][1:] + [frame]
                left[e] -= 1
                if left[e] == 0:
                    terminated[e], truncated[e] = (True, False) if rng.random() < 0.5 else (False, True)
            obs[e] = np.stack(stacks[e])
        outputs.append((obs, reward, terminated, truncated))
        done_prev = terminated | truncated
    return outputs


@pytest.mark.parametrize("num_envs,rows", [(1, 7), (3, 20), (4, 64)])
def test_matches_naive_buffer_on_random_episodes(num_envs, rows):
    rng = np.random.default_rng(num_envs)
    outputs = reference_stacker(num_envs, 150, rng)
    h, w = outputs[0][0].shape[-2:]

    buf = make_frame_buffer(rows * num_envs, num_envs, (h, w), sample_batch_size=8)
    torch_buf = TorchFrameBuffer(rows * num_envs, num_envs, (h, w))
    naive = make_buffer(rows * num_envs, Transition(jnp.zeros((h, w, 4), jnp.uint8), jnp.int32(0), jnp.float32(0),
                                                    jnp.zeros((h, w, 4), jnp.uint8), jnp.bool_(False)))
    state, naive_state = buf.init(), naive.init()
    actions = np.zeros(num_envs, np.int32)
    reset_next = np.ones(num_envs, bool)
    truth, slot_of = {}, {}
    prev = None
    for t, (obs, reward, terminated, truncated) in enumerate(outputs):
        row = t % rows
        state = buf.add(state, obs[:, -1], actions, reward, terminated, reset_next)
        torch_buf.add(obs[:, -1], actions, reward, terminated, reset_next)
        live = np.flatnonzero(~reset_next)
        for e in range(num_envs):
            truth.pop((row, e), None)
        if len(live):
            naive_state = naive.add(naive_state, Transition(nhwc(prev[live]), actions[live], reward[live],
                                                            nhwc(obs[live]), terminated[live]))
            start = int(naive_state.position) - len(live)
            for j, e in enumerate(live):
                slot_of[(row, e)] = (start + j) % naive.capacity
                truth[(row, e)] = (prev[e], actions[e], reward[e], obs[e], terminated[e])
        reset_next = terminated | truncated
        actions = rng.integers(0, 6, num_envs).astype(np.int32)
        prev = obs
    rows_v, envs_v = check_against_truth(buf, state, torch_buf, truth)
    # The same transitions, fetched from the naive buffer, are identical field by field.
    got = buf.get_at(state, jnp.asarray(rows_v), jnp.asarray(envs_v))
    want = naive.get(naive_state, jnp.asarray([slot_of[(r, e)] for r, e in zip(rows_v, envs_v)]))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Sampling only ever returns valid transitions.
    batch = buf.sample(state, jax.random.PRNGKey(0))
    assert batch.obs.shape == (8, h, w, 4)


def test_sampling_is_uniform_over_valid_rows():
    buf = make_frame_buffer(4 * 16, 4, (2, 2), sample_batch_size=4000)
    state = buf.init()
    for t in range(40):
        first = np.full(4, t % 7 == 0)
        state = buf.add(state, np.full((4, 2, 2), t, np.uint8), np.zeros(4, np.int32), np.zeros(4, np.float32),
                        np.zeros(4, bool), first)
    mask = np.asarray(buf.valid_mask(state))
    batch = buf.sample(state, jax.random.PRNGKey(1))
    frames = np.asarray(batch.next_obs[:, 0, 0, -1])
    kept = {int(f) for f in frames}
    assert all(t % 7 != 0 for t in kept)  # never a first row
    counts = np.bincount(frames, minlength=40)[list(kept)]
    assert len(kept) == mask.sum() // 4 and counts.min() > 0.6 * counts.mean()


def test_memory_per_row():
    buf = make_frame_buffer(100_000, 1)
    assert buf.bytes_per_row == 7067 <= 7200  # frame + action, reward, terminated, truncated, first
    state = jax.eval_shape(buf.init)
    total = sum(np.prod(x.shape) * x.dtype.itemsize for x in jax.tree_util.tree_leaves(state))
    assert total / 100_000 < 7070
    naive_bytes = 2 * 4 * 84 * 84
    assert naive_bytes == 56448


def test_bad_arguments():
    with pytest.raises(ValueError, match="rows per env"):
        make_frame_buffer(20, 4)
    with pytest.raises(ValueError, match="capacity"):
        make_frame_buffer(0, 1)
    with pytest.raises(ValueError, match="search='bisect'"):
        make_frame_buffer(64, 4, search="bisect")


@pytest.mark.parametrize("search", SEARCH_METHODS)
def test_masked_choice_is_jax_choice_bit_for_bit(search):
    """Each binary search draws exactly `jax.random.choice`'s slots (a sparse mask, a dense one, one valid slot),
    so the backend's choice of search changes no run."""
    n = 5000
    sparse = (jax.random.uniform(jax.random.PRNGKey(0), (n,)) < 0.01).astype(jnp.float32)
    dense = (jax.random.uniform(jax.random.PRNGKey(1), (n,)) < 0.97).astype(jnp.float32)
    single = jnp.zeros(n).at[1234].set(1.0)
    draw = jax.jit(masked_choice, static_argnums=(2, 3))
    for mask in (sparse, dense, single):
        for seed in range(3):
            key = jax.random.PRNGKey(seed)
            want = jax.random.choice(key, n, (64,), p=mask / mask.sum())
            got = draw(key, mask, 64, search)
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
            assert np.asarray(mask)[np.asarray(got)].all()
