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
CARTPOLE = ["--preset", "cartpole-course", "--num-seeds", "2", "--total-steps", "20000", "--learning-starts", "500",
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
    agent = make_agent(get_preset("cartpole-course"), 2, (4,))
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
    rc = main(["train", "--preset", "cartpole-course", "--num-seeds", "2", "--total-steps", "3000", "--learning-starts",
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
    (["--grad-clip", "l2"], "DQNConfig.grad_clip"),
    (["--grad-clip-value", "0"], "DQNConfig.grad_clip_value"),
    (["--no-clip-error", "--grad-clip", "global-norm"], "DQNConfig.clip_error=False"),
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
    (["--env-id", "BigfishEasy-v0"], "nor an envpool Atari game"),  # envpool's Procgen: not built, not imported
    (["--env-id", "Ant-v5"], "nor an envpool Atari game"),  # envpool's MuJoCo: a -v5 id that is not Atari
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
    (["--out-dir", "{file}/sub"], "is a file, not a directory"),
    (["--out-dir", "{file}"], "is a file, not a directory"),
    (["--out-dir", "{dangling}"], "is a link to"),
    (["--out-dir", "{long}"], "the path is too long for the file system"),
    # a flag given twice: the parser would keep the last silently
    (["--grid", "learning_rate=1e-3", "--grid", "gamma=0.9"], "--grid given twice"),
    (["--double-dqn", "--no-double-dqn"], "--double-dqn given twice"),
    # n-step windows the ring buffer cannot hold (gymnax; envpool has its own check)
    (["--n-step", "600", "--buffer-size", "500", "--batch-size", "32"], "DQNConfig.n_step=600"),
    (["--n-step", "5", "--learning-starts", "2"], "DQNConfig.learning_starts=2"),
    # envs that cannot be traced, and evaluations that cannot fit (refused before the run, not at its first eval)
    (["--env-id", "FourRooms-misc"], "cannot be traced by JAX"),
    (["--eval-episodes", "2000000000"], "the greedy evaluations need about"),
    # resume: finished runs, late checks, damaged config.json (the message names the file and the field)
    (["--resume", "{existing}"], "is finished"),
    (["--resume", "{existing}", "--window", "0"], "--window=0"),
    (["--resume", "{not_json}"], "config.json: damaged (not valid JSON"),
    (["--resume", "{bad_field}"], "config.json: DQNConfig.gamma=5.0 is invalid"),
]


def test_bad_input_table_is_long_enough():
    assert len(BAD) >= 40


@pytest.mark.parametrize("argv,expected", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input(cartpole_run, tmp_path, monkeypatch, capsys, argv, expected):
    """In-process through `main` (an uncaught exception would fail the test with its traceback); the working
    directory is a fresh temp dir, so a stray `runs/` would show."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for name, text in (("not_json", "{not json"), ("bad_field", json.dumps({"config": {"gamma": 5.0}}))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(text)
    names = {"existing": str(cartpole_run), "new": str(tmp_path / "new"), "missing": str(tmp_path / "missing"),
             "file": str(a_file), "dangling": str(tmp_path / "dangling"), "long": str(tmp_path / ("a" * 300)),
             "not_json": str(tmp_path / "not_json"), "bad_field": str(tmp_path / "bad_field")}
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


# ---------------------------------------------------------------------------------------------- resume abuse
class StopAfter:
    """A stop flag that asks to stop after `chunks` chunks (the driver reads `requested` once per chunk)."""

    def __init__(self, chunks: int):
        self.chunks = chunks
        self.at_once = lambda: "stopped at once"

    @property
    def requested(self) -> bool:
        self.chunks -= 1
        return self.chunks < 0


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """A CartPole run stopped after 3 of its 40 chunks, checkpointed, as `jaxrl train` leaves it (claimed
    directory, config.json, logs): the template each test below copies and abuses."""
    from jaxrl.cli import parse_train_args
    from jaxrl.envs import make_vector_env
    from jaxrl.host import rundir
    from jaxrl.host.checkpoint import Interrupted
    from jaxrl.host.sweep import run_gymnax
    config, _ = parse_train_args(CARTPOLE)
    out = tmp_path_factory.mktemp("stopped") / "run"
    env = make_vector_env(config.env_id, 1)
    env_info = {"num_actions": env.num_actions, "obs_shape": list(env.obs_shape), "obs_dtype": str(env.obs_dtype)}
    rundir.claim_run_dir(out, "cartpole", rundir.config_content(config, preset="cartpole", env_info=env_info))
    with pytest.raises(Interrupted):
        run_gymnax(config, out, stop=StopAfter(3), progress=False)
    assert read_meta(out / "checkpoint.msgpack")["env_steps"] < config.total_steps
    return out


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("abuse,expected", [
    ("metrics_missing", "metrics.csv is missing"),
    ("metrics_damaged", "a log file is damaged"),
    ("held", "is in use by another jaxrl process"),
    ("devices", "the run was sharded over 99 device(s)"),
])
def test_resume_abuse_is_refused_before_training(interrupted_run, tmp_path, capsys, abuse, expected):
    """A resume whose logs are gone or damaged, whose directory another process holds (a run, or a second
    resume: both take the same lock), or that would run on another device count than the run started on, is
    refused in one line, exit 2, before anything is compiled or written."""
    from jaxrl.host import rundir
    run = _copy_run(interrupted_run, tmp_path / "run")
    if abuse == "metrics_missing":
        (run / "metrics.csv").unlink()
    elif abuse == "metrics_damaged":
        (run / "metrics.csv").write_text("seed,step,return,length\n0,12,not-a-number,3\n")
    elif abuse == "devices":
        meta = json.loads((run / "config.json").read_text())
        meta["devices"]["count"] = 99
        (run / "config.json").write_text(json.dumps(meta))
    before = snapshot(run)
    try:
        if abuse == "held":
            rundir.hold_run_dir(run)
        assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    finally:
        rundir.release_locks()
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("jaxrl: error: ") and expected in err, err
    assert snapshot(run) == before


def test_a_resumed_run_holds_its_directory(interrupted_run, tmp_path, monkeypatch):
    """While a resume trains, its directory is locked: what a second `--resume` of it meets is a refusal; the lock
    is released when the first ends (and by the kernel when a process dies)."""
    from jaxrl.host import rundir
    run = _copy_run(interrupted_run, tmp_path / "run")
    hold, refused = rundir.hold_run_dir, []

    def hold_then_race(out_dir):
        hold(out_dir)
        with pytest.raises(rundir.RunDirTaken, match="in use by another jaxrl process"):
            hold(out_dir)  # a second process's attempt, while this one holds the lock
        refused.append(out_dir)

    monkeypatch.setattr(rundir, "hold_run_dir", hold_then_race)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert refused == [run]
    hold(run)  # released at the end of the run
    rundir.release_locks()


def test_resume_defaults_to_the_devices_the_run_started_on(interrupted_run):
    """`--cpu-devices` left out on `--resume`: the count in the run's config.json (its sharding, which its
    numbers depend on), not one per core."""
    from jaxrl.host.preflight import resume_devices
    assert resume_devices(interrupted_run) == json.loads((interrupted_run / "config.json").read_text())["devices"][
        "count"] >= 1
    assert resume_devices(interrupted_run / "missing") is None


def test_a_failed_download_is_not_a_disk_error(tmp_path, capsys, monkeypatch):
    """gymnax's MNIST bandit downloads its data when made: offline that is one line naming the download, exit 2,
    not "writing the run's files failed"."""
    import urllib.error

    import gymnax.utils.load_mnist as load_mnist

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(load_mnist, "_download", offline)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--env-id", "MNISTBandit-bsuite", "--out-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "making it needs a download, which failed (URLError" in err, err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------- evaluate, compare, doctor, tabular
def test_compare_labels_runs_of_the_same_name_apart(cartpole_run, tmp_path, capsys):
    """`compare x/run y/run`: two groups labelled by as much of their paths as tells them apart (keyed by the
    directory's name, the second overwrote the first and P(improvement) read 0.50); y's every return is higher,
    so P(x/run > y/run) = 0."""
    import shutil
    x, y = tmp_path / "x" / "run", tmp_path / "y" / "run"
    shutil.copytree(cartpole_run, x)
    shutil.copytree(cartpole_run, y)
    lines = (y / "metrics.csv").read_text().splitlines()
    rows = [r.split(",") for r in lines[1:]]
    (y / "metrics.csv").write_text("\n".join([lines[0]] + [",".join([a, b, str(float(c) + 1000), d])
                                                          for a, b, c, d in rows]) + "\n")
    assert main(["compare", str(x), str(y), "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "compare.json").read_text())
    assert [g["group"] for g in result["groups"]] == ["x/run", "y/run"]
    pair, = result["probability_of_improvement"]
    assert (pair["x"], pair["y"], pair["probability_of_improvement"]) == ("x/run", "y/run", 0.0)
    assert main(["compare", str(x), str(x)]) == 2
    assert "given twice" in capsys.readouterr().err


def test_results_are_printed_before_a_write_that_fails(cartpole_run, tmp_path, capsys, monkeypatch):
    """A run directory that cannot be written (read-only, full): `compare` and `evaluate` print their results
    first, then one line, exit 1."""
    import shutil

    from jaxrl.host import compare as compare_module
    from jaxrl.host import rundir
    run = tmp_path / "run"
    shutil.copytree(cartpole_run, run)

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(compare_module, "write_compare", read_only)
    assert main(["compare", str(run)]) == 1
    captured = capsys.readouterr()
    assert "IQM (final)" in captured.out and captured.err.strip().count("\n") == 0
    assert captured.err.startswith("jaxrl: error: could not write") and "Permission denied" in captured.err
    monkeypatch.setattr(rundir, "write_json", read_only)
    assert main(["evaluate", str(run), "--episodes", "1"]) == 1
    captured = capsys.readouterr()
    assert "agents" in captured.out.lower() or "mean" in captured.out.lower()
    assert captured.err.strip().splitlines()[-1].startswith("jaxrl: error: could not write")


@pytest.mark.parametrize("argv,expected", [
    (["doctor", "--no-probe", "--probe-timeout", "-1"], "--probe-timeout=-1.0: expected seconds > 0"),
    (["doctor", "--no-probe", "--json", "{tmp}/missing/report.json"], "does not exist"),
    (["doctor", "--no-probe", "--json", "{tmp}"], "is a directory: name a file"),
    (["compare", "{run}", "--out", "{file}"], "is a file, not a directory"),
    (["tabular", "--seed", "-1"], "TabularConfig.seed=-1"),
    (["tabular", "--alpha", "0.1", "--alphas", "0.7"], "--alphas given twice (as --alpha and --alphas)"),
])
def test_other_commands_refuse_bad_input_in_one_line(cartpole_run, tmp_path, capsys, monkeypatch, argv, expected):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    argv = [a.format(tmp=tmp_path, run=cartpole_run, file=a_file) for a in argv]
    before = snapshot(cartpole_run)
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.count("\n") == 0 and err.startswith("jaxrl: error: ") and expected in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"] and snapshot(cartpole_run) == before
