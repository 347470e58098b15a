"""The course's training loop over a Gymnasium vector env, reading the same `DQNConfig` as jaxrl: the mirror of
`jaxrl.runners.gymnax` (the classic-control envs jaxrl runs through gymnax run here through Gymnasium), with the
same `make_train(config) -> train(seed)` shape.

The schedule is jaxrl's (see `jaxrl.runners.gymnax`): `learning_starts` env steps without updates, then blocks of
`iterations_per_update_block` vectorized steps followed by `updates_per_block` updates; the target copy is
checked after each block.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import torch

from jaxrl.config import DQNConfig
from torch_reference.dqn import Agent
from torch_reference.ring import make_buffer


def make_env(config: DQNConfig, seed: int):
    """A synchronous Gymnasium vector env that auto-resets in the same step (true final obs in info)."""
    env = gym.make_vec(config.env_id, num_envs=config.num_envs, vectorization_mode="sync",
                       vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    env.reset(seed=seed)
    return env


def make_train(config: DQNConfig, device: str = "cpu", threads: int | None = None):
    """-> `train(seed) -> dict`: train one agent; the dict holds `episodes` (step, return, length arrays),
    `losses`, `seconds`, `agent`."""
    config.validate()
    return lambda seed=0: _train(config, seed, device, threads)


def _train(config: DQNConfig, seed: int, device: str, threads: int | None) -> dict:
    if threads is not None:
        torch.set_num_threads(threads)
    env = make_env(config, seed)
    obs, _ = env.reset(seed=seed)
    num_actions = int(env.single_action_space.n)
    obs_shape = env.single_observation_space.shape
    agent = Agent(config, num_actions, obs_shape, device=device, seed=seed)
    example = {"obs": np.zeros(obs_shape, env.single_observation_space.dtype), "action": np.int64(0),
               "reward": np.float32(0), "next_obs": np.zeros(obs_shape, env.single_observation_space.dtype),
               "terminated": np.bool_(False)}
    buffer = make_buffer(config.buffer_size, example)
    rng = np.random.default_rng(seed)
    episode_return = np.zeros(config.num_envs)
    episode_length = np.zeros(config.num_envs, np.int64)
    episodes = {"step": [], "return": [], "length": []}
    losses = []
    env_steps = 0

    def env_step():
        nonlocal obs, env_steps, episode_return, episode_length
        actions = agent.select_action(obs, env_steps)
        next_obs, reward, terminated, truncated, info = env.step(actions)
        env_steps += config.num_envs
        final_next = next_obs.copy()
        if "final_obs" in info:
            for i in np.nonzero(info["_final_obs"])[0]:
                final_next[i] = info["final_obs"][i]
        buffer.add({"obs": obs, "action": actions, "reward": reward.astype(np.float32), "next_obs": final_next,
                     "terminated": terminated})
        episode_return += reward
        episode_length += 1
        for i in np.nonzero(terminated | truncated)[0]:
            episodes["step"].append(env_steps)
            episodes["return"].append(float(episode_return[i]))
            episodes["length"].append(int(episode_length[i]))
            episode_return[i], episode_length[i] = 0.0, 0
        obs = next_obs

    start = time.perf_counter()
    for _ in range(config.learning_starts // config.num_envs):
        env_step()
    for _ in range(config.num_blocks):
        for _ in range(config.iterations_per_update_block):
            env_step()
        for j in range(config.updates_per_block):
            last = j == config.updates_per_block - 1
            losses.append(agent.optimize(buffer.sample(config.batch_size, rng), env_steps if last else None))
    seconds = time.perf_counter() - start
    env.close()
    return {"episodes": {k: np.asarray(v) for k, v in episodes.items()}, "losses": np.asarray(losses),
            "seconds": seconds, "env_steps": env_steps, "agent": agent}
