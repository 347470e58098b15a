"""Tiny Pong runs through the real entry point: both loops, a 2-seed sweep, checkpoints, interrupt + resume.

About 3k env steps per agent (a few games), 16 env steps per update: minutes of CPU, not learning."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxrl.host.checkpoint import read_meta
from jaxrl.cli import main

# learning_starts + one block (16) = 1024, a chunk boundary: learning starts with a chunk, so the XLA loop
# compiles two chunk plans (acting only, learning), not three.
# Batch 8: the loops, not learning, are under test, and the Nature CNN's update at batch 32 costs 4x as much.
TINY = ["--preset", "pong", "--num-envs", "1", "--train-frequency", "16", "--total-steps", "3072",
        "--learning-starts", "1008", "--buffer-size", "2000", "--batch-size", "8", "--log-frequency", "512",
        "--eval-frequency", "1536", "--eval-episodes", "1", "--checkpoint-frequency", "1024", "--no-progress"]


OVERLAP_RAINBOW = ["--n-step", "3", "--prioritized"]


def flags_with(flags, **values):
    """`flags` with each `--name value` of `values` replaced (`total_steps=4096` -> `--total-steps 4096`): the CLI
    refuses a flag given twice."""
    flags = list(flags)
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        flags[flags.index(flag) + 1] = str(value)
    return flags


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("pong")
    out = {}
    for loop in ("host", "xla"):
        out[loop] = base / loop
        extra = ["--video", "--save-buffer"] if loop == "xla" else ["--no-video"]
        assert main(["train", *TINY, "--loop", loop, "--num-seeds", "2", *extra, "--out-dir", str(out[loop])]) == 0
    # Overlapped, with Rainbow's replay (pong-fast's n-step returns, and prioritized sampling), a target copy every
    # 1024 env steps: two copies while learning.
    for loop in ("host", "xla"):
        out[loop, "overlap"] = base / f"{loop}-overlap"
        assert main(["train", *TINY, "--loop", loop, "--overlap", "--target-update-frequency", "1024", "--no-video",
                     *OVERLAP_RAINBOW, "--out-dir", str(out[loop, "overlap"])]) == 0
    return out


@pytest.mark.parametrize("loop", ["host", "xla"])
def test_run_directory(runs, loop):
    d = runs[loop]
    names = {p.name for p in d.iterdir()}
    assert {"config.json", "metrics.csv", "progress.csv", "eval.csv", "summary.json", "params.msgpack",
            "params_best.msgpack", "checkpoint.msgpack", "learning_curves.png", "tb"} <= names
    assert ("eval.mp4" in names) == (loop == "xla")
    progress = rows(d / "progress.csv")
    assert [int(r["step"]) for r in progress] == list(range(512, 3073, 512))
    assert all(int(r["frames"]) == 4 * int(r["step"]) for r in progress)
    losses = [float(r["loss"]) for r in progress]
    assert np.isnan(losses[:2]).all() and np.isfinite(losses[2:]).all()  # no updates before learning_starts
    games = rows(d / "metrics.csv")
    assert {r["seed"] for r in games} == {"0", "1"}
    assert all(-21 <= float(r["return"]) <= 21 and int(r["length"]) > 100 for r in games)
    evals = rows(d / "eval.csv")
    assert [int(r["step"]) for r in evals] == [1536, 1536, 3072, 3072]
    summary = json.loads((d / "summary.json").read_text())
    assert summary["loop"] == loop and summary["num_seeds"] == 2 and summary["frames_per_seed"] == 4 * 3072
    meta = read_meta(d / "checkpoint.msgpack")
    assert meta["env_steps"] == 3072 and meta["config"]["loop"] == loop
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["env"]["envpool_options"]["frame_skip"] == 4 and cfg["versions"]["git_revision"]


def test_host_and_xla_loops_compute_the_same_run(runs):
    """Same seeds, same envpool seed: the two loops drive one learner through identical games and the same
    losses up to float rounding (a schedule off by one update would sample other batches, far beyond 1%)."""
    a, b = (rows(runs[loop] / "metrics.csv") for loop in ("host", "xla"))
    assert a == b and len(a) >= 4
    la, lb = ([float(r["loss"]) for r in rows(runs[loop] / "progress.csv")[2:]] for loop in ("host", "xla"))
    np.testing.assert_allclose(la, lb, rtol=1e-2)


def test_overlapped_host_loop_learns(runs):
    """`--overlap` (with n-step returns and prioritized replay): the same tiny run with acting one update old: it
    updates from the same step on with finite, positive losses, plays whole games and reports its SPS."""
    d = runs["host", "overlap"]
    progress = rows(d / "progress.csv")
    assert [int(r["step"]) for r in progress] == list(range(512, 3073, 512))
    losses = [float(r["loss"]) for r in progress]
    assert np.isnan(losses[:2]).all() and np.isfinite(losses[2:]).all() and min(losses[2:]) > 0
    assert all(-21 <= float(r["return"]) <= 21 for r in rows(d / "metrics.csv"))
    summary = json.loads((d / "summary.json").read_text())
    assert summary["aggregate_steps_per_second"] > 0
    config = json.loads((d / "config.json").read_text())["config"]
    assert config["overlap"] is True and config["n_step"] == 3 and config["prioritized"] is True


def test_overlapped_xla_loop_computes_the_overlapped_host_run(runs):
    """The XLA loop's `--overlap` (envpool's send and recv around the updates) acts, stores, updates and copies
    the target in the overlapped host loop's order: the same games and the same parameters, bit for bit. (The
    lock-step order draws the update's key before the act's, so an XLA loop that ignored `--overlap` would
    sample other batches and differ.) Both runs take 3-step returns from the frame buffer and sample by priority
    (both loops use one convolution kernel, im2col on the CPU, so the priorities agree and prioritized sampling
    picks the same transitions)."""
    host, xla = runs["host", "overlap"], runs["xla", "overlap"]
    assert rows(host / "metrics.csv") == rows(xla / "metrics.csv")
    assert (host / "params.msgpack").read_bytes() == (xla / "params.msgpack").read_bytes()
    assert json.loads((xla / "config.json").read_text())["config"]["loop"] == "xla"


def test_load_policy_on_pong(runs):
    from jaxrl import load_policy
    act = load_policy(runs["xla"], seed_index=1)
    assert 0 <= act(np.zeros((84, 84, 4), np.uint8)) < 6
    best = load_policy(runs["xla"], seed_index=1, which="best")  # params_best.msgpack, as a gymnax run's
    assert 0 <= best(np.zeros((84, 84, 4), np.uint8)) < 6


@pytest.mark.parametrize("loop", ["host", "xla"])
def test_best_parameters_are_those_of_each_seeds_best_evaluation(runs, loop):
    """eval.csv holds each seed's evaluations (the one at 1,536 env steps and the final one); params_best.msgpack
    holds, per seed, the parameters of the better of them (ties: the earlier), so it equals params.msgpack for
    exactly the seeds whose final evaluation beat the earlier one."""
    from jaxrl.host import rundir
    evals = rows(runs[loop] / "eval.csv")
    final, best = (rundir.read_stacked_params(runs[loop] / name) for name in ("params.msgpack", "params_best.msgpack"))
    for seed in (0, 1):
        first, last = (float(r["mean_return"]) for r in evals if int(r["seed"]) == seed)
        same = all(np.array_equal(a[seed], b[seed]) for a, b in zip(jax.tree_util.tree_leaves(final),
                                                                     jax.tree_util.tree_leaves(best)))
        assert same == (last > first), (seed, first, last)


def test_interrupt_then_resume(tmp_path):
    """SIGTERM mid-run: the chunk finishes, a checkpoint is written, exit 130; --resume completes the run and
    the CSVs hold each step once."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "jaxrl.cli", "train", *flags_with(TINY, total_steps=4096, eval_frequency=0),
           "--loop", "xla", "--no-video", "--out-dir", str(out)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / "progress.csv").exists() and len(rows(out / "progress.csv")) >= 3:
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.2)
    output, _ = proc.communicate(timeout=240)
    assert proc.returncode == 130, output
    assert "resume with" in output
    stopped_at = read_meta(out / "checkpoint.msgpack")["env_steps"]
    assert 1536 <= stopped_at < 4096
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    steps = [int(r["step"]) for r in rows(out / "progress.csv")]
    assert steps == list(range(512, 4097, 512))
    assert read_meta(out / "checkpoint.msgpack")["env_steps"] == 4096
    games = rows(out / "metrics.csv")
    assert all(int(r["step"]) > 0 for r in games)


