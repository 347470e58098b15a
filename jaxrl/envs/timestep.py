"""The one step record every env family returns: a gymnax batch inside a compiled loop and envpool's pool alike.

    TimeStep(obs, reward, terminated, truncated, score, game_over)     leaves `[E, ...]`, numpy or jax arrays

The learner reads `obs`, `reward`, `terminated` and `truncated` (what it stores and bootstraps on); the episode
statistics, the evaluations and the logs read `score` and `game_over` (what a person would count). For a gymnax
env they coincide (`score = reward`, `game_over = terminated | truncated`); under Atari's protocols a life loss may
terminate without ending the game, and rewards are clipped while scores are not.
"""

from __future__ import annotations

from typing import NamedTuple


class TimeStep(NamedTuple):
    """One vectorized env step (`E` envs).

    obs: `[E, *obs_shape]`, the observation to act on next (already the reset's where an episode ended);
    reward: `[E]` float32, the reward the learner uses; terminated, truncated: `[E]` bool (a terminal state; a cut
    at a time limit); score: `[E]` float32, the reward that counts toward the episode's return; game_over: `[E]`
    bool, the episode really ended (its return is complete)."""

    obs: object
    reward: object
    terminated: object
    truncated: object
    score: object
    game_over: object


def restart(obs, xp) -> TimeStep:
    """The `TimeStep` of a fresh reset (nothing ended, nothing earned); `xp`: numpy or jax.numpy."""
    n = obs.shape[0]
    zeros, false = xp.zeros(n, xp.float32), xp.zeros(n, bool)
    return TimeStep(obs, zeros, false, false, zeros, false)
