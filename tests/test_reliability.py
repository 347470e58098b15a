"""Reliability: kill -9 + resume is bit-exact, bad checkpoints are refused without touching the run, the
NaN guard stops diverged seeds, and ≥ 40 bad command lines each give one line, exit 2 and write nothing."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization

from jaxrl.host.checkpoint import read_meta
from jaxrl.cli import main

ROOT = Path(__file__).resolve().parents[1]
CARTPOLE = ["--preset", "cartpole", "--num-seeds", "2", "--total-steps", "20000", "--learning-starts", "500",
            "--buffer-size", "5000", "--log-frequency", "500", "--checkpoint-frequency", "1000", "--no-progress",
            "--cpu-devices", "1"]  # the same single-device program in the test process and in the subprocess


def snapshot(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "uninterrupted"
    assert main(["train", *CARTPOLE, "--out-dir", str(out)]) == 0
    return out


def test_cartpole_kill_9_then_resume_is_bit_exact(cartpole_run, tmp_path):
    from tests.test_pong import wait_and_kill
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "jaxrl.cli", "train", *CARTPOLE, "--out-dir", str(out)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    killed = wait_and_kill(proc, out / "checkpoint.msgpack", np.random.default_rng().uniform(0.0, 1.5))
    assert killed and read_meta(out / "checkpoint.msgpack")["env_steps"] < 20000
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert (out / "params.msgpack").read_bytes() == (cartpole_run / "params.msgpack").read_bytes()
    assert (out / "metrics.csv").read_text() == (cartpole_run / "metrics.csv").read_text()
    assert (out / "eval.csv").read_text() == (cartpole_run / "eval.csv").read_text()  # the preset evaluates
    assert (out / "params_best.msgpack").read_bytes() == (cartpole_run / "params_best.msgpack").read_bytes()


def _rewrite_checkpoint(path: Path, **meta_changes):
    payload = serialization.msgpack_restore(path.read_bytes())
    payload["meta"].update(meta_changes)
    path.write_bytes(serialization.msgpack_serialize(payload))


@pytest.mark.parametrize("damage,expected", [
    ("truncate", "corrupt or truncated checkpoint"),
    ("garbage", "corrupt or truncated checkpoint"),
    ("missing", "no checkpoint there"),
    ("version", "checkpoint jaxrl does not match: '0.0.1' in the file vs"),
    ("config", "checkpoint config does not match: learning_rate=0.5 in the file vs 0.001 now"),
])
def test_bad_checkpoint_is_refused_and_the_run_left_alone(cartpole_run, tmp_path, capsys, damage, expected):
    run = tmp_path / "run"
    run.mkdir()
    for p in cartpole_run.iterdir():
        if p.is_file():
            (run / p.name).write_bytes(p.read_bytes())
    ckpt = run / "checkpoint.msgpack"
    if damage == "truncate":
        ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    elif damage == "garbage":
        ckpt.write_bytes(b"\x00not a checkpoint" * 10)
    elif damage == "missing":
        ckpt.unlink()
    elif damage == "version":
        _rewrite_checkpoint(ckpt, jaxrl="0.0.1")
    else:
        payload = serialization.msgpack_restore(ckpt.read_bytes())
        payload["meta"]["config"]["learning_rate"] = 0.5
        ckpt.write_bytes(serialization.msgpack_serialize(payload))
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(ckpt) in err and expected in err, err
    assert snapshot(run) == before


def test_guard_update_stops_only_the_diverged_seed():
    from jaxrl.config import get_preset
    from jaxrl.agents.dqn import guard_update, make_agent
    from jaxrl.agents.types import Transition
    agent = make_agent(get_preset("cartpole"), 2, (4,))
    params = jax.vmap(agent.network.init, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(0), 2),
                                                             jnp.zeros((1, 4)))
    opt_state = jax.vmap(agent.optimizer.init)(params)
    reward = jnp.zeros((2, 8)).at[1, 3].set(jnp.nan)  # seed 1's batch is poisoned
    batch = Transition(jnp.ones((2, 8, 4)), jnp.zeros((2, 8), jnp.int32), reward, jnp.ones((2, 8, 4)),
                       jnp.zeros((2, 8), bool))
    guarded = jax.vmap(guard_update(agent.update), in_axes=(0, 0, 0, 0, 0, None))
    new, new_opt, loss, _, diverged_at = guarded(params, params, opt_state, batch, jnp.array([-1, -1]), 1234)
    assert diverged_at.tolist() == [-1, 1234]
    assert np.isnan(loss[1]) and np.isfinite(loss[0])
    leaves = lambda t, i: [x[i] for x in jax.tree_util.tree_leaves(t)]  # noqa: E731
    assert any(not np.array_equal(a, b) for a, b in zip(leaves(new, 0), leaves(params, 0)))  # seed 0 learned
    assert all(np.array_equal(a, b) for a, b in zip(leaves(new, 1), leaves(params, 1)))  # seed 1 kept its params
    # Once diverged, no more updates even on a clean batch.
    clean = batch._replace(reward=jnp.zeros((2, 8)))
    again, _, _, _, diverged_again = guarded(new, new, new_opt, clean, diverged_at, 2000)
    assert diverged_again.tolist() == [-1, 1234]
    assert all(np.array_equal(a, b) for a, b in zip(leaves(again, 1), leaves(params, 1)))


@pytest.mark.parametrize("chunked", [False, True])
def test_divergence_stops_the_run_with_the_step(tmp_path, capsys, chunked):
    out = tmp_path / "nan"
    # one chunk (the run ends, every seed diverged, results written), or several (stops at the chunk end)
    flags = ["--checkpoint-frequency", "1000", "--log-frequency", "500"] if chunked else ["--log-frequency", "10000"]
    rc = main(["train", "--preset", "cartpole", "--num-seeds", "2", "--total-steps", "3000", "--learning-starts",
               "500", "--buffer-size", "1000", "--learning-rate", "1e38", "--no-clip-error", "--no-progress",
               "--out-dir", str(out), *flags])
    err = capsys.readouterr().err
    assert rc == 3
    assert "every seed diverged" in err and "at env step" in err
    params = serialization.msgpack_restore((out / ("checkpoint.msgpack" if chunked else "params.msgpack"))
                                           .read_bytes())
    assert all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(params) if isinstance(x, np.ndarray)
               and x.dtype.kind == "f")
    if not chunked:
        summary = json.loads((out / "summary.json").read_text())
        assert all(s["diverged_at_env_step"] >= 500 for s in summary["per_seed"])


BAD = [
    # unknown names
    (["--env-id", "NoSuchEnv-v0"], "nor an envpool Atari game"),
    (["--env-id", "Breakout-MinAtar", "--network", "cnn"], "at least 36x36, got (10, 10, 4)"),
    (["--preset", "nope"], "unknown preset"),
    (["--bogus-flag", "1"], "Unrecognized options"),
    (["--loss", "l1"], "DQNConfig.loss"),
    (["--optimizer", "sgd"], "DQNConfig.optimizer"),
    (["--network", "resnet"], "DQNConfig.network"),
    (["--epsilon-schedule", "cosine"], "DQNConfig.epsilon_schedule"),
    (["--loop", "gpu"], "DQNConfig.loop"),
    # zero / negative sizes
    (["--num-seeds", "0"], "DQNConfig.num_seeds"),
    (["--num-seeds", "-4"], "DQNConfig.num_seeds"),
    (["--num-envs", "0"], "DQNConfig.num_envs"),
    (["--total-steps", "0"], "DQNConfig.total_steps"),
    (["--buffer-size", "0"], "DQNConfig.buffer_size"),
    (["--buffer-size", "-1"], "DQNConfig.buffer_size"),
    (["--batch-size", "0"], "DQNConfig.batch_size"),
    (["--target-update-frequency", "0"], "DQNConfig.target_update_frequency"),
    (["--train-frequency", "0"], "DQNConfig.train_frequency"),
    (["--learning-starts", "-1"], "DQNConfig.learning_starts"),
    (["--hidden-sizes", "64", "0"], "DQNConfig.hidden_sizes"),
    (["--log-frequency", "0"], "DQNConfig.log_frequency"),
    (["--eval-episodes", "0"], "DQNConfig.eval_episodes"),
    (["--checkpoint-frequency", "-5"], "DQNConfig.checkpoint_frequency"),
    (["--eval-frequency", "-5"], "DQNConfig.eval_frequency"),
    # inconsistent sizes
    (["--batch-size", "128", "--buffer-size", "64"], "DQNConfig.batch_size=128"),
    (["--learning-starts", "200000"], "DQNConfig.learning_starts=200000"),
    (["--learning-starts", "100000"], "DQNConfig.learning_starts=100000"),
    (["--num-envs", "3", "--train-frequency", "2"], "DQNConfig.train_frequency"),
    (["--num-envs", "4", "--total-steps", "1002"], "DQNConfig.total_steps"),
    # ranges
    (["--gamma", "1.5"], "DQNConfig.gamma"),
    (["--gamma", "-0.1"], "DQNConfig.gamma"),
    (["--egreedy", "1.2"], "DQNConfig.egreedy"),
    (["--egreedy-final", "-0.1"], "DQNConfig.egreedy_final"),
    (["--egreedy", "0.1", "--egreedy-final", "0.5"], "DQNConfig.egreedy_final=0.5"),
    (["--egreedy-decay", "0"], "DQNConfig.egreedy_decay"),
    (["--learning-rate", "0"], "DQNConfig.learning_rate"),
    (["--learning-rate", "-1e-3"], "DQNConfig.learning_rate"),
    (["--learning-rate", "inf"], "DQNConfig.learning_rate"),
    (["--eval-epsilon", "2"], "DQNConfig.eval_epsilon"),
    # types / syntax
    (["--batch-size", "abc"], "Error parsing --batch-size"),
    (["--gamma"], "Missing value for argument '--gamma'"),
    (["--double-dqn", "yes"], "--double-dqn is an on/off flag: write --double-dqn or --no-double-dqn"),
    (["--window", "0"], "--window=0"),
    (["--cpu-devices", "-1"], "--cpu-devices=-1"),
    # envpool-only constraints
    (["--preset", "pong", "--log-frequency", "333"], "a multiple of log_frequency (333)"),
    (["--preset", "pong", "--eval-frequency", "12345"], "DQNConfig.eval_frequency"),
    (["--window", "abc"], "argument --window: invalid int value: 'abc'"),
    (["--double-dqn", "maybe"], "--double-dqn is an on/off flag"),
    # non-finite and out-of-range numbers (int32 inside the compiled program)
    (["--v-min", "nan", "--distributional"], "DQNConfig.v_min=nan is invalid: expected a finite number"),
    (["--v-max", "inf", "--distributional"], "DQNConfig.v_max=inf is invalid: expected a finite number"),
    (["--per-eps", "inf", "--prioritized"], "DQNConfig.per_eps=inf is invalid: expected a finite number"),
    (["--per-alpha", "nan", "--prioritized"], "DQNConfig.per_alpha=nan is invalid: expected a finite number"),
    (["--buffer-size", "3000000000"], "DQNConfig.buffer_size=3000000000 is invalid: expected at most 2,147,483,647"),
    (["--seed", "-1"], "DQNConfig.seed=-1 is invalid"),
    (["--seed", str(2**64)], "DQNConfig.seed="),
    # envs DQN cannot train, and ids from the wrong family
    (["--env-id", "Pendulum-v1"], "continuous action space"),
    (["--env-id", "Pong-v4"], "nor an envpool Atari game (e.g. Pong-v5"),
    # a run that cannot fit: refused with the number before compiling
    (["--num-seeds", "64", "--buffer-size", "100000000"], "of state, mostly the replay buffer"),
    # Pong's periods: the message names the flag to change
    (["--preset", "pong", "--total-steps", "25000"], "pass --log-frequency 5000"),
    (["--preset", "pong", "--num-envs", "3"], "or pick --num-envs among 1, 2, 4"),
    # multi-host without a cluster
    (["--distributed"], "--distributed: no cluster found"),
    # conflicting flags and bad directories
    (["--out-dir", ""], "argument --out-dir: empty: name a directory"),
    (["--resume", "{existing}", "--learning-rate", "0.1"], "drop --learning-rate 0.1"),
    (["--resume", "{existing}", "--out-dir", "{new}"], "drop --out-dir"),
    (["--resume", "{missing}"], "not a jaxrl run directory"),
    (["--out-dir", "{existing}"], "already holds a run"),
    (["--out-dir", "{file}/sub"], "cannot create --out-dir"),
]


def test_bad_input_table_is_long_enough():
    assert len(BAD) >= 40


@pytest.mark.parametrize("argv,expected", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(cartpole_run, tmp_path, monkeypatch, capsys, argv, expected):
    """In-process through `main` (an uncaught exception would fail the test with its traceback); the working
    directory is a fresh temp dir, so a stray `runs/` would show."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    names = {"existing": str(cartpole_run), "new": str(tmp_path / "new"), "missing": str(tmp_path / "missing"),
             "file": str(a_file)}
    argv = [a.format(**names) for a in argv]
    before_run = snapshot(cartpole_run)
    before_tmp = sorted(p.name for p in tmp_path.iterdir())
    out_dir = [] if any(a in ("--out-dir", "--resume") for a in argv) else ["--out-dir", str(tmp_path / "out")]
    monkeypatch.chdir(tmp_path)
    assert main(["train", *argv, *out_dir]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0 and err.startswith("jaxrl: error: ") and expected in err, err
    assert "Traceback" not in captured.out + captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == before_tmp  # nothing written (not even runs/)
    assert snapshot(cartpole_run) == before_run


def test_bad_input_in_a_subprocess(tmp_path):
    """The same contract through the installed entry point's process: exit 2, one line, nothing written."""
    proc = subprocess.run([sys.executable, "-m", "jaxrl.cli", "train", "--gamma", "2", "--out-dir",
                           str(tmp_path / "out")], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == "jaxrl: error: DQNConfig.gamma=2.0 is invalid: expected [0, 1]"
    assert list(tmp_path.iterdir()) == []
