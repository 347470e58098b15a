"""envpool Atari options per evaluation protocol (plain data).

Two protocols (`DQNConfig.atari_protocol`), each a full set of envpool options for training; evaluation plays
whole games with raw rewards under either (`protocol_options(..., evaluation=True)`):

    course    the course's DeepMind-wrapper setting (v4-style): no sticky actions, the minimal action set,
              a life loss ends a training episode, up to 30 no-op starts, fire on reset, 108k-frame cap
    machado   Machado et al. (2018), "Revisiting the Arcade Learning Environment": sticky actions 0.25, the
              full action set (18), no life-loss termination, no no-op starts, no fire on reset, 108k-frame
              cap; rewards clipped in training, raw in evaluation
"""

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

MACHADO_OPTIONS = {
    **ATARI_OPTIONS,
    "repeat_action_probability": 0.25,
    "full_action_space": True,
    "episodic_life": False,
    # envpool steps `uniform(0, noop_max - 1) + 1 - use_fire_reset` no-ops at a reset (noop_max=0 crashes it):
    # without fire on reset, noop_max=1 is one no-op, the least it takes; sticky actions give the randomness.
    "noop_max": 1,
    "use_fire_reset": False,
    "max_episode_steps": 27_000,  # 108,000 frames
}
"""Machado et al. (2018)'s recommended protocol, as envpool options."""

ATARI_PROTOCOLS = {"course": ATARI_OPTIONS, "machado": MACHADO_OPTIONS}

EVAL_OPTIONS = {**ATARI_OPTIONS, "episodic_life": False, "reward_clip": False}
"""Evaluation under the course's protocol: whole games, raw rewards."""


def protocol_options(protocol: str = "course", *, evaluation: bool = False) -> dict:
    """The envpool options of `protocol` ("course" or "machado"); `evaluation`: whole games, raw rewards."""
    try:
        options = ATARI_PROTOCOLS[protocol]
    except KeyError:
        raise ValueError(f"atari_protocol={protocol!r}: expected one of {', '.join(ATARI_PROTOCOLS)}") from None
    return {**options, "episodic_life": False, "reward_clip": False} if evaluation else dict(options)
