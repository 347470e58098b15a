"""A batch of `num_envs` gymnax environments as pure functions (auto-reset, true final observations)."""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnax
import jax
import jax.numpy as jnp

from jaxrl.envs.timestep import TimeStep


class StepResult(NamedTuple):
    """`timestep`: the family-independent step (`jaxrl.envs.timestep.TimeStep`, leaves `[E, ...]`: `obs` the
    next observation to act on, already reset where an episode ended; `score = reward`, `game_over = terminated |
    truncated`); `env_state`: gymnax's state after the step; `final_obs`: the true s_{t+1} of the transition
    (before any reset), `[E, *obs]`."""

    timestep: TimeStep
    env_state: Any
    final_obs: jnp.ndarray


class VectorEnv:
    """Pure vectorized wrapper: `reset(key) -> (obs [E, ...], state)`, `step(key, state, a [E]) -> StepResult`."""

    def __init__(self, env_id: str, num_envs: int):
        self.env_id = env_id
        self.num_envs = num_envs
        self.env, self.params = gymnax.make(env_id)
        actions = self.env.action_space(self.params)
        if not isinstance(actions, gymnax.environments.spaces.Discrete):
            raise ValueError(f"DQNConfig.env_id={env_id!r} has a continuous action space ({type(actions).__name__}"
                             f" {tuple(actions.shape)}); DQN needs discrete actions (e.g. CartPole-v1, Acrobot-v1, "
                             "MountainCar-v0)")
        self.num_actions = int(self.env.num_actions)
        space = self.env.observation_space(self.params)
        self.obs_shape = tuple(space.shape)
        self.obs_dtype = jnp.dtype(space.dtype)

    def reset(self, key):
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self.env.reset, in_axes=(0, None))(keys, self.params)

    def step(self, key, state, actions) -> StepResult:
        keys = jax.random.split(key, self.num_envs)
        obs, state, reward, terminated, truncated, info = jax.vmap(self.env.step, in_axes=(0, 0, 0, None))(
            keys, state, actions, self.params)
        reward, terminated, truncated = reward.astype(jnp.float32), terminated.astype(bool), truncated.astype(bool)
        return StepResult(TimeStep(obs, reward, terminated, truncated, reward, terminated | truncated), state,
                          info["final_observation"])


def is_gymnax_env(env_id: str) -> bool:
    return env_id in gymnax.registered_envs


def make_vector_env(env_id: str, num_envs: int) -> VectorEnv:
    if not is_gymnax_env(env_id):
        raise ValueError(f"DQNConfig.env_id={env_id!r} is neither a gymnax environment (e.g. "
                         f"{', '.join(sorted(gymnax.registered_envs)[:6])}, ...) nor an envpool Atari game (e.g. "
                         "Pong-v5, Breakout-v5)")
    return VectorEnv(env_id, num_envs)