def test_kill_9_then_resume_is_bit_exact(runs, tmp_path):
    """kill -9 at a random moment after the first checkpoint; --resume (buffer saved, envs rebuilt by replaying
    the action log) ends with the same parameters, bit for bit, as the uninterrupted xla run."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "jaxrl.cli", "train", *TINY, "--loop", "xla", "--num-seeds", "2", "--save-buffer",
           "--no-video", "--out-dir", str(out)]
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = wait_and_kill(proc, out / "checkpoint.msgpack", np.random.default_rng().uniform(0.0, 3.0))
    stopped_at = read_meta(out / "checkpoint.msgpack")["env_steps"]
    assert killed and stopped_at < 3072, "the run ended before it could be killed"
    assert main(["train", "--resume", str(out), "--no-progress", "--no-video"]) == 2  # a resume takes no flags
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0
    assert (out / "params.msgpack").read_bytes() == (runs["xla"] / "params.msgpack").read_bytes()
    assert rows(out / "metrics.csv") == rows(runs["xla"] / "metrics.csv")


def wait_and_kill(proc, checkpoint: Path, delay: float) -> bool:
    """SIGKILL `proc` `delay` seconds after `checkpoint` first appears; False if it had already exited."""
    deadline = time.time() + 300
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(delay)
    alive = proc.poll() is None
    proc.kill()
    proc.wait()
    return alive


def test_resume_errors(runs, tmp_path, capsys):
    assert main(["train", "--resume", str(runs["host"]), "--learning-rate", "1"]) == 2
    assert "drop --learning-rate 1" in capsys.readouterr().err
    assert main(["train", *TINY, "--out-dir", str(runs["host"])]) == 2
    assert "already holds a run" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((runs["host"] / "config.json").read_text())
    (broken / "checkpoint.msgpack").write_bytes((runs["host"] / "checkpoint.msgpack").read_bytes()[:1000])
    assert main(["train", "--resume", str(broken), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint.msgpack: corrupt or truncated checkpoint" in err and "Traceback" not in err
