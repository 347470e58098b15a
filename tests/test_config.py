"""Invalid configs fail in Python, naming the field, before anything is built or compiled."""

from unittest import mock

import pytest

from jaxrl.config import PRESETS, DQNConfig, get_preset

BAD = [
    ("num_seeds", 0), ("num_envs", 0), ("total_steps", -5), ("train_frequency", 0), ("buffer_size", 0),
    ("batch_size", 0), ("target_update_frequency", 0), ("learning_starts", -1),
    ("learning_starts", 200_000),  # >= total_steps
    ("batch_size", 100_000),  # > buffer_size
    ("learning_rate", 0.0), ("learning_rate", float("nan")), ("gamma", 1.5), ("gamma", -0.1),
    ("egreedy", 1.2), ("egreedy_final", -0.01), ("egreedy_final", 0.95),  # > egreedy
    ("egreedy_decay", 0.0), ("epsilon_schedule", "cosine"), ("loss", "l1"), ("optimizer", "sgd"),
    ("network", "resnet"), ("hidden_sizes", ()), ("hidden_sizes", (64, 0)), ("env_id", ""),
    ("num_seeds", 2.0), ("double_dqn", "yes"), ("total_steps", True), ("adam_eps", 0.0), ("adam_eps", float("inf")),
]


@pytest.mark.parametrize("field,value", BAD, ids=[f"{f}={v!r}" for f, v in BAD])
def test_invalid_value_names_field(field, value):
    cfg = DQNConfig(**{field: value})
    with pytest.raises(ValueError, match=rf"DQNConfig\.{field}="):
        cfg.validate()


def test_divisibility_rules():
    with pytest.raises(ValueError, match="train_frequency"):
        DQNConfig(num_envs=4, train_frequency=3).validate()
    with pytest.raises(ValueError, match="total_steps"):
        DQNConfig(num_envs=4, total_steps=1002).validate()


@pytest.mark.parametrize("field,value", BAD[:16])
def test_make_train_validates_before_building_anything(field, value):
    from jaxrl.runners import gymnax as train_mod
    with mock.patch.object(train_mod, "make_vector_env", side_effect=AssertionError("env built")), \
            mock.patch.object(train_mod, "make_learner", side_effect=AssertionError("learner built")):
        with pytest.raises(ValueError, match=field):
            train_mod.make_train(DQNConfig(**{field: value}))


def test_presets_are_valid_and_pong_is_the_course():
    for cfg in PRESETS.values():
        cfg.validate()
    pong = get_preset("pong")
    assert (pong.learning_rate, pong.gamma, pong.buffer_size, pong.batch_size, pong.target_update_frequency,
            pong.double_dqn, pong.egreedy, pong.egreedy_final, pong.egreedy_decay, pong.clip_error) == \
           (1e-4, 0.99, 100_000, 32, 5000, True, 0.9, 0.01, 10_000, True)
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("breakout")


def test_pong_fast_overlaps_and_the_flag_turns_it_off():
    """The `pong` preset keeps the course's lock-step order; `pong-fast` overlaps, and `--no-overlap` restores it."""
    from jaxrl.cli import parse_train_args
    assert not get_preset("pong").overlap and get_preset("pong-fast").overlap
    assert parse_train_args(["--preset", "pong-fast"])[0].overlap
    cfg = parse_train_args(["--preset", "pong-fast", "--no-overlap"])[0]
    assert not cfg.overlap and cfg.replace(overlap=True) == get_preset("pong-fast")


def test_derived_values_and_round_trip():
    cfg = DQNConfig(num_envs=8, train_frequency=2, total_steps=8000, learning_starts=800)
    assert (cfg.iterations_per_update_block, cfg.updates_per_block, cfg.steps_per_block) == (1, 4, 8)
    assert cfg.num_updates == (8000 - 800) // 8 * 4
    cfg2 = DQNConfig(num_envs=2, train_frequency=8, total_steps=8000, learning_starts=800)
    assert (cfg2.iterations_per_update_block, cfg2.updates_per_block, cfg2.steps_per_block) == (4, 1, 8)
    assert DQNConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown DQNConfig field"):
        DQNConfig.from_dict({"learning_rat": 1.0})


def test_config_module_is_plain_data():
    import subprocess
    import sys
    code = "import sys, jaxrl.config; assert 'jax' not in sys.modules, 'jaxrl.config imported jax'"
    subprocess.run([sys.executable, "-c", code], check=True)
