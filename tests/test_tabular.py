"""Tabular Q-learning: the jittable FrozenLake against Gymnasium, updates by hand, ground truth, learning."""

import json

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.cli import main
from jaxrl.config import TabularConfig
from jaxrl.envs.frozen_lake import frozen_lake_tables, make_frozen_lake
from jaxrl.agents.tabular import q_update
from jaxrl.runners.tabular import gymnasium_success_rates, optimal_success_rate, run_tabular, value_iteration


@pytest.mark.parametrize("slippery", [False, True])
def test_one_step_distribution_matches_gymnasium(slippery):
    """Empirical next-state distribution of the JAX lake vs Gymnasium's own env, from every (s, a)."""
    tables = frozen_lake_tables("4x4", slippery)
    reset, step = make_frozen_lake(tables)
    n = 3000
    batched = jax.jit(jax.vmap(step, in_axes=(0, None, None)))
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=slippery).unwrapped
    rng = np.random.default_rng(0)
    for s, a in [(0, 1), (6, 2), (9, 0), (10, 1), (14, 2), (13, 3)]:
        state = reset()._replace(position=jnp.int32(s))
        out = batched(jax.random.split(jax.random.PRNGKey(s * 4 + a), n), state, jnp.int32(a))
        jax_counts = np.bincount(np.asarray(out.next_position), minlength=16) / n
        gym_next = []
        for _ in range(n if slippery else 5):
            env.s = s
            env.np_random = np.random.default_rng(rng.integers(1 << 30))
            gym_next.append(env.step(a)[0])
        gym_counts = np.bincount(gym_next, minlength=16) / len(gym_next)
        np.testing.assert_allclose(jax_counts, gym_counts, atol=0.04)
        # and the support and rewards are Gymnasium's exactly
        assert set(np.flatnonzero(jax_counts)) == set(np.flatnonzero(gym_counts))


def test_truncation_at_step_limit():
    tables = frozen_lake_tables("4x4", False)
    reset, step = make_frozen_lake(tables, max_episode_steps=3)
    state = reset()
    for t in range(3):  # push LEFT against the wall: never terminal
        out = step(jax.random.PRNGKey(t), state, jnp.int32(0))
        state = out.state
    assert bool(out.truncated) and not bool(out.terminated) and int(state.position) == 0 and int(state.time) == 0


def test_q_updates_hand_computed():
    q = jnp.zeros((3, 2), jnp.float32).at[2].set(jnp.array([1.0, 4.0]))
    # deterministic: 0.5 + 0.9 * 4 = 4.1
    q1 = q_update(q, 0, 1, 0.5, 2, jnp.bool_(False), 0.3, 0.9, deterministic=True)
    np.testing.assert_allclose(q1[0, 1], 4.1, rtol=1e-6)
    # stochastic from Q=1: 0.7 * 1 + 0.3 * 4.1 = 1.93
    q2 = q_update(q.at[0, 1].set(1.0), 0, 1, 0.5, 2, jnp.bool_(False), 0.3, 0.9, deterministic=False)
    np.testing.assert_allclose(q2[0, 1], 1.93, rtol=1e-6)
    # terminal: no bootstrap
    q3 = q_update(q, 0, 1, 1.0, 2, jnp.bool_(True), 0.3, 0.9, deterministic=True)
    np.testing.assert_allclose(q3[0, 1], 1.0)
    assert float(jnp.abs(q3 - q).sum()) == 1.0  # only Q[0, 1] changed


def test_value_iteration_ground_truth():
    det = frozen_lake_tables("4x4", False)
    v, pi, _ = value_iteration(det, 0.9)
    # shortest path is 6 moves: V(start) = 0.9^5 (reward 1 on the 6th move)
    np.testing.assert_allclose(v[0], 0.9**5, rtol=1e-5)
    assert optimal_success_rate(det, 100) == pytest.approx(1.0)
    assert optimal_success_rate(det, 5) == pytest.approx(0.0)  # the goal is 6 moves away
    slip = frozen_lake_tables("4x4", True)
    assert optimal_success_rate(slip, 100) == pytest.approx(0.744, abs=1e-3)
    _, pi_slip, _ = value_iteration(slip, 0.99)
    # the classic optimal slippery policy on the states that matter
    assert [int(pi_slip[s]) for s in (0, 4, 8, 9, 10, 13, 14)] == [0, 0, 3, 1, 0, 2, 1]


