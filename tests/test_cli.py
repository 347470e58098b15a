"""Smoke tests of the real entry point, its run directory, load_policy, and one-line errors."""

import csv
import json

import gymnax
import jax
import numpy as np
import pytest

from jaxrl import load_policy
from jaxrl.cli import main

TINY_FLAGS = ["--total-steps", "2000", "--learning-starts", "200", "--buffer-size", "1000",
              "--batch-size", "16", "--no-progress"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "cartpole"
    assert main(["train", "--preset", "cartpole-course", "--num-seeds", "2", "--out-dir", str(out),
                 "--learning-rate", "5e-4", "--no-double-dqn", "--hidden-sizes", "32", "32", *TINY_FLAGS]) == 0
    return out


def test_run_dir_layout(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "metrics.csv", "summary.json", "params.msgpack", "tb", "learning_curves.png"} <= names
    assert any((run_dir / "tb").iterdir())
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["config"]["learning_rate"] == 5e-4 and cfg["config"]["double_dqn"] is False
    assert cfg["config"]["hidden_sizes"] == [32, 32] and cfg["preset"] == "cartpole-course"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(summary["per_seed"]) == 2
    assert summary["aggregate_steps_per_second"] > 0 and summary["compile_seconds"] > 0
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert set(rows[0]) == {"seed", "step", "return", "length"}
    assert {r["seed"] for r in rows} == {"0", "1"}
    for r in rows:  # CartPole: return == length (reward 1 per step)
        assert float(r["return"]) == float(r["length"]) and 0 < int(r["step"]) <= 2000


def test_load_policy_acts_in_a_fresh_env(run_dir):
    act = load_policy(run_dir, seed_index=1)
    env, params = gymnax.make("CartPole-v1")
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    for t in range(5):
        a = act(np.asarray(obs))
        assert a in (0, 1)
        obs, state, *_ = env.step(jax.random.PRNGKey(t), state, a, params)
    with pytest.raises(ValueError, match="seed_index"):
        load_policy(run_dir, seed_index=2)
    with pytest.raises(ValueError, match="shape"):
        act(np.zeros(5))


@pytest.mark.parametrize("argv,message", [
    (["train", "--preset", "nope"], "unknown preset"),
    (["train", "--gamma", "2.0"], "DQNConfig.gamma"),
    (["train", "--batch-size", "0"], "DQNConfig.batch_size"),
    (["train", "--learning-starts", "200000"], "DQNConfig.learning_starts"),
    (["train", "--loss", "l1"], "DQNConfig.loss"),
    (["train", "--no-such-flag", "1"], ""),
    (["train", "--env-id", "NotAnEnv-v0"], "nor an envpool Atari game (e.g. Pong-v5"),
    (["train", "--preset", "pong", "--total-steps", "1234"], "expected < total_steps (1234)"),
    (["train", "--preset", "cartpole-course", "--overlap"], "--overlap is for envpool (Atari) runs"),
    (["fly"], "unknown command"),
])
def test_bad_command_lines_exit_2(argv, message, capsys, tmp_path):
    assert main(argv + ["--out-dir", str(tmp_path / "x")] if argv[0] == "train" else argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
