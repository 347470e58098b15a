"""envpool Atari options: the course's DeepMind-wrapper setting, every option explicit (plain data)."""

ATARI_OPTIONS = {
    "frame_skip": 4,
    "noop_max": 30,
    "use_fire_reset": True,
    "episodic_life": True,
    "reward_clip": True,
    "img_height": 84,
    "img_width": 84,
    "gray_scale": True,
    "use_inter_area_resize": True,
    "stack_num": 4,
    "repeat_action_probability": 0.0,
    "full_action_space": False,
    "max_episode_steps": 27_000,
}
"""envpool options reproducing the course's DeepMind-wrapper setting (see `jaxrl.envs.envpool_env`)."""

EVAL_OPTIONS = {**ATARI_OPTIONS, "episodic_life": False, "reward_clip": False}
"""Evaluation: whole games, raw rewards."""
