"""The course's tabular Q-learning loop over Gymnasium's FrozenLake, with a torch Q-table."""

from __future__ import annotations

import time

import gymnasium as gym
import torch

from jaxrl.config import TabularConfig
from torch_reference.exploration import make_epsilon_schedule


def q_update(q, s, a, r, s_next, terminated, alpha, gamma, *, deterministic: bool):
    """In place, in float32 like the course's table:
    deterministic: Q[s, a] = r + gamma * max Q[s'];  stochastic: Q[s, a] = (1 - alpha) Q[s, a] + alpha (target).
    Terminal transitions do not bootstrap."""
    f32 = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    bootstrap = f32(gamma) * (f32(1.0) - f32(float(terminated))) * torch.max(q[s_next])
    target = f32(r) + bootstrap
    if deterministic:
        q[s, a] = target
    else:
        q[s, a] = (f32(1.0) - f32(alpha)) * q[s, a] + f32(alpha) * target
    return q


def train(config: TabularConfig, alpha: float, gamma: float, seed: int = 0) -> dict:
    """One Q-table, the course's way: a Python loop over env steps with epsilon-greedy (random tie-breaking).
    Returns the table, per-episode returns and the wall time."""
    config.validate()
    env = gym.make("FrozenLake-v1", map_name=config.map_name, is_slippery=config.slippery,
                   max_episode_steps=config.max_episode_steps)
    n_s, n_a = env.observation_space.n, env.action_space.n
    q = torch.zeros(n_s, n_a)
    generator = torch.Generator().manual_seed(seed)
    epsilon = make_epsilon_schedule(config.epsilon_schedule, config.egreedy, config.egreedy_final,
                                    config.egreedy_decay)
    deterministic = config.update == "deterministic"
    state, _ = env.reset(seed=seed)
    returns, episode_return = [], 0.0
    start = time.perf_counter()
    for t in range(config.total_steps):
        eps = epsilon(t)
        if torch.rand(1, generator=generator).item() < eps:
            action = int(torch.randint(n_a, (1,), generator=generator))
        else:
            noisy = q[state] + torch.rand(n_a, generator=generator) / 1000 * (q[state] == q[state].max())
            action = int(torch.max(noisy, 0)[1])
        new_state, reward, terminated, truncated, _ = env.step(action)
        q_update(q, state, action, reward, new_state, terminated, alpha, gamma, deterministic=deterministic)
        episode_return += reward
        state = new_state
        if terminated or truncated:
            returns.append(episode_return)
            episode_return = 0.0
            state, _ = env.reset()
    env.close()
    return {"q": q, "returns": returns, "seconds": time.perf_counter() - start}
