"""The course's Pong loop in PyTorch on the same envpool env and schedule as `jaxrl.runners.atari`.

Per vectorized step `i` (env steps before it: `i * num_envs`): store one frame row per env, run the
updates that are due (after `learning_starts + steps_per_block` env steps, `updates_per_block` every
`steps_per_block`), copy the target when the counter crossed a multiple of `target_update_frequency`, pick
epsilon-greedy actions, step envpool. Returns the episodes (true game score) and the SPS.
"""

from __future__ import annotations

import time

import envpool
import numpy as np
import torch

from jaxrl.config import DQNConfig, protocol_options
from torch_reference.dqn import Agent
from torch_reference.frames import FrameBuffer


def make_env(config: DQNConfig, seed: int):
    return envpool.make(config.env_id, env_type="gymnasium", num_envs=config.num_envs, batch_size=config.num_envs,
                        seed=seed, **protocol_options(config.atari_protocol))


def train(config: DQNConfig, seed: int = 0, device: str = "cpu", threads: int | None = None,
          total_steps: int | None = None) -> dict:
    """One agent; `total_steps` (default: config's) lets a benchmark time a slice of a run."""
    config.validate()
    if threads is not None:
        torch.set_num_threads(threads)
    env = make_env(config, seed)
    num_envs = config.num_envs
    agent = Agent(config, int(env.action_space.n), (4, 84, 84), device=device, seed=seed)
    buffer = FrameBuffer(config.buffer_size, num_envs)
    rng = np.random.default_rng(seed)
    block = config.steps_per_block
    obs, _ = env.reset()
    reward = np.zeros(num_envs, np.float32)
    terminated = np.zeros(num_envs, bool)
    reset_next = np.ones(num_envs, bool)
    actions = np.zeros(num_envs, np.int64)
    episode_return, episode_length = np.zeros(num_envs), np.zeros(num_envs, np.int64)
    episodes = {"step": [], "return": [], "length": []}
    losses = []
    start = time.perf_counter()
    learning_start = None  # wall clock at the first update: SPS of the learning phase is timed from here
    iterations = (total_steps or config.total_steps) // num_envs
    for i in range(iterations):
        env_steps = i * num_envs
        buffer.add(obs[:, -1], actions, reward, terminated, reset_next)
        if env_steps >= config.learning_starts + block and (env_steps - config.learning_starts) % block == 0:
            if learning_start is None:
                learning_start, learning_from = time.perf_counter(), env_steps
            for j in range(config.updates_per_block):
                last = j == config.updates_per_block - 1
                losses.append(agent.optimize(buffer.sample(config.batch_size, rng), env_steps if last else None))
        actions = agent.select_action(obs, env_steps)
        obs, reward, terminated, truncated, info = env.step(actions.astype(np.int32))
        reward = reward.astype(np.float32)
        episode_return += info["reward"]
        episode_length += ~reset_next
        reset_next = terminated | truncated
        for e in np.nonzero(truncated | (terminated & info["terminated"].astype(bool)))[0]:
            episodes["step"].append((i + 1) * num_envs)
            episodes["return"].append(float(episode_return[e]))
            episodes["length"].append(int(episode_length[e]))
            episode_return[e], episode_length[e] = 0.0, 0
    end = time.perf_counter()
    seconds = end - start
    env.close()
    learning_sps = (iterations * num_envs - learning_from) / (end - learning_start) if learning_start else None
    return {"episodes": {k: np.asarray(v) for k, v in episodes.items()}, "losses": np.asarray(losses),
            "seconds": seconds, "env_steps": iterations * num_envs, "steps_per_second": iterations * num_envs / seconds,
            "learning_steps_per_second": learning_sps, "agent": agent}
