"""Tabular Q-learning on FrozenLake (the course's first half), jitted and vmapped over seeds x (alpha, gamma).

  deterministic update (the course's first agent):  Q(s,a) = r + gamma * max_a' Q(s',a')
  stochastic TD update:                              Q(s,a) = (1 - alpha) Q(s,a) + alpha [r + gamma max_a' Q(s',a')]

Terminal transitions bootstrap from nothing (`discount = gamma * (1 - terminated)`); on FrozenLake terminal rows
of Q are never written, so this equals the course's plain `max Q[s']`. Ground truth: `value_iteration` (the
course's V(s) and pi(s) equations) and `optimal_success_rate` (the exact best success probability within the
step limit, by finite-horizon dynamic programming).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.agents.tabular import greedy_action, q_update
from jaxrl.config import TabularConfig
from jaxrl.envs.frozen_lake import FrozenLakeTables, frozen_lake_tables, make_frozen_lake
from jaxrl.agents.exploration import make_epsilon_schedule

NUM_BUCKETS = 100  # learning-curve resolution: episodes are aggregated into this many step buckets


class TabularMetrics(NamedTuple):
    """Per step bucket `[NUM_BUCKETS]`: finished episodes and the sum of their returns (successes)."""

    episodes: jnp.ndarray
    return_sum: jnp.ndarray


def make_tabular_train(config: TabularConfig, tables: FrozenLakeTables | None = None) -> Callable:
    """`train(key, alpha, gamma) -> (q [S, A], TabularMetrics)` for one table; vmap it over the grid."""
    config.validate()
    tables = tables or frozen_lake_tables(config.map_name, config.slippery)
    reset, env_step = make_frozen_lake(tables, config.max_episode_steps)
    n_s, n_a = tables.num_states, tables.num_actions
    deterministic = config.update == "deterministic"
    epsilon = make_epsilon_schedule(config.epsilon_schedule, config.egreedy, config.egreedy_final,
                                    config.egreedy_decay)
    steps_per_bucket = -(-config.total_steps // NUM_BUCKETS)

    def train(key, alpha, gamma):
        def step(carry, t):
            q, env_state, ep_return, key = carry
            key, explore_key, random_key, greedy_key, env_key = jax.random.split(key, 5)
            eps = epsilon(t)
            s = env_state.position
            a = jnp.where(jax.random.uniform(explore_key) < eps,
                          jax.random.randint(random_key, (), 0, n_a, dtype=jnp.int32), greedy_action(greedy_key, q[s]))
            out = env_step(env_key, env_state, a)
            q = q_update(q, s, a, out.reward, out.next_position, out.terminated, alpha, gamma,
                         deterministic=deterministic)
            ep_return = ep_return + out.reward
            done = jnp.logical_or(out.terminated, out.truncated)
            live = t < config.total_steps  # the last bucket may be padded
            finished = jnp.logical_and(done, live)
            metrics = (finished.astype(jnp.int32), jnp.where(finished, ep_return, 0.0))
            return (q, out.state, jnp.where(done, 0.0, ep_return), key), metrics

        def bucket(carry, start):
            carry, (eps_done, returns) = jax.lax.scan(step, carry, start + jnp.arange(steps_per_bucket))
            return carry, (eps_done.sum(), returns.sum())

        carry = (jnp.zeros((n_s, n_a), jnp.float32), reset(), jnp.float32(0.0), key)
        starts = jnp.arange(NUM_BUCKETS, dtype=jnp.int32) * steps_per_bucket
        (q, *_), (episodes, return_sum) = jax.lax.scan(bucket, carry, starts)
        return q, TabularMetrics(episodes, return_sum)

    return train


def run_tabular(config: TabularConfig):
    """Every seed x grid point in one jitted program. Returns (q `[G, S_seeds, nS, nA]`, metrics `[G, S, B]`,
    seconds) with G = len(config.grid)."""
    import time

    train = make_tabular_train(config)
    grid = np.array(config.grid, np.float32)  # [G, 2]
    g, n = len(grid), config.num_seeds
    keys = jax.random.split(jax.random.PRNGKey(config.seed), g * n)
    alphas = jnp.repeat(jnp.asarray(grid[:, 0]), n)
    gammas = jnp.repeat(jnp.asarray(grid[:, 1]), n)
    program = jax.jit(jax.vmap(train)).lower(keys, alphas, gammas).compile()
    t0 = time.perf_counter()
    q, metrics = jax.block_until_ready(program(keys, alphas, gammas))
    seconds = time.perf_counter() - t0
    reshape = lambda x: np.asarray(x).reshape(g, n, *x.shape[1:])  # noqa: E731
    return reshape(q), jax.tree_util.tree_map(reshape, metrics), seconds


def bellman_q(tables: FrozenLakeTables, v, gamma):
    """`Q(s,a) = sum_k p_k [r_k + gamma (1 - done_k) V(s'_k)]`, `[S, A]`."""
    p, ns = jnp.asarray(tables.probs), jnp.asarray(tables.next_state)
    r, done = jnp.asarray(tables.reward), jnp.asarray(tables.terminated)
    return jnp.sum(p * (r + gamma * (1.0 - done.astype(jnp.float32)) * v[ns]), axis=-1)


def value_iteration(tables: FrozenLakeTables, gamma: float, tol: float = 1e-7, max_iterations: int = 10_000):
    """The course's equations iterated to a fixed point: V(s) = max_a Q(s,a), pi(s) = argmax_a Q(s,a).
    Returns (V `[S]`, pi `[S]`, Q `[S, A]`)."""

    def cond(c):
        i, v, delta = c
        return jnp.logical_and(i < max_iterations, delta > tol)

    def body(c):
        i, v, _ = c
        v_new = jnp.max(bellman_q(tables, v, gamma), axis=-1)
        return i + 1, v_new, jnp.max(jnp.abs(v_new - v))

    v0 = jnp.zeros(tables.num_states, jnp.float32)
    _, v, _ = jax.lax.while_loop(cond, body, (0, v0, jnp.float32(jnp.inf)))
    q = bellman_q(tables, v, gamma)
    return v, jnp.argmax(q, axis=-1), q


def optimal_success_rate(tables: FrozenLakeTables, horizon: int) -> float:
    """The highest probability of reaching the goal within `horizon` steps from the start (reward 1 at the goal
    only): finite-horizon dynamic programming, V_h = max_a sum p [r + (1 - done) V_{h-1}(s')]."""
    v = jax.lax.fori_loop(0, horizon, lambda _, v: jnp.max(bellman_q(tables, v, 1.0), axis=-1),
                          jnp.zeros(tables.num_states, jnp.float32))
    return float(v[tables.start_state])


def reachable_states(tables: FrozenLakeTables, policy: np.ndarray) -> list[int]:
    """States reachable from the start under `policy` (the only ones its rollouts depend on)."""
    seen, stack = {tables.start_state}, [tables.start_state]
    while stack:
        s = stack.pop()
        a = int(policy[s])
        for k in range(tables.probs.shape[-1]):
            if tables.probs[s, a, k] > 0 and not tables.terminated[s, a, k]:
                s2 = int(tables.next_state[s, a, k])
                if s2 not in seen:
                    seen.add(s2)
                    stack.append(s2)
    return sorted(seen)


def gymnasium_success_rates(policies: np.ndarray, config: TabularConfig) -> np.ndarray:
    """Success rate of each greedy policy (`[N, S]` actions) measured by `eval_episodes` rollouts in Gymnasium's
    own `FrozenLake-v1` (with its 100-step limit). Policies that agree on every state they can reach share
    their rollouts."""
    import gymnasium as gym

    tables = frozen_lake_tables(config.map_name, config.slippery)
    env = gym.make("FrozenLake-v1", map_name=config.map_name, is_slippery=config.slippery,
                   max_episode_steps=config.max_episode_steps)
    cache: dict = {}
    rates = np.zeros(len(policies))
    for i, policy in enumerate(np.asarray(policies)):
        reach = reachable_states(tables, policy)
        key = tuple((s, int(policy[s])) for s in reach)
        if key not in cache:
            episodes = config.eval_episodes if config.slippery else 1  # a deterministic lake: one rollout
            wins = 0
            for e in range(episodes):
                obs, _ = env.reset(seed=config.seed * 1_000_003 + e)
                done = False
                while not done:
                    obs, r, term, trunc, _ = env.step(int(policy[obs]))
                    done = term or trunc
                wins += r > 0
            cache[key] = wins / episodes
        rates[i] = cache[key]
    env.close()
    return rates
