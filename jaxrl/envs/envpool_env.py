"""Atari through envpool: the course's DeepMind-wrapper setting, every option explicit.

The course ran Gym's `PongNoFrameskip-v4` through the classic DeepMind wrappers. envpool's `Pong-v5`
reproduces that setting with these options (`ATARI_OPTIONS`):

  frame_skip=4                    MaxAndSkipEnv(skip=4): one agent step = 4 emulator frames, max over the
                                  last two (envpool always max-pools the last two frames)
  noop_max=30                     NoopResetEnv(noop_max=30)
  use_fire_reset=True             FireResetEnv
  episodic_life=True              EpisodicLifeEnv (a no-op for Pong, which has no lives)
  reward_clip=True                ClipRewardEnv (sign of the reward; Pong's rewards are already +-1)
  img_height=img_width=84, gray_scale=True, use_inter_area_resize=True
                                  WarpFrame (84x84 grayscale, cv2 INTER_AREA)
  stack_num=4                     FrameStack(4): the course's "stack 4 screens" improvement
  repeat_action_probability=0.0   v4 semantics: no sticky actions (v5's default is 0.25)
  full_action_space=False         the minimal action set (6 actions for Pong)
  max_episode_steps=27000         108k frames, the usual Atari cap (gym's v4 cap is 400k frames)

Observations are `[N, 4, 84, 84]` uint8 (stack axis first). envpool resets an env on the step call after
its episode ended: that call ignores the action, returns reward 0 and the new episode's first observation,
whose 4-frame stack holds 4 copies of the first frame. Episode returns are the true game score, the
unclipped `info["reward"]`; an episode really ends at `truncated` or when `info["terminated"]` (game over)
is set, not at a life loss.

`to_step` turns envpool's outputs into the `TimeStep` every env family returns (`jaxrl.envs.timestep`): obs
`[N, 4, 84, 84]` uint8, reward the clipped one (for learning), terminated/truncated envpool's (a life loss
terminates under episodic life), score the unclipped game reward, game_over the game's end; the same for the
host loop (numpy) and the XLA loop (`env.xla()`, jax arrays).
"""

from __future__ import annotations

import numpy as np

from jaxrl.config import ATARI_OPTIONS, protocol_options  # plain data, shared with torch_reference
from jaxrl.envs.timestep import TimeStep, restart

FRAMES_PER_STEP = ATARI_OPTIONS["frame_skip"]


def to_step(obs, reward, terminated, truncated, info, xp=np) -> TimeStep:
    """envpool's gymnasium-style outputs -> a `TimeStep` (`xp` = numpy or jax.numpy)."""
    truncated = xp.asarray(truncated).astype(bool)
    terminated = xp.asarray(terminated).astype(bool)
    game_over = truncated | (terminated & xp.asarray(info["terminated"]).astype(bool))
    return TimeStep(obs=obs, reward=xp.asarray(reward).astype(xp.float32), terminated=terminated,
                    truncated=truncated, score=xp.asarray(info["reward"]).astype(xp.float32), game_over=game_over)


def reset_step(obs, xp=np) -> TimeStep:
    """The `TimeStep` of a fresh reset (nothing ended, nothing earned)."""
    return restart(obs, xp)


def is_envpool_env(env_id: str) -> bool:
    """An envpool Atari id (envpool also registers classic-control ids such as CartPole-v1: those are gymnax's
    here). Every envpool Atari id is `GAME-v5`: any other id is answered without importing envpool (a second
    at every gymnax run's start) or building the spec of another envpool family (Procgen's needs the system's
    Qt libraries, and without them raised an ImportError)."""
    if not env_id.endswith("-v5"):
        return False
    import envpool
    return env_id in envpool.list_all_envs() and "Atari" in type(envpool.make_spec(env_id)).__name__


def make_envpool(env_id: str, num_envs: int, seed: int, *, evaluation: bool = False, protocol: str = "course",
                 **overrides):
    """A synchronous envpool (batch_size = num_envs, outputs in env-id order), gymnasium API, with `protocol`'s
    options (`jaxrl.config.atari`; `evaluation`: whole games, raw rewards) and `overrides`."""
    import envpool
    if not is_envpool_env(env_id):
        raise ValueError(f"DQNConfig.env_id={env_id!r} is not an envpool environment")
    check_rom(env_id)
    options = {**protocol_options(protocol, evaluation=evaluation), **overrides}
    return envpool.make(env_id, env_type="gymnasium", num_envs=num_envs, batch_size=num_envs, seed=seed,
                        **options)


def env_spec(env_id: str, protocol: str = "course") -> tuple[int, tuple[int, ...]]:
    """(num_actions, observation shape `(4, 84, 84)`) under `protocol` (the full action set has 18) without
    starting a pool."""
    import envpool
    check_rom(env_id)
    spec = envpool.make_spec(env_id, **protocol_options(protocol))
    return int(spec.action_space.n), tuple(spec.observation_space.shape)


def rom_path(env_id: str) -> str:
    """Where envpool loads `env_id`'s ROM from (envpool-assets' `atari/roms/<task>.bin`)."""
    import os

    import envpool
    config = envpool.make_spec(env_id).config
    return os.path.join(config.base_path, "atari", "roms", f"{config.task}.bin")


def check_rom(env_id: str) -> None:
    """`ValueError` naming the file when the game's ROM is not on disk: envpool's C++ would abort the process."""
    import os
    path = rom_path(env_id)
    if not os.path.isfile(path):
        raise ValueError(f"env {env_id}: its ROM {path} is missing (envpool-assets ships the Atari ROMs: reinstall "
                         "it)")
