"""Greedy evaluation of Atari agents on whole games, and the evaluation video.

`evaluate(...)` plays `episodes` games per agent in one envpool (`S * episodes` envs, the run's protocol's
evaluation options: no episodic life, raw score) with epsilon = `config.eval_epsilon`, every agent's network in
one vmapped call per step, until every env has finished its first game.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from jaxrl.envs.envpool_env import make_envpool, to_step
from jaxrl.agents import dqn
from jaxrl.runners.atari import nhwc

VIDEO_SCALE = 4
VIDEO_FPS = 15  # 60 Hz emulator / frame skip 4: real time


def make_act(network):
    """Jitted `(params [S], obs [S, N, 4, 84, 84], key, epsilon) -> actions [S, N]`."""
    def act_one(params, obs, key, epsilon):
        return dqn.act(network, params, nhwc(obs), key, epsilon)

    def act(params, obs, key, epsilon):
        keys = jax.random.split(key, obs.shape[0])
        return jax.vmap(act_one, in_axes=(0, 0, 0, None))(params, obs, keys, epsilon)

    return jax.jit(act)


def evaluate(act, params, config, *, seed: int, record: bool = False, max_steps: int | None = None):
    """-> (returns `[S, episodes]`, lengths `[S, episodes]`, frames of seed 0's first game or None).

    `params`: stacked over `S = config.num_seeds` agents. `max_steps` caps the agent steps (default: envpool's
    27,000-step episode cap, so every game ends)."""
    num_seeds, n = config.num_seeds, config.eval_episodes
    env = make_envpool(config.env_id, num_seeds * n, seed, evaluation=True, protocol=config.atari_protocol)
    obs, _ = env.reset()
    returns = np.zeros(num_seeds * n)
    lengths = np.zeros(num_seeds * n, np.int64)
    finished = np.zeros(num_seeds * n, bool)
    frames = [obs[0, -1]] if record else None
    key = jax.random.PRNGKey(seed)
    limit = max_steps or env.spec.config.max_episode_steps + 1
    for _ in range(limit):
        key, act_key = jax.random.split(key)
        actions = act(params, obs.reshape(num_seeds, n, *obs.shape[1:]), act_key, config.eval_epsilon)
        step = to_step(*env.step(np.asarray(actions).reshape(-1)))
        obs = step.obs
        live = ~finished
        returns[live] += step.score[live]
        lengths[live] += 1
        if record and not finished[0]:
            frames.append(obs[0, -1])
        finished |= step.game_over
        if finished.all():
            break
    env.close()
    return returns.reshape(num_seeds, n), lengths.reshape(num_seeds, n), frames


def write_video(path, frames) -> Path:
    """84x84 grayscale frames (what the agent sees) -> an MP4 at real-time speed, scaled 4x.

    Written with imageio's ffmpeg (imageio-ffmpeg) where installed, else with OpenCV (`cv2`, mp4v codec);
    raises `RuntimeError` when neither is there."""
    path = Path(path)
    big = [np.repeat(np.repeat(np.asarray(f), VIDEO_SCALE, 0), VIDEO_SCALE, 1) for f in frames]
    try:
        import imageio_ffmpeg  # noqa: F401  (imageio's ffmpeg plugin needs it)
    except ImportError:
        return _write_video_cv2(path, big)
    import warnings

    import imageio.v2 as imageio
    with warnings.catch_warnings(), imageio.get_writer(path, fps=VIDEO_FPS, macro_block_size=1) as writer:
        warnings.simplefilter("ignore", RuntimeWarning)  # os.fork() of the ffmpeg process under JAX's threads
        for frame in big:
            writer.append_data(np.stack([frame] * 3, axis=-1))
    return path


def _write_video_cv2(path: Path, frames) -> Path:
    try:
        import cv2
    except ImportError:
        raise RuntimeError("no video writer: install imageio-ffmpeg or opencv-python-headless") from None
    h, w = frames[0].shape
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), VIDEO_FPS, (w, h), isColor=False)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV could not open {path} for writing (mp4v)")
    for frame in frames:
        writer.write(np.ascontiguousarray(frame, np.uint8))
    writer.release()
    return path