def test_policies_measured_in_gymnasium():
    cfg = TabularConfig(map_name="4x4", slippery=False)
    good = np.array([1, 2, 1, 0, 1, 0, 1, 0, 2, 1, 1, 0, 0, 2, 2, 0])  # down, right ... to the goal
    always_left = np.zeros(16, int)
    np.testing.assert_array_equal(gymnasium_success_rates(np.stack([good, always_left]), cfg), [1.0, 0.0])


@pytest.mark.parametrize("map_name", ["4x4", "8x8"])
def test_deterministic_maps_reach_the_optimum(map_name):
    cfg = TabularConfig(map_name=map_name, update="deterministic", alphas=(1.0,), gammas=(0.95,), num_seeds=16,
                        total_steps=60_000 if map_name == "8x8" else 20_000, egreedy_decay=10_000.0)
    q, _, _ = run_tabular(cfg)
    rates = gymnasium_success_rates(q.argmax(-1).reshape(16, -1), cfg)
    assert optimal_success_rate(frozen_lake_tables(map_name, False), 100) == 1.0
    np.testing.assert_array_equal(rates, 1.0)


def test_slippery_4x4_within_margin_of_optimum():
    """alpha 0.05, gamma 0.99, 200k steps: the mean success rate over 16 seeds is within 0.05 of the exact
    optimum (0.744), and every seed within 0.2."""
    cfg = TabularConfig(slippery=True, alphas=(0.05,), gammas=(0.99,), num_seeds=16, total_steps=200_000,
                        egreedy_decay=40_000.0, eval_episodes=1000)
    q, _, _ = run_tabular(cfg)
    rates = gymnasium_success_rates(q.argmax(-1).reshape(16, -1), cfg)
    optimum = optimal_success_rate(frozen_lake_tables("4x4", True), 100)
    assert rates.mean() >= optimum - 0.05 and rates.min() >= optimum - 0.2, rates


def test_grid_and_seeds_in_one_program_differ():
    cfg = TabularConfig(slippery=True, alphas=(0.1, 0.9), gammas=(0.9, 0.99), num_seeds=3, total_steps=5000)
    q, metrics, _ = run_tabular(cfg)
    assert q.shape == (4, 3, 16, 4) and metrics.episodes.shape == (4, 3, 100)
    assert not np.array_equal(q[0, 0], q[0, 1])  # seeds differ
    assert not np.array_equal(q[0, 0], q[3, 0])  # grid points differ
    assert metrics.episodes.sum() > 100


def test_tabular_cli_run_dir(tmp_path):
    out = tmp_path / "lake"
    assert main(["tabular", "--env", "FrozenLake-v1", "--map", "4x4", "--num-seeds", "4", "--alpha", "0.1", "0.9",
                 "--total-steps", "5000", "--slippery", "--eval-episodes", "50", "--out-dir", str(out)]) == 0
    assert {p.name for p in out.iterdir()} >= {"config.json", "metrics.csv", "summary.json", "policy_heatmap.png"}
    summary = json.loads((out / "summary.json").read_text())
    assert [g["alpha"] for g in summary["grid"]] == [0.1, 0.9]
    assert summary["optimal_success_rate"] == pytest.approx(0.744, abs=1e-3)
    assert all(0.0 <= g["success_rate"] <= 1.0 for g in summary["grid"])


@pytest.mark.parametrize("argv", [["--map", "5x5"], ["--alpha", "0"], ["--update", "sarsa"], ["--env", "Taxi-v3"],
                                  ["--num-seeds", "0"], ["--gamma", "1.5"], ["--bogus"]])
def test_tabular_cli_errors(argv, capsys, tmp_path):
    assert main(["tabular", *argv, "--out-dir", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxrl: error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
